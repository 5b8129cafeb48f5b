"""The walk over one message's MIME tree: body texts, attachments, attached messages.

``MessageReader`` holds what a whole message collects on the way: reason
codes, attachments in document order, the text blocks they add to
``full_text`` and the bytes to store. The limits are applied here: leaf parts
beyond ``max_parts`` are not read, multiparts deeper than
``MAX_MULTIPART_DEPTH`` are not opened, attached messages deeper than
``max_depth`` are kept as blobs without being read.

An attached message (message/rfc822, or an .eml sent as a file) is read with
the same walk, one level deeper, and becomes a text block of the forwarded
message's sender, date, subject and body.
"""

from __future__ import annotations

import hashlib
from email.message import Message

from channels.email import attachments as att
from channels.email import parts
from channels.email.body import Body, choose_alternative
from channels.email.extraction import effective_type, extract_text, is_eml
from channels.email.headers import Headers
from channels.email.limits import EmailLimits
from channels.email.payloads import decode_bytes, payload
from ingest.model import Attachment
from ingest.reasons import ReasonCode

MAX_MULTIPART_DEPTH = 50

_ATTACHMENT_LABEL = "Bilaga"
_MESSAGE_LABEL = "Bifogat meddelande"


class MessageReader:
    """Reads one message (and the messages attached to it) within ``EmailLimits``."""

    def __init__(self, limits: EmailLimits) -> None:
        self.limits = limits
        self.problems: dict[str, None] = {}
        self.attachments: list[Attachment | None] = []
        self.attachment_blocks: list[str | None] = []
        self.blobs: dict[str, bytes] = {}
        self.leaves = 0
        self.depth = 0  # of the message being read: 0 top, 1 attached, 2 attached to that ...

    def note(self, code: ReasonCode | str) -> None:
        """Record a reason code for the whole message, once."""
        self.problems.setdefault(str(code), None)

    def read_message(self, msg: Message) -> Body:
        """The body texts of ``msg``; its attachments are collected on the way."""
        body = Body()
        self._walk(msg, body, mp_depth=0, body_mode="body")
        return body

    # -- structure

    def _walk(self, part: Message, body: Body, mp_depth: int, body_mode: str) -> None:
        """``body_mode``: "body" collects text parts, "skip" drops unchosen alternatives."""
        if getattr(part, "defects", None):
            self.note(ReasonCode.DEFECTIVE_MIME)
        ctype = parts.content_type(part)
        if ctype in parts.ATTACHED_MESSAGE_TYPES and part.is_multipart():
            if self._count_leaf():
                self._attached_message_part(part)
            return
        if ctype.startswith("multipart/") and not part.is_multipart():
            recovered = parts.recover_multipart(part, ctype)
            if recovered is None:
                self.note(ReasonCode.DEFECTIVE_MIME)
                if parts.count_text(part) and self._count_leaf():
                    self._attachment(part, "application/octet-stream", None)
                return
            self.note(ReasonCode.DEFECTIVE_MIME)
            part = recovered
        if part.is_multipart() and not ctype.startswith("message/"):
            if mp_depth >= MAX_MULTIPART_DEPTH:
                self.note(ReasonCode.NESTING_TOO_DEEP)
                return
            children = parts.children(part)
            chosen = None
            if ctype == "multipart/alternative":
                chosen = choose_alternative(children, self.limits.max_attachment_bytes)
            for child in children:
                mode = body_mode
                if chosen is not None and child is not chosen:
                    mode = "skip"
                self._walk(child, body, mp_depth + 1, mode)
            return
        if not self._count_leaf():
            return
        filename = parts.filename(part)
        inline = filename is None and parts.disposition(part) != "attachment"
        if inline and ctype in ("text/plain", "text/html"):
            if body_mode == "skip":
                return
            if body.add(part, ctype, max_bytes=self.limits.max_attachment_bytes,
                        max_chars=self.limits.max_text_chars, note=self.note):
                return
        self._attachment(part, ctype, filename)

    def _count_leaf(self) -> bool:
        self.leaves += 1
        if self.leaves > self.limits.max_parts:
            self.note(ReasonCode.TOO_MANY_PARTS)
            return False
        return True

    # -- attachments

    def _reserve(self) -> int:
        """A place in document order, taken before an attached message adds its own."""
        self.attachments.append(None)
        self.attachment_blocks.append(None)
        return len(self.attachments) - 1

    def _store(self, slot: int, attachment: Attachment, data: bytes | None, label: str) -> None:
        self.attachments[slot] = attachment
        if data is not None:
            self.blobs[attachment.sha256] = data
        if attachment.text:
            self.attachment_blocks[slot] = f"[{label}: {attachment.filename}]\n{attachment.text}"

    def _attachment(self, part: Message, ctype: str, filename: str | None) -> None:
        slot = self._reserve()
        decoded = payload(part, self.limits.max_attachment_bytes)
        name, unsafe = att.safe_filename(filename, slot + 1, ctype)
        problems: list[str] = [ReasonCode.UNSAFE_ATTACHMENT_NAME.value] if unsafe else []
        data = decoded.data
        if data is None:
            problems.append(ReasonCode.ATTACHMENT_TOO_LARGE.value)
            self._store(slot, Attachment(filename=name, original_filename=filename,
                                         content_type=ctype, size=decoded.size,
                                         sha256=decoded.sha256, problems=tuple(problems)),
                        None, _ATTACHMENT_LABEL)
            return
        sniffed = att.sniff(data)
        content_type = effective_type(ctype, filename, sniffed)
        if att.declared_type_lies(ctype, filename, data, sniffed):
            problems.append(ReasonCode.CONTENT_TYPE_MISMATCH.value)
        if is_eml(ctype, filename, sniffed, data):
            inner = parts.parse(data, self.note)
            self._attached_message(slot, inner, data, name, filename, unsafe)
            return
        extracted = extract_text(data, content_type, sniffed, filename, parts.charset(part),
                                 self.limits)
        problems.extend(extracted.problems)
        self._store(slot, Attachment(filename=name, original_filename=filename,
                                     content_type=content_type, size=len(data),
                                     sha256=decoded.sha256, text=extracted.text,
                                     problems=tuple(dict.fromkeys(problems))),
                    data, _ATTACHMENT_LABEL)

    def _attached_message_part(self, part: Message) -> None:
        """A message/rfc822 part: the parser already opened it."""
        slot = self._reserve()
        filename = parts.filename(part)
        name, unsafe = att.safe_filename(filename, slot + 1, "message/rfc822")
        raw = parts.raw_payload(part)
        inner = raw[0] if isinstance(raw, list) and raw else None
        if not isinstance(inner, Message):
            inner = parts.parse(b"")
        cte = parts.transfer_encoding(part)
        inner_payload = parts.raw_payload(inner)
        if cte in ("base64", "quoted-printable") and isinstance(inner_payload, str):
            # Invalid (RFC 2046 5.2.1) but sent: the parser read the encoded text as a message.
            data = decode_bytes(inner_payload.encode("utf-8", "surrogateescape"), cte)
            inner = parts.parse(data, self.note)
        else:
            data = parts.serialise(inner)
        self._attached_message(slot, inner, data, name, filename, unsafe)

    def _attached_message(self, slot: int, inner: Message, data: bytes, name: str,
                          filename: str | None, unsafe: bool) -> None:
        """Keep an attached message as a blob and read it as a forwarded message."""
        problems: list[str] = [ReasonCode.UNSAFE_ATTACHMENT_NAME.value] if unsafe else []
        text: str | None = None
        kept: bytes | None = data
        if len(data) > self.limits.max_attachment_bytes:
            problems.append(ReasonCode.ATTACHMENT_TOO_LARGE.value)
            kept = None
        elif not data:
            problems.append(ReasonCode.ATTACHED_MESSAGE_UNREADABLE.value)
        elif self.depth + 1 > self.limits.max_depth:
            problems.append(ReasonCode.NESTING_TOO_DEEP.value)
        else:
            text = self._forwarded_text(inner, self.depth + 1)
        self._store(slot, Attachment(filename=name, original_filename=filename,
                                     content_type="message/rfc822", size=len(data),
                                     sha256=hashlib.sha256(data).hexdigest(), text=text,
                                     problems=tuple(problems)), kept, _MESSAGE_LABEL)

    def _forwarded_text(self, inner: Message, depth: int) -> str:
        headers = Headers(inner, self.note)
        lines = []
        for label, key in (("Från", "from"), ("Datum", "date"), ("Ämne", "subject")):
            value = headers.text(key)
            if value:
                lines.append(f"{label}: {value}")
        previous, self.depth = self.depth, depth
        try:
            body = self.read_message(inner)
        finally:
            self.depth = previous
        text = body.full()
        return ("\n".join(lines) + "\n\n" + text).strip()[: self.limits.max_text_chars]
