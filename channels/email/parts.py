"""MIME parts read without ever raising: parsing, accessors, structure repairs.

The stdlib ``email`` package raises from surprising places on hostile input
(``get_filename`` on a broken RFC 2231 parameter, ``get_content_type`` on a
header the modern parser chokes on, the generator on 8-bit content), so every
accessor here answers a safe default instead. ``parse`` and ``serialise``
fall back to ``compat32`` where ``policy.default`` gives up.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from email import policy as email_policy
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesParser

from channels.email.charsets import fix_surrogates
from ingest.reasons import ReasonCode

MAX_FIRST_LEAF_NODES = 1000

PARSE_POLICY = email_policy.default
ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_GENERATE_POLICY = email_policy.default.clone(refold_source="none", cte_type="8bit",
                                              linesep="\r\n", max_line_length=0)
_BOUNDARY_LINE = re.compile(r"^--([^\s\"][^\r\n\"]{0,200}?)(?:--)?[ \t]*\r?$", re.MULTILINE)


def parse(raw: bytes, note: Callable[[ReasonCode], None] | None = None) -> Message:
    """Parse with ``policy.default``; if its header parser crashes mid-parse, use compat32.

    The feed parser reads Content-Type while it splits parts, so a header the
    modern parser chokes on (a truncated RFC 2231 parameter, say) breaks the
    whole parse; compat32 reads the same header leniently.
    """
    try:
        return BytesParser(policy=PARSE_POLICY).parsebytes(raw)
    except RecursionError:
        raise
    except Exception:
        if note is not None:
            note(ReasonCode.MALFORMED_HEADER)
        return BytesParser(policy=email_policy.compat32).parsebytes(raw)


def serialise(msg: Message) -> bytes:
    """Bytes of a parsed (sub)message, 8-bit content as it came; b"" if it cannot be written."""
    for pol in (_GENERATE_POLICY, email_policy.compat32):
        try:
            buffer = io.BytesIO()
            BytesGenerator(buffer, mangle_from_=False, policy=pol).flatten(msg)
            return buffer.getvalue()
        except Exception:
            continue
    return b""


# --------------------------------------------------------------------------- accessors


def content_type(part: Message) -> str:
    """The lower-cased content type; octet-stream when it cannot be read."""
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def charset(part: Message) -> str | None:
    """The declared charset parameter, as written (``decode_text`` judges it)."""
    try:
        value = part.get_content_charset()
    except Exception:
        return None
    return str(value) if value else None


def filename(part: Message) -> str | None:
    """The file name from Content-Disposition or Content-Type, 8-bit bytes decoded."""
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    fixed, _ = fix_surrogates(str(name))
    return fixed


def disposition(part: Message) -> str | None:
    """``inline``, ``attachment`` or None."""
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def transfer_encoding(part: Message) -> str:
    """The lower-cased Content-Transfer-Encoding; "" when absent or unreadable."""
    try:
        return str(part.get("content-transfer-encoding", "")).strip().lower()
    except Exception:
        return ""


def param(part: Message, name: str) -> str | None:
    """A Content-Type parameter, lower-cased."""
    try:
        value = part.get_param(name)
    except Exception:
        return None
    return value.lower() if isinstance(value, str) else None


def raw_payload(part: Message) -> str | list[Message]:
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


def children(part: Message) -> list[Message]:
    """The sub-parts of a multipart (or of an attached message) that are messages."""
    return [c for c in raw_payload(part) if isinstance(c, Message)]


def count_text(part: Message) -> int:
    """Characters of (still-encoded) text in a leaf, leading and trailing space ignored."""
    payload = raw_payload(part)
    return len(payload.strip()) if isinstance(payload, str) else 0


# --------------------------------------------------------------------------- structure


def recover_multipart(part: Message, ctype: str) -> Message | None:
    """A multipart whose declared boundary never occurs: reparse with the one that does."""
    payload = raw_payload(part)
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
    recovered = parse(head.encode("utf-8", "surrogateescape")
                      + payload.encode("utf-8", "surrogateescape"))
    if not recovered.is_multipart() or not raw_payload(recovered):
        return None
    return recovered


def first_leaf(part: Message, ctype: str) -> Message | None:
    """The first inline leaf of ``ctype`` in a subtree, not looking into attached messages."""
    stack = [part]
    seen = 0
    while stack and seen < MAX_FIRST_LEAF_NODES:
        node = stack.pop(0)
        seen += 1
        node_type = content_type(node)
        if node_type.startswith("message/"):
            continue
        if node.is_multipart():
            stack[0:0] = children(node)
        elif node_type == ctype and disposition(node) != "attachment" and filename(node) is None:
            return node
    return None
