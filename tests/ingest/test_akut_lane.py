"""The akut lane: a person in danger is not kept behind a surge (real Redis, real worker)."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import redis
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

from channels.email.glance import glance
from ingest.app import Runtime
from ingest.model import Channel, ChannelMeta
from ingest.pretriage import PreTriage
from ingest.relay import Relay

AKUT = "Min pappa har ramlat och ligger på golvet, han kommer inte upp. Hemtjänsten svarar inte."
ORDINARY = "Hej! Vilka dagar töms soptunnorna i vårt kvarter på Hornsgatan? Tack på förhand."
FAST_PATHS = ("kcs.fastpath.akut", "kcs.restricted.fastpath.akut")  # config/routing.yaml


def ordinary_then_akut(rt: Runtime, n: int) -> tuple[list[str], str]:
    """``n`` ordinary mails from as many people, then one akut mail: their intake ids."""
    ordinary = [rt.intake.accept(mail(i, sender=f"person{i}@example.se", body=ORDINARY),
                                 email_meta(f"person{i}@example.se")).intake_id
                for i in range(n)]
    akut = rt.intake.accept(mail(99, body=AKUT, sender="dotter@example.se"),
                            email_meta("dotter@example.se")).intake_id
    return ordinary, akut


def sms_raw(body: str) -> bytes:
    return urlencode({"MessageSid": "SM" + "1" * 32, "From": "+46701234567",
                      "To": "+46700000000", "Body": body}).encode()


def test_the_first_look_reads_subject_and_text_parts_not_attachments() -> None:
    raw = ("From: a@example.se\r\nSubject: =?utf-8?q?Hj=C3=A4lp_genast?=\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
           "--c\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\nMin syster =E4r r=E4dd\r\n"
           "--c\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hon <b>gråter</b></p>\r\n"
           "--c--\r\n--b\r\nContent-Type: text/plain\r\n"
           "Content-Disposition: attachment; filename=lista.txt\r\n\r\nbilaga\r\n--b--\r\n"
           ).encode()
    text = glance(raw)
    assert "Hjälp genast" in text
    assert "Min syster är rädd" in text  # quoted-printable decoded, Latin-1 read
    assert "Hon gråter" in text and "<b>" not in text
    assert "bilaga" not in text
    assert isinstance(glance(b"\x00\xff" * 100), str)  # junk: no error


def test_pretriage_flags_akut_email_and_sms_and_leaves_the_rest(settings) -> None:
    rt = Runtime.build(settings)
    triage = PreTriage.from_settings(settings, rt.store, rt.blobs)
    assert triage is not None
    akut_mail = rt.intake.accept(mail(1, body=AKUT), email_meta()).intake_id
    plain_mail = rt.intake.accept(mail(2), email_meta()).intake_id
    akut_sms = rt.intake.accept(sms_raw("hjälp min mamma har ramlat o ligger på golvet"),
                                ChannelMeta(channel=Channel.SMS, transport="twilio")).intake_id
    junk = rt.intake.accept(b"\x89PNG\r\n\x1a\n" + bytes(300), email_meta()).intake_id
    letter = rt.intake.accept(AKUT.encode(), ChannelMeta(channel=Channel.LETTER,
                                                         transport="scan")).intake_id
    assert triage.akut_items([akut_mail, plain_mail, akut_sms, junk, letter, "no-such-id"]) == {
        akut_mail, akut_sms}


def test_the_relay_looks_with_the_rules_without_loading_numpy(tmp_path, redis_url) -> None:
    """The relay's first look uses the rules alone, so its process must not carry the
    model's libraries (NumPy, SciPy, joblib: about 30 MiB, issue 17)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys\n"
        "from ingest.app import Runtime\n"
        "from ingest.config import load_settings\n"
        "from ingest.pretriage import PreTriage\n"
        "from ingest.relay import Relay\n"
        "rt = Runtime.build(load_settings())\n"
        "triage = PreTriage.from_settings(rt.settings, rt.store, rt.blobs)\n"
        "Relay(rt.store, rt.broker, queue='kcs.pipeline', triage=triage).run_once()\n"
        f"print(bool(triage.is_akut({AKUT!r})), bool(triage.is_akut({ORDINARY!r})),\n"
        "      sorted(m for m in ('numpy', 'scipy', 'joblib', 'sklearn') if m in sys.modules))\n")
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KCS_VAR_DIR": str(tmp_path), "REDIS_URL": redis_url}
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "True False []", out.stderr[-2000:]


