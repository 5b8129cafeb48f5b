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
from ingest.broker import outbox_message
from ingest.db import Outbox
from ingest.intake import START_ACTOR
from ingest.logs import get_logger
from ingest.model import as_utc, utcnow
from ingest.store import Store

log = get_logger("relay")


def send_row(store: Store, broker: dramatiq.Broker, row: Outbox) -> bool:
    """Enqueue one outbox row and mark it sent; False (and recorded) if the broker refused."""
    message = outbox_message(row.id, row.queue, row.actor, list(row.payload.get("args", [])))
    try:
        broker.enqueue(message)
    except Exception as exc:  # any broker failure: keep the row, try later
        metrics.RELAYED.labels(result="failed").inc()
        store.mark_outbox_failed(row.id, f"{type(exc).__name__}: {exc}")
        return False
    store.mark_outbox_sent(row.id)
    metrics.RELAYED.labels(result="sent").inc()
    return True


class Relay:
    """Polls the outbox and sends what is pending, oldest first."""

    def __init__(self, store: Store, broker: dramatiq.Broker, *, interval_s: float = 0.5,
                 grace_s: float = 2.0, batch: int = 200) -> None:
        self.store = store
        self.broker = broker
        self.interval_s = interval_s
        self.grace = timedelta(seconds=grace_s)
        self.batch = batch

    def run_once(self, *, include_fresh: bool = False) -> int:
        """Send pending rows; returns how many went out. Stops at the first broker failure.

        Intake never talks to the broker, so its rows go out at once. Rows a
        stage wrote are left to that stage for a grace period (it sends right
        after its commit) unless ``include_fresh``.
        """
        sent = 0
        cutoff = utcnow() - self.grace
        for row in self.store.pending_outbox(self.batch):
            fresh = as_utc(row.created_at) > cutoff
            if fresh and row.actor != START_ACTOR and not include_fresh:
                continue
            if not send_row(self.store, self.broker, row):
                log.warning("relay.broker_unavailable", outbox_id=row.id)
                break
            sent += 1
        return sent

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; database or broker outages only slow it down."""
        backoff = self.interval_s
        while not stop.is_set():
            try:
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
