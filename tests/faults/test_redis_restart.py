"""Redis (the broker) restarts mid-run: nothing accepted is lost or published twice."""

from __future__ import annotations

import time

import pytest
from fault_support import assert_exactly_once, deliver, mail

from ingest.app import Runtime


@pytest.mark.slow
def test_redis_restart_mid_run_loses_and_doubles_nothing(settings, redis_server, product) -> None:
    """GIVEN SMTP, two worker threads and the relay as processes WHEN Redis stops
    for 5 s while mail arrives and items are in flight, then starts again (its AOF
    kept what it had) THEN every message answered 250 is published exactly once."""
    rt = Runtime.build(settings)
    parts = product(settings)
    port = parts.smtp()
    parts.start("worker", "worker", "--threads", "2")
    parts.start("relay", "relay")

    before = deliver(port, [mail("redis-a", n) for n in range(15)])
    redis_server.stop()
    during = deliver(port, [mail("redis-b", n) for n in range(10)])
    time.sleep(3)
    redis_server.start()
    after = deliver(port, [mail("redis-c", n) for n in range(10)])

    # Intake never needs the broker: mail is taken while Redis is down.
    assert all(d.replies == [250] for d in before + during + after)
    accepted = [d.intake_id for d in before + during + after]
    assert len(set(accepted)) == 35
    assert_exactly_once(settings, rt.store, accepted, timeout=180)
