"""Staff accounts: argon2 password hashes, roles, nämnd scope and the sekretess right.

Roles decide which screens a person sees; the nämnd scope and the sekretess
right decide which items. Owner codes are the ones ``config/routing.yaml``
routes to, so a scope can only name a nämnd the product knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from ingest import audit
from ingest.config import Settings
from ingest.model import utcnow
from ingest.webapp.db import WebUser

ROLES = {"registratur": "Registratur", "analyst": "Analytiker", "admin": "Administratör"}
ALL_NAMNDER = "*"
MIN_PASSWORD_CHARS = 12
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as much as a
# wrong password and timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


class UserError(ValueError):
    """A user cannot be created or changed as asked (the message says why, in Swedish)."""


@dataclass(frozen=True)
class StaffUser:
    """A signed-in person as the screens see them (no hash)."""

    id: int
    username: str
    display_name: str
    role: str
    namnder: tuple[str, ...]
    sekretess: bool

    @property
    def actor(self) -> str:
        """How this person appears in the audit log."""
        return f"user:{self.username}"

    def sees_namnd(self, owner: str | None) -> bool:
        """Whether items owned by ``owner`` are in this person's scope."""
        return ALL_NAMNDER in self.namnder or (owner is not None and owner in self.namnder)

    @classmethod
    def from_row(cls, row: WebUser) -> StaffUser:
        """From the table row."""
        return cls(row.id, row.username, row.display_name, row.role,
                   tuple((row.namnder or {}).get("codes", [])), bool(row.sekretess))


def owner_codes(settings: Settings) -> set[str]:
    """Every nämnd (owner code) that routing can send an item to."""
    return {r.owner for r in settings.routing.routes} | {settings.routing.default.owner}


def add_user(rt: Any, *, username: str, password: str, role: str, namnder: list[str],
             sekretess: bool = False, display_name: str | None = None,
             actor: str = "cli") -> StaffUser:
    """Create a user; ``UserError`` for a taken name, weak password, unknown role or nämnd."""
    username = username.strip().lower()
    if not username or len(username) > 64 or not username.replace(".", "").replace(
            "-", "").replace("_", "").isalnum():
        raise UserError("användarnamnet får bara innehålla bokstäver, siffror, . - _")
    if role not in ROLES:
        raise UserError(f"okänd roll {role!r}; välj {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"lösenordet måste ha minst {MIN_PASSWORD_CHARS} tecken")
    known = owner_codes(rt.settings)
    unknown = [n for n in namnder if n != ALL_NAMNDER and n not in known]
    if unknown:
        raise UserError(f"okänd nämnd {', '.join(unknown)}; kända: {', '.join(sorted(known))}")
    with rt.store.transaction() as session:
        if session.scalar(select(WebUser).where(WebUser.username == username)) is not None:
            raise UserError(f"användaren {username} finns redan")
        row = WebUser(username=username, display_name=(display_name or username)[:128],
                      password_hash=_hasher.hash(password), role=role,
                      namnder={"codes": sorted(set(namnder))}, sekretess=sekretess,
                      disabled=False, created_at=utcnow())
        session.add(row)
        session.flush()
        audit.record(session, actor=actor, action="user.add",
                     detail={"username": username, "role": role,
                             "namnder": sorted(set(namnder)), "sekretess": sekretess})
        return StaffUser.from_row(row)


def disable_user(rt: Any, username: str, actor: str = "cli") -> None:
    """Stop a user signing in and end their sessions; ``UserError`` if there is no such user."""
    from ingest.webapp.db import WebSession

    with rt.store.transaction() as session:
        row = session.scalar(select(WebUser).where(WebUser.username == username.lower()))
        if row is None:
            raise UserError(f"ingen användare {username}")
        row.disabled = True
        for live in session.scalars(select(WebSession).where(WebSession.user_id == row.id)):
            live.revoked = True
        audit.record(session, actor=actor, action="user.disable",
                     detail={"username": row.username})


def list_users(rt: Any) -> list[dict[str, Any]]:
    """Every user, for ``kcs users list``."""
    with rt.store.reading() as session:
        rows = session.scalars(select(WebUser).order_by(WebUser.username))
        return [{"username": r.username, "name": r.display_name, "role": r.role,
                 "namnder": (r.namnder or {}).get("codes", []), "sekretess": r.sekretess,
                 "disabled": r.disabled} for r in rows]


def authenticate(rt: Any, username: str, password: str) -> StaffUser | None:
    """The user if the name and password match an enabled account, else None."""
    with rt.store.reading() as session:
        row = session.scalar(select(WebUser).where(WebUser.username == username.strip().lower()))
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        return StaffUser.from_row(row)
