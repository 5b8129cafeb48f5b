"""Tables of the linker (migration ``0004_linking``), on the core's declarative base.

- ``link_key``: the link index. One row per (key, ärende): keyed identity
  hashes, external references and LSH band keys. Candidate retrieval is an
  indexed ``key IN (...)`` lookup on it; nothing ever scans all ärenden.
- ``link_text``: the MinHash signature of each linked item's text, to score
  text similarity against a candidate's items.
- ``possible_link``: a link the linker was unsure of, waiting for registratur.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ingest.db import Base


class LinkKey(Base):
    """One index key of an ärende (identity hash, reference, LSH band)."""

    __tablename__ = "link_key"
    __table_args__ = (Index("ix_link_key_arende", "arende_id"),)

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    arende_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime]


class LinkText(Base):
    """The MinHash signature of one item's text, with the ärende it went to."""

    __tablename__ = "link_text"

    intake_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    arende_id: Mapped[str] = mapped_column(String(32), index=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class PossibleLink(Base):
    """An item that may belong to another ärende; registratur accepts or rejects it."""

    __tablename__ = "possible_link"
    __table_args__ = (Index("ix_possible_link_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    intake_id: Mapped[str] = mapped_column(String(26), index=True)
    arende_id: Mapped[str] = mapped_column(String(32))            # where the item went
    candidate_arende_id: Mapped[str] = mapped_column(String(32))  # where it may belong
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|accepted|rejected
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
