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
  ``MIME_UNPARSEABLE`` for anything unforeseen. No other exception leaves
  ``normalise_email``.

Size limits (``EmailLimits``): a part whose decoded size exceeds
``max_attachment_bytes`` is decoded in chunks only to measure and hash it; its
``Attachment`` carries size, sha256 and ``ATTACHMENT_TOO_LARGE``, but no text,
and ``ParsedEmail.blobs`` has no entry for it (the raw original, which the
pipeline keeps, still contains it). Leaf parts beyond ``max_parts`` are not
read (``TOO_MANY_PARTS``); attached messages deeper than ``max_depth`` are kept
as blobs but not opened (``NESTING_TOO_DEEP``); texts are cut at
``max_text_chars`` (``TEXT_TRUNCATED``).

Nothing is logged: message content must not reach logs.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from channels.email import attachments as att
from channels.email.html import MARKUP_FACTOR, html_to_text, html_to_texts
from channels.email.replies import split_reply
from ingest.errors import InputRejected
from ingest.model import Attachment, NormalisedMessage, Sender
from ingest.reasons import ReasonCode

MAX_MULTIPART_DEPTH = 50
MAX_SUBJECT_CHARS = 1000
MAX_HEADER_VALUE_CHARS = 2000
MAX_REFERENCES = 100
DETECTION_SAMPLE_BYTES = 64 * 1024
DECODE_CHUNK_CHARS = 4 * 2**20

_PARSE_POLICY = email_policy.default
_ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_TEXTUAL_MESSAGE_TYPES = frozenset({"message/delivery-status", "message/disposition-notification",
                                    "message/global-delivery-status", "message/feedback-report",
                                    "message/global-headers", "message/external-body"})
_GENERATE_POLICY = email_policy.default.clone(refold_source="none", cte_type="8bit",
                                              linesep="\r\n", max_line_length=0)

# Headers later stages decide on (loop prevention, bounces, lists), lower-cased.
KEPT_HEADERS = frozenset({
    "auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-post", "x-loop",
    "x-auto-response-suppress", "x-autoreply", "x-autorespond", "x-autoresponder",
    "x-ms-exchange-inbox-rules-loop", "x-ms-exchange-generated-message-source",
    "return-path", "x-failed-recipients", "x-mailer-daemon", "feedback-id",
})
_KEPT_HEADER_PATTERN = re.compile(
    r"^x-(?:[a-z0-9]+-)*auto-?(?:reply|replied|respond|responder|response|submitted|generated)"
    r"(?:-[a-z0-9-]+)?$|^x-zimbra-.*auto.*$"
)

_INJECTION_CHARS = re.compile("[\r\n\x00\u2028\u2029\x85]")
_CONTROL_CHARS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_MSG_ID = re.compile(r"<([^<>\s\x00-\x1f\x7f]{1,500})>")
_BARE_ID = re.compile(r"^[^<>\s\x00-\x1f\x7f]{1,500}@[^<>\s\x00-\x1f\x7f]{1,500}$")
_EMAIL = re.compile(r"^[^\s@<>()\[\],;:\"\\\x00-\x1f\x7f]{1,64}@"
                    r"[^\s@<>()\[\],;:\"\\\x00-\x1f\x7f]{1,253}$")
_NO_REPLY = re.compile(
    r"(?:^|[-_.+])(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|ne[-_.]?pas[-_.]?repondre|"
    r"ej[-_.]?svar|svara[-_.]?(?:ej|inte)|inte[-_.]?svara|no[-_.]?svar|mailer[-_.]?daemon|"
    r"postmaster)(?:$|[-_.+])",
    re.IGNORECASE,
)
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_PLACEHOLDER = re.compile(r"kcs-ew-(\d+)")
_BOUNDARY_PARAM = re.compile(r";\s*boundary\s*=\s*(?:\"[^\"]*\"|[^;]*)", re.IGNORECASE)
_HTML_PLACEHOLDER = re.compile(
    r"html|HTML-(?:format|version)|does not support|stöder inte|kan inte visa|cannot display",
    re.IGNORECASE,
)

# Charsets as mail really uses them: ISO-8859-1 and US-ASCII are written by
# Windows clients that put Windows-1252 bytes in (WHATWG does the same).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254", "tis-620": "cp874", "gb2312": "gb18030", "gbk": "gb18030",
    "x-gbk": "gb18030", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "shift_jis": "cp932",
    "x-sjis": "cp932", "iso-8859-8-i": "iso-8859-8", "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "", "unknown-8bit": "", "x-user-defined": "", "unknown": "",
    "utf8": "utf-8", "utf-8": "utf-8",
}
# What Swedish (and Nordic, German, French) text looks like when decoded as
# Windows-1252; Cyrillic or Arabic bytes decoded the same way land elsewhere.
_WESTERN_CHARS = frozenset("åäöÅÄÖéÉèÈüÜæøÆØßàáâçêëíîïñóôúûÀÁÂÇÊÍÓÔÚ"
                           "–—‘’‚“”„…•€°§½¼¾«»´¨×·¤£±²³©®™\u00a0")


