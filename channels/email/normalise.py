"""Raw RFC 5322 bytes to a ``NormalisedMessage``: the written channel's front door.

Real mail is parsed with the stdlib ``email`` package (``policy.default``) and
read defensively: every header goes through one decoder that copes with raw
8-bit bytes, RFC 2047 words in unknown charsets and CR/LF smuggled into
encoded words; every text part goes through one charset decoder that does not
trust the declared charset. Attachments are kept (as blobs keyed by sha256)
with safe names, sniffed types and whatever text can be read from them.

Outcomes:

- ``ParsedEmail`` whenever anything usable can be made, with non-fatal reason
  codes in ``message.problems`` (the union of message- and attachment-level
  codes, each once) and per attachment in ``Attachment.problems``.
- ``InputRejected`` otherwise: ``EMPTY_INPUT`` (no bytes or only whitespace),
  ``NOT_A_MESSAGE`` (no header block at all: a PNG, random bytes, a plain
  text file), ``NESTING_TOO_DEEP`` (so deep the parser itself gives up) and
  ``MIME_UNPARSEABLE`` for anything unforeseen.
- ``PdfExtractorUnavailable`` (a ``StageError``) only when this host cannot
  start the child process that reads PDFs: a fault of the machine, not of
  the message, so the stage is retried. No other exception leaves
  ``normalise_email``.

Size limits (``EmailLimits``): a part whose decoded size exceeds
``max_attachment_bytes`` is decoded in chunks only to measure and hash it; its
``Attachment`` carries size, sha256 and ``ATTACHMENT_TOO_LARGE``, but no text,
and ``ParsedEmail.blobs`` has no entry for it (the raw original, which the
pipeline keeps, still contains it). Leaf parts beyond ``max_parts`` are not
read (``TOO_MANY_PARTS``); attached messages deeper than ``max_depth`` are kept
as blobs but not opened (``NESTING_TOO_DEEP``); texts are cut at
``max_text_chars`` (``TEXT_TRUNCATED``). A PDF's text is read in a child
process limited to ``pdf_timeout_s`` and ``pdf_memory_mb``
(``PDF_TOO_COMPLEX`` when it hits either; the PDF is kept).

Nothing is logged: message content must not reach logs.

This module is the entry point and assembles the result; the work is done by
``parts`` (parsing, safe accessors), ``headers``, ``charsets``, ``reader``
(the MIME walk and its limits) with ``body`` and ``payloads``, and, for
attachments, ``attachments`` (names, types), ``extraction`` (text by type),
``archives`` and ``pdftext``.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.email import headers as hdr
from channels.email.charsets import decode_text
from channels.email.limits import DEFAULT_LIMITS, EmailLimits
from channels.email.parts import parse
from channels.email.pdftext import PdfExtractorUnavailable
from channels.email.reader import MessageReader
from channels.email.replies import split_reply
from ingest.errors import InputRejected
from ingest.model import NormalisedMessage
from ingest.reasons import ReasonCode

__all__ = ["DEFAULT_LIMITS", "EmailLimits", "ParsedEmail", "decode_text", "normalise_email"]


@dataclass(frozen=True)
class ParsedEmail:
    """The normalised message plus the attachment bytes the pipeline stores.

    ``blobs`` maps sha256 (hex) to bytes, one entry per attachment in
    ``message.attachments`` except those over ``max_attachment_bytes``.
    """

    message: NormalisedMessage
    blobs: dict[str, bytes]


def normalise_email(raw: bytes, limits: EmailLimits = DEFAULT_LIMITS) -> ParsedEmail:
    """Normalise one raw e-mail; raises ``InputRejected`` (see the module docstring).

    Attachments over ``limits.max_attachment_bytes`` are listed with size,
    sha256 and ``ATTACHMENT_TOO_LARGE`` but have no entry in ``blobs``.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InputRejected(ReasonCode.NOT_A_MESSAGE, f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise InputRejected(ReasonCode.EMPTY_INPUT, "no bytes" if not raw else "only whitespace")
    try:
        return _normalise(raw, limits)
    except (InputRejected, PdfExtractorUnavailable):
        raise
    except RecursionError as exc:
        raise InputRejected(ReasonCode.NESTING_TOO_DEEP, "MIME structure nested too deep") from exc
    except Exception as exc:  # a bug or an input no rule foresaw: keep it as rejected
        raise InputRejected(ReasonCode.MIME_UNPARSEABLE, type(exc).__name__) from exc


def _normalise(raw: bytes, limits: EmailLimits) -> ParsedEmail:
    """Headers, then the MIME tree, then one ``NormalisedMessage`` from both."""
    reader = MessageReader(limits)
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    msg = parse(raw, reader.note)
    if not msg.keys():
        raise InputRejected(ReasonCode.NOT_A_MESSAGE, "no header block")
    headers = hdr.Headers(msg, reader.note)
    subject = headers.text("subject", hdr.MAX_SUBJECT_CHARS) or ""
    sender = hdr.sender(headers)
    message_ids = hdr.message_ids(headers.text("message-id"))
    in_reply_to = hdr.message_ids(headers.text("in-reply-to"))
    kept_headers = hdr.kept_headers(headers, msg)

    body = reader.read_message(msg)
    full_body = body.full()
    reply = split_reply(body.reply_source()).body if body.reply_sources else ""
    if body.any_part and body.html_only:
        reader.note(ReasonCode.HTML_ONLY)

    max_chars = limits.max_text_chars
    blocks = [full_body, *(b for b in reader.attachment_blocks if b)]
    full_text = "\n\n".join(b for b in blocks if b)
    if len(full_text) > max_chars or len(reply) > max_chars:
        reader.note(ReasonCode.TEXT_TRUNCATED)
    attachments = tuple(a for a in reader.attachments if a is not None)
    for attachment in attachments:
        for problem in attachment.problems:
            reader.note(problem)
    message = NormalisedMessage(
        subject=subject,
        body=reply[:max_chars],
        sender=sender,
        full_text=full_text[:max_chars],
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=hdr.references(headers),
        sent_at=hdr.sent_at(headers.text("date")),
        attachments=attachments,
        headers=kept_headers,
        problems=tuple(reader.problems),
    )
    return ParsedEmail(message=message, blobs=reader.blobs)
