"""Possible links for registratur: list them, accept (move the item) or reject.

The linker records a possible link when the evidence is between the
thresholds: the item got its own ärende, and a person decides whether it
belongs to the candidate. The web app builds its screen on these three
functions; each decision is audited with the person's name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dedupe import index
from dedupe.db import LinkText, PossibleLink
from ingest import audit
from ingest.db import Arende, Item
from ingest.model import utcnow
from ingest.store import Store


def as_dict(link: PossibleLink) -> dict[str, Any]:
    """JSON-ready form for the review screen and API."""
    return {"id": link.id, "intake_id": link.intake_id, "arende_id": link.arende_id,
            "candidate_arende_id": link.candidate_arende_id, "score": link.score,
            "explanation": link.explanation, "status": link.status,
            "created_at": link.created_at.isoformat(), "decided_by": link.decided_by,
            "decided_at": link.decided_at.isoformat() if link.decided_at else None}


def pending(session: Session, limit: int = 100) -> list[PossibleLink]:
    """Open possible links, oldest first (the order registratur works through them)."""
    return list(session.scalars(select(PossibleLink).where(PossibleLink.status == "open")
                                .order_by(PossibleLink.id).limit(limit)))


def _open_link(session: Session, link_id: int) -> PossibleLink:
    link = session.get(PossibleLink, link_id, with_for_update=True)
    if link is None:
        raise KeyError(f"no possible link {link_id}")
    if link.status != "open":
        raise ValueError(f"possible link {link_id} is already {link.status}")
    return link


def accept(store: Store, link_id: int, actor: str) -> str:
    """The item belongs to the candidate ärende: move it there; returns that ärende's id.

    When the item was alone in the ärende the linker opened for it, that ärende
    is merged into the candidate, so what the index learnt from the item
    (sender, references, text) now leads to the candidate too.
    """
    with store.transaction() as session:
        link = _open_link(session, link_id)
        target = index.resolve(session, link.candidate_arende_id)
        item = session.get(Item, link.intake_id, with_for_update=True)
        old = item.arende_id if item is not None else link.arende_id
        if item is not None:
            item.arende_id = target
            item.link = {**(item.link or {}), "arende_id": target, "new": False,
                         "linked_by": "registratur", "decision": "accepted",
                         "possible_link": {**((item.link or {}).get("possible_link") or {}),
                                           "status": "accepted"}}
            item.updated_at = utcnow()
        others = session.scalar(select(func.count()).select_from(Item)
                                .where(Item.arende_id == old, Item.intake_id != link.intake_id))
        if old and old != target and not others:
            session.execute(update(Arende).where(Arende.id == old).values(
                status="merged", merged_into=target, status_changed_at=utcnow()))
        else:  # the ärende has other items: move only this item's text
            session.execute(update(LinkText).where(LinkText.intake_id == link.intake_id)
                            .values(arende_id=target))
        link.status, link.decided_by, link.decided_at = "accepted", actor, utcnow()
        audit.record(session, actor=actor, action="link_accepted", intake_id=link.intake_id,
                     arende_id=target, reason="possible link accepted",
                     detail={"possible_link": link.id, "from": old, "to": target,
                             "score": link.score})
    return target


def reject(store: Store, link_id: int, actor: str) -> None:
    """The item does not belong to the candidate: it keeps its own ärende."""
    with store.transaction() as session:
        link = _open_link(session, link_id)
        link.status, link.decided_by, link.decided_at = "rejected", actor, utcnow()
        audit.record(session, actor=actor, action="link_rejected", intake_id=link.intake_id,
                     arende_id=link.arende_id, reason="possible link rejected",
                     detail={"possible_link": link.id,
                             "candidate": link.candidate_arende_id, "score": link.score})

