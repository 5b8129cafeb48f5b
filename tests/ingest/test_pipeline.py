"""The pipeline on a real Redis: stages, contract, idempotency, outages, dead letters."""

from __future__ import annotations

import email
import email.policy
import smtplib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline_support import (
    Exploding,
    downstream,
    email_meta,
    enqueue_log,
    mail,
    running_pipeline,
    wait_for_state,
    with_pipeline,
)
from tests_support import free_port

from channels.email.smtp import IntakeHandler, make_controller
from ingest.app import Runtime
from ingest.contract import validator
from ingest.db import Outbox
from ingest.pipeline import View
from ingest.stages import STAGES

QUEUE = "kcs.triage"  # the placeholder classifier is always unsure


def test_mail_becomes_one_schema_valid_item_and_an_acknowledgement(settings) -> None:
    rt = Runtime.build(settings)
    with running_pipeline(rt):
        receipt = rt.intake.accept(mail(), email_meta())
        assert wait_for_state(rt, receipt.intake_id) == "done"

    items = downstream(settings.effective_redis_url(), QUEUE)
    assert len(items) == 1
    item = items[0]
    assert list(validator().iter_errors(item)) == []
    assert item["item_id"] == receipt.intake_id
    assert item["idempotency_key"] == f"kcs:{receipt.intake_id}"
    assert item["subject"] == "Fråga 1"
    assert "hemtjänsten kommer" in item["body"]
    assert item["sender"] == {"email": "anna@example.se", "phone": None,
                              "name": "Anna Andersson", "postal_address": None,
                              "anonymous": False}
    assert item["channel"]["type"] == "email" and item["channel"]["transport"] == "smtp"
    assert item["arende"]["new"] is True
    assert item["routing"]["queue"] == QUEUE
    assert {k: item["acknowledgement"][k] for k in ("planned", "channel", "to", "reason")} == {
        "planned": True, "channel": "email", "to": "anna@example.se", "reason": None}
    assert item["raw"]["sha256"] == receipt.raw_sha256

    acks = list(settings.outbox_dir.glob("*.eml"))
    assert len(acks) == 1
    ack = email.message_from_bytes(acks[0].read_bytes(), policy=email.policy.default)
    assert ack["To"] == "anna@example.se"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<m1@example.se>"
    assert item["arende"]["id"] in ack["Subject"]
    assert item["arende"]["id"] in ack.get_body(("plain",)).get_content()


def test_a_worker_runs_an_items_stages_through_unless_told_to_go_stage_by_stage(
        settings) -> None:
    """``pipeline.run_through`` (the default) saves a broker round trip per stage: only
    the first stage's message goes through Redis, and the later stages, run at once,
    store no message either (the first one's redelivery covers a crash). Off, every
    stage goes back to its own queue. Either way the item ends the same, published
    once."""
    expected = {True: ["kcs.normalise"],
                False: ["kcs.normalise", "kcs.classify", "kcs.link", "kcs.route",
                        "kcs.publish", "kcs.acknowledge"]}
    items = {}
    for n, run_through in enumerate((True, False), start=1):
        rt = Runtime.build(with_pipeline(settings, run_through=run_through))
        with running_pipeline(rt):
            sent = enqueue_log(rt.broker)
            sender = f"person{n}@example.se"
            intake_id = rt.intake.accept(mail(n, sender=sender), email_meta(sender)).intake_id
            assert wait_for_state(rt, intake_id) == "done"
        stages = [actor for actor, _, arg in sent.sent
                  if arg == intake_id and actor != "kcs.item"]
        assert stages == expected[run_through]
        with rt.store.reading() as session:
            stored = [row.actor for row in session.query(Outbox).filter(
                Outbox.intake_id == intake_id).order_by(Outbox.id)]
        assert [a for a in stored if a != "kcs.item"] == expected[run_through]
        assert "kcs.item" in stored
        items[run_through] = rt.store.get_item(intake_id)
        assert [item["item_id"] for item in downstream(settings.effective_redis_url(), QUEUE)
                ].count(intake_id) == 1
    # A stage run at once starts from what the previous one committed, not from a read:
    # it must see what a stage on its own queue reads back from the database.
    for column in ("classification", "routing"):
        assert getattr(items[True], column) == getattr(items[False], column)


