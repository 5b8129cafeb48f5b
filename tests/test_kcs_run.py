"""`kcs run` as a user runs it: mail in with smtplib, an item out to the example consumer."""

from __future__ import annotations

import email
import email.policy
import json
import os
import smtplib
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis
from tests_support import kcs_run, wait_until

from ingest.config import load_settings
from ingest.contract import validator

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def kcs(tmp_path: Path):
    with kcs_run(tmp_path) as run:
        yield run


def test_mail_sent_to_kcs_run_reaches_the_example_consumer(kcs, tmp_path: Path) -> None:
    var = kcs.var
    redis_url = (var / "run" / "redis.url").read_text().strip()
    assert redis.Redis.from_url(redis_url).config_get("appendonly")["appendonly"] == "yes"
    out = tmp_path / "items.jsonl"
    routing = load_settings({"KCS_CONFIG_DIR": str(REPO / "config")}).routing
    queues = sorted({routing.default.queue, *(r.queue for r in routing.routes)})
    consumer = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "consumer.py"),
         *(arg for q in queues for arg in ("--queue", q)), "--out", str(out)],
        env={**os.environ, "REDIS_URL": redis_url}, stdout=subprocess.DEVNULL)
    try:
        msg = email.message.EmailMessage()
        msg["From"] = "Bertil Berg <bertil@example.se>"
        msg["To"] = "kontaktcenter@stockholm.se"
        msg["Subject"] = "Trasig gatlykta på Sveavägen"
        msg.set_content("Hej, gatlyktan utanför Sveavägen 12 har varit släckt i en vecka.")
        with smtplib.SMTP("127.0.0.1", kcs.smtp_port) as client:
            refused = client.send_message(msg)
        assert refused == {}
        wait_until(lambda: out.exists() and out.read_text().strip(), 60, "consumed item")
        items = [json.loads(line) for line in out.read_text().splitlines()]
    finally:
        consumer.terminate()
        consumer.wait(10)
    assert len(items) == 1
    item = items[0]
    assert list(validator().iter_errors(item)) == []
    assert item["subject"] == "Trasig gatlykta på Sveavägen"
    assert item["sender"]["email"] == "bertil@example.se"
    assert item["channel"]["transport"] == "smtp"
    # The trained classifier decided, and routing followed it.
    assert item["classification"]["huvudkategori"] == "trafik"
    assert item["routing"]["queue"] == "kcs.case.trafiknamnden"
    wait_until(lambda: list((var / "outbox").glob("*.eml")), 30, "acknowledgement")
    ack = email.message_from_bytes(next((var / "outbox").glob("*.eml")).read_bytes(),
                                   policy=email.policy.default)
    assert ack["To"] == "bertil@example.se"
    assert item["arende"]["id"] in ack["Subject"]
    with urllib.request.urlopen(f"http://127.0.0.1:{kcs.web_port}/metrics") as resp:
        metrics = resp.read().decode()
    assert 'kcs_items{channel="email",state="done"} 1.0' in metrics
