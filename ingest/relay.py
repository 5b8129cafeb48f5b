"""The outbox relay: moves committed outbox rows onto the broker.

Stages send their own outbox rows right after commit (low latency); the
relay is the safety net that picks up every row nobody sent, for example
because the broker was down when intake or a stage committed. A row is
marked sent only after the broker took it, so a crash between the two sends
it again with the same message id (at-least-once, recognisable copies).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dramatiq

from ingest import metrics
from ingest.broker import outbox_message, send_outbox_message
from ingest.db import Outbox
from ingest.logs import get_logger
from ingest.model import as_utc, utcnow
from ingest.pretriage import PreTriage
from ingest.stages import AKUT_ACTOR, START_ACTOR, akut_queue, next_stage
from ingest.store import Store

log = get_logger("relay")


def enqueue_row(store: Store, broker: dramatiq.Broker, row: Outbox, *,
                lane: tuple[str, str] | None = None) -> bool:
    """Hand one outbox row to the broker; False (and recorded on the row) if it refused.

    ``lane`` (queue, actor) sends the row's arguments elsewhere: the akut lane
    instead of the first stage."""
    queue, actor = lane or (row.queue, row.actor)
    message = outbox_message(row.id, queue, actor, list(row.payload.get("args", [])))
    try:
        stored = send_outbox_message(broker, message)
    except Exception as exc:  # any broker failure: keep the row, try later
        metrics.RELAYED.labels(result="failed").inc()
        store.mark_outbox_failed(row.id, f"{type(exc).__name__}: {exc}")
        return False
    metrics.RELAYED.labels(result="sent" if stored else "already_queued").inc()
    return True


class SentMarker:
    """Marks outbox rows sent in batches, off the stages' hot path.

    A stage sends its next-stage message right after its commit; recording
    that costs one more write transaction per stage, so rows are marked a
    fraction of a second later, many at once. Should the process die first,
    the relay sends those rows again (same message ids; stages are idempotent).
    """

    def __init__(self, store: Store, interval_s: float = 0.2) -> None:
        self.store = store
        self.interval_s = interval_s
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, outbox_id: int) -> None:
        """Remember a row the broker took."""
        with self._lock:
            self._ids.append(outbox_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="outbox-marker",
                                                daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Mark everything remembered so far (kept for the next try on failure)."""
        with self._lock:
            ids, self._ids = self._ids, []
        if not ids:
            return
        try:
            self.store.mark_outbox_sent(*ids)
        except Exception as exc:
            log.warning("relay.mark_sent_failed", rows=len(ids), error=type(exc).__name__)
            with self._lock:
                self._ids[:0] = ids

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval_s)
            self.flush()


class Relay:
    """Polls the outbox and sends what is pending, oldest first.

    It also sweeps for stalled items: an unfinished item untouched for
    ``stall_s`` with nothing in the outbox lost its broker message (a worker
    killed mid-stage, a Redis that restarted without its data). The sweep
    queues its next stage again; stages are idempotent, so a copy is harmless.

    With a ``triage`` (``ingest.pretriage``) it looks at each new item before
    sending it, and sends those the akut rules flag to the akut lane.
    """

    def __init__(self, store: Store, broker: dramatiq.Broker, *, queue: str = "kcs.pipeline",
                 interval_s: float = 0.5, grace_s: float = 2.0, stall_s: float = 600.0,
                 batch: int = 200, triage: PreTriage | None = None) -> None:
        self.store = store
        self.broker = broker
        self.queue = queue
        self.triage = triage
        self.interval_s = interval_s
        self.grace = timedelta(seconds=grace_s)
        self.stall = timedelta(seconds=stall_s)
        self.batch = batch
        self._last_sweep = 0.0

    def sweep(self) -> int:
        """Re-queue the next stage of stalled items; returns how many."""
        stalled = self.store.stalled(utcnow() - self.stall, self.batch)
        for intake_id, done in stalled:
            stage = next_stage(done)
            if stage is None:
                continue
            with self.store.transaction() as session:
                self.store.add_stage(session, intake_id, self.queue, stage)
                self.store.touch(session, intake_id)
            log.warning("relay.stalled_item_requeued", intake_id=intake_id, stage=stage)
        return len(stalled)

    def run_once(self, *, include_fresh: bool = False) -> int:
        """Send pending rows; returns how many went out. Stops at the first broker failure.

        Intake never talks to the broker, so its rows go out at once; so do
        the sweep's. Rows a stage wrote are left to that stage for a grace
        period (it sends right after its commit) unless ``include_fresh``.
        """
        cutoff = utcnow() - self.grace
        rows = self.store.pending_outbox(self.batch)
        akut = self._akut([row.intake_id for row in rows if row.actor == START_ACTOR])
        lane = (akut_queue(self.queue), AKUT_ACTOR)
        on_lane = {row.id for row in rows if row.actor == START_ACTOR and row.intake_id in akut}
        done: list[int] = []
        # The akut lane's rows first; all sent rows are marked in one commit at the end
        # (a crash before it re-sends them with the same message ids: stages skip copies).
        for row in sorted(rows, key=lambda r: r.id not in on_lane):
            fresh = as_utc(row.created_at) > cutoff
            if fresh and row.actor != START_ACTOR and not include_fresh:
                continue
            if not enqueue_row(self.store, self.broker, row,
                               lane=lane if row.id in on_lane else None):
                log.warning("relay.broker_unavailable", outbox_id=row.id)
                break
            done.append(row.id)
        if done:
            self.store.mark_outbox_sent(*done)
        return len(done)

    def _akut(self, intake_ids: list[str]) -> set[str]:
        """The new items for the akut lane; none if the look itself fails (the items
        then take the ordinary way: a broken pre-triage must not hold up intake)."""
        if self.triage is None or not intake_ids:
            return set()
        try:
            return self.triage.akut_items(intake_ids)
        except Exception as exc:
            log.warning("relay.pretriage_failed", error=type(exc).__name__)
            return set()

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; database or broker outages only slow it down."""
        backoff = self.interval_s
        while not stop.is_set():
            try:
                if time.monotonic() - self._last_sweep > min(60.0, self.stall.total_seconds()):
                    self._last_sweep = time.monotonic()
                    self.sweep()
                sent = self.run_once()
                backoff = self.interval_s
            except Exception as exc:  # database down: wait and try again
                log.warning("relay.error", error=f"{type(exc).__name__}: {exc}")
                backoff = min(backoff * 2, 30.0)
                sent = 0
            if not sent:
                stop.wait(backoff)
            else:
                time.sleep(0)  # more may be waiting; go again at once
