"""Durable SMS state: opt-outs and outbound delivery, in the one database.

Every process (web app taking STOP, worker sending acknowledgements, web app
taking status callbacks) reads and writes here, so an opt-out recorded by one
is honoured by all at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from channels.sms.db import SmsOptOut, SmsOutbound
from channels.sms.keywords import Keyword
from ingest.db import Item
from ingest.model import as_utc, utcnow
from ingest.store import Store

# Twilio's message states in the order they happen; a late callback never moves
# a message back (callbacks may arrive out of order).
_RANK = {"pending": 0, "accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4,
         "delivered": 6, "undelivered": 6, "failed": 6, "canceled": 6, "read": 7}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read", "written",
                   "suppressed"})
# Twilio error 21610: "Attempt to send to unsubscribed recipient" (the carrier's STOP).
UNSUBSCRIBED_ERROR = "21610"


def is_opted_out(store: Store, phone: str | None) -> bool:
    """Whether ``phone`` has opted out (and not opted in again) of our SMS."""
    if not phone:
        return False
    with store.reading() as session:
        row = session.get(SmsOptOut, phone)
        return bool(row and row.opted_out)


def record_keyword(store: Store, phone: str, keyword: Keyword | str, received_at: datetime,
                   intake_id: str | None) -> bool:
    """Record STOP/START (or a carrier's refusal) for ``phone``; returns the new opt-out state.

    The newest message wins by arrival time, so replaying an old STOP after a
    START (dead-letter replay, a retried webhook) changes nothing.
    """
    opted_out = keyword != Keyword.START
    now = utcnow()
    with store.transaction() as session:
        row = session.get(SmsOptOut, phone, with_for_update=True)
        if row is None:
            session.add(SmsOptOut(phone=phone, opted_out=opted_out, keyword=str(keyword),
                                  intake_id=intake_id, changed_at=received_at, updated_at=now))
            return opted_out
        if as_utc(row.changed_at) > as_utc(received_at):
            return row.opted_out
        row.opted_out = opted_out
        row.keyword = str(keyword)
        row.intake_id = intake_id
        row.changed_at = received_at
        row.updated_at = now
        return opted_out


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbound SMS as stored (detached copy)."""

    id: str
    intake_id: str | None
    to_phone: str
    status: str
    twilio_sid: str | None
    error_code: str | None
    attempts: int
    segments: int
    encoding: str

    def to_dict(self) -> dict[str, Any]:
        """The part that goes on the item's acknowledgement result (no full number)."""
        return {"sms_id": self.id, "state": self.status, "twilio_sid": self.twilio_sid,
                "error_code": self.error_code, "attempts": self.attempts,
                "segments": self.segments, "encoding": self.encoding}


def _copy(row: SmsOutbound) -> Delivery:
    return Delivery(row.id, row.intake_id, row.to_phone, row.status, row.twilio_sid,
                    row.error_code, row.attempts, row.segments, row.encoding)


def claim_outbound(store: Store, *, sms_id: str, intake_id: str | None, purpose: str,
                   to_phone: str, body: str, encoding: str, segments: int) -> Delivery:
    """The stored row for ``sms_id``, created as ``pending`` if new.

    A caller that finds it already sent (a stage run again after a crash)
    must not send again.
    """
    now = utcnow()
    with store.transaction() as session:
        row = session.get(SmsOutbound, sms_id, with_for_update=True)
        if row is None:
            row = SmsOutbound(id=sms_id, intake_id=intake_id, purpose=purpose, to_phone=to_phone,
                              body=body, encoding=encoding, segments=segments, twilio_sid=None,
                              status="pending", error_code=None, attempts=0, created_at=now,
                              updated_at=now)
            session.add(row)
        return _copy(row)


def finish_outbound(store: Store, sms_id: str, *, status: str, twilio_sid: str | None = None,
                    error_code: str | None = None, attempts: int | None = None) -> Delivery:
    """Record what the send did. A status callback that overtook us (a row made
    from the callback alone, keyed by the SID) is merged into ours."""
    now = utcnow()
    with store.transaction() as session:
        row = session.get(SmsOutbound, sms_id, with_for_update=True)
        assert row is not None, "claim_outbound first"
        if twilio_sid:
            early = session.scalar(select(SmsOutbound).where(SmsOutbound.twilio_sid == twilio_sid,
                                                             SmsOutbound.id != sms_id))
            if early is not None:
                if _RANK.get(early.status, 0) > _RANK.get(status, 0):
                    status, error_code = early.status, early.error_code or error_code
                session.delete(early)
                session.flush()
            row.twilio_sid = twilio_sid
        row.status = status
        row.error_code = error_code
        if attempts is not None:
            row.attempts = attempts
        row.updated_at = now
        return _copy(row)


def apply_status(store: Store, *, twilio_sid: str, status: str, error_code: str | None,
                 to_phone: str | None) -> Delivery:
    """A status callback: move the message forward, never back; mirror it on the item.

    A callback for a SID we have not recorded yet (it can overtake the answer
    to our own create request) is kept on a row of its own until the sender
    merges it.
    """
    status = status.strip().lower()
    now = utcnow()
    with store.transaction() as session:
        row = session.scalar(select(SmsOutbound).where(SmsOutbound.twilio_sid == twilio_sid)
                             .with_for_update())
        if row is None:
            row = SmsOutbound(id=f"twilio:{twilio_sid}", intake_id=None, purpose="unknown",
                              to_phone=to_phone or "", body="", encoding="", segments=0,
                              twilio_sid=twilio_sid, status=status, error_code=error_code,
                              attempts=0, created_at=now, updated_at=now)
            session.add(row)
            return _copy(row)
        if _RANK.get(status, 0) > _RANK.get(row.status, 0):
            row.status = status
            row.error_code = error_code or row.error_code
            row.updated_at = now
            if row.intake_id:
                item = session.get(Item, row.intake_id, with_for_update=True)
                ack = dict(item.acknowledgement or {}) if item is not None else {}
                if item is not None and ack.get("sms_id") == row.id:
                    ack.update(state=row.status, error_code=row.error_code,
                               status_updated_at=now.isoformat())
                    item.acknowledgement = ack
        return _copy(row)


def get_outbound(store: Store, sms_id: str) -> Delivery | None:
    """One outbound SMS by our id."""
    with store.reading() as session:
        row = session.get(SmsOutbound, sms_id)
        return _copy(row) if row else None


def outbound_for(store: Store, intake_id: str) -> list[Delivery]:
    """Every SMS sent because of one item."""
    with store.reading() as session:
        rows = session.scalars(select(SmsOutbound).where(SmsOutbound.intake_id == intake_id)
                               .order_by(SmsOutbound.created_at))
        return [_copy(r) for r in rows]
