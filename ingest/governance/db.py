"""Governance tables: person references, legal holds, and what was anonymised when.

- ``person_ref``: a keyed hash (HMAC-SHA256) of a personnummer, e-mail address
  or phone number met in an item, for linking and data-subject requests
  without storing the value; ``value`` only where the owning nämnd needs it.
- ``legal_hold``: an ärende that must not be erased or gallrad (a dispute, an
  appeal, a request for allmän handling); set and lifted by an admin.
- ``item_privacy``: when an item's text was anonymised and its blobs deleted,
  and by what (``retention`` or ``gdpr``), so neither runs twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ingest.db import Base


class PersonRef(Base):
    """One identifier of a person seen in one item."""

    __tablename__ = "person_ref"
    __table_args__ = (Index("ix_person_ref_digest", "digest"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # personnummer | email | phone
    digest: Mapped[str] = mapped_column(String(64))
    intake_id: Mapped[str] = mapped_column(String(26), index=True)
    arende_id: Mapped[str | None] = mapped_column(String(32), index=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class LegalHold(Base):
    """An ärende protected from erasure and gallring until the hold is lifted."""

    __tablename__ = "legal_hold"

    arende_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(256))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime]


class ItemPrivacy(Base):
    """What has been removed from an item, when, and by which process."""

    __tablename__ = "item_privacy"

    intake_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    anonymised_at: Mapped[datetime | None]
    anonymised_by: Mapped[str | None] = mapped_column(String(16))
    blobs_deleted_at: Mapped[datetime | None]
    blobs_deleted_by: Mapped[str | None] = mapped_column(String(16))
