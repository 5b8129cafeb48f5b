"""Helpers for tests that run the real pipeline on a real Redis."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import redis

from ingest.app import Runtime
from ingest.broker import make_broker
from ingest.config import Settings
from ingest.model import Channel, ChannelMeta
from ingest.pretriage import PreTriage
from ingest.relay import Relay
from ingest.stages import TERMINAL_STATES, pipeline_queues


@contextmanager
def running_pipeline(rt: Runtime, classifier: Any = None, *, stall_s: float = 600.0,
                     threads: int = 2) -> Iterator[Any]:
    """A Dramatiq worker (threads in this process) and the outbox relay, until exit.

    The relay looks at new items as ``kcs relay`` does (the akut lane, when the
    configuration has it on)."""
    rt._broker = make_broker(rt.settings)  # a fresh broker: actors are declared anew
    pipeline = rt.pipeline(classifier)
    worker = dramatiq.Worker(rt.broker, queues=set(pipeline_queues(rt.settings.kcs.pipeline.queue)),
                             worker_threads=threads, worker_timeout=100)
    worker.start()
    stop = threading.Event()
    relay = Relay(rt.store, rt.broker, queue=rt.settings.kcs.pipeline.queue, interval_s=0.05,
                  stall_s=stall_s, triage=PreTriage.from_settings(rt.settings, rt.store, rt.blobs))
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield pipeline
    finally:
        stop.set()
        thread.join(5)
        worker.stop()


def wait_for_state(rt: Runtime, intake_id: str, states: frozenset[str] = TERMINAL_STATES,
                   timeout: float = 60.0) -> str:
    """Poll the store until the item reaches one of ``states``; fail with what it is."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        row = rt.store.get_intake(intake_id)
        state = row.state if row else None
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"item {intake_id} still {state!r} after {timeout}s")


def downstream(redis_url: str, queue: str) -> list[dict[str, Any]]:
    """Every item message waiting on a downstream Dramatiq queue (nobody consumes it)."""
    client = redis.Redis.from_url(redis_url)
    messages = client.hvals(f"dramatiq:{queue}.msgs")
    decoded = [json.loads(m) for m in messages]
    return [m["args"][0] for m in decoded if m["actor_name"] == "kcs.item"]


def downstream_everywhere(settings: Settings) -> list[dict[str, Any]]:
    """Every item waiting on any queue the routing config can send to."""
    from ingest.routing import all_queues

    queues = all_queues(settings)
    url = settings.effective_redis_url()
    return [item for queue in sorted(queues) for item in downstream(url, queue)]


def mail(n: int = 1, *, extra_headers: str = "", sender: str = "anna@example.se",
         body: str = "Hej! Jag undrar när hemtjänsten kommer till min mamma i morgon.") -> bytes:
    """A plain citizen's mail, number ``n`` (its own Message-ID)."""
    return (f"From: Anna Andersson <{sender}>\r\nTo: kontaktcenter@stockholm.se\r\n"
            f"Subject: =?utf-8?q?Fr=C3=A5ga_{n}?=\r\nMessage-ID: <m{n}@example.se>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n{extra_headers}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def email_meta(envelope_from: str | None = "anna@example.se") -> ChannelMeta:
    """Channel metadata of a mail that came in over SMTP."""
    return ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from=envelope_from,
                       envelope_to=("kontaktcenter@stockholm.se",))


class EnqueueLog(dramatiq.Middleware):
    """The (actor, queue, first argument) of every message a broker accepted, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[Any],
                      delay: int | None) -> None:
        self.sent.append((message.actor_name, message.queue_name, (message.args or [None])[0]))


def enqueue_log(broker: dramatiq.Broker) -> EnqueueLog:
    """Start recording what ``broker`` accepts from now on."""
    log = EnqueueLog()
    broker.add_middleware(log)
    return log


def with_pipeline(settings: Settings, **changes: object) -> Settings:
    """``settings`` with some ``pipeline`` keys changed."""
    cfg = settings.kcs.pipeline.model_copy(update=changes)
    return dataclasses.replace(settings, kcs=settings.kcs.model_copy(update={"pipeline": cfg}))


class Exploding:
    """A classifier that always fails, to drive an item into the dead letters."""

    def classify(self, subject: str, text: str, channel: str) -> dict:
        raise RuntimeError("model file unreadable")
