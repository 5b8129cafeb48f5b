"""Server-side sessions and CSRF tokens for the staff screens.

The cookie carries 32 random bytes; the table stores their sha256, so a
stolen database cannot be turned into cookies. Each session has its own CSRF
token, required on every POST: a token from another person's session, or
none, is refused and audited. Cookies are HttpOnly and SameSite=Strict, and
Secure when ``webapp.secure_cookies`` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from ingest.model import as_utc, utcnow
from ingest.webapp.db import WebSession, WebUser
from ingest.webapp.settings import WebAppConfig
from ingest.webapp.users import StaffUser

COOKIE = "kcs_session"
LOGIN_CSRF_COOKIE = "kcs_login_csrf"
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Signed:
    """A valid session: who, and the CSRF token their forms must carry."""

    user: StaffUser
    csrf_token: str
    token_sha256: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store, user: StaffUser, cfg: WebAppConfig) -> tuple[str, Signed]:
    """Start a session; returns the cookie value and the session."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(token_sha256=_digest(token), user_id=user.id,
                     csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                     expires_at=now + timedelta(hours=cfg.session_hours), revoked=False)
    with store.transaction() as session:
        session.add(row)
    return token, Signed(user, row.csrf_token, row.token_sha256)


def lookup(store, token: str | None, cfg: WebAppConfig) -> Signed | None:
    """The live session for a cookie value, or None (unknown, expired, idle, revoked,
    or its user disabled)."""
    if not token or len(token) > 100:
        return None
    digest = _digest(token)
    now = utcnow()
    with store.reading() as session:
        row = session.get(WebSession, digest)
        if row is None or row.revoked:
            return None
        user = session.get(WebUser, row.user_id)
        if user is None or user.disabled:
            return None
        if as_utc(row.expires_at) <= now or (
                now - as_utc(row.last_seen_at) > timedelta(minutes=cfg.idle_minutes)):
            return None
        signed = Signed(StaffUser.from_row(user), row.csrf_token, digest)
        stale = now - as_utc(row.last_seen_at) > _TOUCH_EVERY
    if stale:
        with store.transaction() as session:
            live = session.get(WebSession, digest)
            if live is not None:
                live.last_seen_at = now
    return signed


def close_session(store, token_sha256: str) -> None:
    """Sign out: the cookie stops working at once, wherever it was copied to."""
    with store.transaction() as session:
        row = session.get(WebSession, token_sha256)
        if row is not None:
            row.revoked = True


def csrf_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's token with the one the form sent."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def new_login_csrf() -> str:
    """A token for the sign-in form (double-submit: cookie and hidden field)."""
    return secrets.token_urlsafe(24)

