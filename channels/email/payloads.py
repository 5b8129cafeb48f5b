"""Transfer-decoded bytes of a leaf part, within a size limit.

A part may be far larger than anything we keep (a 300 MB video attached by
mistake). Below the limit it is decoded as usual; above it, it is decoded a
chunk at a time only to measure and hash it, so that its ``Attachment`` still
has a size and a sha256 but memory never holds the decoded whole.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from channels.email.parts import raw_payload, serialise, transfer_encoding

DECODE_CHUNK_CHARS = 4 * 2**20

_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_NOT_BASE64_BYTES = re.compile(rb"[^A-Za-z0-9+/]")


@dataclass
class Payload:
    """Decoded size and sha256 of a part, and its bytes unless over the limit."""

    data: bytes | None  # None: over the size limit, not kept
    size: int
    sha256: str


def payload(part: Message, limit: int) -> Payload:
    """Decoded bytes of a leaf part; above ``limit`` only measured and hashed, in chunks."""
    encoded = raw_payload(part)
    if isinstance(encoded, list):  # message/delivery-status: blocks of header fields
        data = b"".join(serialise(block) for block in encoded if isinstance(block, Message))
    elif not isinstance(encoded, str):
        data = b""
    elif len(encoded) <= limit:  # decoding never makes base64/QP/8bit longer
        data = decoded_payload(part, encoded)
    else:
        return _payload_in_chunks(encoded, transfer_encoding(part), limit)
    return Payload(data=data if len(data) <= limit else None, size=len(data),
                   sha256=hashlib.sha256(data).hexdigest())


def decoded_payload(part: Message, encoded: str) -> bytes:
    """Transfer-decoded bytes of a small leaf; the raw bytes if the stdlib gives up."""
    try:
        decoded = part.get_payload(decode=True)
    except Exception:
        decoded = None
    if isinstance(decoded, bytes):
        return decoded
    return encoded.encode("utf-8", "surrogateescape")


def decode_bytes(data: bytes, cte: str) -> bytes:
    """Base64 (junk characters skipped) or quoted-printable bytes decoded; as given if broken.

    A last group of two or three characters (a padded ending such as "RA==")
    still holds bytes and is decoded, as in the chunked decoder; a lone
    trailing character holds none.
    """
    try:
        if cte == "base64":
            cleaned = _NOT_BASE64_BYTES.sub(b"", data)
            whole = len(cleaned) - len(cleaned) % 4
            tail = cleaned[whole:]
            padded = tail + b"=" * (-len(tail) % 4) if len(tail) > 1 else b""
            return binascii.a2b_base64(cleaned[:whole] + padded)
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data


def _payload_in_chunks(encoded: str, cte: str, limit: int) -> Payload:
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
    return Payload(data=data, size=size, sha256=digest.hexdigest())


def _decoded_chunks(encoded: str, cte: str) -> Iterator[bytes]:
    if cte == "base64":
        carry = ""
        for start in range(0, len(encoded), DECODE_CHUNK_CHARS):
            chunk = carry + _NOT_BASE64.sub("", encoded[start:start + DECODE_CHUNK_CHARS])
            cut = len(chunk) - len(chunk) % 4
            carry = chunk[cut:]
            yield binascii.a2b_base64(chunk[:cut])
        if len(carry) > 1:  # a last group of 2-3 characters still holds bytes
            yield binascii.a2b_base64(carry + "=" * (-len(carry) % 4))
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