def test_a_stage_run_at_once_is_handed_what_a_read_of_the_database_gives(
        settings, trained_classifier) -> None:
    """Under run through each stage starts from what the stage before it committed,
    not from a read: every stage must be handed exactly the item and state that are
    in the database at that moment (JSON as it reads back: lists, not tuples)."""
    rt = Runtime.build(settings)
    pipeline = rt.pipeline(trained_classifier)
    seen: list[str] = []
    columns = ("normalised", "classification", "link", "routing", "published",
               "acknowledgement", "arende_id")

    def spy(stage: str, work: Callable[[View], dict]) -> Callable[[View], dict]:
        def run(view: View) -> dict:
            stored = rt.store.get_item(view.intake.id)
            handed = {c: getattr(view.item, c) for c in columns}
            assert handed == {c: getattr(stored, c) if stored else None for c in columns}, stage
            intake = rt.store.get_intake(view.intake.id)
            assert (view.intake.state, view.intake.stage) == (intake.state, intake.stage)
            seen.append(stage)
            return work(view)
        return run

    pipeline.stages = {stage: spy(stage, work) for stage, work in pipeline.stages.items()}
    raw = mail(1, body="Hej! Hemtjänsten kom inte i morse till min mamma på Hornsgatan 12.",
               extra_headers="References: <a@example.se> <b@example.se>\r\n")
    intake_id = rt.intake.accept(raw, email_meta()).intake_id
    pipeline.run_from(STAGES[0], intake_id)
    assert seen == list(STAGES)
    assert rt.store.get_intake(intake_id).state == "done"


def test_reply_to_our_acknowledgement_joins_the_same_arende(settings) -> None:
    rt = Runtime.build(settings)
    with running_pipeline(rt):
        first = rt.intake.accept(mail(1), email_meta())
        wait_for_state(rt, first.intake_id)
        ack = email.message_from_bytes(next(settings.outbox_dir.glob("*.eml")).read_bytes(),
                                       policy=email.policy.default)
        reply = mail(2, extra_headers=f"In-Reply-To: {ack['Message-ID']}\r\n",
                     body="Hon har fortfarande inte fått någon tid.")
        second = rt.intake.accept(reply, email_meta())
        wait_for_state(rt, second.intake_id)
    items = {i["item_id"]: i for i in downstream(settings.effective_redis_url(), QUEUE)}
    assert items[second.intake_id]["arende"]["id"] == items[first.intake_id]["arende"]["id"]
    assert items[second.intake_id]["arende"]["new"] is False
    assert items[second.intake_id]["arende"]["linked_by"] == "reply_to_our_message"


def test_auto_replies_and_bounces_get_no_acknowledgement(settings) -> None:
    rt = Runtime.build(settings)
    with running_pipeline(rt):
        ooo = rt.intake.accept(mail(1, extra_headers="Auto-Submitted: auto-replied\r\n"),
                               email_meta())
        bounce = rt.intake.accept(mail(2, sender="MAILER-DAEMON@example.se"), email_meta(None))
        for receipt in (ooo, bounce):
            assert wait_for_state(rt, receipt.intake_id) == "done"
    reasons = {i["item_id"]: i["acknowledgement"]["reason"]
               for i in downstream(settings.effective_redis_url(), QUEUE)}
    assert reasons == {ooo.intake_id: "auto_submitted", bounce.intake_id: "null_sender"}
    assert list(settings.outbox_dir.glob("*.eml")) == []


def test_reprocessing_never_publishes_twice(settings) -> None:
    rt = Runtime.build(settings)
    with running_pipeline(rt) as pipeline:
        receipt = rt.intake.accept(mail(), email_meta())
        wait_for_state(rt, receipt.intake_id)
        for stage in ("normalise", "classify", "link", "route", "publish", "acknowledge"):
            pipeline.run_stage(stage, receipt.intake_id)  # directly, as a redelivery would
            rt.broker.enqueue(rt.broker.get_actor(f"kcs.{stage}").message(receipt.intake_id))
        time.sleep(1.0)
    assert len(downstream(settings.effective_redis_url(), QUEUE)) == 1
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1


def test_broker_down_intake_still_succeeds_and_the_relay_catches_up(settings,
                                                                     redis_server) -> None:
    rt = Runtime.build(settings)
    redis_server.stop()
    receipts = [rt.intake.accept(mail(n), email_meta()) for n in range(5)]
    assert rt.store.outbox_backlog() == 5
    redis_server.start()
    with running_pipeline(rt):
        for receipt in receipts:
            assert wait_for_state(rt, receipt.intake_id) == "done"
    keys = [i["idempotency_key"] for i in downstream(settings.effective_redis_url(), QUEUE)]
    assert sorted(keys) == sorted(f"kcs:{r.intake_id}" for r in receipts)


def test_redis_restart_while_mail_arrives_over_smtp_loses_nothing(settings,
                                                                 redis_server) -> None:
    rt = Runtime.build(settings)
    handler = IntakeHandler(rt.intake, settings.kcs.smtp)
    controller = make_controller(handler, settings.kcs.smtp, port=free_port())
    controller.start()
    ids: list[str] = []
    try:
        with running_pipeline(rt, stall_s=3):
            def send() -> None:
                with smtplib.SMTP(controller.hostname, controller.port) as client:
                    for n in range(30):
                        client.ehlo()
                        client.mail("anna@example.se")
                        client.rcpt("kontaktcenter@stockholm.se")
                        code, reply = client.data(mail(n))
                        assert code == 250  # Redis down or not: intake answers for itself
                        ids.append(reply.decode().rsplit(" ", 1)[-1])
                        time.sleep(0.03)

            sender = threading.Thread(target=send)
            sender.start()
            time.sleep(0.3)
            redis_server.stop()
            time.sleep(1.5)
            redis_server.start()
            sender.join()
            for intake_id in ids:
                assert wait_for_state(rt, intake_id, timeout=90) == "done"
    finally:
        controller.stop()
        handler.close()
    keys = [i["idempotency_key"] for i in downstream(settings.effective_redis_url(), QUEUE)]
    assert len(ids) == 30
    assert sorted(keys) == sorted(f"kcs:{i}" for i in ids)  # none lost, none twice


