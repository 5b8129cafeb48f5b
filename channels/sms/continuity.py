"""Conversation continuity for SMS: the facts the linker needs, read from the store.

"1600 samtal är ca 800 unika nummer": people write again about the same
thing. An SMS from a number with an open ärende active within
``sms.continuity_days`` belongs to that ärende unless it says otherwise; the
decision itself is ``dedupe.linker.decide_sms``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from dedupe import linker
from dedupe.arende_number import find_numbers
from ingest.config import SmsConfig
from ingest.db import Arende
from ingest.model import NormalisedMessage
from ingest.store import Store


def sms_link(store: Store, message: NormalisedMessage, cfg: SmsConfig,
             now: datetime) -> linker.LinkDecision | None:
    """The SMS linking decision for ``message`` as of ``now``, or None (use ``decide``)."""
    phone = message.sender.phone
    if not phone:
        return None
    quoted = list(dict.fromkeys(find_numbers(f"{message.subject}\n{message.body}")))
    since = now - timedelta(days=cfg.continuity_days)
    with store.reading() as session:
        arende_phone = {a.id: a.sender_phone for a in
                        (session.get(Arende, i) for i in quoted) if a is not None}
        recent = list(session.scalars(
            select(Arende.id).where(Arende.sender_phone == phone, Arende.status == "open",
                                    Arende.last_activity_at >= since)
            .order_by(Arende.last_activity_at.desc(), Arende.id.desc()).limit(20)))
    if cfg.continuity_days == 0:
        recent = []
    return linker.decide_sms(phone=phone, subject=message.subject, body=message.body,
                             arende_phone=arende_phone, recent_open=recent)
