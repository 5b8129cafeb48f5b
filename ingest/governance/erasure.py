"""Removing personal data from an item: shared by data-subject erasure and gallring.

Anonymising keeps the item's codes (category, owner, queue, dates: what the
statistics and the audit log need) and removes everything that says who
wrote or what they wrote: subject, body, sender, attachment names and text,
envelope addresses, the published copy waiting in the outbox, and the item's
person references. Deleting originals removes the raw original and the
attachments from both blob tiers, unless another item still refers to the
same bytes. An ärende under legal hold is never touched (``held``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.orm import Session

from dedupe.db import LinkKey, LinkText
from ingest.db import Arende, Intake, Item, Outbox
from ingest.governance.db import ItemPrivacy, LegalHold, PersonRef
from ingest.model import utcnow

ERASED = "[raderat]"
BLOB_HEADERS = ("x-scan-record", "x-scan-batch")
# Headers that say nothing about the person (counts, sources); the rest go.
NEUTRAL_HEADERS = ("x-scan-pages", "x-scan-sources", "x-scan-mean-conf")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def held(session: Session, arende_ids: set[str]) -> set[str]:
    """Which of these ärenden are under legal hold."""
    ids = {a for a in arende_ids if a}
    if not ids:
        return set()
    return set(session.scalars(select(LegalHold.arende_id)
                               .where(LegalHold.arende_id.in_(ids))))


def blobs_of(intake: Intake, item: Item | None) -> set[str]:
    """The raw original, every attachment, and a scanned letter's batch file, by sha256.

    A batch file holds every letter scanned with it; it goes only when no
    other letter of the batch needs it (``referenced_elsewhere``).
    """
    out = {intake.raw_sha256}
    batch = ((intake.meta or {}).get("detail") or {}).get("batch_sha256")
    if batch:
        out.add(batch)
    normalised = (item.normalised or {}) if item else {}
    for attachment in normalised.get("attachments") or []:
        if attachment.get("sha256"):
            out.add(attachment["sha256"])
    headers = normalised.get("headers") or {}
    for key in BLOB_HEADERS:  # the scan record: OCR text and extracted fields
        if _SHA256.match(str(headers.get(key) or "")):
            out.add(headers[key])
    return out


def referenced_elsewhere(session: Session, sha256: str, exclude: set[str]) -> bool:
    """Whether an item outside ``exclude`` still needs these bytes (content-addressed)."""
    raw = session.scalar(select(Intake.id).where(Intake.raw_sha256 == sha256,
                                                 Intake.id.not_in(exclude)).limit(1))
    if raw is not None:
        return True
    batch = session.scalar(select(Intake.id).where(
        cast(Intake.meta, String).like(f"%{sha256}%"), Intake.id.not_in(exclude)).limit(1))
    if batch is not None:
        return True
    return session.scalar(select(Item.intake_id).where(
        cast(Item.normalised, String).like(f"%{sha256}%"),
        Item.intake_id.not_in(exclude)).limit(1)) is not None


def _scrub_message(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out.update(subject=ERASED, body=ERASED, full_text="", message_id=None,
               in_reply_to=None, references=[],
               sender={"email": None, "phone": None, "name": None, "postal_address": None,
                       "anonymous": True})
    out["headers"] = {k: v for k, v in (data.get("headers") or {}).items()
                      if k in NEUTRAL_HEADERS}
    out["attachments"] = [{**a, "filename": ERASED, "original_filename": None, "text": None}
                          for a in data.get("attachments") or []]
    return out


def anonymise(session: Session, intake_id: str, *, by: str) -> None:
    """Remove the personal content of one item (caller's transaction)."""
    item = session.get(Item, intake_id, with_for_update=True)
    intake = session.get(Intake, intake_id, with_for_update=True)
    if item is not None:
        if item.normalised:
            item.normalised = _scrub_message(item.normalised)
        if item.classification:
            item.classification = {k: v for k, v in item.classification.items()
                                   if k not in ("explanation",)}
        if item.link:
            item.link = {k: v for k, v in item.link.items() if k != "explanation"}
        if item.published:
            plan = dict(item.published.get("acknowledgement_plan") or {})
            if plan.get("to"):
                plan["to"] = ERASED
            item.published = {**item.published, "acknowledgement_plan": plan}
        if item.acknowledgement and item.acknowledgement.get("to"):
            item.acknowledgement = {**item.acknowledgement, "to": ERASED}
        item.updated_at = utcnow()
    if intake is not None:
        meta = dict(intake.meta or {})
        meta.update(envelope_from=None, envelope_to=[], peer=None, detail={},
                    source_keys=[])
        intake.meta = meta
        intake.reason_detail = None
    session.execute(update(Outbox).where(Outbox.intake_id == intake_id,
                                         Outbox.sent_at.is_not(None))
                    .values(payload={"args": [ERASED]}))
    session.execute(delete(PersonRef).where(PersonRef.intake_id == intake_id))
    _mark(session, intake_id, anonymised_by=by)


def forget_arende_contact(session: Session, arende_id: str | None) -> None:
    """The ärende no longer says how to reach its sender, nor whom it belongs to.

    The link index holds keyed hashes of the sender's identity and a text
    signature: pseudonymous personal data, so it goes too. Later messages can
    still reach the ärende by its number or by a reply to our acknowledgement.
    """
    if arende_id:
        session.execute(update(Arende).where(Arende.id == arende_id)
                        .values(sender_email=None, sender_phone=None))
        session.execute(delete(LinkKey).where(LinkKey.arende_id == arende_id))
        session.execute(delete(LinkText).where(LinkText.arende_id == arende_id))


def mark_blobs_deleted(session: Session, intake_id: str, *, by: str) -> None:
    """Record that the item's originals are gone (caller's transaction)."""
    _mark(session, intake_id, blobs_deleted_by=by)


def _mark(session: Session, intake_id: str, *, anonymised_by: str | None = None,
          blobs_deleted_by: str | None = None) -> None:
    row = session.get(ItemPrivacy, intake_id, with_for_update=True)
    if row is None:
        row = ItemPrivacy(intake_id=intake_id, anonymised_at=None, anonymised_by=None,
                          blobs_deleted_at=None, blobs_deleted_by=None)
        session.add(row)
    now = utcnow()
    if anonymised_by:
        row.anonymised_at, row.anonymised_by = now, anonymised_by
    if blobs_deleted_by:
        row.blobs_deleted_at, row.blobs_deleted_by = now, blobs_deleted_by
