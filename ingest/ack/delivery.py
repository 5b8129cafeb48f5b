"""Delivery: e-mail through a durable outbox and the SMTP relay, letters to the print queue.

E-mail (``var/outbox`` by default):

- without a relay (``outbound.relay: null``) the message is written to
  ``var/outbox/<message-id>.eml`` and that is its delivery (state ``written``);
- with a relay it is first written, fsync'd, to ``var/outbox/queue/``, then sent
  with STARTTLS and AUTH as configured, ``ack.smtp_attempts`` times with
  backoff. Sent: moved to ``var/outbox/sent/`` (state ``sent``). A permanent
  refusal (5xx): moved to ``var/outbox/failed/`` (state ``failed``). Still
  failing temporarily: ``DeliveryDeferred`` is raised, the file stays queued,
  and the acknowledge stage is retried by Dramatiq (``kcs ack flush`` sends the
  queue by hand). The envelope sender is null (``MAIL FROM:<>``, RFC 3834 §3.3)
  so that nothing bounces or auto-replies back to us.

Letters: one PDF per letter in the print queue (``var/print/queue`` by
default); registratur prints a batch and moves them to ``printed/``.
"""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from datetime import date
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from ingest.ack.config import AckConfig
from ingest.ack.templates import Rendered
from ingest.config import OutboundConfig, Settings
from ingest.errors import KcsError
from ingest.logs import get_logger
from ingest.model import utcnow

log = get_logger("ack.delivery")

#: The generator policy for what we send: the MIME classes' own, with SMTP's CRLF.
SMTP_POLICY = compat32.clone(linesep="\r\n")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


class DeliveryDeferred(KcsError):
    """The relay could not take the message now; it stays queued and is retried."""

    def __init__(self, message: str, *, path: Path, attempts: int) -> None:
        super().__init__(message)
        self.path = path
        self.attempts = attempts


def compose_email(*, to: str, rendered: Rendered, arende_id: str, in_reply_to: str | None,
                  references: tuple[str, ...], message_id: str,
                  outbound: OutboundConfig) -> Message:
    """The acknowledgement e-mail with the headers that stop auto-reply loops (RFC 3834)
    and that thread it with the citizen's message.

    Built with the ``compat32`` MIME classes, not ``EmailMessage``: the modern API
    parses every header it is given through the header registry and folds it again,
    3.4–3.8× the cost of the whole message (``bench_ack.py``) for headers we write
    ourselves. Bodies are UTF-8 quoted-printable (7-bit safe, readable in the outbox);
    non-ASCII display names and subjects become RFC 2047 encoded words.
    """
    if rendered.html:
        msg: Message = MIMEMultipart("alternative")
        msg.attach(_text_part(rendered.text, "plain"))
        msg.attach(_text_part(rendered.html, "html"))
    else:
        msg = _text_part(rendered.text, "plain")
    msg["From"] = formataddr((outbound.from_name, outbound.from_address), charset="utf-8")
    msg["To"] = _address(to)
    msg["Subject"] = rendered.subject if rendered.subject.isascii() else Header(
        rendered.subject, "utf-8", header_name="Subject")
    for name, value in reply_headers(arende_id=arende_id, in_reply_to=in_reply_to,
                                     references=references, message_id=message_id,
                                     language=rendered.language):
        msg[name] = value
    return msg


def reply_headers(*, arende_id: str, in_reply_to: str | None, references: tuple[str, ...],
                  message_id: str, language: str) -> list[tuple[str, str]]:
    """The acknowledgement's ASCII headers: date, threading, the RFC 3834 loop guards,
    our ärende and the language (everything but From, To and Subject)."""
    headers = [("Date", format_datetime(utcnow())), ("Message-ID", message_id)]
    if in_reply_to:
        headers += [("In-Reply-To", in_reply_to),
                    ("References", " ".join([*references, in_reply_to][-10:]))]
    return [*headers, ("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All"),
            ("Precedence", "auto_reply"), ("X-KCS-Arende", arende_id),
            ("Content-Language", language.replace("sv-lattlast", "sv"))]


def _text_part(text: str, subtype: str) -> MIMEText:
    # A line of text ends in one newline, as EmailMessage.set_content writes it.
    return MIMEText(text if text.endswith("\n") else text + "\n", subtype, _UTF8_QP)


def _address(to: str) -> str | Header:
    """``to`` as a To header: a non-ASCII display name encoded, the address as it is."""
    name, addr = parseaddr(to)
    if addr and addr.isascii():
        return formataddr((name, addr), charset="utf-8")
    # A non-ASCII address needs SMTPUTF8, which the relay is not asked for: encoded as
    # words it is at least a valid header, and the relay's refusal says why.
    return Header(to, "utf-8", header_name="To")


def _file_name(message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip("<>")) + ".eml"


def _write_atomic(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / name)
    return directory / name


