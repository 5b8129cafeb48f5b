"""Wiring: build the parts of a process from settings, in one place.

Every entry point (``kcs smtp``, ``kcs worker``, the web app, tests) calls
``Runtime.build``; no module reads configuration on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dramatiq

from ingest.blobs import BlobStore
from ingest.broker import make_broker
from ingest.config import Settings, load_settings
from ingest.db import Intake as IntakeRow
from ingest.db import Item
from ingest.intake import Intake
from ingest.model import utcnow
from ingest.stages import COLUMN, STAGES
from ingest.store import Store


@dataclass
class Runtime:
    """The long-lived objects of one process."""

    settings: Settings
    store: Store
    blobs: BlobStore
    intake: Intake
    _broker: dramatiq.Broker | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
        """Load settings (once), open the store, and migrate the schema if asked."""
        settings = settings or load_settings()
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database_url)
        if migrate:
            store.migrate()
        blobs = BlobStore(settings.blob_dir, store, settings.kcs.storage.inline_max_bytes,
                          settings.blob_keys)
        intake = Intake(store, blobs, settings.kcs.pipeline.queue)
        return cls(settings, store, blobs, intake)

    @property
    def broker(self) -> dramatiq.Broker:
        """The process's Dramatiq broker, created on first use."""
        if self._broker is None:
            self._broker = make_broker(self.settings)
        return self._broker

    def pipeline(self, classifier: Any = None) -> Any:
        """The pipeline with its actors declared on this process's broker."""
        from ingest.pipeline import Pipeline

        pipeline = Pipeline(self.settings, self.store, self.blobs, self.broker, classifier)
        pipeline.register()
        return pipeline

    def release(self, intake_id: str, corrections: dict[str, Any] | None = None) -> str:
        """Registratur is done with an item held for review: store their corrections to
        the held stage's result and send the item on. Returns the next stage."""
        with self.store.transaction() as session:
            row = session.get(IntakeRow, intake_id, with_for_update=True)
            if row is None:
                raise KeyError(intake_id)
            if row.state != "review" or row.stage not in STAGES:
                raise ValueError(f"item {intake_id} is {row.state}, not waiting for review")
            item = session.get(Item, intake_id, with_for_update=True)
            column = COLUMN[row.stage]
            if corrections and item is not None:
                setattr(item, column, {**(getattr(item, column) or {}), **corrections})
                item.updated_at = utcnow()
            following = STAGES[STAGES.index(row.stage) + 1]
            row.state = "processing"
            row.reason_code = None
            row.reason_detail = None
            row.updated_at = utcnow()
            self.store.add_stage(session, intake_id, self.settings.kcs.pipeline.queue,
                                 following)
        return following

    def replay(self, intake_id: str) -> str:
        """Send a dead or rejected item through again from the stage that stopped it."""
        with self.store.transaction() as session:
            row = session.get(IntakeRow, intake_id, with_for_update=True)
            if row is None:
                raise KeyError(intake_id)
            if row.state not in {"dead", "rejected"}:
                raise ValueError(f"item {intake_id} is {row.state}, not a dead letter")
            stage = row.stage if row.state == "dead" and row.stage in STAGES else "normalise"
            row.state = "accepted"
            row.reason_code = None
            row.reason_detail = None
            row.updated_at = utcnow()
            self.store.add_stage(session, intake_id, self.settings.kcs.pipeline.queue, stage)
        return stage

    def assign(self, intake_id: str, label: dict[str, Any], *, actor: str,
               taxonomy: Any = None) -> dict[str, Any]:
        """A person's triage label takes effect: stored, routed again and published to the
        new owner (``ingest.reassign.assign``; the triage screen and ``kcs triage assign``)."""
        from ingest.reassign import assign

        return assign(self, intake_id, label, actor=actor, taxonomy=taxonomy)
