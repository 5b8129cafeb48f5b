"""A sender that drops the connection in the middle of DATA leaves no trace."""

from __future__ import annotations

import socket

from fault_support import assert_exactly_once, deliver, mail
from pipeline_support import downstream_everywhere, running_pipeline
from tests_support import free_port

from channels.email.smtp import IntakeHandler, make_controller
from ingest.app import Runtime


def _reply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n") or data.splitlines()[-1][3:4] == b"-":
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_connection_dropped_mid_data_stores_and_publishes_nothing(
        settings, trained_classifier) -> None:
    """GIVEN a client in the middle of DATA WHEN the connection closes before the
    final dot THEN no intake row, no blob, no outbox row and nothing downstream;
    the next complete message from the same sender goes through once."""
    rt = Runtime.build(settings)
    handler = IntakeHandler(rt.intake, rt.settings.kcs.smtp)
    port = free_port()
    controller = make_controller(handler, rt.settings.kcs.smtp, port=port)
    controller.start()
    try:
        with running_pipeline(rt, trained_classifier):
            raw = mail("drop", 1, padding=300_000)  # big: would go to the blob files
            for cut in (10, len(raw) // 2, len(raw) - 3):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    _reply(sock)
                    for line in (b"EHLO mx.example.se", b"MAIL FROM:<a@example.se>",
                                 b"RCPT TO:<kontaktcenter@stockholm.se>", b"DATA"):
                        sock.sendall(line + b"\r\n")
                        assert _reply(sock)[:1] in (b"2", b"3")
                    sock.sendall(raw[:cut])
                # the socket is closed here without "\r\n.\r\n"
            assert rt.store.count_by_state() == {}
            assert not settings.blob_dir.exists() or not any(settings.blob_dir.rglob("*"))
            assert rt.store.pending_outbox(10) == []

            [ok] = deliver(port, [raw])
            assert ok.replies == [250]
            assert_exactly_once(settings, rt.store, [ok.intake_id])
    finally:
        controller.stop()
        handler.close()
    assert len(downstream_everywhere(settings)) == 1