def deliver_email(msg: Message, settings: Settings, *,
                  sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Write, queue and send ``msg`` as the module docstring says; returns the state."""
    outbound = settings.kcs.outbound
    name = _file_name(msg["Message-ID"])
    data = msg.as_bytes(policy=SMTP_POLICY)  # CRLF: the bytes go to the relay as they are
    if outbound.relay is None:
        # Named by Message-ID: delivering the same acknowledgement again overwrites it.
        path = _write_atomic(settings.outbox_dir, name, data)
        return {"state": "written", "path": str(path)}
    queued = settings.outbox_dir / "queue" / name
    if not queued.exists():
        _write_atomic(queued.parent, name, data)
    return send_queued(queued, settings, sleep=sleep)


def send_queued(path: Path, settings: Settings, *,
                sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Send one queued file through the relay with bounded retries (see module docstring)."""
    relay = settings.kcs.outbound.relay
    if relay is None:
        raise ValueError("outbound.relay is not configured")
    cfg: AckConfig = settings.kcs.ack
    data = path.read_bytes()
    recipients = _recipients(data)
    last = ""
    for attempt in range(1, cfg.smtp_attempts + 1):
        try:
            with smtplib.SMTP(relay.host, relay.port, timeout=cfg.smtp_timeout_s) as smtp:
                smtp.ehlo()
                if relay.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if relay.username and relay.password_env:
                    smtp.login(relay.username, os.environ.get(relay.password_env, ""))
                refused = smtp.sendmail("", recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(code >= 500 for code in codes):
                return _finish(path, settings, "failed", attempt, f"refused {sorted(codes)}")
            last = f"temporary refusal {sorted(codes)}"
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500 and exc.smtp_code not in (530, 535):
                return _finish(path, settings, "failed", attempt, f"smtp {exc.smtp_code}")
            last = f"smtp {exc.smtp_code}"
        except (OSError, smtplib.SMTPException) as exc:
            last = type(exc).__name__
        else:
            if refused:
                last = f"partly refused {len(refused)}"
            else:
                return _finish(path, settings, "sent", attempt, None, relay=relay.host)
        if attempt < cfg.smtp_attempts:
            sleep(cfg.smtp_backoff_s * 2 ** (attempt - 1))
    log.warning("ack.email_deferred", error=last, attempts=cfg.smtp_attempts)
    raise DeliveryDeferred(f"relay {relay.host}:{relay.port} did not take the "
                           f"acknowledgement: {last}", path=path, attempts=cfg.smtp_attempts)


def _recipients(data: bytes) -> list[str]:
    from email import message_from_bytes, policy
    from email.utils import getaddresses

    msg = message_from_bytes(data, policy=policy.default)
    return [addr for _, addr in getaddresses([str(msg["To"] or "")]) if addr]


def _finish(path: Path, settings: Settings, state: str, attempts: int, error: str | None,
            **extra: str) -> dict[str, Any]:
    target_dir = settings.outbox_dir / ("sent" if state == "sent" else "failed")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    os.replace(path, target)
    log.info("ack.email_" + state, attempts=attempts)
    result: dict[str, Any] = {"state": state, "path": str(target), "attempts": attempts,
                              "at": utcnow().isoformat(), **extra}
    if error:
        result["error"] = error
    return result


def flush_queue(settings: Settings) -> list[dict[str, Any]]:
    """Send every queued acknowledgement once (``kcs ack flush``); deferred ones stay."""
    results = []
    for path in sorted((settings.outbox_dir / "queue").glob("*.eml")):
        try:
            results.append({"file": path.name, **send_queued(path, settings)})
        except DeliveryDeferred as exc:
            results.append({"file": path.name, "state": "queued", "error": str(exc)})
    return results


def print_queue_dir(settings: Settings) -> Path:
    """``ack.print_queue_dir``, else ``<var>/print/queue``."""
    configured = settings.kcs.ack.print_queue_dir
    return Path(configured) if configured else settings.var_dir / "print" / "queue"


def queue_letter(pdf: bytes, settings: Settings, *, arende_id: str, intake_id: str
                 ) -> dict[str, Any]:
    """Put one letter in the print queue; the same letter again replaces itself."""
    name = f"{arende_id}_{intake_id.lower()}.pdf"
    path = _write_atomic(print_queue_dir(settings), name, pdf)
    return {"state": "queued_for_print", "path": str(path), "pages_bytes": len(pdf)}


LETTER_NAME = re.compile(r"^(?P<arende>[A-Za-z0-9-]+)_(?P<intake>[0-9a-z]{26})\.pdf$")


def waiting_letters(settings: Settings) -> list[Path]:
    """The letters in the print queue, oldest first (``kcs ack print-queue``, the web app)."""
    queue = print_queue_dir(settings)
    letters = [p for p in queue.glob("*.pdf") if LETTER_NAME.match(p.name)]
    return sorted(letters, key=lambda p: (p.stat().st_mtime, p.name))


def letter_ids(path: Path) -> tuple[str, str] | None:
    """(ärende number, intake id in upper case) from a queued letter's file name."""
    m = LETTER_NAME.match(path.name)
    return (m["arende"], m["intake"].upper()) if m else None


def mark_printed(settings: Settings, letters: list[Path], *, today: date | None = None
                 ) -> Path:
    """Move printed letters to ``printed/<date>/`` beside the queue; the folder they went to.
    A letter no longer in the queue (printed by someone else meanwhile) is skipped."""
    queue = print_queue_dir(settings)
    printed = queue.parent / "printed" / (today or date.today()).isoformat()
    printed.mkdir(parents=True, exist_ok=True)
    for path in letters:
        source = queue / path.name
        if source.exists():
            shutil.move(str(source), printed / path.name)
    return printed
