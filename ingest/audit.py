"""The audit log: who or what decided or did what to an item or ärende, when and why.

One append-only table for automated decisions (classification, link, route,
acknowledgement) and human actions (a registratur user viewing, correcting
or releasing an item). Rows are only ever inserted; nothing in the product
updates or deletes them, and on PostgreSQL a trigger refuses both. ``detail``
holds codes and identifiers, never message text or a full personnummer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Index, Integer, String, insert, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ingest.db import Base
from ingest.logs import mask_personnummer
from ingest.model import utcnow

SYSTEM = "system"  # the actor for automated decisions


class AuditEvent(Base):
    """One decision or action; never changed after it is written."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_intake", "intake_id", "id"),
                      Index("ix_audit_event_arende", "arende_id", "id"))

    # INTEGER on SQLite, where only that type auto-increments a primary key.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    intake_id: Mapped[str | None] = mapped_column(String(26))
    arende_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]]


def record(session: Session, *, actor: str, action: str, intake_id: str | None = None,
           arende_id: str | None = None, reason: str | None = None,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Write one audit row inside the caller's transaction.

    In the same transaction as the change it describes, so a decision and its
    record stand or fall together.
    """
    event = AuditEvent(**_values(actor, action, intake_id, arende_id, reason, detail))
    session.add(event)
    return event


def insert_row(conn: Connection, *, actor: str, action: str, intake_id: str | None = None,
               arende_id: str | None = None, reason: str | None = None,
               detail: dict[str, Any] | None = None) -> None:
    """``record`` as one Core INSERT on the caller's connection (the pipeline's hot path:
    no ORM object, no flush). The same row, in the same transaction as the change."""
    conn.execute(_INSERT, _values(actor, action, intake_id, arende_id, reason, detail))


def _values(actor: str, action: str, intake_id: str | None, arende_id: str | None,
            reason: str | None, detail: dict[str, Any] | None) -> dict[str, Any]:
    return {"at": utcnow(), "actor": actor[:128], "action": action[:64],
            "intake_id": intake_id, "arende_id": arende_id,
            "reason": mask_personnummer(reason)[:256] if reason else None,
            "detail": _scrub(detail or {})}


_INSERT = insert(AuditEvent.__table__)


def history(session: Session, *, intake_id: str | None = None, arende_id: str | None = None,
            intake_ids: Sequence[str] = (), limit: int = 1000) -> list[AuditEvent]:
    """Events about an item or an ärende (and the items in it), oldest first."""
    clauses = []
    if intake_id:
        clauses.append(AuditEvent.intake_id == intake_id)
    if arende_id:
        clauses.append(AuditEvent.arende_id == arende_id)
    if intake_ids:
        clauses.append(AuditEvent.intake_id.in_(list(intake_ids)))
    if not clauses:
        raise ValueError("history needs an intake_id, an arende_id or intake_ids")
    rows = session.scalars(select(AuditEvent).where(or_(*clauses))
                           .order_by(AuditEvent.id).limit(limit))
    return list(rows)


def as_dict(event: AuditEvent) -> dict[str, Any]:
    """JSON-ready form for APIs and exports."""
    return {"id": event.id, "at": event.at.isoformat(), "actor": event.actor,
            "action": event.action, "intake_id": event.intake_id,
            "arende_id": event.arende_id, "reason": event.reason, "detail": event.detail}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personnummer(value)
    if isinstance(value, dict):
        return {str(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value
