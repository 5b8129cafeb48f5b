"""Header fields decoded and sanitised, and the ones the message model takes.

Every header value goes through ``Headers``: folding undone, raw 8-bit bytes
decoded (UTF-8, else Windows-1252, noted as a guess), RFC 2047 words decoded
by the modern parser with compat32 and the raw value as fallbacks, and CR, LF
and NUL inside decoded words replaced and recorded (``HEADER_INJECTION``),
because a decoded value must never add a header or a line downstream.

The rest reads what the model needs: the sender (``From``, or ``Reply-To``
when ``From`` is a no-reply address), message ids, references, the date and
the headers later stages decide on (loops, bounces, lists).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from channels.email.charsets import CONTROL_CHARS, fix_surrogates
from channels.email.parts import PARSE_POLICY, content_type
from ingest.model import Sender
from ingest.reasons import ReasonCode

MAX_SUBJECT_CHARS = 1000
MAX_HEADER_VALUE_CHARS = 2000
MAX_DISPLAY_NAME_CHARS = 200
MAX_REFERENCES = 100

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


class Headers:
    """Header access that never raises: modern policy first, compat32 and raw as fallbacks."""

    def __init__(self, msg: Message, note: Callable[[ReasonCode], None]) -> None:
        self._note = note
        self.raw: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            self.raw.setdefault(str(name).strip().lower(), []).append(str(value))

    def text(self, name: str, limit: int = MAX_HEADER_VALUE_CHARS) -> str | None:
        """The first value of ``name``, RFC 2047-decoded, one line, no control characters."""
        values = self.raw.get(name)
        if not values:
            return None
        return self._decode(values[0], limit)

    def texts(self, name: str, limit: int = MAX_HEADER_VALUE_CHARS) -> list[str]:
        """Every value of ``name``, decoded as ``text`` does."""
        return [self._decode(v, limit) for v in self.raw.get(name, [])]

    def clean(self, value: str, limit: int = MAX_HEADER_VALUE_CHARS) -> str:
        """CR, LF and NUL in a decoded value mean someone tried to add headers: record it."""
        if _INJECTION_CHARS.search(value):
            self._note(ReasonCode.HEADER_INJECTION)
            value = _INJECTION_CHARS.sub(" ", value)
        value = CONTROL_CHARS.sub("", value)
        return _WHITESPACE.sub(" ", value).strip()[:limit]

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """``(display name, address)`` pairs of an address header, best effort."""
        pairs: list[tuple[str, str]] = []
        for raw in self.raw.get(name, []):
            value = self._prepare(raw)
            try:
                header = PARSE_POLICY.header_factory(name, value)
                found = [(a.display_name or "", a.addr_spec or "") for a in header.addresses]
            except Exception:
                # The modern parser refuses e.g. CR/LF in a decoded display name. Parse
                # the still-encoded value (decoding first would let "=?..?q?=0D=0ABcc:_x@y?="
                # turn into an address) and decode the display names afterwards.
                self._note(ReasonCode.MALFORMED_HEADER)
                found = self._addresses_fallback(value)
            pairs.extend(found)
        return pairs

    def _unsurrogated(self, value: str) -> str:
        value, guessed = fix_surrogates(value)
        if guessed:
            self._note(ReasonCode.CHARSET_GUESSED)
        return value

    def _prepare(self, raw: str) -> str:
        return self._unsurrogated(_FOLD.sub("", raw))

    def _decode(self, raw: str, limit: int) -> str:
        value = self._prepare(raw)
        try:
            decoded = str(PARSE_POLICY.header_factory("x-kcs-unstructured", value))
        except Exception:  # the modern parser has known crashes on hostile input
            try:
                decoded = str(make_header(decode_header(value)))
            except Exception:
                decoded = value
        return self.clean(self._unsurrogated(decoded), limit)

    def _addresses_fallback(self, value: str) -> list[tuple[str, str]]:
        """compat32 address parsing with encoded words hidden in quoted placeholders."""
        words: list[str] = []

        def hide(match: re.Match[str]) -> str:
            words.append(match.group(0))
            return f'"kcs-ew-{len(words) - 1}"'

        def show(match: re.Match[str]) -> str:
            return words[int(match.group(1))]

        hidden = _ENCODED_WORD.sub(hide, value)
        return [(self._decode(_PLACEHOLDER.sub(show, display), MAX_DISPLAY_NAME_CHARS), address)
                for display, address in getaddresses([hidden])]


# --------------------------------------------------------------------------- fields


def sender(headers: Headers) -> Sender:
    """The citizen to answer: ``From``, unless it is a no-reply address and ``Reply-To`` is not."""
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


def message_ids(value: str | None) -> list[str]:
    """``<id>`` tokens of a Message-ID-like value; bare ``local@domain`` ids when none."""
    if not value:
        return []
    found = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not found:
        found = [f"<{token}>" for token in value.split() if _BARE_ID.match(token)]
    return found


def references(headers: Headers) -> tuple[str, ...]:
    """The References ids, each once, at most ``MAX_REFERENCES``."""
    ids: list[str] = []
    seen: set[str] = set()
    for value in headers.texts("references", limit=200_000):
        for mid in message_ids(value):
            if mid not in seen:
                seen.add(mid)
                ids.append(mid)
    if len(ids) > MAX_REFERENCES:  # keep the thread's root and the most recent ones
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1):]]
    return tuple(ids)


def sent_at(value: str | None) -> datetime | None:
    """The Date header as an aware datetime; None when absent or unreadable."""
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


def kept_headers(headers: Headers, msg: Message) -> dict[str, str]:
    """``KEPT_HEADERS`` (and auto-reply look-alikes) plus the content type without boundary."""
    kept: dict[str, str] = {}
    for name in headers.raw:
        if name in KEPT_HEADERS or _KEPT_HEADER_PATTERN.match(name):
            kept[name] = ", ".join(v for v in headers.texts(name) if v)
    ctype = headers.text("content-type")
    if ctype:
        ctype = _BOUNDARY_PARAM.sub("", ctype).strip().rstrip(";").strip()
        kind, _, params = ctype.partition(";")
        kept["content-type"] = kind.strip().lower() + (f"; {params.strip()}" if params else "")
    else:
        kept["content-type"] = content_type(msg)
    return kept


def _first_mailbox(headers: Headers, name: str) -> tuple[str | None, str | None]:
    for display, address in headers.addresses(name):
        email = _clean_email(address)
        if email:
            return email, _clean_name(headers, display)
    return None, None


def _clean_email(address: str) -> str | None:
    address = address.strip().strip("<>").strip()
    if not _EMAIL.match(address):
        return None
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".").lower()
    if not domain or domain.startswith(".") or ".." in domain:
        return None
    return f"{local}@{domain}"


def _clean_name(headers: Headers, display: str) -> str | None:
    fixed, _ = fix_surrogates(display)
    name = headers.clean(fixed, MAX_DISPLAY_NAME_CHARS).strip("\"' ")
    if not name or "@" in name:
        return None
    return name
