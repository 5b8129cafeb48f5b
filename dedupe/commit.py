"""Writing a link decision: the ärende, the index keys, the possible link, the audit event.

Runs inside the link stage's transaction (``ingest.pipeline._commit_link``),
so the item's ärende, what the index learns from it and the record of why
stand or fall together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dedupe import index, linker
from dedupe.db import PossibleLink
from ingest import audit
from ingest.db import Arende, Intake, Item
from ingest.model import NormalisedMessage, as_utc, utcnow
from ingest.store import Store


def commit(session: Session, store: Store, intake: Intake, item: Item,
           message: NormalisedMessage, result: dict[str, Any]) -> None:
    """Apply ``result`` (a ``LinkDecision.to_dict()``); fills in a new ärende's id."""
    received = as_utc(intake.received_at)
    idx = result.pop("index", None) or {}
    classification = item.classification or {}
    if result["new"]:
        year = linker.year_of(received)
        result["arende_id"] = linker.new_arende_id(year, store.next_arende_seq(session, year))
        session.add(Arende(id=result["arende_id"], created_at=received,
                           last_activity_at=received, status="open",
                           sender_email=message.sender.email, sender_phone=message.sender.phone,
                           huvudkategori=classification.get("huvudkategori"),
                           arendetyp=classification.get("arendetyp"),
                           status_changed_at=received))
        session.flush()
    else:
        arende = session.get(Arende, result["arende_id"], with_for_update=True)
        if arende is not None:
            if as_utc(arende.last_activity_at) < received:
                arende.last_activity_at = received
            if result.get("decision") == linker.REOPEN and arende.status != "open":
                arende.status = "open"
                arende.status_changed_at = utcnow()
                audit.record(session, actor=audit.SYSTEM, action="reopen",
                             intake_id=intake.id, arende_id=arende.id,
                             reason="follow-up on a closed ärende")
    arende_id = result["arende_id"]
    item.arende_id = arende_id
    index.index_keys(session, arende_id, idx.get("keys") or [], received)
    if idx.get("signature"):
        index.index_text(session, intake.id, arende_id, bytes.fromhex(idx["signature"]),
                         received)
    possible = result.get("possible_link")
    if possible:
        row = PossibleLink(intake_id=intake.id, arende_id=arende_id,
                           candidate_arende_id=possible["candidate_arende_id"],
                           score=possible["score"], explanation=result.get("explanation", []),
                           status="open", created_at=utcnow())
        session.add(row)
        session.flush()
        possible["id"] = row.id
    # The decision itself is audited with every stage (ingest/decisions.py).
