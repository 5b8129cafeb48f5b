"""Exact-duplicate keys for e-mail, read from the headers only.

The same Message-ID from the same sender is the same message, whether it came
by SMTP twice (a retry after a lost "250") or by SMTP and by IMAP. The sender
is part of the key so that one broken mailer reusing Message-IDs cannot make
another person's message vanish as a "duplicate".
"""

from __future__ import annotations

import re
from email.utils import parseaddr

_HEADER_BYTES = 256 * 1024
# A header line and its folded continuation lines; names matched case-insensitively.
_HEADER = re.compile(rb"^(message-id|from)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


_ANGLE = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")
_BARE = re.compile(r"[^\s<>\"(),;:@]+@[^\s<>\"(),;:]+")


def header_block(raw: bytes) -> bytes:
    """The bytes up to the first empty line: scanning only these keeps intake fast."""
    head = raw[:_HEADER_BYTES]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[:min(ends)] if ends else head


def _address(value: str) -> str:
    """The mailbox of a From value: ``<addr>`` if present, else the bare address."""
    m = _ANGLE.search(value)
    if m:
        return m.group(1).strip().lower()
    m = _BARE.search(value)
    return m.group(0).lower() if m else parseaddr(value)[1].strip().lower()


def email_source_keys(raw: bytes) -> tuple[str, ...]:
    """``("msgid:<from>|<message-id>",)`` when both are present, else ``()``.

    A regular-expression scan of the header block, not a MIME parse: this runs
    before "250" for every message, and junk headers simply yield no key (the
    raw sha256 still dedupes).
    """
    found: dict[str, str] = {}
    for m in _HEADER.finditer(header_block(raw)):
        name = m.group(1).lower().decode()
        if name not in found:
            found[name] = re.sub(r"\s+", " ", m.group(2).decode("utf-8", "replace")).strip()
    message_id = found.get("message-id", "")
    sender = _address(found.get("from", ""))
    if not message_id or "@" not in sender or len(message_id) > 400:
        return ()
    return (f"msgid:{sender}|{message_id}",)
