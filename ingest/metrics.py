"""Prometheus metrics: one place that names them all.

Counters here are per process. The web app's ``/metrics`` also reports the
cross-process truth from the database (items per state, outbox backlog), so
an operator never has to add up processes to see whether mail is stuck.
Labels carry channel, stage and result, never anything about a person.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INTAKE = Counter("kcs_intake_total", "Messages offered to durable intake",
                 ["channel", "result"])
SMTP_REPLIES = Counter("kcs_smtp_replies_total", "SMTP replies to DATA by status code",
                       ["code"])
ACCEPT_SECONDS = Histogram("kcs_intake_accept_seconds", "Time to durably accept a message",
                           ["channel"], buckets=(.001, .0025, .005, .01, .025, .05, .1, .25,
                                                 .5, 1, 2.5))
STAGE_SECONDS = Histogram("kcs_stage_seconds", "Pipeline stage duration", ["stage"])
STAGE_RESULTS = Counter("kcs_stage_total", "Pipeline stage outcomes", ["stage", "result"])
RELAYED = Counter("kcs_outbox_relayed_total", "Outbox rows moved to the broker", ["result"])
PRETRIAGE = Counter("kcs_pretriage_total",
                    "New e-mails and SMS by the lane the akut pre-triage chose", ["lane"])
PUBLISHED = Counter("kcs_published_total", "Items published downstream", ["queue"])
VIRUS_SCANS = Counter("kcs_virus_scans_total",
                      "clamd scan passes (raw original, then extracted objects) by verdict",
                      ["verdict"])


class StoreCollector(Collector):
    """Gauges read from the database at scrape time (true across processes)."""

    def __init__(self, store: object) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Items per (channel, state) and the outbox backlog."""
        items = GaugeMetricFamily("kcs_items", "Items by channel and state",
                                  labels=["channel", "state"])
        backlog = GaugeMetricFamily("kcs_outbox_backlog", "Outbox rows waiting for the broker")
        if self.store is None:
            return
        try:
            for (channel, state), n in self.store.count_by_state().items():  # type: ignore[attr-defined]
                items.add_metric([channel, state], n)
            backlog.add_metric([], self.store.outbox_backlog())  # type: ignore[attr-defined]
        except Exception:  # the scrape must not fail because the DB is down
            return
        yield items
        yield backlog
