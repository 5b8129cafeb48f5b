"""Exact-duplicate keys for e-mail, read from the headers only.

The same Message-ID from the same sender is the same message, whether it came
by SMTP twice (a retry after a lost "250") or by SMTP and by IMAP. The sender
is part of the key so that one broken mailer reusing Message-IDs cannot make
another person's message vanish as a "duplicate".
"""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr

_HEADER_BYTES = 256 * 1024


def email_source_keys(raw: bytes) -> tuple[str, ...]:
    """``("msgid:<from>|<message-id>",)`` when both are present, else ``()``."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:_HEADER_BYTES])
        message_id = str(headers.get("Message-ID") or "").strip()
        sender = parseaddr(str(headers.get("From") or ""))[1].strip().lower()
    except Exception:  # junk headers: no key, the raw sha256 still dedupes
        return ()
    if not message_id or not sender or len(message_id) > 400 or "\n" in message_id:
        return ()
    return (f"msgid:{sender}|{message_id}",)
