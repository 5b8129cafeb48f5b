"""Sending an outbox row to Redis again leaves one copy there.

Redis can store a message and lose the connection before its reply reaches us
(it does so when it is stopped: the command is in its append-only file, the
reply is not sent). The outbox keeps the row and sends it again; a case system
must still get the item once.
"""

from __future__ import annotations

import socket
import threading
from contextlib import closing

from pipeline_support import downstream, email_meta, mail, running_pipeline, wait_for_state
from tests_support import free_port

from ingest.app import Runtime
from ingest.broker import make_broker
from ingest.relay import Relay, enqueue_row

QUEUE = "kcs.triage"  # the placeholder classifier is always unsure


class ReplyLosingProxy:
    """A TCP proxy to Redis that, while ``losing`` is set, hands every command on and
    closes the client's connection once Redis has answered, without the answer."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.losing = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def _replies(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                if self.losing.is_set():
                    client.shutdown(socket.SHUT_RDWR)  # Redis did it; we never hear so
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            server.close()

    def close(self) -> None:
        """Stop taking connections."""
        self.listener.close()


def test_a_send_whose_reply_was_lost_and_its_resend_leave_one_message(
        make_settings, redis_url, redis_server) -> None:
    with closing(ReplyLosingProxy(redis_server.port)) as proxy:
        settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
        rt = Runtime.build(settings)
        broker = make_broker(settings)
        receipts = [rt.intake.accept(mail(n), email_meta()) for n in (1, 2)]
        first, second = rt.store.pending_outbox(10)
        assert enqueue_row(rt.store, broker, first)  # the connection is up and in use
        rt.store.mark_outbox_sent(first.id)

        proxy.losing.set()
        assert enqueue_row(rt.store, broker, second) is False  # as far as we can tell
        proxy.losing.clear()
        client = redis_server.client()
        stored = client.hvals("dramatiq:kcs.pipeline.msgs")
        assert len(stored) == 2  # but Redis has it

        assert Relay(rt.store, broker).run_once() == 1  # the outbox sends the row again
        assert rt.store.pending_outbox(10) == []
        assert sorted(client.hvals("dramatiq:kcs.pipeline.msgs")) == sorted(stored)
        assert client.llen("dramatiq:kcs.pipeline") == 2

        rt._broker = broker
        with running_pipeline(rt):
            for receipt in receipts:
                assert wait_for_state(rt, receipt.intake_id) == "done"
    keys = [i["idempotency_key"] for i in downstream(redis_url, QUEUE)]
    assert sorted(keys) == sorted(f"kcs:{r.intake_id}" for r in receipts)
    left = {key.decode(): client.hlen(key) for key in client.keys("dramatiq:kcs.pipeline*.msgs")}
    assert sum(left.values()) == 0, left  # every stage's message was acked and dropped


def test_the_same_row_sent_twice_while_queued_is_one_message(settings, redis_server) -> None:
    rt = Runtime.build(settings)
    rt.intake.accept(mail(), email_meta())
    [row] = rt.store.pending_outbox(10)
    assert enqueue_row(rt.store, rt.broker, row)
    assert enqueue_row(rt.store, rt.broker, row)  # a relay that crashed before marking it
    client = redis_server.client()
    assert client.hlen("dramatiq:kcs.pipeline.msgs") == 1
    assert client.llen("dramatiq:kcs.pipeline") == 1
