"""A first look at a raw e-mail: its subject and readable body text, cheaply.

The akut pre-triage (``ingest.pretriage``) reads every new mail before it
joins the queue, so it cannot afford the whole normalisation (attachments,
OCR, quoting, signatures). It needs only the words a person in danger wrote:
the subject and the text parts, decoded, up to a bound. Anything this look
gets wrong only costs priority; the normalise stage still reads the mail
properly.
"""

from __future__ import annotations

from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser

from channels.email.charsets import decode_text
from channels.email.html import html_to_text

MAX_PARTS = 20
MAX_PART_BYTES = 256 * 1024

_PARSER = BytesParser(policy=policy.compat32)


def glance(raw: bytes, max_chars: int = 20_000) -> str:
    """Subject and the text parts of ``raw``, joined; "" when nothing is readable."""
    try:
        msg = _PARSER.parsebytes(raw[: 4 * MAX_PART_BYTES])
    except Exception:
        return ""
    texts = [_subject(msg)]
    size = 0
    for i, part in enumerate(msg.walk()):
        if i >= MAX_PARTS or size >= max_chars:
            break
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if (part.get("Content-Disposition") or "").lower().startswith("attachment"):
            continue
        text = _part_text(part)
        texts.append(text)
        size += len(text)
    return "\n".join(t for t in texts if t)[:max_chars]


def _subject(msg: Message) -> str:
    value = msg.get("Subject")
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


def _part_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(data, bytes):
        return ""
    text, _ = decode_text(data[:MAX_PART_BYTES], part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = html_to_text(text, max_chars=MAX_PART_BYTES)
    return text
