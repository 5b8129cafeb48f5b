"""Acknowledgements: whether to answer, and the answer itself.

The decision is made once (``plan``) and stored on the published item; the
acknowledge stage then delivers exactly that plan. We never answer a robot:
auto-replies, bounces, mailing lists, no-reply senders and our own mail get
no acknowledgement (RFC 3834). This first version sends a short bilingual
Swedish/English e-mail; per-type, per-language templates replace the text.
An SMS is answered by SMS (``channels.sms.outbound``), never to a number
that has opted out.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from ingest.config import OutboundConfig
from ingest.model import Channel, ChannelMeta, NormalisedMessage, utcnow

_ROBOT_LOCALPART = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|noreply-.*|bounces?|.*-bounces?"
    r"|auto-?reply|autoresponder|listserv|majordomo)$", re.IGNORECASE)
_BULK_PRECEDENCE = {"bulk", "junk", "list"}


def robot_reason(message: NormalisedMessage, meta: ChannelMeta,
                 outbound: OutboundConfig) -> str | None:
    """Why this message must not be answered, or None if a person wrote it."""
    h = message.headers
    auto = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return "auto_submitted"
    if h.get("precedence", "").strip().lower() in _BULK_PRECEDENCE:
        return "precedence_bulk"
    if "list-id" in h or "list-unsubscribe" in h:
        return "mailing_list"
    if "x-loop" in h or "x-autoreply" in h or "x-autorespond" in h:
        return "auto_reply_marker"
    if h.get("x-auto-response-suppress", "").strip().lower() in {"all", "oof", "autoreply"}:
        return "auto_response_suppressed"
    if h.get("content-type", "").lower().startswith("multipart/report"):
        return "delivery_report"
    if meta.channel is Channel.EMAIL and meta.transport == "smtp" and not meta.envelope_from:
        return "null_sender"
    address = (message.sender.email or "").lower()
    local = address.split("@", 1)[0]
    if _ROBOT_LOCALPART.match(local):
        return "robot_address"
    ours = outbound.from_address.lower()
    if address == ours or address.endswith("@" + outbound.message_id_domain.lower()):
        return "our_own_address"
    if message.message_id and message.message_id.endswith(f"@{outbound.message_id_domain}>"):
        return "our_own_message"
    return None


def plan(message: NormalisedMessage, meta: ChannelMeta, outbound: OutboundConfig,
         flags: dict[str, bool], *, sms_opted_out: bool = False,
         sms_own_number: str | None = None) -> dict[str, Any]:
    """Decide whether and where to acknowledge; stored on the item and published.

    ``sms_opted_out``: the sender's number has opted out of our SMS (looked up
    by the caller); ``sms_own_number``: the number we send from (loop guard).
    """
    if flags.get("anonym") or message.sender.anonymous:
        return {"planned": False, "channel": None, "to": None, "reason": "anonymous"}
    robot = robot_reason(message, meta, outbound)
    if robot:
        return {"planned": False, "channel": None, "to": None, "reason": robot}
    if meta.channel is Channel.SMS and message.sender.phone:
        return _plan_sms(message, opted_out=sms_opted_out, own_number=sms_own_number)
    if message.sender.email:
        return {"planned": True, "channel": "email", "to": message.sender.email, "reason": None}
    return {"planned": False, "channel": None, "to": None, "reason": "no_supported_contact"}


def _plan_sms(message: NormalisedMessage, *, opted_out: bool,
              own_number: str | None) -> dict[str, Any]:
    """An SMS is answered by SMS, except keywords, opted-out numbers and ourselves.

    STOP gets nothing from us: Twilio and the carriers send the standard
    opt-out confirmation themselves, and after STOP we send nothing at all
    until START (whose confirmation Twilio sends too). HELP is answered with
    the help text by the acknowledge stage.
    """
    phone = message.sender.phone
    keyword = message.headers.get("sms-keyword")
    if keyword == "stop" or opted_out:
        return {"planned": False, "channel": None, "to": None, "reason": "opted_out"}
    if keyword == "start":
        return {"planned": False, "channel": None, "to": None, "reason": "sms_keyword"}
    if own_number and phone == own_number:
        return {"planned": False, "channel": None, "to": None, "reason": "our_own_number"}
    return {"planned": True, "channel": "sms", "to": phone, "reason": None}


def compose_email(*, to: str, arende_id: str, subject: str, in_reply_to: str | None,
                  references: tuple[str, ...], message_id: str,
                  outbound: OutboundConfig) -> EmailMessage:
    """The acknowledgement e-mail, with the headers that stop auto-reply loops."""
    msg = EmailMessage()
    msg["From"] = formataddr((outbound.from_name, outbound.from_address))
    msg["To"] = to
    original = subject.strip() or "ditt meddelande"
    msg["Subject"] = f"Vi har tagit emot: {original[:120]} [{arende_id}]"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join([*references, in_reply_to][-10:])
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg.set_content(
        f"Hej!\n\nTack för ditt meddelande. Vi har tagit emot det och gett det "
        f"ärendenummer {arende_id}.\nVill du lägga till något, svara på det här "
        f"meddelandet så hamnar det i samma ärende.\nÄr det bråttom eller akut fara, "
        f"ring 112.\n\nMed vänliga hälsningar\n{outbound.from_name}\n\n"
        f"---\n\nThank you for your message. We have received it as case {arende_id}.\n"
        f"To add information, reply to this message. In an emergency, call 112.\n")
    return msg


def deliver_email(msg: EmailMessage, outbound: OutboundConfig, outbox_dir: Path) -> dict[str, Any]:
    """Send through the configured relay, or write to the outbox directory."""
    if outbound.relay is None:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        # Named by Message-ID: delivering the same acknowledgement again overwrites it.
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", msg["Message-ID"].strip("<>")) + ".eml"
        fd, tmp = tempfile.mkstemp(dir=outbox_dir, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(msg.as_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, outbox_dir / name)
        return {"state": "written", "path": str(outbox_dir / name)}
    relay = outbound.relay
    with smtplib.SMTP(relay.host, relay.port, timeout=30) as smtp:
        if relay.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if relay.username and relay.password_env:
            smtp.login(relay.username, os.environ.get(relay.password_env, ""))
        smtp.send_message(msg)
    return {"state": "sent", "relay": relay.host}
