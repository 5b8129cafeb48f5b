"""Two mail systems: ours, and a citizen's with a naive vacation responder, over real SMTP.

The responder honours none of our headers (Auto-Submitted, X-Auto-Response-
Suppress, the null sender) and answers every mail, threading its reply to our
Message-ID. We must send exactly one acknowledgement, to the citizen's first
mail, and nothing after it: zero extra messages.
"""

from __future__ import annotations

import dataclasses
import smtplib
import time
from email.message import EmailMessage

from ack_smtp import RecordingHandler, naive_autoresponder, start_server
from pipeline_support import running_pipeline, wait_for_state
from tests_support import free_port, wait_until

from channels.email.smtp import IntakeHandler, make_controller
from ingest.app import Runtime
from ingest.config import RelayConfig
from ingest.db import Intake


def test_ping_pong_with_a_naive_autoresponder_stops_at_zero_extra_messages(settings) -> None:
    # System A: KCS intake with its SMTP receiver; its relay is system B.
    their_handler = RecordingHandler()
    ours_port = free_port()
    replies: list[EmailMessage] = []
    their_handler.on_message = naive_autoresponder(ours_port, replies)
    theirs = start_server(their_handler)
    outbound = settings.kcs.outbound.model_copy(update={"relay": RelayConfig(
        host="127.0.0.1", port=theirs.port, starttls=False)})
    ours_settings = dataclasses.replace(settings, kcs=settings.kcs.model_copy(
        update={"outbound": outbound}))
    rt = Runtime.build(ours_settings)
    handler = IntakeHandler(rt.intake, ours_settings.kcs.smtp)
    ours = make_controller(handler, ours_settings.kcs.smtp, port=ours_port)
    ours.start()
    try:
        with running_pipeline(rt):
            first = EmailMessage()
            first["From"] = "Anna Andersson <anna@example.org>"
            first["To"] = "kontaktcenter@stockholm.se"
            first["Subject"] = "Sophämtningen har missat oss"
            first["Message-ID"] = "<first@example.org>"
            first.set_content("Hej! Soporna på Ringvägen 5 har inte hämtats på två veckor.")
            with smtplib.SMTP("127.0.0.1", ours_port) as client:
                client.send_message(first, from_addr="anna@example.org")
            # Our acknowledgement reaches B, B's responder answers it, A takes the answer in.
            wait_until(lambda: len(replies) >= 1, 60, "the autoresponder's reply")
            wait_until(lambda: _done_count(rt) >= 2, 60, "both items processed")
            for intake_id in _ids(rt):
                wait_for_state(rt, intake_id)
            time.sleep(1.0)  # anything we were going to send would be on its way by now
    finally:
        ours.stop()
        handler.close()
        theirs.stop()
    assert len(their_handler.received) == 1, "we answered the autoresponder"
    assert len(replies) == 1
    ack = their_handler.received[0].message
    assert ack["Auto-Submitted"] == "auto-replied" and ack["In-Reply-To"] == "<first@example.org>"
    items = {i: rt.store.get_item(i) for i in _ids(rt)}
    first_item = next(i for i in items.values() if i.acknowledgement.get("state") == "sent")
    reply_item = next(i for i in items.values() if i is not first_item)
    assert reply_item.arende_id == first_item.arende_id       # linked by our Message-ID
    assert reply_item.acknowledgement["state"] == "suppressed"
    assert reply_item.acknowledgement["reason"] == "already_acknowledged"


def _ids(rt: Runtime) -> list[str]:
    with rt.store.reading() as session:
        return [row.id for row in session.query(Intake).all()]


def _done_count(rt: Runtime) -> int:
    with rt.store.reading() as session:
        return session.query(Intake).filter(Intake.state == "done").count()
