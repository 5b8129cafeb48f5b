"""Tables of the registratur web app (migration ``0008_webapp``), on the core's base.

- ``web_user``: staff who sign in: argon2 hash, role, the nämnder (owner codes
  from ``config/routing.yaml``) whose items they may see, and the sekretess right.
- ``web_session``: server-side sessions. The cookie holds a random token; only
  its sha256 is stored, with the session's CSRF token, so a database dump
  cannot be replayed as a cookie and signing out ends the session everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ingest.db import Base


class WebUser(Base):
    """A member of staff who may sign in to the registratur screens."""

    __tablename__ = "web_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    namnder: Mapped[dict[str, Any]]  # {"codes": [...]}; "*" means every nämnd
    sekretess: Mapped[bool]
    disabled: Mapped[bool]
    created_at: Mapped[datetime]


class WebSession(Base):
    """A signed-in browser; valid until it expires, idles out or is signed out."""

    __tablename__ = "web_session"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked: Mapped[bool]
