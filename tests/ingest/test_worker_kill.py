"""Killing a worker process mid-stage loses nothing and publishes once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pipeline_support import downstream_everywhere, wait_for_state

from ingest.app import Runtime
from ingest.model import Channel, ChannelMeta
from ingest.relay import Relay

REPO = Path(__file__).resolve().parents[2]
MAIL = (b"From: Cecilia <cecilia@example.se>\r\nTo: kontaktcenter@stockholm.se\r\n"
        b"Subject: Bygglov\r\nMessage-ID: <kill@example.se>\r\n\r\nNar far jag besked?\r\n")


def start_worker(settings, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KCS_VAR_DIR": str(settings.var_dir),
           "KCS_CONFIG_DIR": str(settings.config_dir),
           "REDIS_URL": settings.effective_redis_url(), **extra_env}
    return subprocess.Popen([sys.executable, "-m", "ingest.cli", "worker", "--threads", "1"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_kill_9_mid_stage_then_restart(settings) -> None:
    rt = Runtime.build(settings)
    stop = threading.Event()
    relay = Relay(rt.store, rt.broker, queue=settings.kcs.pipeline.queue, interval_s=0.05,
                  stall_s=3)
    threading.Thread(target=relay.run, args=(stop,), daemon=True).start()
    worker = start_worker(settings, KCS_FAULT_DELAY="classify:120")
    try:
        receipt = rt.intake.accept(MAIL, ChannelMeta(channel=Channel.EMAIL, transport="smtp",
                                                     envelope_from="cecilia@example.se"))
        deadline = time.monotonic() + 60
        while rt.store.get_intake(receipt.intake_id).stage != "normalise":
            assert time.monotonic() < deadline, "normalise never finished"
            time.sleep(0.1)
        time.sleep(1.0)  # classify has started and is stalled inside the stage
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert rt.store.get_intake(receipt.intake_id).state == "processing"

        worker = start_worker(settings)
        assert wait_for_state(rt, receipt.intake_id, timeout=90) == "done"
        time.sleep(2)  # let any late redelivery of the killed message run too
    finally:
        stop.set()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
    items = downstream_everywhere(settings)
    assert [i["item_id"] for i in items] == [receipt.intake_id]  # exactly once, somewhere
