"""Data-subject requests: export and erase everything about one person, holds respected.

A person is found by a personnummer, e-mail address or phone number, through
the keyed hashes in ``person_ref`` (``ingest/governance/pii.py``). Erasure
anonymises each item and deletes its originals, except items in an ärende
under legal hold: those are kept whole and listed as held. Every request and
every item it touched is written to the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ingest import audit
from ingest.db import Intake, Item
from ingest.governance import erasure, pii
from ingest.governance.db import ItemPrivacy, LegalHold, PersonRef
from ingest.model import as_utc, utcnow

if TYPE_CHECKING:
    from ingest.app import Runtime

KINDS = ("personnummer", "email", "phone")


class RequestError(ValueError):
    """The identifier given is not one we can look up."""


def _digest(rt: Runtime, kind: str, value: str) -> str:
    if kind not in KINDS:
        raise RequestError(f"unknown identifier kind {kind!r}; use one of {', '.join(KINDS)}")
    canonical = pii.normalise(kind, value)
    if canonical is None:
        raise RequestError(f"not a valid {kind}")
    return pii.digest(pii.pii_key(rt.settings), kind, canonical)


def intake_ids(rt: Runtime, kind: str, value: str) -> list[str]:
    """Items that mention this person, oldest first."""
    digest = _digest(rt, kind, value)
    with rt.store.reading() as session:
        ids = session.scalars(select(PersonRef.intake_id).where(PersonRef.digest == digest)
                              .distinct())
        return sorted(ids)


def export(rt: Runtime, kind: str, value: str, *, actor: str) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data (art. 15)."""
    ids = intake_ids(rt, kind, value)
    items = []
    with rt.store.reading() as session:
        for intake_id in ids:
            intake = session.get(Intake, intake_id)
            item = session.get(Item, intake_id)
            if intake is None:
                continue
            privacy = session.get(ItemPrivacy, intake_id)
            items.append({
                "item_id": intake_id, "received_at": as_utc(intake.received_at).isoformat(),
                "channel": intake.channel, "state": intake.state,
                "arende_id": item.arende_id if item else None,
                "message": (item.normalised if item else None),
                "classification": {k: (item.classification or {}).get(k) for k in
                                   ("huvudkategori", "arendetyp", "arendeklass", "flags")}
                if item else None,
                "routing": item.routing if item else None,
                "acknowledgement": item.acknowledgement if item else None,
                "raw_sha256": intake.raw_sha256,
                "anonymised_at": privacy.anonymised_at.isoformat()
                if privacy and privacy.anonymised_at else None,
                "audit": [audit.as_dict(e) for e in audit.history(session, intake_id=intake_id)],
            })
    with rt.store.transaction() as session:
        audit.record(session, actor=actor, action="gdpr.export", reason=f"{kind} request",
                     detail={"items": len(items), "kind": kind})
    return {"kind": kind, "items": items, "exported_at": utcnow().isoformat()}


def erase(rt: Runtime, kind: str, value: str, *, actor: str, reason: str = "") -> dict[str, Any]:
    """Anonymise the person's items and delete their originals, except held ones (art. 17)."""
    ids = intake_ids(rt, kind, value)
    erased: list[str] = []
    kept: list[dict[str, str]] = []
    with rt.store.reading() as session:
        rows = [(session.get(Intake, i), session.get(Item, i)) for i in ids]
        holds = erasure.held(session, {it.arende_id for _, it in rows if it and it.arende_id})
    to_erase = [(intake, item) for intake, item in rows
                if intake is not None and not (item and item.arende_id in holds)]
    erase_ids = {intake.id for intake, _ in to_erase}
    for intake, item in rows:
        if intake is not None and intake.id not in erase_ids:
            kept.append({"item_id": intake.id, "arende_id": item.arende_id if item else "",
                         "reason": "legal_hold"})
    for intake, item in to_erase:
        blobs = erasure.blobs_of(intake, item)
        with rt.store.reading() as session:
            deletable = [b for b in blobs
                         if not erasure.referenced_elsewhere(session, b, erase_ids)]
        for sha in deletable:
            rt.blobs.delete(sha)
        with rt.store.transaction() as session:
            erasure.anonymise(session, intake.id, by="gdpr")
            erasure.mark_blobs_deleted(session, intake.id, by="gdpr")
            erasure.forget_arende_contact(session, item.arende_id if item else None)
            audit.record(session, actor=actor, action="gdpr.erase", intake_id=intake.id,
                         arende_id=item.arende_id if item else None,
                         reason=reason or f"{kind} request",
                         detail={"blobs_deleted": len(deletable), "kind": kind})
        erased.append(intake.id)
    with rt.store.transaction() as session:
        for k in kept:
            audit.record(session, actor=actor, action="gdpr.erase_held", intake_id=k["item_id"],
                         arende_id=k["arende_id"] or None, reason="legal_hold",
                         detail={"kind": kind})
    return {"kind": kind, "erased": erased, "kept": kept}


def set_hold(rt: Runtime, arende_id: str, *, reason: str, actor: str) -> None:
    """Protect an ärende from erasure and gallring."""
    with rt.store.transaction() as session:
        row = session.get(LegalHold, arende_id, with_for_update=True)
        if row is None:
            session.add(LegalHold(arende_id=arende_id, reason=reason[:256], set_by=actor[:128],
                                  set_at=utcnow()))
        else:
            row.reason, row.set_by, row.set_at = reason[:256], actor[:128], utcnow()
        audit.record(session, actor=actor, action="legal_hold.set", arende_id=arende_id,
                     reason=reason)


def release_hold(rt: Runtime, arende_id: str, *, reason: str, actor: str) -> bool:
    """Lift a hold; False if there was none."""
    with rt.store.transaction() as session:
        row = session.get(LegalHold, arende_id, with_for_update=True)
        if row is None:
            return False
        session.delete(row)
        audit.record(session, actor=actor, action="legal_hold.release", arende_id=arende_id,
                     reason=reason)
    return True


def holds(rt: Runtime) -> list[dict[str, str]]:
    """Every ärende under legal hold."""
    with rt.store.reading() as session:
        return [{"arende_id": h.arende_id, "reason": h.reason, "set_by": h.set_by,
                 "set_at": as_utc(h.set_at).isoformat()}
                for h in session.scalars(select(LegalHold).order_by(LegalHold.set_at))]
