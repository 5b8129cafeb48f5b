"""Conversation continuity: which open ärende an SMS joins, by number and by quoted number."""

from __future__ import annotations

from datetime import timedelta

from sms_support import CITIZEN

from channels.sms.continuity import sms_link
from dedupe.arende_number import format_number
from dedupe.linker import decide_sms
from ingest.app import Runtime
from ingest.config import SmsConfig
from ingest.db import Arende
from ingest.model import NormalisedMessage, Sender, utcnow

OLD, RECENT, OTHERS, CLOSED = (format_number(2026, n) for n in (1, 2, 3, 4))


def sms(body: str, phone: str = CITIZEN) -> NormalisedMessage:
    return NormalisedMessage(subject="", body=body, sender=Sender(phone=phone))


def store_with_arenden(settings):
    rt = Runtime.build(settings)
    now = utcnow()
    with rt.store.transaction() as session:
        for arende_id, phone, age_days, status in (
                (OLD, CITIZEN, 30, "open"), (RECENT, CITIZEN, 3, "open"),
                (OTHERS, "+46739876543", 1, "open"),
                (CLOSED, CITIZEN, 1, "closed")):
            when = now - timedelta(days=age_days)
            session.add(Arende(id=arende_id, created_at=when, last_activity_at=when,
                               status=status, sender_phone=phone))
    return rt.store, now


def test_recent_open_arende_from_the_same_number_is_joined(settings) -> None:
    store, now = store_with_arenden(settings)
    decision = sms_link(store, sms("En sak till"), SmsConfig(continuity_days=14), now)
    assert decision is not None
    assert (decision.arende_id, decision.linked_by) == (RECENT, "sms_same_number_recent")


def test_outside_the_window_or_closed_is_not_joined(settings) -> None:
    store, now = store_with_arenden(settings)
    assert sms_link(store, sms("Hej"), SmsConfig(continuity_days=2), now) is None
    assert sms_link(store, sms("Hej"), SmsConfig(continuity_days=0), now) is None
    assert sms_link(store, sms("Hej", phone="+46700000001"), SmsConfig(), now) is None


def test_quoting_an_older_arende_number_from_the_same_phone_wins(settings) -> None:
    store, now = store_with_arenden(settings)
    decision = sms_link(store, sms(f"Angående {OLD}: inget har hänt"), SmsConfig(), now)
    assert decision is not None
    assert (decision.arende_id, decision.linked_by) == (OLD, "arende_number_same_phone")


def test_someone_elses_arende_number_is_not_followed(settings) -> None:
    store, now = store_with_arenden(settings)
    decision = sms_link(store, sms(f"Gäller {OTHERS}"), SmsConfig(), now)
    assert decision is not None and decision.arende_id == RECENT  # own recent one instead
    lonely = sms_link(store, sms(f"Gäller {OTHERS}", phone="+46700000001"), SmsConfig(), now)
    assert lonely is None


def test_decide_sms_alone() -> None:
    assert decide_sms(phone=CITIZEN, subject="", body="x", arende_phone={},
                      recent_open=[]) is None
    decision = decide_sms(phone=CITIZEN, subject="", body="x", arende_phone={},
                          recent_open=[RECENT, OLD])
    assert decision is not None and decision.explanation[1]["value"] == 2