def test_bad_input_is_rejected_with_a_reason_and_kept(settings) -> None:
    rt = Runtime.build(settings)
    with running_pipeline(rt):
        empty = rt.intake.accept(b"", email_meta())
        junk = rt.intake.accept(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, email_meta())
        for receipt in (empty, junk):
            assert wait_for_state(rt, receipt.intake_id) == "rejected"
    rows = {r.id: r for r in rt.store.list_intake(("rejected",))}
    assert rows[empty.intake_id].reason_code == "empty_input"
    assert rows[junk.intake_id].reason_code == "not_a_message"
    assert rt.blobs.get(rows[junk.intake_id].raw_sha256).startswith(b"\x89PNG")
    assert downstream(settings.effective_redis_url(), QUEUE) == []


def test_retries_then_dead_letter_then_replay(settings, tmp_path: Path) -> None:
    settings = with_pipeline(settings, max_retries=1, min_backoff_ms=10, max_backoff_ms=50)
    rt = Runtime.build(settings)
    with running_pipeline(rt, Exploding()):
        receipt = rt.intake.accept(mail(), email_meta())
        assert wait_for_state(rt, receipt.intake_id) == "dead"
    row = rt.store.get_intake(receipt.intake_id)
    assert (row.reason_code, row.stage) == ("stage_failed", "classify")
    assert row.reason_detail.startswith("classify: ") and "RuntimeError at" in row.reason_detail
    assert downstream(settings.effective_redis_url(), QUEUE) == []

    assert rt.replay(receipt.intake_id) == "classify"
    with running_pipeline(rt):
        assert wait_for_state(rt, receipt.intake_id) == "done"
    assert len(downstream(settings.effective_redis_url(), QUEUE)) == 1


def test_held_for_review_waits_for_registratur_then_goes_on(settings, monkeypatch) -> None:
    """A channel can hold an item (e.g. unsure OCR); release applies the corrections."""
    from ingest import pipeline as pipeline_module
    from ingest.errors import NeedsReview
    from ingest.reasons import ReasonCode

    real = pipeline_module.normalise

    def unsure(raw, meta, settings):
        message, blobs = real(raw, meta, settings)
        raise NeedsReview(ReasonCode.DEFECTIVE_MIME, message, blobs, "test hold")

    monkeypatch.setattr(pipeline_module, "normalise", unsure)
    rt = Runtime.build(settings)
    with running_pipeline(rt):
        receipt = rt.intake.accept(mail(), email_meta())
        assert wait_for_state(rt, receipt.intake_id, frozenset({"review"})) == "review"
        time.sleep(0.5)
        assert rt.store.get_intake(receipt.intake_id).state == "review"  # it waits
        assert downstream(settings.effective_redis_url(), QUEUE) == []
        assert rt.release(receipt.intake_id, {"subject": "Rättad rubrik"}) == "classify"
        assert wait_for_state(rt, receipt.intake_id) == "done"
    [item] = downstream(settings.effective_redis_url(), QUEUE)
    assert item["subject"] == "Rättad rubrik"


def test_under_a_backlog_items_finish_in_arrival_order_not_after_the_whole_backlog(
        settings, monkeypatch) -> None:
    """Registratur's view of a surge: the first letters in are the first handled.

    On one first-in-first-out queue, an item's second stage would wait behind the
    first stage of every later arrival, and nothing would finish until the whole
    backlog was normalised. Each stage has its own queue, later stages first.
    """
    monkeypatch.setenv("KCS_FAULT_DELAY", "normalise:0.05")  # normalising takes a while
    rt = Runtime.build(settings)
    ids = [rt.intake.accept(mail(n, sender=f"person{n}@example.se"),
                            email_meta(f"person{n}@example.se")).intake_id for n in range(80)]
    with running_pipeline(rt):
        wait_for_state(rt, ids[0], timeout=60)
        untouched = sum(rt.store.get_intake(i).state == "accepted" for i in ids)
        for intake_id in ids:
            assert wait_for_state(rt, intake_id, timeout=120) == "done"
    assert untouched >= 40, f"only {untouched} of 80 not yet begun when the first was done"
    done_order = sorted(ids, key=lambda i: rt.store.get_intake(i).updated_at)
    assert done_order.index(ids[0]) < 10
