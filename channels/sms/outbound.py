"""Outbound SMS: acknowledgements, help replies and follow-ups, through twilio's ``Client``.

Rules every send obeys, whoever asks for it:

- never to a number that has opted out (STOP and its Swedish equivalents, or
  Twilio's error 21610 "unsubscribed recipient", which we then record too);
- never longer than ``sms.max_segments`` segments: the text is cut at a word
  boundary, and the ärende number (``keep``) is never cut;
- at most once per (item, purpose): the row is stored before the send and a
  stage that runs again finds it;
- 429 and 5xx (and no answer at all) are retried with exponential backoff a
  bounded number of times; any other 4xx is final and recorded as ``failed``.

Without ``TWILIO_ACCOUNT_SID`` nothing is sent: each SMS is written as one
JSON file to ``var/outbox/sms/``, like e-mail acknowledgements in ``var/outbox``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from channels.sms import STATUS_PATH, segments, state
from channels.sms.credentials import TwilioCredentials
from channels.sms.errors import SmsSendFailed
from channels.sms.phone import masked
from channels.sms.twilio_http import BaseUrlHttpClient
from ingest.config import Settings, SmsConfig
from ingest.logs import get_logger
from ingest.model import NormalisedMessage, utcnow
from ingest.store import Store

log = get_logger("sms.outbound")


def acknowledgement_text(arende_id: str) -> str:
    """The acknowledgement, most important first, so that a cut loses the least."""
    return segments.plain(
        f"Kontaktcenter Stockholm: Tack! Vi har tagit emot ditt SMS som ärende {arende_id}. "
        "Vid akut fara, ring 112. Vill du lägga till något, svara på detta SMS. "
        f"We have received your message as case {arende_id}. "
        "Svara STOPP om du inte vill få fler SMS.")


class SmsSender:
    """Sends (or writes) one SMS at a time under the rules in the module docstring."""

    def __init__(self, cfg: SmsConfig, store: Store, outbox_dir: Path,
                 credentials: TwilioCredentials, *, client: Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg = cfg
        self.store = store
        self.outbox_dir = outbox_dir / "sms"
        self.credentials = credentials
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> Client:
        """twilio's client on our HTTP client (``sms.api_base_url``), made on first use."""
        if self._client is None:
            self._client = Client(self.credentials.account_sid, self.credentials.auth_token,
                                  http_client=BaseUrlHttpClient(
                                      self.cfg.api_base_url,
                                      timeout=self.cfg.request_timeout_s))
        return self._client

    @property
    def status_callback(self) -> str | None:
        """Where Twilio reports delivery; only with a public base URL it can reach."""
        if self.cfg.status_callbacks and self.cfg.public_base_url:
            return self.cfg.public_base_url + STATUS_PATH
        return None

    def send(self, *, to: str, text: str, purpose: str, intake_id: str | None = None,
             keep: str = "", sms_id: str | None = None) -> state.Delivery:
        """Send ``text`` to ``to`` (E.164) once; returns the stored delivery state.

        Raises ``SmsSendFailed`` when Twilio stayed unavailable through every
        attempt (the caller's retry sends again; nothing was accepted).
        """
        text = segments.fit(text, self.cfg.max_segments, keep=keep)
        cost = segments.count(text)
        sms_id = sms_id or (f"{intake_id}:{purpose}" if intake_id
                            else f"adhoc:{utcnow().strftime('%Y%m%dT%H%M%S%f')}")
        row = state.claim_outbound(self.store, sms_id=sms_id, intake_id=intake_id,
                                   purpose=purpose, to_phone=to, body=text,
                                   encoding=cost.encoding, segments=cost.segments)
        if row.status != "pending":
            return row  # sent (or refused, or written) before: never twice
        if state.is_opted_out(self.store, to):
            log.info("sms.suppressed_opted_out", sms_id=sms_id, to=masked(to))
            return state.finish_outbound(self.store, sms_id, status="suppressed",
                                         error_code="opted_out")
        if not self.credentials.can_send:
            self._write_file(sms_id, to, text, cost, intake_id, purpose)
            return state.finish_outbound(self.store, sms_id, status="written")
        return self._send_twilio(sms_id, to, text, intake_id, row.attempts)

    def _send_twilio(self, sms_id: str, to: str, text: str, intake_id: str | None,
                     attempts_before: int) -> state.Delivery:
        origin: dict[str, Any] = ({"messaging_service_sid": self.cfg.messaging_service_sid}
                                  if self.cfg.messaging_service_sid
                                  else {"from_": self.cfg.from_number})
        if self.status_callback:
            origin["status_callback"] = self.status_callback
        last_status = 0
        attempts = attempts_before
        for attempt in range(self.cfg.send_attempts):
            attempts += 1
            try:
                message = self.client.messages.create(to=to, body=text, **origin)
            except TwilioRestException as exc:
                last_status = int(exc.status or 0)
                if last_status != 429 and last_status < 500:
                    return self._refused(sms_id, to, exc, attempts, intake_id)
            except (requests.ConnectionError, requests.Timeout):
                last_status = 0
            else:
                log.info("sms.sent", sms_id=sms_id, to=masked(to), attempts=attempts)
                return state.finish_outbound(self.store, sms_id,
                                             status=(message.status or "queued").lower(),
                                             twilio_sid=message.sid, attempts=attempts)
            if attempt + 1 < self.cfg.send_attempts:
                self._sleep(self.cfg.send_backoff_s * 2 ** attempt)
        state.finish_outbound(self.store, sms_id, status="pending",
                              error_code=str(last_status) if last_status else "no_answer",
                              attempts=attempts)
        log.warning("sms.send_unavailable", sms_id=sms_id, status=last_status, attempts=attempts)
        raise SmsSendFailed(f"Twilio unavailable after {self.cfg.send_attempts} attempts "
                            f"(last HTTP status {last_status or 'none'})",
                            status=last_status, attempts=attempts)

    def _refused(self, sms_id: str, to: str, exc: TwilioRestException, attempts: int,
                 intake_id: str | None) -> state.Delivery:
        code = str(exc.code) if exc.code else f"http_{exc.status}"
        if code == state.UNSUBSCRIBED_ERROR:  # the carrier has the number opted out
            state.record_keyword(self.store, to, "carrier_stop", utcnow(), intake_id)
        log.warning("sms.refused", sms_id=sms_id, to=masked(to), status=exc.status, code=code)
        return state.finish_outbound(self.store, sms_id, status="failed", error_code=code,
                                     attempts=attempts)

    def _write_file(self, sms_id: str, to: str, text: str, cost: segments.SegmentCount,
                    intake_id: str | None, purpose: str) -> Path:
        """One JSON file per SMS, written atomically; the same SMS again overwrites it."""
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", sms_id) + ".json"
        record = {"id": sms_id, "to": to, "from": self.cfg.from_number,
                  "messaging_service_sid": self.cfg.messaging_service_sid, "body": text,
                  "encoding": cost.encoding, "segments": cost.segments, "intake_id": intake_id,
                  "purpose": purpose, "status_callback": self.status_callback,
                  "written_at": utcnow().isoformat()}
        fd, tmp = tempfile.mkstemp(dir=self.outbox_dir, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.outbox_dir / name)
        return self.outbox_dir / name


def acknowledge(settings: Settings, store: Store, *, to: str, arende_id: str, intake_id: str,
                message: NormalisedMessage,
                credentials: TwilioCredentials | None = None,
                text: str | None = None) -> dict[str, Any]:
    """The acknowledge stage's work for an SMS plan; the result is stored on the item.

    A help keyword gets the configured help text instead of an acknowledgement.
    ``text``: the acknowledgement rendered from the templates (``ingest.ack``);
    without it, the short built-in text.
    """
    cfg = settings.kcs.sms
    sender = SmsSender(cfg, store, settings.outbox_dir,
                       credentials or TwilioCredentials.from_env())
    if message.headers.get("sms-keyword") == "help":
        text, purpose, keep = segments.plain(cfg.help_text), "help", ""
    else:
        text, purpose, keep = text or acknowledgement_text(arende_id), "ack", arende_id
    delivery = sender.send(to=to, text=text, purpose=purpose, intake_id=intake_id, keep=keep)
    result: dict[str, Any] = {"channel": "sms", "to_masked": masked(to), "purpose": purpose,
                              "at": utcnow().isoformat(), **delivery.to_dict()}
    if delivery.status == "suppressed":
        result["reason"] = "opted_out"
    return result