def test_the_relay_sends_a_batchs_akut_mail_before_the_ordinary_ones(settings) -> None:
    """In a surge the relay's batch holds hundreds of new items; the akut one goes out
    first, so it is not behind the rest of the batch at the broker either."""
    rt = Runtime.build(settings)
    ordinary, akut = ordinary_then_akut(rt, 40)
    sent = enqueue_log(rt.broker)
    relay = Relay(rt.store, rt.broker, queue=settings.kcs.pipeline.queue,
                  triage=PreTriage.from_settings(settings, rt.store, rt.blobs))
    assert relay.run_once() == 41
    assert sent.sent[0] == ("kcs.akut", "kcs.pipeline.akut", akut)
    assert sorted(arg for actor, queue, arg in sent.sent[1:]
                  if (actor, queue) == ("kcs.normalise", "kcs.pipeline")) == sorted(ordinary)
    assert rt.store.pending_outbox(100) == []  # all 41 marked sent


def test_the_lane_is_off_when_configured_off(settings) -> None:
    rt = Runtime.build(settings)
    assert PreTriage.from_settings(with_pipeline(settings, akut_lane=False),
                                   rt.store, rt.blobs) is None


def test_an_akut_mail_overtakes_a_backlog_and_reaches_the_fast_path(
        settings, trained_classifier, monkeypatch) -> None:
    """Sixty ordinary mails are waiting when someone writes that their father has fallen.

    On the ordinary way the akut mail would be normalised after all sixty; on
    the lane a worker takes it next and runs all its stages at once.
    """
    monkeypatch.setenv("KCS_FAULT_DELAY", "normalise:0.05")
    rt = Runtime.build(settings)
    ordinary, akut = ordinary_then_akut(rt, 60)
    with running_pipeline(rt, trained_classifier):
        started = time.monotonic()
        assert wait_for_state(rt, akut, timeout=60) == "done"
        akut_seconds = time.monotonic() - started
        finished_before = sum(rt.store.get_intake(i).state == "done" for i in ordinary)
        for intake_id in ordinary:
            assert wait_for_state(rt, intake_id, timeout=180) == "done"
        all_seconds = time.monotonic() - started
    assert finished_before < 20, f"{finished_before} of 60 ordinary mails finished first"
    assert akut_seconds < all_seconds / 3
    fast = [item for queue in FAST_PATHS
            for item in downstream(settings.effective_redis_url(), queue)]
    assert [item["item_id"] for item in fast] == [akut]  # none of the ordinary mail
    assert fast[0]["flags"]["akut"] is True


def test_a_stage_failing_on_the_lane_dead_letters_at_that_stage_and_replays(settings) -> None:
    settings = with_pipeline(settings, max_retries=1, min_backoff_ms=10, max_backoff_ms=50)
    rt = Runtime.build(settings)
    with running_pipeline(rt, Exploding()):
        receipt = rt.intake.accept(mail(body=AKUT), email_meta())
        assert wait_for_state(rt, receipt.intake_id) == "dead"
    row = rt.store.get_intake(receipt.intake_id)
    assert (row.reason_code, row.stage) == ("stage_failed", "classify")
    assert "RuntimeError at" in row.reason_detail
    # it failed on the lane, not on the classify stage's own queue
    client = redis.Redis.from_url(settings.effective_redis_url())
    lane_dead = [json.loads(m) for m in client.hvals("dramatiq:kcs.pipeline.akut.XQ.msgs")]
    assert [(m["actor_name"], m["args"]) for m in lane_dead] == [
        ("kcs.akut", [receipt.intake_id])]
    assert client.hlen("dramatiq:kcs.pipeline.classify.XQ.msgs") == 0
    assert rt.replay(receipt.intake_id) == "classify"
    with running_pipeline(rt):
        assert wait_for_state(rt, receipt.intake_id) == "done"
