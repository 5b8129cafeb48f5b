"""Personal identifiers as keyed hashes: link a person's items without storing who they are.

A personnummer, e-mail address or phone number met in an item is stored as
HMAC-SHA256 under a secret key (``governance.pii.key_env``), so the same
person's items can be found for linking and for a data-subject request, but
a copy of the table names nobody. The personnummer itself is stored only for
owners that need it (``governance.pii.store_personnummer_for``): data is
scoped per owning nämnd, as the processor agreements require.

Detection reuses the scan channel's (Luhn- and date-checked, separator or
label required), so what counts as a personnummer is decided in one place.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from channels.scan.fields import e164, find_personnummer
from ingest.governance.db import PersonRef
from ingest.model import NormalisedMessage, utcnow

if TYPE_CHECKING:
    from ingest.config import Settings

_KEYS: dict[str, bytes] = {}


def pii_key(settings: Settings) -> bytes:
    """The HMAC key: from the environment, else one generated once under ``var/keys``."""
    env = os.environ.get(settings.kcs.governance.pii.key_env)
    if env:
        return env.encode()
    cache_key = str(settings.var_dir)
    if cache_key not in _KEYS:
        path = settings.var_dir / "keys" / "pii.key"
        _KEYS[cache_key] = _file_key(path)
    return _KEYS[cache_key]


def _file_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
        f.flush()
        os.fsync(f.fileno())
    return path.read_bytes().strip()


def normalise(kind: str, value: str) -> str | None:
    """The canonical form hashed for ``kind``; None if ``value`` is not one."""
    value = value.strip()
    if kind == "personnummer":
        found = find_personnummer(value if "-" in value or "+" in value else
                                  f"personnummer {value}")
        return found[0][0] if found else None
    if kind == "email":
        return value.lower() if "@" in value else None
    if kind == "phone":
        return e164(value)
    raise ValueError(f"unknown identifier kind {kind!r}")


def digest(key: bytes, kind: str, canonical: str) -> str:
    """HMAC-SHA256 of ``kind:canonical`` (hex)."""
    return hmac.new(key, f"{kind}:{canonical}".encode(), hashlib.sha256).hexdigest()


def identifiers(message: NormalisedMessage) -> list[tuple[str, str]]:
    """(kind, canonical value) of every identifier in a message, without duplicates."""
    texts = [message.subject, message.body, message.full_text,
             message.sender.postal_address or "",
             *(a.text or "" for a in message.attachments),
             # What the scan channel extracted (and staff may have corrected).
             *(f"personnummer {v}" for key in ("x-scan-personnummer",
                                               "x-scan-samordningsnummer")
               for v in (message.headers.get(key) or "").split(",") if v)]
    out: list[tuple[str, str]] = []
    for text in texts:
        for value, _coordination in find_personnummer(text or ""):
            out.append(("personnummer", value))
    if message.sender.email:
        out.append(("email", message.sender.email.strip().lower()))
    phone = e164(message.sender.phone) if message.sender.phone else None
    if phone:
        out.append(("phone", phone))
    return list(dict.fromkeys(out))


def owner_may_hold(settings: Settings, owner: str | None) -> bool:
    """Whether the owning nämnd needs the personnummer itself (else only its hash)."""
    patterns = settings.kcs.governance.pii.store_personnummer_for
    return owner is not None and any(fnmatch.fnmatchcase(owner, p) for p in patterns)


def record_refs(session: Session, settings: Settings, *, intake_id: str,
                arende_id: str | None, owner: str | None,
                message: NormalisedMessage) -> int:
    """Store the item's person references in the caller's transaction; returns how many."""
    key = pii_key(settings)
    keep_value = owner_may_hold(settings, owner)
    now = utcnow()
    rows = [PersonRef(kind=kind, digest=digest(key, kind, value), intake_id=intake_id,
                      arende_id=arende_id, owner=owner,
                      value=value if kind == "personnummer" and keep_value else None,
                      created_at=now)
            for kind, value in identifiers(message)]
    session.add_all(rows)
    return len(rows)
