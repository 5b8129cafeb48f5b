"""Dovecot restarts while the IMAP puller is in IDLE: it reconnects, loses and doubles nothing."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from fault_support import assert_exactly_once, mail
from pipeline_support import running_pipeline
from tests_support import wait_until

from channels.email.imap import ImapAccount
from ingest.app import Runtime
from ingest.imap import make_puller


@pytest.mark.slow
def test_dovecot_restart_during_idle(dovecot, settings, trained_classifier) -> None:
    """GIVEN the puller idling on a real mailbox and the real pipeline running WHEN
    Dovecot restarts twice (mail arriving before, between and after) THEN each
    message becomes one item, published exactly once, and is flagged \\Seen."""
    folder = f"kcs-fault-{uuid.uuid4().hex[:8]}"
    with dovecot.client() as imap:
        imap.create_folder(folder)
    rt = Runtime.build(settings)
    account = ImapAccount(name="fault", host=dovecot.host, port=dovecot.port,
                          username=dovecot.user, password=dovecot.password, ssl=False,
                          folders=(folder,), poll_interval_s=120)
    puller = make_puller(rt, account)
    stop = threading.Event()
    thread = threading.Thread(target=puller.run, args=(stop,), daemon=True)

    def items() -> int:
        return sum(rt.store.count_by_state().values())

    with running_pipeline(rt, trained_classifier):
        for n in range(5):
            dovecot.append(folder, mail("imap-a", n))
        thread.start()
        wait_until(lambda: items() == 5, 30, "first five pulled")
        time.sleep(0.5)  # back in IDLE
        dovecot.restart()
        for n in range(5):
            dovecot.append(folder, mail("imap-b", n))
        wait_until(lambda: items() == 10, 60, "five more after the first restart")
        time.sleep(0.5)
        dovecot.restart()
        for n in range(5):
            dovecot.append(folder, mail("imap-c", n))
        wait_until(lambda: items() == 15, 60, "five more after the second restart")
        accepted = [row.id for row in rt.store.list_intake(
            ("accepted", "processing", "done", "review", "rejected", "dead"))]
        assert len(accepted) == 15
        assert_exactly_once(settings, rt.store, accepted, timeout=120)
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    with dovecot.client() as imap:
        imap.select_folder(folder)
        assert len(imap.search(["SEEN"])) == 15
    assert items() == 15
