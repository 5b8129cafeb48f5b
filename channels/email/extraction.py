"""What an attachment is taken to be, and the text that can be read from it.

The declared type decides unless it is generic (octet-stream): then the file
name or the magic bytes do. The text readers are chosen by what the bytes
are, never by what the sender claims alone: PDFs (``pdftext``, in a child
process), Outlook ``.msg`` files, archives (only their member names, after
the bomb checks) and text or HTML sent as a file. Every reader returns
``Extracted`` with reason codes; none raises.
"""

from __future__ import annotations

import io
import re

from channels.email import attachments as att
from channels.email.archives import archive_problems
from channels.email.charsets import decode_text, without_controls
from channels.email.html import html_to_text
from channels.email.limits import EmailLimits
from channels.email.pdftext import extract_pdf_text
from ingest.reasons import ReasonCode

EML_SNIFF_BYTES = 4096

TEXTUAL_MESSAGE_TYPES = frozenset({"message/delivery-status", "message/disposition-notification",
                                   "message/global-delivery-status", "message/feedback-report",
                                   "message/global-headers", "message/external-body"})
_HEADER_BLOCK = re.compile(rb"^(?:[!-9;-~]+:[^\n]*\r?\n)+")


def effective_type(declared: str, filename: str | None, sniffed: str | None) -> str:
    """The declared type, unless it is generic (octet-stream): then name or magic decide."""
    if not att.is_generic_type(declared):
        return declared
    by_name = att.type_from_filename(filename)
    if by_name and not att.is_generic_type(by_name) and (
            sniffed is None or att.compatible(by_name, sniffed)):
        return by_name
    return sniffed or declared or "application/octet-stream"


def is_eml(ctype: str, filename: str | None, sniffed: str | None, data: bytes) -> bool:
    """An attachment that is itself an e-mail (.eml sent as octet-stream, text/plain ...)."""
    if sniffed is not None:
        return False
    named = (filename or "").lower().endswith(".eml")
    if not (named or ctype in ("message/rfc822", "message/global")):
        return False
    head = data[:EML_SNIFF_BYTES].lstrip()
    return bool(_HEADER_BLOCK.match(head))


def extract_text(data: bytes, content_type: str, sniffed: str | None, filename: str | None,
                 charset: str | None, limits: EmailLimits) -> att.Extracted:
    """The readable text of an attachment and what went wrong, by what the bytes are."""
    lowered = (filename or "").lower()
    if sniffed == "application/pdf":
        pdf = extract_pdf_text(data, max_pages=limits.max_pdf_pages,
                               timeout_s=limits.pdf_timeout_s, memory_mb=limits.pdf_memory_mb,
                               max_chars=limits.max_text_chars)
        return att.Extracted(text=pdf.text, problems=pdf.problems)
    if lowered.endswith(".msg") or content_type in ("application/vnd.ms-outlook",
                                                    "application/x-msg"):
        return outlook_msg_text(data, max_chars=limits.max_text_chars)
    if sniffed in ("application/zip", "application/gzip"):
        return archive_problems(data, sniffed, max_ratio=limits.max_archive_ratio,
                                max_total_bytes=limits.max_archive_total_bytes)
    textual = content_type.startswith("text/") or content_type in TEXTUAL_MESSAGE_TYPES
    if textual and (sniffed is None or sniffed == "text/html"):
        return _text_file(data, content_type, sniffed, charset, limits.max_text_chars)
    return att.Extracted()


def outlook_msg_text(data: bytes, *, max_chars: int) -> att.Extracted:
    """Sender, date, subject and body of an Outlook ``.msg`` (extract-msg).

    Only OLE2 data is handed to extract-msg, and only as a file object: given
    ``bytes`` that are not OLE2 it would treat them as a path on disk.
    """
    if not data.startswith(att.OLE_MAGIC):
        return att.Extracted(problems=(ReasonCode.ATTACHED_MESSAGE_UNREADABLE.value,))
    try:
        import extract_msg  # heavy; only mails with .msg files pay for it

        msg = extract_msg.openMsg(io.BytesIO(data), delayAttachments=True)
        try:
            lines = []
            for label, value in (("Från", getattr(msg, "sender", None)),
                                 ("Datum", getattr(msg, "date", None)),
                                 ("Ämne", getattr(msg, "subject", None))):
                if value:
                    lines.append(f"{label}: {' '.join(str(value).split())}")
            body = getattr(msg, "body", None) or ""
            if not body.strip():
                html_body = getattr(msg, "htmlBody", None)
                if isinstance(html_body, bytes):
                    html_body = html_body.decode("utf-8", errors="replace")
                body = html_to_text(html_body or "", max_chars=max_chars)
        finally:
            msg.close()
    except Exception:  # extract-msg/olefile raise anything on corrupt files
        return att.Extracted(problems=(ReasonCode.ATTACHED_MESSAGE_UNREADABLE.value,))
    text = "\n".join(lines) + "\n\n" + body.replace("\r\n", "\n").strip()
    return att.Extracted(text=text[:max_chars].strip() or None)


def _text_file(data: bytes, content_type: str, sniffed: str | None, charset: str | None,
               max_chars: int) -> att.Extracted:
    """A text or HTML file: decoded like a body part, HTML rendered to text."""
    text, problems = decode_text(data, charset)
    if content_type == "text/html" or sniffed == "text/html":
        text = html_to_text(text, max_chars=max_chars)
    text = without_controls(text).strip()
    if len(text) > max_chars:
        problems = (*problems, ReasonCode.TEXT_TRUNCATED.value)
    return att.Extracted(text=text[:max_chars] or None, problems=problems)
