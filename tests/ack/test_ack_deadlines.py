"""Deadlines in Swedish working days, across Easter, midsommar and Christmas."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from ack_support import plan_message

from ingest.ack.deadlines import add_working_days, deadline_for, format_deadline, is_working_day
from ingest.model import Channel, Sender


@pytest.mark.parametrize(("start", "days", "expected"), [
    # Easter 2026: långfredag 3 April, annandag påsk 6 April.
    (date(2026, 4, 2), 1, date(2026, 4, 7)),
    (date(2026, 4, 1), 2, date(2026, 4, 7)),
    (date(2026, 4, 3), 1, date(2026, 4, 7)),
    # Midsommar 2026: midsommarafton (de facto) Friday 19 June, midsommardagen Saturday.
    (date(2026, 6, 18), 1, date(2026, 6, 22)),
    (date(2026, 6, 17), 3, date(2026, 6, 23)),
    # Christmas 2026: julafton Thu 24, juldagen Fri 25, annandag jul Sat 26,
    # nyårsafton Thu 31, nyårsdagen Fri 1 Jan, trettondedag jul Wed 6 Jan 2027.
    (date(2026, 12, 23), 1, date(2026, 12, 28)),
    (date(2026, 12, 23), 5, date(2027, 1, 5)),
    (date(2026, 12, 30), 1, date(2027, 1, 4)),
    (date(2027, 1, 5), 1, date(2027, 1, 7)),
    # An ordinary week: Friday plus one is Monday; plus five is Friday.
    (date(2026, 11, 20), 1, date(2026, 11, 23)),
    (date(2026, 11, 23), 5, date(2026, 11, 30)),
    # 0 days: today if it is a working day, else the next one.
    (date(2026, 12, 24), 0, date(2026, 12, 28)),
])
def test_working_days_skip_weekends_and_swedish_holidays(start: date, days: int,
                                                         expected: date) -> None:
    assert add_working_days(start, days) == expected


def test_the_eves_are_days_off() -> None:
    for eve in (date(2026, 6, 19), date(2026, 12, 24), date(2026, 12, 31)):
        assert eve.weekday() < 5 and not is_working_day(eve)
    assert is_working_day(date(2026, 12, 23))


def test_the_day_counts_in_stockholm_time() -> None:
    # 23:30 UTC on Thursday 2 April 2026 is already långfredag in Stockholm.
    late = datetime(2026, 4, 2, 23, 30, tzinfo=UTC)
    assert deadline_for(late, 1) == date(2026, 4, 7)
    early = datetime(2026, 4, 2, 20, 0, tzinfo=UTC)
    assert deadline_for(early, 1) == date(2026, 4, 7)
    # 23:30 UTC on Friday 20 Nov is Saturday in Stockholm: one working day later is Monday.
    assert deadline_for(datetime(2026, 11, 20, 23, 30, tzinfo=UTC), 1) == date(2026, 11, 23)


@pytest.mark.parametrize(("language", "text"), [
    ("sv", "tisdag 7 april 2026"), ("sv-lattlast", "tisdag 7 april 2026"),
    ("en", "Tuesday, April 7, 2026"), ("fi", "tiistai 7. huhtikuuta 2026"),
    ("es", "martes, 7 de abril de 2026"), ("pl", "wtorek, 7 kwietnia 2026"),
    ("ru", "вторник, 7 апреля 2026\u202fг."), ("tr", "7 Nisan 2026 Salı"),
    ("ar", "الثلاثاء، 7 أبريل 2026"),
])
def test_dates_are_written_as_each_language_writes_them(language: str, text: str) -> None:
    assert format_deadline(date(2026, 4, 7), language) == text


def test_deadline_per_arendetyp_comes_from_the_taxonomy(make_settings) -> None:
    settings = make_settings()
    sender = Sender(email="anna@example.se")
    # Received Monday 23 Nov 2026. Äldreomsorg: next working day.
    aldre = plan_message(settings, channel=Channel.EMAIL, sender=sender,
                         huvudkategori="aldreomsorg", arendetyp="hemtjanst")
    assert (aldre["deadline_working_days"], aldre["deadline"]) == (1, "2026-11-24")
    other = plan_message(settings, channel=Channel.EMAIL, sender=sender,
                         huvudkategori="bygglov", arendetyp="bygglov")
    from classifier.taxonomy import load_taxonomy

    days = load_taxonomy(settings.config_dir).type("bygglov", "bygglov").ack_deadline_working_days
    assert other["deadline_working_days"] == days
    assert other["deadline"] == add_working_days(date(2026, 11, 23), days).isoformat()
    triage = plan_message(settings, channel=Channel.EMAIL, sender=sender)
    assert triage["deadline_working_days"] == settings.kcs.ack.default_deadline_working_days
