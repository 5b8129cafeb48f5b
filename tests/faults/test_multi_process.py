"""The multi-machine shape on one machine: separate processes sharing one database and broker.

Each part is its own OS process started with `kcs`, exactly as it would run on
its own machine (see docs/deployment.md); only the addresses are loopback.
"""

from __future__ import annotations

import time

import pytest
import redis
from fault_support import assert_exactly_once, deliver, mail, wait_all_terminal

from ingest.app import Runtime
from ingest.config import Settings


@pytest.mark.slow
def test_two_smtp_two_workers_one_postgres_one_redis(make_settings, redis_url, postgres_server,
                                                     product) -> None:
    """GIVEN two SMTP front-ends and two worker processes on one PostgreSQL and one
    Redis WHEN mail is spread over both front-ends and one worker is killed -9
    mid-run THEN every accepted message is published exactly once."""
    settings = make_settings(REDIS_URL=redis_url,
                             DATABASE_URL=postgres_server.create_database("faults_multi"))
    rt = Runtime.build(settings)
    parts = product(settings)
    ports = [parts.smtp("smtp1"), parts.smtp("smtp2")]
    parts.start("worker1", "worker", "--threads", "2")
    parts.start("worker2", "worker", "--threads", "2")
    parts.start("relay", "relay")
    first = deliver(ports, [mail("multi-a", n) for n in range(30)])
    wait_all_terminal(rt.store, [first[0].intake_id], timeout=120)
    parts.kill9("worker1")
    second = deliver(ports, [mail("multi-b", n) for n in range(30)])
    accepted = [d.intake_id for d in first + second]
    assert all(d.replies == [250] for d in first + second)
    assert_exactly_once(settings, rt.store, accepted, timeout=180)
    received_by = {row.meta.get("peer") for row in rt.store.list_intake(("done",), limit=100)}
    assert received_by == {"127.0.0.1"}
    assert parts.alive() == ["relay", "smtp1", "smtp2", "worker2"]


def rabbit_downstream(rabbitmq, settings: Settings) -> list[dict]:
    """Every kcs.item waiting on a downstream queue in RabbitMQ (drained)."""
    queues = {r.queue for r in settings.routing.routes} | {settings.routing.default.queue}
    items = []
    for queue in sorted(queues):
        try:
            messages = rabbitmq.drain(queue)
        except Exception:  # a queue nobody routed to was never declared
            continue
        items += [m["args"][0] for m in messages if m["actor_name"] == "kcs.item"]
    return items


@pytest.mark.slow
def test_rabbitmq_selected_by_broker_url(make_settings, redis_url, rabbitmq, product) -> None:
    """GIVEN BROKER_URL=amqp://… WHEN mail arrives over SMTP THEN Dramatiq runs on
    RabbitMQ (Redis holds no Dramatiq queue) and each item is published exactly once
    (RabbitMQ does not merge copies by message id, so a copy would show)."""
    settings = make_settings(REDIS_URL=redis_url, BROKER_URL=rabbitmq.url)
    rt = Runtime.build(settings)
    parts = product(settings)
    port = parts.smtp()
    parts.start("worker1", "worker", "--threads", "2")
    parts.start("worker2", "worker", "--threads", "2")
    parts.start("relay", "relay")
    sent = deliver(port, [mail("rabbit", n) for n in range(30)])
    accepted = [d.intake_id for d in sent]
    states = wait_all_terminal(rt.store, accepted, timeout=180)
    assert set(states.values()) == {"done"}
    time.sleep(2)
    published = [item["item_id"] for item in rabbit_downstream(rabbitmq, settings)]
    assert sorted(published) == sorted(accepted)
    assert not [k for k in redis.Redis.from_url(redis_url).keys("dramatiq:*")]
