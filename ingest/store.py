"""The one place that talks to the database.

Every write that must not be lost happens inside ``Store.transaction()``;
callers compose several writes into one commit (an intake row and its outbox
row, a stage result and the next stage's message).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ingest import audit
from ingest.db import (
    Arende,
    ArendeCounter,
    Blob,
    ImapCheckpoint,
    Intake,
    IntakeKey,
    Item,
    Outbox,
    Publication,
    make_engine,
)
from ingest.model import utcnow
from ingest.reasons import ReasonCode
from ingest.stages import actor_name, stage_queue, stored_columns

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Intake's statements, built once: the group commit runs them for every batch.
_KEYS_TAKEN = select(IntakeKey.__table__.c.key, IntakeKey.__table__.c.intake_id).where(
    IntakeKey.__table__.c.key.in_(bindparam("keys", expanding=True)))
_BLOBS_PRESENT = select(Blob.__table__.c.sha256).where(
    Blob.__table__.c.sha256.in_(bindparam("digests", expanding=True)))
_INSERT_BLOB = insert(Blob.__table__)
_BLOB_DATA = select(Blob.__table__.c.data).where(Blob.__table__.c.sha256 == bindparam("sha256"))
_INSERT_INTAKE = insert(Intake.__table__)
_INSERT_KEY = insert(IntakeKey.__table__)
_INSERT_OUTBOX = insert(Outbox.__table__)


def outbox_values(intake_id: str, queue: str, actor: str, payload: dict[str, Any],
                  now: datetime | None = None) -> dict[str, Any]:
    """The one shape of a new outbox row (ORM, Core and intake's bulk insert use it)."""
    return {"intake_id": intake_id, "queue": queue, "actor": actor, "payload": payload,
            "created_at": now or utcnow(), "sent_at": None, "attempts": 0}


def stage_outbox_values(intake_id: str, pipeline_queue: str, stage: str,
                        now: datetime | None = None) -> dict[str, Any]:
    """The outbox row that starts ``stage`` for an item: its actor on its own queue."""
    return outbox_values(intake_id, stage_queue(pipeline_queue, stage), actor_name(stage),
                         {"args": [intake_id]}, now)


def _add_outbox_row(session: Session, values: dict[str, Any]) -> Outbox:
    row = Outbox(**values)
    session.add(row)
    return row


def _insert_outbox_row(db: Session | Connection, values: dict[str, Any]) -> Outbox:
    result = _connection(db).execute(_INSERT_OUTBOX, values)
    return Outbox(id=result.inserted_primary_key[0], **values)


def _connection(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def alembic_config(url: str) -> Config:
    """Alembic configuration without an ini file (the package carries its scripts)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


class _SqliteWriterLock:
    """Queue SQLite writers on a lock that hands over at once.

    SQLite has one writer at a time and makes the others sleep and retry in
    steps of up to 100 ms, which wastes most of the time under contention.
    Threads of one process queue on a mutex; processes on ``flock`` of a
    lock file next to the database (the kernel wakes the next waiter).
    """

    def __init__(self, database: str | None) -> None:
        self._mutex = threading.Lock()
        self._path = f"{database}.writelock" if database and database != ":memory:" else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._mutex.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o640)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


class Store:
    """Database access for intake, pipeline, relay, CLI and web."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(kcs_readonly=True)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            _SqliteWriterLock(self.engine.url.database)
            if self.engine.dialect.name == "sqlite" else contextlib.nullcontext())

    def migrate(self) -> None:
        """Bring the schema to the newest revision (safe to run on every start)."""
        cfg = alembic_config(self.url)
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        """Close pooled connections (before fork, at shutdown)."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all."""
        with self._write_lock, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def core_transaction(self) -> Iterator[Connection]:
        """``transaction`` without the ORM, for hot paths that write rows in bulk
        (intake's group commit): a connection whose statements commit together."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only: never waits for, nor blocks, a writer."""
        with self._reads() as session, session.begin():
            yield session

    @contextmanager
    def core_reading(self) -> Iterator[Connection]:
        """``reading`` without the ORM (the pipeline's per-stage load)."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        """Raise if the database cannot be reached (health checks)."""
        with self._reads() as session:
            session.connection().exec_driver_sql("SELECT 1")

    # -- intake -----------------------------------------------------------

    @staticmethod
    def keys_taken(db: Session | Connection, keys: list[str]) -> dict[str, str]:
        """Which of these duplicate keys are already taken, and by which intake id."""
        if not keys:
            return {}
        rows = _connection(db).execute(_KEYS_TAKEN, {"keys": list(set(keys))})
        return {key: intake_id for key, intake_id in rows}

    @staticmethod
    def blobs_present(db: Session | Connection, digests: list[str]) -> set[str]:
        """Which of these sha256s the inline blob table already holds."""
        if not digests:
            return set()
        return set(_connection(db).scalars(_BLOBS_PRESENT, {"digests": list(set(digests))}))

    def get_blob(self, sha256: str) -> bytes | None:
        """An inline blob's bytes, or None."""
        with self.core_reading() as conn:  # every normalise reads one
            return conn.scalar(_BLOB_DATA, {"sha256": sha256})

    def delete_blob(self, sha256: str) -> int:
        """Remove an inline blob (erasure, gallring); returns the bytes freed."""
        table = Blob.__table__
        with self.transaction() as session:
            size = session.connection().scalar(select(func.length(table.c.data))
                                               .where(table.c.sha256 == sha256))
            session.connection().execute(table.delete().where(table.c.sha256 == sha256))
        return int(size or 0)

    def iter_blobs(self, batch: int = 200) -> Iterator[tuple[str, bytes]]:
        """Every inline blob as (sha256, stored bytes), in batches (key rotation)."""
        table = Blob.__table__
        last = ""
        while True:
            with self._reads() as session:
                rows = session.connection().execute(
                    select(table.c.sha256, table.c.data).where(table.c.sha256 > last)
                    .order_by(table.c.sha256).limit(batch)).all()
            if not rows:
                return
            yield from ((r[0], r[1]) for r in rows)
            last = rows[-1][0]

    def replace_blob(self, sha256: str, stored: bytes) -> None:
        """Overwrite an inline blob's stored bytes (re-sealed under a new key)."""
        table = Blob.__table__
        with self.transaction() as session:
            session.connection().execute(table.update().where(table.c.sha256 == sha256)
                                         .values(data=stored))

    @staticmethod
    def insert_intake(db: Session | Connection, intakes: list[dict[str, Any]],
                      keys: list[dict[str, Any]], outbox: list[dict[str, Any]],
                      blobs: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        """Bulk-insert intake rows with their keys and outbox rows (caller's transaction).

        Core executemany, not the ORM: this is the hot path of every channel.
        """
        conn = _connection(db)
        for statement, rows in ((_INSERT_BLOB, blobs), (_INSERT_INTAKE, intakes),
                                (_INSERT_KEY, keys), (_INSERT_OUTBOX, outbox)):
            if rows:
                conn.execute(statement, rows)

    def get_intake(self, intake_id: str) -> Intake | None:
        """One intake row, detached."""
        with self._reads() as session:
            return session.get(Intake, intake_id)

    def set_state(self, intake_id: str, state: str, *, stage: str | None = None,
                  reason_code: str | None = None, reason_detail: str | None = None,
                  audit_action: str | None = None) -> None:
        """Move an item through its life cycle; reason code when it stops. With
        ``audit_action`` the change is in the audit log, in the same transaction."""
        values: dict[str, Any] = {"state": state, "updated_at": utcnow()}
        if stage is not None:
            values["stage"] = stage
        if reason_code is not None or state in {"processing", "done", "accepted"}:
            values["reason_code"] = reason_code
            values["reason_detail"] = reason_detail
        with self.transaction() as session:
            session.execute(update(Intake).where(Intake.id == intake_id).values(**values))
            if audit_action:
                audit.record(session, actor=audit.SYSTEM, action=audit_action,
                             intake_id=intake_id, reason=reason_code, detail={"state": state})

    def is_quarantined(self, sha256: str) -> bool:
        """Whether ``sha256`` is the raw original of an item the virus scan quarantined."""
        with self._reads() as session:
            return session.scalar(select(func.count()).select_from(Intake).where(
                Intake.raw_sha256 == sha256,
                Intake.reason_code == ReasonCode.MALWARE_FOUND.value)) > 0

    def list_intake(self, states: tuple[str, ...], limit: int = 100) -> list[Intake]:
        """Newest first, filtered by state (dead letters, rejections)."""
        with self._reads() as session:
            rows = session.scalars(select(Intake).where(Intake.state.in_(states))
                                   .order_by(Intake.received_at.desc()).limit(limit))
            return list(rows)

    def count_by_state(self) -> dict[tuple[str, str], int]:
        """(channel, state) → count, for metrics."""
        with self._reads() as session:
            rows = session.execute(select(Intake.channel, Intake.state, func.count())
                                   .group_by(Intake.channel, Intake.state))
            return {(c, s): n for c, s, n in rows}

    def stalled(self, before: datetime, limit: int = 100) -> list[tuple[str, set[str]]]:
        """Unfinished items untouched since ``before`` with nothing waiting in the outbox.

        Returns (intake id, names of the stage columns already stored).
        """
        pending = select(Outbox.intake_id).where(Outbox.sent_at.is_(None))
        with self._reads() as session:
            rows = session.execute(
                select(Intake, Item).outerjoin(Item, Item.intake_id == Intake.id)
                .where(Intake.state.in_(("accepted", "processing")),
                       Intake.updated_at < before, Intake.id.not_in(pending))
                .order_by(Intake.updated_at).limit(limit)).all()
        return [(intake.id, stored_columns(item)) for intake, item in rows]

    def touch(self, session: Session, intake_id: str) -> None:
        """Mark activity on an item (caller's transaction)."""
        session.execute(update(Intake).where(Intake.id == intake_id).values(updated_at=utcnow()))

    # -- outbox -----------------------------------------------------------

    @staticmethod
    def add_outbox(session: Session, intake_id: str, queue: str, actor: str,
                   payload: dict[str, Any]) -> Outbox:
        """Queue a broker message in the caller's transaction."""
        return _add_outbox_row(session, outbox_values(intake_id, queue, actor, payload))

    @staticmethod
    def add_stage(session: Session, intake_id: str, pipeline_queue: str, stage: str) -> Outbox:
        """Queue ``stage`` for an item: its actor on its own queue (``ingest.stages``)."""
        return _add_outbox_row(session, stage_outbox_values(intake_id, pipeline_queue, stage))

    @staticmethod
    def insert_outbox(db: Session | Connection, intake_id: str, queue: str, actor: str,
                      payload: dict[str, Any]) -> Outbox:
        """``add_outbox`` as one Core INSERT in the caller's transaction (the pipeline's
        hot path: no flush). Returns a detached row carrying the new id, for the broker."""
        return _insert_outbox_row(db, outbox_values(intake_id, queue, actor, payload))

    @staticmethod
    def insert_stage(db: Session | Connection, intake_id: str, pipeline_queue: str,
                     stage: str) -> Outbox:
        """``add_stage`` as one Core INSERT (see ``insert_outbox``)."""
        return _insert_outbox_row(db, stage_outbox_values(intake_id, pipeline_queue, stage))

    def pending_outbox(self, limit: int = 100) -> list[Outbox]:
        """Oldest unsent outbox rows."""
        with self._reads() as session:
            return list(session.scalars(select(Outbox).where(Outbox.sent_at.is_(None))
                                        .order_by(Outbox.id).limit(limit)))

    def mark_outbox_sent(self, *outbox_ids: int) -> None:
        """The broker has these messages."""
        with self.transaction() as session:
            session.execute(update(Outbox).where(Outbox.id.in_(outbox_ids))
                            .values(sent_at=utcnow(), last_error=None))

    def mark_outbox_failed(self, outbox_id: int, error: str) -> None:
        """The broker refused; try again on the next round."""
        with self.transaction() as session:
            session.execute(update(Outbox).where(Outbox.id == outbox_id)
                            .values(attempts=Outbox.attempts + 1, last_error=error[:500]))

    def outbox_backlog(self) -> int:
        """How many outbox rows wait for the broker."""
        with self._reads() as session:
            return session.scalar(select(func.count()).select_from(Outbox)
                                  .where(Outbox.sent_at.is_(None))) or 0

    # -- items ------------------------------------------------------------

    def get_item(self, intake_id: str) -> Item | None:
        """Stage results for an intake, detached."""
        with self._reads() as session:
            return session.get(Item, intake_id)

    @staticmethod
    def save_stage(session: Session, intake_id: str, column: str, value: dict[str, Any],
                   **extra: Any) -> None:
        """Store one stage's result (caller's transaction)."""
        item = session.get(Item, intake_id, with_for_update=True)
        if item is None:
            item = Item(intake_id=intake_id, updated_at=utcnow())
            session.add(item)
        setattr(item, column, value)
        for key, val in extra.items():
            setattr(item, key, val)
        item.updated_at = utcnow()

    # -- ärenden ------------------------------------------------------------

    @staticmethod
    def next_arende_seq(session: Session, year: int) -> int:
        """The next sequence number for ``year`` (row-locked on PostgreSQL)."""
        counter = session.get(ArendeCounter, year, with_for_update=True)
        if counter is None:
            try:
                with session.begin_nested():
                    counter = ArendeCounter(year=year, last=0)
                    session.add(counter)
            except IntegrityError:
                counter = session.get(ArendeCounter, year, with_for_update=True,
                                      populate_existing=True)
        assert counter is not None
        counter.last += 1
        return counter.last

    @staticmethod
    def add_arende(session: Session, arende: Arende) -> None:
        """Create an ärende (caller's transaction)."""
        session.add(arende)

    def get_arende(self, arende_id: str) -> Arende | None:
        """One ärende, detached."""
        with self._reads() as session:
            return session.get(Arende, arende_id)

    # -- publication --------------------------------------------------------

    @staticmethod
    def claim_publication(session: Session, key: str, intake_id: str, queue: str) -> str:
        """Create or read the publication row; returns its state."""
        pub = session.get(Publication, key, with_for_update=True)
        if pub is None:
            session.add(Publication(idempotency_key=key, intake_id=intake_id, queue=queue,
                                    state="pending", created_at=utcnow(), sent_at=None))
            return "pending"
        return pub.state

    def mark_published(self, key: str, when: datetime) -> None:
        """The downstream broker has the item."""
        with self.transaction() as session:
            session.execute(update(Publication).where(Publication.idempotency_key == key)
                            .values(state="sent", sent_at=when))

    # -- IMAP checkpoints ---------------------------------------------------

    def load_checkpoint(self, account: str, folder: str) -> tuple[int, int] | None:
        """(uidvalidity, last_uid) for a folder, or None before its first pull."""
        with self._reads() as session:
            row = session.get(ImapCheckpoint, (account, folder))
            return (row.uidvalidity, row.last_uid) if row else None

    def save_checkpoint(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Advance a folder's checkpoint."""
        with self.transaction() as session:
            row = session.get(ImapCheckpoint, (account, folder), with_for_update=True)
            if row is None:
                session.add(ImapCheckpoint(account=account, folder=folder,
                                           uidvalidity=uidvalidity, last_uid=last_uid,
                                           updated_at=utcnow()))
            else:
                row.uidvalidity = uidvalidity
                row.last_uid = last_uid
                row.updated_at = utcnow()
