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

import asyncio
import contextlib
import errno
import hashlib
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ingest import metrics
from ingest.blobs import BlobStore
from ingest.db import new_id
from ingest.errors import IntakeUnavailable, StorageFull
from ingest.logs import get_logger
from ingest.model import ChannelMeta, utcnow
from ingest.stages import STAGES
from ingest.store import Store, stage_outbox_values

log = get_logger("intake")



@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of durable storage; ``duplicate`` when an earlier arrival had the same key."""

    intake_id: str
    duplicate: bool
    raw_sha256: str


@dataclass(eq=False)
class _Pending:
    """One accept waiting for the group commit.

    A thread waits on ``done``; a coroutine on ``future`` (settled on its own event
    loop, once per loop and batch, so a burst of SMTP sessions costs one wake-up of
    the loop, not one per message).
    """

    digest: str
    size: int
    keys: list[str]
    meta: ChannelMeta
    inline: bytes | None
    done: threading.Event = field(default_factory=threading.Event)
    future: asyncio.Future[None] | None = None
    receipt: Receipt | None = None
    error: Exception | None = None


class Intake:
    """Accepts raw bytes from any channel and makes them durable.

    Database rows go through one writer thread that commits every accept
    waiting at that moment in a single transaction (a group commit): under
    load many messages share one fsync of the database, and when idle a lone
    message waits for nobody. Raw originals up to the blob store's inline
    limit travel in that same transaction; larger ones are written and
    fsync'd as files by the calling thread first.
    """

    def __init__(self, store: Store, blobs: BlobStore, pipeline_queue: str, *,
                 batch_max: int = 256, wait_s: float = 60.0) -> None:
        self.store = store
        self.blobs = blobs
        self.pipeline_queue = pipeline_queue
        self.batch_max = batch_max
        self.wait_s = wait_s
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    def accept(self, raw: bytes, meta: ChannelMeta) -> Receipt:
        """Store ``raw`` durably; raise ``IntakeUnavailable`` if that cannot be done now."""
        pending = self._prepare(raw, meta)
        self._submit(pending)
        if not pending.done.wait(self.wait_s):
            # It may still commit; the sender retries and the retry is a duplicate.
            self._count(meta, "unavailable")
            raise IntakeUnavailable("database too slow to answer")
        return self._finish(pending)

    async def accept_async(self, raw: bytes, meta: ChannelMeta) -> Receipt:
        """``accept`` for a channel on an event loop (SMTP, the SMS webhook): the loop
        never blocks and no thread is woken per message. A raw original too large for
        the inline tier is written (and fsync'd) on a worker thread first."""
        loop = asyncio.get_running_loop()
        if len(raw) <= self.blobs.inline_max_bytes:
            pending = self._prepare(raw, meta)
        else:
            pending = await loop.run_in_executor(None, self._prepare, raw, meta)
        pending.future = future = loop.create_future()
        self._submit(pending)
        timer = loop.call_later(self.wait_s, _expire, future)
        try:
            await future
        except TimeoutError:
            self._count(meta, "unavailable")
            raise IntakeUnavailable("database too slow to answer") from None
        finally:
            timer.cancel()
        return self._finish(pending)

    def _prepare(self, raw: bytes, meta: ChannelMeta) -> _Pending:
        """Digest (and, above the inline limit, the fsync'd blob file) before queueing."""
        inline = len(raw) <= self.blobs.inline_max_bytes
        try:
            digest = hashlib.sha256(raw).hexdigest() if inline else self.blobs.put(raw)
        except OSError as exc:
            self._count(meta, "unavailable")
            log.error("intake.blob_store_failed", channel=meta.channel.value, error=str(exc))
            error = StorageFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (
                IntakeUnavailable)
            raise error(f"blob store: {exc.strerror or exc}") from exc
        return _Pending(digest, len(raw), [*meta.source_keys, f"sha256:{digest}"], meta,
                        self.blobs.seal(raw, digest) if inline else None)

    def _submit(self, pending: _Pending) -> None:
        self._start_writer()
        self._queue.put(pending)

    def _finish(self, pending: _Pending) -> Receipt:
        if pending.error is not None:
            self._count(pending.meta, "unavailable")
            raise pending.error
        receipt = pending.receipt
        assert receipt is not None
        self._count(pending.meta, "duplicate" if receipt.duplicate else "accepted")
        return receipt

    @staticmethod
    def _count(meta: ChannelMeta, result: str) -> None:
        metrics.INTAKE.labels(channel=meta.channel.value, result=result).inc()

    # -- the group-commit writer ------------------------------------------------

    def _start_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_loop, name="intake-writer",
                                                daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit_batch(batch)
            except BaseException as exc:  # never leave a channel waiting forever
                for p in batch:
                    if p.receipt is None and p.error is None:
                        p.error = IntakeUnavailable(f"intake writer failed: {type(exc).__name__}")
            finally:
                self._settle(batch)

    @staticmethod
    def _settle(batch: list[_Pending]) -> None:
        """Wake every waiter of the batch: threads directly, coroutines once per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = (
            defaultdict(list))
        for p in batch:
            if p.future is None:
                p.done.set()
            else:
                by_loop[p.future.get_loop()].append(p.future)
        for loop, futures in by_loop.items():
            # RuntimeError: the loop closed meanwhile, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, futures)

    def _commit_batch(self, batch: list[_Pending]) -> None:
        try:
            self._commit(batch)
            return
        except IntegrityError:
            pass  # another process took one of these keys meanwhile: go one by one
        except SQLAlchemyError as exc:
            self._fail(batch, exc)
            return
        for p in batch:
            for attempt in range(3):
                try:
                    self._commit([p])
                    break
                except IntegrityError:
                    if attempt == 2:
                        self._fail([p], IntegrityError("", None, Exception("key race")))
                except SQLAlchemyError as exc:
                    self._fail([p], exc)
                    break

    @staticmethod
    def _fail(batch: list[_Pending], exc: Exception) -> None:
        log.error("intake.database_failed", error=type(exc).__name__, batch=len(batch))
        for p in batch:
            p.error = IntakeUnavailable("database unavailable")

    def _commit(self, batch: list[_Pending]) -> None:
        now = utcnow()
        receipts: list[Receipt] = []
        intake_rows: list[dict[str, object]] = []
        key_rows: list[dict[str, object]] = []
        outbox_rows: list[dict[str, object]] = []
        blob_rows: list[dict[str, object]] = []
        with self.store.core_transaction() as conn:
            taken = self.store.keys_taken(conn, [k for p in batch for k in p.keys])
            have = self.store.blobs_present(
                conn, [p.digest for p in batch if p.inline is not None])
            for p in batch:
                hit = next((taken[k] for k in p.keys if k in taken), None)
                if hit is not None:
                    receipts.append(Receipt(hit, duplicate=True, raw_sha256=p.digest))
                    continue
                intake_id = new_id()
                taken.update(dict.fromkeys(p.keys, intake_id))
                if p.inline is not None and p.digest not in have:
                    have.add(p.digest)
                    blob_rows.append({"sha256": p.digest, "size": p.size, "data": p.inline,
                                      "created_at": now})
                receipts.append(Receipt(intake_id, duplicate=False, raw_sha256=p.digest))
                intake_rows.append({
                    "id": intake_id, "received_at": p.meta.received_at,
                    "channel": p.meta.channel.value, "transport": p.meta.transport,
                    "raw_sha256": p.digest, "raw_size": p.size, "meta": p.meta.to_dict(),
                    "state": "accepted", "updated_at": now})
                key_rows += [{"key": k, "intake_id": intake_id} for k in dict.fromkeys(p.keys)]
                outbox_rows.append(stage_outbox_values(intake_id, self.pipeline_queue,
                                                       STAGES[0], now))
            self.store.insert_intake(conn, intake_rows, key_rows, outbox_rows, blob_rows)
        for p, receipt in zip(batch, receipts, strict=True):
            p.receipt = receipt
        # One line per group commit, not per message: it names every item, and costs
        # what one line costs (a line per message was a twentieth of SMTP's CPU).
        log.info("intake.committed", accepted=[r.intake_id for r in receipts if not r.duplicate],
                 duplicates=[r.intake_id for r in receipts if r.duplicate],
                 channels=sorted({p.meta.channel.value for p in batch}),
                 transports=sorted({p.meta.transport for p in batch}),
                 bytes=sum(p.size for p in batch))


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    """On the waiters' loop: the batch committed (or failed); ``_finish`` reads which
    from the pending entry, so the future itself carries nothing."""
    for future in futures:
        if not future.done():
            future.set_result(None)
