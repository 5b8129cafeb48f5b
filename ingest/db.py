"""Database tables and engine setup (SQLite by default, PostgreSQL by URL).

The schema is owned by Alembic (``ingest/migrations``); these declarations
are what the migrations were generated from and what the code queries.

Tables, in the order an item meets them:

- ``intake``: one row per distinct message that arrived, with its raw blob's
  sha256 and channel metadata; its state is the item's life cycle.
- ``intake_key``: exact-duplicate keys (IMAP UID, Message-ID, raw sha256 …)
  pointing at the intake row that first carried them.
- ``outbox``: the transactional outbox; written in the same transaction as
  ``intake`` and moved onto the broker by the relay.
- ``item``: what each pipeline stage produced (JSON per stage).
- ``arende``, ``arende_counter``: the ärenden items are attached to.
- ``publication``: one row per item published downstream (idempotency key).
- ``imap_checkpoint``: how far each IMAP folder has been read.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID: 26 characters, sortable by creation time, unique without a server."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class Base(DeclarativeBase):
    """Declarative base; the metadata Alembic migrates."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class Intake(Base):
    """A message as it arrived: raw blob reference, channel metadata, life-cycle state."""

    __tablename__ = "intake"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    transport: Mapped[str] = mapped_column(String(32))
    raw_sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw_size: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]]
    # accepted → processing → done; or rejected / dead (reason_code says why)
    state: Mapped[str] = mapped_column(String(16), default="accepted", index=True)
    stage: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason_detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class Blob(Base):
    """A raw original small enough to live in the database, by sha256.

    Stored in the same transaction as its intake row: one fsync (the
    database's) makes both durable, and there is never a row without its
    bytes. Larger originals and attachments are fsync'd files (``BlobStore``).
    """

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class IntakeKey(Base):
    """An exact-duplicate key and the intake row that first carried it."""

    __tablename__ = "intake_key"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    intake_id: Mapped[str] = mapped_column(ForeignKey("intake.id"), index=True)


class Outbox(Base):
    """A broker message to send, committed with the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    intake_id: Mapped[str] = mapped_column(ForeignKey("intake.id"), index=True)
    queue: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Item(Base):
    """What each pipeline stage produced for one intake; a stage is done when its column is set."""

    __tablename__ = "item"

    intake_id: Mapped[str] = mapped_column(ForeignKey("intake.id"), primary_key=True)
    normalised: Mapped[dict[str, Any] | None]
    classification: Mapped[dict[str, Any] | None]
    link: Mapped[dict[str, Any] | None]
    routing: Mapped[dict[str, Any] | None]
    published: Mapped[dict[str, Any] | None]
    acknowledgement: Mapped[dict[str, Any] | None]
    arende_id: Mapped[str | None] = mapped_column(String(32), index=True)
    updated_at: Mapped[datetime]


class ArendeCounter(Base):
    """The last ärende sequence number handed out per year."""

    __tablename__ = "arende_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Arende(Base):
    """A case (ärende) that one or more items belong to."""

    __tablename__ = "arende"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")
    sender_email: Mapped[str | None] = mapped_column(String(320), index=True)
    sender_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    huvudkategori: Mapped[str | None] = mapped_column(String(64))
    arendetyp: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64))
    # Case index (dedupe/caseindex.py): merged into another ärende; when status last changed.
    merged_into: Mapped[str | None] = mapped_column(String(32), index=True)
    status_changed_at: Mapped[datetime | None]


class Publication(Base):
    """An item handed to the downstream queue; the key makes publishing idempotent."""

    __tablename__ = "publication"

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    intake_id: Mapped[str] = mapped_column(ForeignKey("intake.id"), index=True)
    queue: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ImapCheckpoint(Base):
    """How far an IMAP folder has been taken in, per UIDVALIDITY epoch."""

    __tablename__ = "imap_checkpoint"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    folder: Mapped[str] = mapped_column(String(256), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


def normalise_url(url: str) -> str:
    """Let people write ``postgresql://``; we talk to PostgreSQL with psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """An engine tuned for durability: SQLite in WAL mode with full fsync."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # "received" means on disk
            cur.execute("PRAGMA busy_timeout=" + os.environ.get("KCS_SQLITE_BUSY_MS", "30000"))
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front: a deferred transaction that
            # reads, then writes, fails at once (SQLITE_BUSY) when another
            # process wrote meanwhile, instead of waiting its turn. Read-only
            # work says so and runs beside writers (WAL snapshots).
            if conn.get_execution_options().get("kcs_readonly"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
