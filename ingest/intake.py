"""Durable intake: the only door into the product, and the promise behind "received".

``Intake.accept`` writes the raw bytes to the blob store (fsync'd) and, in one
database transaction, the intake row, its duplicate keys and an outbox row
that starts the pipeline. Only when that has committed does it return, and
only then may a channel answer "received" (SMTP 250, IMAP \\Seen, HTTP 200).

Crash analysis: before the blob fsync, nothing was promised; between the
blob and the commit, an orphan blob remains (harmless, content-addressed) and
the sender was not told "received", so they retry; after the commit the
message is safe and the relay will move the outbox row onto the broker even
if the broker is down now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ingest import metrics
from ingest.blobs import BlobStore
from ingest.db import Intake as IntakeRow
from ingest.db import new_id
from ingest.errors import IntakeUnavailable
from ingest.logs import get_logger
from ingest.model import ChannelMeta, utcnow
from ingest.store import Store

log = get_logger("intake")

START_ACTOR = "kcs.normalise"


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of durable storage; ``duplicate`` when an earlier arrival had the same key."""

    intake_id: str
    duplicate: bool
    raw_sha256: str


class Intake:
    """Accepts raw bytes from any channel and makes them durable."""

    def __init__(self, store: Store, blobs: BlobStore, pipeline_queue: str) -> None:
        self.store = store
        self.blobs = blobs
        self.pipeline_queue = pipeline_queue

    def accept(self, raw: bytes, meta: ChannelMeta) -> Receipt:
        """Store ``raw`` durably; raise ``IntakeUnavailable`` if that cannot be done now."""
        try:
            digest = self.blobs.put(raw)
        except OSError as exc:
            metrics.INTAKE.labels(channel=meta.channel.value, result="unavailable").inc()
            log.error("intake.blob_store_failed", channel=meta.channel.value, error=str(exc))
            raise IntakeUnavailable(f"blob store: {exc.strerror or exc}") from exc
        keys = [*meta.source_keys, f"sha256:{digest}"]
        for attempt in range(3):
            try:
                receipt = self._commit(raw, digest, keys, meta)
            except IntegrityError:
                # A concurrent arrival of the same key won the race; read its id.
                if attempt == 2:
                    raise
                continue
            except (OperationalError, SQLAlchemyError) as exc:
                metrics.INTAKE.labels(channel=meta.channel.value, result="unavailable").inc()
                log.error("intake.database_failed", channel=meta.channel.value,
                          error=type(exc).__name__)
                raise IntakeUnavailable("database unavailable") from exc
            result = "duplicate" if receipt.duplicate else "accepted"
            metrics.INTAKE.labels(channel=meta.channel.value, result=result).inc()
            log.info("intake." + result, intake_id=receipt.intake_id,
                     channel=meta.channel.value, transport=meta.transport, size=len(raw))
            return receipt
        raise AssertionError("unreachable")

    def _commit(self, raw: bytes, digest: str, keys: list[str], meta: ChannelMeta) -> Receipt:
        with self.store.transaction() as session:
            existing = self.store.find_by_keys(session, keys)
            if existing is not None:
                return Receipt(existing, duplicate=True, raw_sha256=digest)
            intake_id = new_id()
            now = utcnow()
            session.add(IntakeRow(
                id=intake_id, received_at=meta.received_at, channel=meta.channel.value,
                transport=meta.transport, raw_sha256=digest, raw_size=len(raw),
                meta=meta.to_dict(), state="accepted", updated_at=now))
            session.flush()
            self.store.add_keys(session, intake_id, keys)
            self.store.add_outbox(session, intake_id, self.pipeline_queue, START_ACTOR,
                                  {"args": [intake_id]})
        return Receipt(intake_id, duplicate=False, raw_sha256=digest)
