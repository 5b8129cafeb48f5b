"""Never answer a robot: a corpus of real auto-replies, bounces and lists gets nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ack_support import SAMPLES, plan_email, plan_message

from ingest.ack.loopguard import auto_submitted_value
from ingest.model import Channel, Sender

LOOP_SAMPLES = sorted((SAMPLES / "loop").glob("*.eml"))


def _cpython_email_data() -> Path:
    import test

    return Path(os.path.dirname(test.__file__)) / "test_email" / "data"


def _cpython_reports() -> list[Path]:
    """CPython's own test mails that are delivery reports or bounces."""
    found = []
    for path in sorted(_cpython_email_data().glob("msg_*.txt")):
        data = path.read_bytes().lower()
        if b"multipart/report" in data or b"delivery-status" in data:
            found.append(path)
    return found


def test_the_corpus_is_all_there() -> None:
    assert len(LOOP_SAMPLES) >= 18
    # CPython's DSNs (msg_05, 16, 25, 43) are part of the corpus.
    assert {p.name for p in _cpython_reports()} >= {"msg_05.txt", "msg_16.txt", "msg_25.txt",
                                                   "msg_43.txt"}


@pytest.mark.parametrize("path", LOOP_SAMPLES, ids=lambda p: p.stem)
def test_no_acknowledgement_to_auto_replies_bounces_and_lists(make_settings, path: Path
                                                              ) -> None:
    raw = path.read_bytes()
    expected = raw.split(b"\n", 1)[0].decode().removeprefix("X-Expect-Reason:").strip()
    plan = plan_email(make_settings(), raw)
    assert plan["planned"] is False
    assert plan["reason"] == expected


@pytest.mark.parametrize("path", _cpython_reports(), ids=lambda p: p.stem)
def test_no_acknowledgement_to_cpython_dsn_samples(make_settings, path: Path) -> None:
    plan = plan_email(make_settings(), path.read_bytes())
    assert plan["planned"] is False
    assert plan["reason"] in {"delivery_report", "null_sender", "precedence_bulk",
                              "mailing_list", "robot_address", "auto_submitted"}


@pytest.mark.parametrize("name", ["plain.eml", "auto_submitted_no.eml"])
def test_people_do_get_one(make_settings, name: str) -> None:
    plan = plan_email(make_settings(), (SAMPLES / "human" / name).read_bytes())
    assert plan["planned"] is True and plan["channel"] == "email"


@pytest.mark.parametrize(("value", "keyword"), [
    ("no", "no"), ("No (a person)", "no"), ("auto-replied", "auto-replied"),
    ("auto-replied (zimbra; vacation)", "auto-replied"),
    ("auto-generated; owner-email=x@example.org", "auto-generated"),
    ("(comment (nested)) auto-notified", "auto-notified"), ("", ""),
])
def test_auto_submitted_is_parsed_as_rfc_3834_writes_it(value: str, keyword: str) -> None:
    assert auto_submitted_value(value) == keyword


def test_an_empty_or_unknown_auto_submitted_is_a_machine(make_settings) -> None:
    human = (SAMPLES / "human" / "plain.eml").read_bytes()
    for value in (b"", b"yes", b"auto-forwarded"):
        raw = human.replace(b"MIME-Version", b"Auto-Submitted: " + value + b"\nMIME-Version", 1)
        assert plan_email(make_settings(), raw)["reason"] == "auto_submitted"


@pytest.mark.parametrize(("body", "reason"), [
    ("Meddelandet kunde inte levereras till mottagaren.", "sms_auto_response"),
    ("Your message could not be delivered.", "sms_auto_response"),
    ("Jag kör bil och svarar senare.", "sms_auto_response"),
])
def test_sms_carrier_and_handset_auto_responses_get_nothing(make_settings, body: str,
                                                           reason: str) -> None:
    plan = plan_message(make_settings(), channel=Channel.SMS, body=body,
                        sender=Sender(phone="+46701234567"))
    assert (plan["planned"], plan["reason"]) == (False, reason)


def test_sms_short_codes_opted_out_and_our_own_number_get_nothing(make_settings) -> None:
    settings = make_settings()
    short = plan_message(settings, channel=Channel.SMS, sender=Sender(phone="+4671234"))
    assert short["reason"] == "not_a_mobile_number"
    out = plan_message(settings, channel=Channel.SMS, sender=Sender(phone="+46701234567"),
                       opted_out=frozenset({"+46701234567"}))
    assert out["reason"] == "opted_out"
    ok = plan_message(settings, channel=Channel.SMS, body="Hej, sophämtningen missade oss",
                      sender=Sender(phone="+46701234567"))
    assert ok["planned"] is True and ok["channel"] == "sms"
