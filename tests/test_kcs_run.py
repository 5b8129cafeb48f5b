"""`kcs run` as a user runs it: mail in with smtplib, an item out to the example consumer."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
from tests_support import free_port

from ingest.contract import validator

REPO = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def kcs_run(tmp_path: Path):
    """`kcs run` on embedded defaults, with only the ports moved off the fixed ones."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    smtp_port, web_port = free_port(), free_port()
    text = (config / "kcs.yaml").read_text()
    text = text.replace("  port: 2525", f"  port: {smtp_port}").replace(
        "  port: 8025", f"  port: {web_port}")
    (config / "kcs.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(KCS_CONFIG_DIR=str(config), KCS_VAR_DIR=str(tmp_path / "var"))
    proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{web_port}/health", timeout=1).status == 200, 60, "web health")
        yield {"smtp": smtp_port, "web": web_port, "var": tmp_path / "var", "proc": proc}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def test_mail_sent_to_kcs_run_reaches_the_example_consumer(kcs_run, tmp_path: Path) -> None:
    var = kcs_run["var"]
    redis_url = (var / "run" / "redis.url").read_text().strip()
    assert redis.Redis.from_url(redis_url).config_get("appendonly")["appendonly"] == "yes"
    out = tmp_path / "items.jsonl"
    consumer = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "consumer.py"), "--queue",
         "kcs.case.kontaktcenter", "--out", str(out)],
        env={**os.environ, "REDIS_URL": redis_url}, stdout=subprocess.DEVNULL)
    try:
        msg = email.message.EmailMessage()
        msg["From"] = "Bertil Berg <bertil@example.se>"
        msg["To"] = "kontaktcenter@stockholm.se"
        msg["Subject"] = "Trasig gatlykta på Sveavägen"
        msg.set_content("Hej, gatlyktan utanför Sveavägen 12 har varit släckt i en vecka.")
        with smtplib.SMTP("127.0.0.1", kcs_run["smtp"]) as client:
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
    wait_until(lambda: list((var / "outbox").glob("*.eml")), 30, "acknowledgement")
    ack = email.message_from_bytes(next((var / "outbox").glob("*.eml")).read_bytes(),
                                   policy=email.policy.default)
    assert ack["To"] == "bertil@example.se"
    assert item["arende"]["id"] in ack["Subject"]
    with urllib.request.urlopen(f"http://127.0.0.1:{kcs_run['web']}/metrics") as resp:
        metrics = resp.read().decode()
    assert 'kcs_items{channel="email",state="done"} 1.0' in metrics
