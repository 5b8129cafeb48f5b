"""`kcs run` with only TWILIO_AUTH_TOKEN set: signed webhooks are accepted and the
acknowledgement SMS is written to var/outbox/sms/ instead of being sent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sms_support import AUTH_TOKEN, CITIZEN, inbound_params, post_form
from tests_support import free_port

REPO = Path(__file__).resolve().parents[3]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_kcs_run_without_an_account_writes_sms_to_the_outbox(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    smtp_port, web_port = free_port(), free_port()
    text = (config / "kcs.yaml").read_text()
    (config / "kcs.yaml").write_text(text.replace("  port: 2525", f"  port: {smtp_port}")
                                     .replace("  port: 8025", f"  port: {web_port}"))
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "DATABASE_URL", "TWILIO_ACCOUNT_SID"}}
    env.update(KCS_CONFIG_DIR=str(config), KCS_VAR_DIR=str(tmp_path / "var"),
               TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{base}/health", timeout=1).status == 200,
                   60, "web health")
        params = inbound_params("Hej! Soptunnan på Hornsgatan 5 har inte tömts. Mvh Åsa")
        assert post_form(f"{base}/sms/twilio", params, signature="forged")[0] == 403
        assert post_form(f"{base}/sms/twilio", params)[0] == 200
        outbox = tmp_path / "var" / "outbox" / "sms"
        wait_until(lambda: list(outbox.glob("*.json")), 60, "SMS acknowledgement file")
        (path,) = outbox.glob("*.json")
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["to"] == CITIZEN and "ärende KC-" in record["body"]
        assert record["purpose"] == "ack" and record["encoding"] == "GSM-7"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
