"""Example downstream consumer of KCS intake items: copy this into your case system.

Items arrive on Dramatiq queues named by routing config (``kcs.case.<owner>``),
as messages to the actor ``kcs.item`` with one argument: a ``kcs.item/1``
JSON object (schema: ``ingest/schemas/kcs.item-1.json``). Delivery is at
least once, so a consumer must drop an item whose ``idempotency_key`` it has
already handled; this one remembers keys in a small SQLite file.

    REDIS_URL=redis://127.0.0.1:6379/0 python examples/consumer.py \\
        --queue kcs.case.kontaktcenter --queue kcs.case.aldrenamnden --out items.jsonl

Each new item is validated against the schema and appended as one JSON line
to ``--out``; replace ``handle_item`` with "create or update the case".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).resolve().parent.parent / "ingest" / "schemas" / "kcs.item-1.json"
ITEM_ACTOR = "kcs.item"


class Consumer:
    """Validates, de-duplicates and hands on items."""

    def __init__(self, out: Path, seen_db: Path) -> None:
        self.out = out
        self.validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
        self.db = sqlite3.connect(seen_db, check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY)")
        self.lock = threading.Lock()

    def __call__(self, item: dict[str, Any]) -> None:
        """The actor body: one item, at least once."""
        errors = list(self.validator.iter_errors(item))
        if errors:  # a contract break is a bug upstream: fail loudly, keep the message
            raise ValueError(f"item breaks kcs.item/1: {errors[0].message[:200]}")
        with self.lock:
            try:
                self.db.execute("INSERT INTO seen (key) VALUES (?)", (item["idempotency_key"],))
            except sqlite3.IntegrityError:
                return  # a copy of an item we already handled
            self.handle_item(item)

    def handle_item(self, item: dict[str, Any]) -> None:
        """Replace with your case system's 'create or update ärende'."""
        with self.out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def main() -> None:
    """Consume until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", action="append", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seen-db", type=Path, default=None)
    args = parser.parse_args()

    broker = RedisBroker(url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    dramatiq.set_broker(broker)
    consumer = Consumer(args.out, args.seen_db or args.out.with_suffix(".seen.sqlite"))
    dramatiq.actor(consumer, actor_name=ITEM_ACTOR, queue_name=args.queue[0], broker=broker,
                   max_retries=3)
    for queue in args.queue[1:]:
        broker.declare_queue(queue)  # same actor, more queues
    worker = dramatiq.Worker(broker, queues=set(args.queue), worker_threads=2)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    print(f"consuming {', '.join(args.queue)}", flush=True)
    stop.wait()
    worker.stop()


if __name__ == "__main__":
    main()