@dataclass(frozen=True)
class EmailLimits:
    """Bounds on what one message may cost; every one is configurable (config/kcs.yaml)."""

    max_parts: int = 200
    max_depth: int = 5
    max_attachment_bytes: int = 25 * 2**20
    max_archive_ratio: int = 100
    max_archive_total_bytes: int = 200 * 2**20
    max_pdf_pages: int = 50
    max_text_chars: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("max_parts", "max_depth", "max_attachment_bytes", "max_archive_ratio",
                     "max_archive_total_bytes", "max_pdf_pages", "max_text_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"EmailLimits.{name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = EmailLimits()


@dataclass(frozen=True)
class ParsedEmail:
    """The normalised message plus the attachment bytes the pipeline stores.

    ``blobs`` maps sha256 (hex) to bytes, one entry per attachment in
    ``message.attachments`` except those over ``max_attachment_bytes``.
    """

    message: NormalisedMessage
    blobs: dict[str, bytes]


def normalise_email(raw: bytes, limits: EmailLimits = DEFAULT_LIMITS) -> ParsedEmail:
    """Normalise one raw e-mail; raises only ``InputRejected`` (see the module docstring).

    Attachments over ``limits.max_attachment_bytes`` are listed with size,
    sha256 and ``ATTACHMENT_TOO_LARGE`` but have no entry in ``blobs``.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InputRejected(ReasonCode.NOT_A_MESSAGE, f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise InputRejected(ReasonCode.EMPTY_INPUT, "no bytes" if not raw else "only whitespace")
    try:
        return _Normaliser(limits).run(raw)
    except InputRejected:
        raise
    except RecursionError as exc:
        raise InputRejected(ReasonCode.NESTING_TOO_DEEP, "MIME structure nested too deep") from exc
    except Exception as exc:  # a bug or an input no rule foresaw: keep it as rejected
        raise InputRejected(ReasonCode.MIME_UNPARSEABLE, type(exc).__name__) from exc


# --------------------------------------------------------------------------- charsets


def decode_text(data: bytes, declared: str | None) -> tuple[str, tuple[str, ...]]:
    """Decode a text part; returns the text and ``CHARSET_GUESSED``/``CHARSET_UNKNOWN``.

    Order: the declared charset (strict), then UTF-8, then Windows-1252 if the
    result looks like Western text, then charset-normalizer, then Windows-1252
    or Latin-1 as a last resort. charset-normalizer comes after the Western
    check because on short Swedish Latin-1 mail it answers hp_roman8 or
    cp1250 ("pĺ" for "på"). A declared charset on bytes that are valid UTF-8
    (with non-ASCII in them) is overruled: that is the most common mislabel.
    """
    problems: list[str] = []
    name = _codec_name(declared)
    if declared and name is None:
        problems.append(ReasonCode.CHARSET_UNKNOWN.value)
    if data.isascii():
        return data.decode("ascii"), tuple(problems)
    if name and name != "utf-8":
        try:
            text = data.decode(name)
        except (UnicodeDecodeError, LookupError):
            pass
        else:
            # Valid multi-byte UTF-8 under another label is a mislabel, not a coincidence.
            if name.startswith("utf-") or not _is_utf8(data):
                return text, tuple(problems)
    guessed = ReasonCode.CHARSET_GUESSED.value
    utf8 = _mostly_utf8(data)
    if utf8 is not None:
        return utf8, tuple(problems if name == "utf-8" else [*problems, guessed])
    western = _decode_single_byte(data)
    if _looks_western(western):
        return western, (*problems, guessed)
    detected = _detect(data)
    if detected is not None:
        return detected, (*problems, guessed)
    if ReasonCode.CHARSET_UNKNOWN.value not in problems:
        problems.append(ReasonCode.CHARSET_UNKNOWN.value)
    return western, tuple(problems)


def _codec_name(declared: str | None) -> str | None:
    if not declared:
        return None
    label = declared.strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8, tolerating a stray broken byte in a long text (one bad byte is not Latin-1)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return text if good >= 8 and bad * 50 <= good else None


def _decode_single_byte(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # five bytes are unassigned in cp1252
        return data.decode("latin-1")


def _looks_western(text: str) -> bool:
    high = [ch for ch in text if ord(ch) > 127]
    if not high:
        return True
    western = sum(1 for ch in high if ch in _WESTERN_CHARS)
    return western >= 0.95 * len(high)


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:DETECTION_SAMPLE_BYTES]).best()
    if best is None:
        return None
    try:
        return data.decode(best.encoding, errors="replace")
    except LookupError:
        return None


def _fix_surrogates(value: str) -> tuple[str, bool]:
    """Raw 8-bit header bytes (kept by the parser as surrogates) → text; True if guessed."""
    if not _SURROGATES.search(value):
        return value, False
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return _decode_single_byte(data), True


# --------------------------------------------------------------------------- headers


class _Headers:
    """Header access that never raises: modern policy first, compat32 and raw as fallbacks."""

    def __init__(self, msg: Message, note: Callable[[ReasonCode], None]) -> None:
        self._note = note
        self.raw: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            self.raw.setdefault(str(name).strip().lower(), []).append(str(value))

    def _prepare(self, raw: str) -> str:
        value = _FOLD.sub("", raw)
        value, guessed = _fix_surrogates(value)
        if guessed:
            self._note(ReasonCode.CHARSET_GUESSED)
        return value

    def text(self, name: str, limit: int = MAX_HEADER_VALUE_CHARS) -> str | None:
        """The first value of ``name``, RFC 2047-decoded, one line, no control characters."""
        values = self.raw.get(name)
        if not values:
            return None
        return self._decode(values[0], limit)

    def texts(self, name: str, limit: int = MAX_HEADER_VALUE_CHARS) -> list[str]:
        """Every value of ``name``, decoded as ``text`` does."""
        return [self._decode(v, limit) for v in self.raw.get(name, [])]

    def _decode(self, raw: str, limit: int) -> str:
        value = self._prepare(raw)
        try:
            decoded = str(_PARSE_POLICY.header_factory("x-kcs-unstructured", value))
        except Exception:  # the modern parser has known crashes on hostile input
            try:
                decoded = str(make_header(decode_header(value)))
            except Exception:
                decoded = value
        decoded, guessed = _fix_surrogates(decoded)
        if guessed:
            self._note(ReasonCode.CHARSET_GUESSED)
        return self.clean(decoded, limit)

    def clean(self, value: str, limit: int = MAX_HEADER_VALUE_CHARS) -> str:
        """CR, LF and NUL in a decoded value mean someone tried to add headers: record it."""
        if _INJECTION_CHARS.search(value):
            self._note(ReasonCode.HEADER_INJECTION)
            value = _INJECTION_CHARS.sub(" ", value)
        value = _CONTROL_CHARS.sub("", value)
        return _WHITESPACE.sub(" ", value).strip()[:limit]

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """``(display name, address)`` pairs of an address header, best effort."""
        pairs: list[tuple[str, str]] = []
        for raw in self.raw.get(name, []):
            value = self._prepare(raw)
            try:
                header = _PARSE_POLICY.header_factory(name, value)
                found = [(a.display_name or "", a.addr_spec or "") for a in header.addresses]
            except Exception:
                # The modern parser refuses e.g. CR/LF in a decoded display name. Parse
                # the still-encoded value (decoding first would let "=?..?q?=0D=0ABcc:_x@y?="
                # turn into an address) and decode the display names afterwards.
                self._note(ReasonCode.MALFORMED_HEADER)
                found = self._addresses_fallback(value)
            pairs.extend(found)
        return pairs

    def _addresses_fallback(self, value: str) -> list[tuple[str, str]]:
        """compat32 address parsing with encoded words hidden in quoted placeholders."""
        words: list[str] = []

        def hide(match: re.Match[str]) -> str:
            words.append(match.group(0))
            return f'"kcs-ew-{len(words) - 1}"'

        def show(match: re.Match[str]) -> str:
            return words[int(match.group(1))]

        hidden = _ENCODED_WORD.sub(hide, value)
        return [(self._decode(_PLACEHOLDER.sub(show, display), 200), address)
                for display, address in getaddresses([hidden])]


def _clean_email(address: str) -> str | None:
    address = address.strip().strip("<>").strip()
    if not _EMAIL.match(address):
        return None
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".").lower()
    if not domain or domain.startswith(".") or ".." in domain:
        return None
    return f"{local}@{domain}"


def _first_mailbox(headers: _Headers, name: str) -> tuple[str | None, str | None]:
    for display, address in headers.addresses(name):
        email = _clean_email(address)
        if email:
            return email, _clean_name(headers, display)
    return None, None


def _clean_name(headers: _Headers, display: str) -> str | None:
    fixed, _ = _fix_surrogates(display)
    name = headers.clean(fixed, 200).strip("\"' ")
    if not name or "@" in name:
        return None
    return name


def _sender(headers: _Headers) -> Sender:
    email, name = _first_mailbox(headers, "from")
    reply_email, reply_name = _first_mailbox(headers, "reply-to")
    if email and reply_email and _NO_REPLY.search(email.split("@")[0]):
        return Sender(email=reply_email, name=reply_name or name)
    if email:
        return Sender(email=email, name=name)
    for fallback in ("sender", "reply-to"):
        email, name = _first_mailbox(headers, fallback)
        if email:
            return Sender(email=email, name=name)
    return Sender()


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not found:
        found = [f"<{token}>" for token in value.split() if _BARE_ID.match(token)]
    return found


def _references(headers: _Headers) -> tuple[str, ...]:
    ids: list[str] = []
    seen: set[str] = set()
    for value in headers.texts("references", limit=200_000):
        for mid in _message_ids(value):
            if mid not in seen:
                seen.add(mid)
                ids.append(mid)
    if len(ids) > MAX_REFERENCES:  # keep the thread's root and the most recent ones
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1):]]
    return tuple(ids)


def _sent_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000": UTC, source zone unknown (RFC 5322 3.3)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _kept_headers(headers: _Headers, msg: Message) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in headers.raw:
        if name in KEPT_HEADERS or _KEPT_HEADER_PATTERN.match(name):
            kept[name] = ", ".join(v for v in headers.texts(name) if v)
    content_type = headers.text("content-type")
    if content_type:
        content_type = _BOUNDARY_PARAM.sub("", content_type).strip().rstrip(";").strip()
        kind, _, params = content_type.partition(";")
        kept["content-type"] = kind.strip().lower() + (f"; {params.strip()}" if params else "")
    else:
        kept["content-type"] = _content_type(msg)
    return kept


# --------------------------------------------------------------------------- MIME parts


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _charset(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        return None
    return str(charset) if charset else None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    fixed, _ = _fix_surrogates(str(name))
    return fixed


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _transfer_encoding(part: Message) -> str:
    try:
        return str(part.get("content-transfer-encoding", "")).strip().lower()
    except Exception:
        return ""


def _raw_payload(part: Message) -> str | list[Message]:
    """The payload as parsed: a list of parts, or the still-encoded text (8-bit as surrogates).

    ``Message.get_payload()`` without ``decode`` re-decodes 8-bit text with the
    declared charset, which changes the bytes and raises on some charset names;
    the parser's own attribute is the faithful source.
    """
    raw = getattr(part, "_payload", None)
    if isinstance(raw, str | list):
        return raw
    try:
        payload = part.get_payload()
    except Exception:
        return ""
    return payload if isinstance(payload, str | list) else ""


def _decoded_payload(part: Message, encoded: str) -> bytes:
    """Transfer-decoded bytes of a small leaf; the raw bytes if the stdlib gives up."""
    try:
        decoded = part.get_payload(decode=True)
    except Exception:
        decoded = None
    if isinstance(decoded, bytes):
        return decoded
    return encoded.encode("utf-8", "surrogateescape")


@dataclass
class _Payload:
    data: bytes | None  # None: over the size limit, not kept
    size: int
    sha256: str


def _payload(part: Message, limit: int) -> _Payload:
    """Decoded bytes of a leaf part; above ``limit`` only measured and hashed, in chunks."""
    encoded = _raw_payload(part)
    if isinstance(encoded, list):  # message/delivery-status: blocks of header fields
        data = b"".join(_serialise(block) for block in encoded if isinstance(block, Message))
    elif not isinstance(encoded, str):
        data = b""
    elif len(encoded) <= limit:  # decoding never makes base64/QP/8bit longer
        data = _decoded_payload(part, encoded)
    else:
        return _payload_in_chunks(encoded, _transfer_encoding(part), limit)
    return _Payload(data=data if len(data) <= limit else None, size=len(data),
                    sha256=hashlib.sha256(data).hexdigest())


def _payload_in_chunks(encoded: str, cte: str, limit: int) -> _Payload:
    digest = hashlib.sha256()
    size = 0
    kept: list[bytes] | None = []
    for chunk in _decoded_chunks(encoded, cte):
        digest.update(chunk)
        size += len(chunk)
        if kept is not None:
            kept.append(chunk)
            if size > limit:
                kept = None  # from here on only count and hash
    data = b"".join(kept) if kept is not None else None
    return _Payload(data=data, size=size, sha256=digest.hexdigest())


def _decoded_chunks(encoded: str, cte: str) -> Iterator[bytes]:
    if cte == "base64":
        carry = ""
        for start in range(0, len(encoded), DECODE_CHUNK_CHARS):
            chunk = carry + re.sub(r"[^A-Za-z0-9+/]", "", encoded[start:start + DECODE_CHUNK_CHARS])
            cut = len(chunk) - len(chunk) % 4
            carry = chunk[cut:]
            yield binascii.a2b_base64(chunk[:cut])
        if len(carry.rstrip("=")) > 1:  # a last group of 2-3 characters still holds bytes
            yield binascii.a2b_base64(carry.rstrip("=") + "=" * (-len(carry.rstrip("=")) % 4))
    elif cte == "quoted-printable":
        start = 0
        while start < len(encoded):
            end = encoded.rfind("\n", start, start + DECODE_CHUNK_CHARS)
            end = start + DECODE_CHUNK_CHARS if end <= start else end + 1
            piece = encoded[start:end].encode("utf-8", "surrogateescape")
            yield binascii.a2b_qp(piece)
            start = end
    else:
        for start in range(0, len(encoded), DECODE_CHUNK_CHARS):
            yield encoded[start:start + DECODE_CHUNK_CHARS].encode("utf-8", "surrogateescape")


def _serialise(msg: Message) -> bytes:
    """Bytes of a parsed (sub)message, 8-bit content as it came; b"" if it cannot be written."""
    for pol in (_GENERATE_POLICY, email_policy.compat32):
        try:
            buffer = io.BytesIO()
            BytesGenerator(buffer, mangle_from_=False, policy=pol).flatten(msg)
            return buffer.getvalue()
        except Exception:
            continue
    return b""


def _parse(raw: bytes, note: Callable[[ReasonCode], None] | None = None) -> Message:
    """Parse with ``policy.default``; if its header parser crashes mid-parse, use compat32.

    The feed parser reads Content-Type while it splits parts, so a header the
    modern parser chokes on (a truncated RFC 2231 parameter, say) breaks the
    whole parse; compat32 reads the same header leniently.
    """
    try:
        return BytesParser(policy=_PARSE_POLICY).parsebytes(raw)
    except RecursionError:
        raise
    except Exception:
        if note is not None:
            note(ReasonCode.MALFORMED_HEADER)
        return BytesParser(policy=email_policy.compat32).parsebytes(raw)


def _looks_like_placeholder(text: str) -> bool:
    """A text/plain alternative that only says "view this in HTML"."""
    stripped = text.strip()
    return not stripped or (len(stripped) < 300 and bool(_HTML_PLACEHOLDER.search(stripped)))


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks (quote depth respected)."""
    out: list[str] = []
    current: str | None = None
    current_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append(">" * current_depth + (" " if current_depth else "") + current)
            current, current_depth = content, depth
        if content.endswith(" ") and content != "-- ":
            if delsp:
                current = current[:-1]
            continue
        out.append(">" * depth + (" " if depth else "") + current)
        current, current_depth = None, -1
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)


# --------------------------------------------------------------------------- the walk


@dataclass
class _Body:
    """Text parts that make up one message's body, in order."""

    texts: list[str] = field(default_factory=list)
    reply_sources: list[str] = field(default_factory=list)
    html_only: bool = True
    any_part: bool = False

    def full(self) -> str:
        return "\n\n".join(t for t in self.texts if t.strip())

    def reply_source(self) -> str:
        return "\n\n".join(t for t in self.reply_sources if t.strip())


class _Normaliser:
    def __init__(self, limits: EmailLimits) -> None:
        self.limits = limits
        self.problems: dict[str, None] = {}
        self.attachments: list[Attachment | None] = []
        self.attachment_blocks: list[str | None] = []
        self.blobs: dict[str, bytes] = {}
        self.leaves = 0
        self.depth = 0  # of the message being read: 0 top, 1 attached, 2 attached to that ...

    def note(self, code: ReasonCode | str) -> None:
        self.problems.setdefault(str(code), None)

    # -- entry

    def run(self, raw: bytes) -> ParsedEmail:
        raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
        msg = _parse(raw, self.note)
        if not msg.keys():
            raise InputRejected(ReasonCode.NOT_A_MESSAGE, "no header block")
        headers = _Headers(msg, self.note)
        subject = headers.text("subject", MAX_SUBJECT_CHARS) or ""
        sender = _sender(headers)
        message_ids = _message_ids(headers.text("message-id"))
        in_reply_to = _message_ids(headers.text("in-reply-to"))
        kept_headers = _kept_headers(headers, msg)

        body = self._read_message(msg)
        full_body = body.full()
        reply = split_reply(body.reply_source()).body if body.reply_sources else ""
        if body.any_part and body.html_only:
            self.note(ReasonCode.HTML_ONLY)

        max_chars = self.limits.max_text_chars
        blocks = [full_body, *(b for b in self.attachment_blocks if b)]
        full_text = "\n\n".join(b for b in blocks if b)
        if len(full_text) > max_chars or len(reply) > max_chars:
            self.note(ReasonCode.TEXT_TRUNCATED)
        attachments = tuple(a for a in self.attachments if a is not None)
        for attachment in attachments:
            for problem in attachment.problems:
                self.note(problem)
        message = NormalisedMessage(
            subject=subject,
            body=reply[:max_chars],
            sender=sender,
            full_text=full_text[:max_chars],
            message_id=message_ids[0] if message_ids else None,
            in_reply_to=in_reply_to[0] if in_reply_to else None,
            references=_references(headers),
            sent_at=_sent_at(headers.text("date")),
            attachments=attachments,
            headers=kept_headers,
            problems=tuple(self.problems),
        )
        return ParsedEmail(message=message, blobs=self.blobs)

    # -- structure

    def _read_message(self, msg: Message) -> _Body:
        body = _Body()
        self._walk(msg, body, mp_depth=0, body_mode="body")
        return body

    def _walk(self, part: Message, body: _Body, mp_depth: int, body_mode: str) -> None:
        """``body_mode``: "body" collects text parts, "skip" drops unchosen alternatives."""
        if getattr(part, "defects", None):
            self.note(ReasonCode.DEFECTIVE_MIME)
        ctype = _content_type(part)
        if ctype in _ATTACHED_MESSAGE_TYPES and part.is_multipart():
            if self._count_leaf():
                self._attached_message_part(part)
            return
        if ctype.startswith("multipart/") and not part.is_multipart():
            recovered = _recover_multipart(part, ctype)
            if recovered is None:
                self.note(ReasonCode.DEFECTIVE_MIME)
                if _count_text(part) and self._count_leaf():
                    self._attachment(part, "application/octet-stream", None)
                return
            self.note(ReasonCode.DEFECTIVE_MIME)
            part = recovered
        if part.is_multipart() and not ctype.startswith("message/"):
            if mp_depth >= MAX_MULTIPART_DEPTH:
                self.note(ReasonCode.NESTING_TOO_DEEP)
                return
            children = [c for c in _raw_payload(part) if isinstance(c, Message)]
            chosen = None
            if ctype == "multipart/alternative":
                chosen = self._choose_alternative(children)
            for child in children:
                mode = body_mode
                if chosen is not None and child is not chosen:
                    mode = "skip"
                self._walk(child, body, mp_depth + 1, mode)
            return
        if not self._count_leaf():
            return
        disposition = _disposition(part)
        filename = _filename(part)
        inline = filename is None and disposition != "attachment"
        if inline and ctype in ("text/plain", "text/html"):
            if body_mode == "skip":
                return
            if self._add_body_text(part, ctype, body):
                return
        self._attachment(part, ctype, filename)

    def _count_leaf(self) -> bool:
        self.leaves += 1
        if self.leaves > self.limits.max_parts:
            self.note(ReasonCode.TOO_MANY_PARTS)
            return False
        return True

    def _choose_alternative(self, children: list[Message]) -> Message | None:
        """text/plain unless it is empty or only says "read the HTML"; else HTML; else last."""
        for wanted in ("text/plain", "text/html"):
            for child in children:
                leaf = _first_leaf(child, wanted)
                if leaf is None:
                    continue
                if wanted == "text/plain":
                    text = self._leaf_text(leaf)
                    if text is None or _looks_like_placeholder(text):
                        continue
                return child
        return children[-1] if children else None

    def _leaf_text(self, part: Message) -> str | None:
        encoded = _raw_payload(part)
        if not isinstance(encoded, str) or len(encoded) > self.limits.max_attachment_bytes:
            return None
        decoded = _decoded_payload(part, encoded)
        text, _ = decode_text(decoded, _charset(part))
        return text

    def _add_body_text(self, part: Message, ctype: str, body: _Body) -> bool:
        payload = _payload(part, self.limits.max_attachment_bytes)
        if payload.data is None:
            return False  # far too big to be typed text: keep it as an attachment
        text, problems = decode_text(payload.data, _charset(part))
        for problem in problems:
            self.note(problem)
        text = _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
        text = text.replace("\x00", "")
        max_chars = self.limits.max_text_chars
        if ctype == "text/html":
            full, reply = html_to_texts(text, max_chars=max_chars)
            truncated = len(full) >= max_chars or len(text) > MARKUP_FACTOR * max_chars
        else:
            if _format_flowed(part):
                text = _unflow(text, delsp=_param(part, "delsp") == "yes")
            full = reply = text[:max_chars]
            truncated = len(text) > max_chars
            body.html_only = False
        if truncated:
            self.note(ReasonCode.TEXT_TRUNCATED)
        body.any_part = True
        body.texts.append(full)
        body.reply_sources.append(reply)
        return True

    # -- attachments

    def _reserve(self) -> int:
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
        payload = _payload(part, self.limits.max_attachment_bytes)
        name, unsafe = att.safe_filename(filename, slot + 1, ctype)
        problems: list[str] = []
        if unsafe:
            problems.append(ReasonCode.UNSAFE_ATTACHMENT_NAME.value)
        if payload.data is None:
            problems.append(ReasonCode.ATTACHMENT_TOO_LARGE.value)
            self._store(slot, Attachment(filename=name, original_filename=filename,
                                         content_type=ctype, size=payload.size,
                                         sha256=payload.sha256, problems=tuple(problems)),
                        None, "Bilaga")
            return
        data = payload.data
        sniffed = att.sniff(data)
        content_type = _effective_type(ctype, filename, sniffed)
        if att.declared_type_lies(ctype, filename, data, sniffed):
            problems.append(ReasonCode.CONTENT_TYPE_MISMATCH.value)
        if _is_eml(ctype, filename, sniffed, data):
            self._attached_message(slot, _parse(data, self.note), data, name, filename, unsafe)
            return
        extracted = self._extract(data, content_type, sniffed, filename, _charset(part))
        problems.extend(extracted.problems)
        self._store(slot, Attachment(filename=name, original_filename=filename,
                                     content_type=content_type, size=len(data),
                                     sha256=payload.sha256, text=extracted.text,
                                     problems=tuple(dict.fromkeys(problems))),
                    data, "Bilaga")

    def _extract(self, data: bytes, content_type: str, sniffed: str | None,
                 filename: str | None, charset: str | None) -> att.Extracted:
        limits = self.limits
        lowered = (filename or "").lower()
        if sniffed == "application/pdf":
            return att.pdf_text(data, max_pages=limits.max_pdf_pages,
                                max_chars=limits.max_text_chars)
        if lowered.endswith(".msg") or content_type in ("application/vnd.ms-outlook",
                                                        "application/x-msg"):
            return att.outlook_msg_text(data, max_chars=limits.max_text_chars)
        if sniffed in ("application/zip", "application/gzip"):
            return att.archive_problems(data, sniffed, max_ratio=limits.max_archive_ratio,
                                        max_total_bytes=limits.max_archive_total_bytes)
        textual = content_type.startswith("text/") or content_type in _TEXTUAL_MESSAGE_TYPES
        if textual and (sniffed is None or sniffed == "text/html"):
            text, problems = decode_text(data, charset)
            if content_type == "text/html" or sniffed == "text/html":
                text = html_to_text(text, max_chars=limits.max_text_chars)
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
            text = _CONTROL_CHARS.sub("", text).strip()
            if len(text) > limits.max_text_chars:
                problems = (*problems, ReasonCode.TEXT_TRUNCATED.value)
            return att.Extracted(text=text[: limits.max_text_chars] or None, problems=problems)
        return att.Extracted()

    def _attached_message_part(self, part: Message) -> None:
        """A message/rfc822 part: the parser already opened it."""
        slot = self._reserve()
        filename = _filename(part)
        name, unsafe = att.safe_filename(filename, slot + 1, "message/rfc822")
        payload = _raw_payload(part)
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            inner = _parse(b"")
        cte = _transfer_encoding(part)
        inner_payload = _raw_payload(inner)
        if cte in ("base64", "quoted-printable") and isinstance(inner_payload, str):
            # Invalid (RFC 2046 5.2.1) but sent: the parser read the encoded text as a message.
            data = _decode_bytes(inner_payload.encode("utf-8", "surrogateescape"), cte)
            inner = _parse(data, self.note)
        else:
            data = _serialise(inner)
        self._attached_message(slot, inner, data, name, filename, unsafe)

    def _attached_message(self, slot: int, inner: Message, data: bytes, name: str,
                          filename: str | None, unsafe: bool) -> None:
        """Keep an attached message as a blob and read it as a forwarded message."""
        depth = self.depth
        problems: list[str] = [ReasonCode.UNSAFE_ATTACHMENT_NAME.value] if unsafe else []
        if len(data) > self.limits.max_attachment_bytes:
            problems.append(ReasonCode.ATTACHMENT_TOO_LARGE.value)
            self._store(slot, Attachment(filename=name, original_filename=filename,
                                         content_type="message/rfc822", size=len(data),
                                         sha256=hashlib.sha256(data).hexdigest(),
                                         problems=tuple(problems)), None, "Bifogat meddelande")
            return
        text: str | None = None
        if not data:
            problems.append(ReasonCode.ATTACHED_MESSAGE_UNREADABLE.value)
        elif depth + 1 > self.limits.max_depth:
            problems.append(ReasonCode.NESTING_TOO_DEEP.value)
        else:
            text = self._forwarded_text(inner, depth + 1)
        self._store(slot, Attachment(filename=name, original_filename=filename,
                                     content_type="message/rfc822", size=len(data),
                                     sha256=hashlib.sha256(data).hexdigest(), text=text,
                                     problems=tuple(problems)), data, "Bifogat meddelande")

    def _forwarded_text(self, inner: Message, depth: int) -> str:
        headers = _Headers(inner, self.note)
        lines = []
        for label, key in (("Från", "from"), ("Datum", "date"), ("Ämne", "subject")):
            value = headers.text(key)
            if value:
                lines.append(f"{label}: {value}")
        previous, self.depth = self.depth, depth
        try:
            body = self._read_message(inner)
        finally:
            self.depth = previous
        text = body.full()
        return ("\n".join(lines) + "\n\n" + text).strip()[: self.limits.max_text_chars]


def _count_text(part: Message) -> int:
    payload = _raw_payload(part)
    return len(payload.strip()) if isinstance(payload, str) else 0


_BOUNDARY_LINE = re.compile(r"^--([^\s\"][^\r\n\"]{0,200}?)(?:--)?[ \t]*\r?$", re.MULTILINE)


def _recover_multipart(part: Message, ctype: str) -> Message | None:
    """A multipart whose declared boundary never occurs: reparse with the one that does."""
    payload = _raw_payload(part)
    if not isinstance(payload, str):
        return None
    match = _BOUNDARY_LINE.search(payload)
    try:
        declared = part.get_boundary()
    except Exception:
        declared = None
    if match is None or match.group(1) == declared:
        return None
    head = f'Content-Type: {ctype}; boundary="{match.group(1)}"\r\n\r\n'
    recovered = _parse(head.encode("utf-8", "surrogateescape")
                       + payload.encode("utf-8", "surrogateescape"))
    if not recovered.is_multipart() or not _raw_payload(recovered):
        return None
    return recovered


def _first_leaf(part: Message, ctype: str) -> Message | None:
    """The first leaf of ``ctype`` in a subtree, not looking into attached messages."""
    stack = [part]
    seen = 0
    while stack and seen < 1000:
        node = stack.pop(0)
        seen += 1
        node_type = _content_type(node)
        if node_type.startswith("message/"):
            continue
        if node.is_multipart():
            stack[0:0] = [c for c in _raw_payload(node) if isinstance(c, Message)]
        elif node_type == ctype and _disposition(node) != "attachment" and _filename(node) is None:
            return node
    return None


def _format_flowed(part: Message) -> bool:
    return (_param(part, "format") or "").lower() == "flowed"


def _param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    return value.lower() if isinstance(value, str) else None


def _effective_type(declared: str, filename: str | None, sniffed: str | None) -> str:
    """The declared type, unless it is generic (octet-stream): then name or magic decide."""
    if not att.is_generic_type(declared):
        return declared
    by_name = att.type_from_filename(filename)
    if by_name and not att.is_generic_type(by_name) and (
            sniffed is None or att.compatible(by_name, sniffed)):
        return by_name
    return sniffed or declared or "application/octet-stream"


def _is_eml(ctype: str, filename: str | None, sniffed: str | None, data: bytes) -> bool:
    """An attachment that is itself an e-mail (.eml sent as octet-stream, text/plain ...)."""
    if sniffed is not None:
        return False
    named = (filename or "").lower().endswith(".eml")
    if not (named or ctype in ("message/rfc822", "message/global")):
        return False
    head = data[:4096].lstrip()
    return bool(re.match(rb"^(?:[!-9;-~]+:[^\n]*\r?\n)+", head))


def _decode_bytes(data: bytes, cte: str) -> bytes:
    try:
        if cte == "base64":
            cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
            return binascii.a2b_base64(cleaned)
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data
