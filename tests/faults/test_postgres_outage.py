"""PostgreSQL stops for ~30 s while SMTP accepts and workers run."""

from __future__ import annotations

import time

import pytest
from fault_support import assert_exactly_once, deliver, mail, send_once, wait_all_terminal

from ingest.app import Runtime

OUTAGE_S = 30.0


@pytest.mark.slow
def test_postgres_outage_answers_4xx_and_loses_nothing(make_settings, redis_url,
                                                       postgres_server, product) -> None:
    """GIVEN SMTP, a worker and the relay on a private PostgreSQL WHEN the database
    stops for 30 s with items in flight THEN every SMTP attempt meanwhile gets a
    4xx (never 250), and afterwards every message (retried by its sender, as an
    MTA does) is published exactly once."""
    settings = make_settings(REDIS_URL=redis_url,
                             DATABASE_URL=postgres_server.create_database("faults_pg_outage"))
    rt = Runtime.build(settings)
    parts = product(settings)
    port = parts.smtp()
    parts.start("worker", "worker", "--threads", "2")
    parts.start("relay", "relay")

    warmup = deliver(port, [mail("pg-warmup", 0)])  # every part is up and working
    wait_all_terminal(rt.store, [warmup[0].intake_id], timeout=120)
    before = deliver(port, [mail("pg-a", n) for n in range(20)])
    assert all(d.replies == [250] for d in before)
    postgres_server.stop()  # items of the first batch are still in the pipeline
    stopped = time.monotonic()
    during: list[tuple[int, str]] = []
    outage_mail = [mail("pg-b", n) for n in range(5)]
    try:
        while time.monotonic() - stopped < OUTAGE_S:
            during.append(send_once(port, outage_mail[len(during) % 5], timeout=90))
            time.sleep(1)
    finally:
        postgres_server.start()
    codes = [code for code, _ in during]
    assert codes and all(400 <= c < 500 for c in codes), during

    retried = deliver(port, outage_mail)
    assert all(d.replies == [250] for d in retried)
    accepted = [d.intake_id for d in warmup + before + retried]
    assert_exactly_once(settings, rt.store, accepted, timeout=240)
    assert parts.alive() == ["relay", "smtp", "worker"]  # no part died of the outage
