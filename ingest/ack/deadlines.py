"""Working days: Monday to Friday, except Swedish public and de-facto holidays.

Swedish offices close on the public holidays and, by custom and collective
agreement, on midsommarafton, julafton and nyårsafton (``holidays`` files those
under the ``de_facto`` category). A deadline of *n* working days is the *n*-th
working day after the day the message arrived in Stockholm, whatever the hour:
"senast under nästa arbetsdag" (Äldre direkt) is ``n = 1``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date

_CATEGORIES = ("public", "de_facto")


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.Sweden(years=year, categories=_CATEGORIES))


def is_working_day(day: date) -> bool:
    """Whether Swedish municipal offices are open on ``day``."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def local_date(when: datetime, timezone: str = "Europe/Stockholm") -> date:
    """The calendar day ``when`` falls on in ``timezone`` (naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo("UTC"))
    return when.astimezone(ZoneInfo(timezone)).date()


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start``; 0 means ``start`` itself if it is one,
    else the next working day."""
    day = start
    if days <= 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    left = days
    while left:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def deadline_for(received_at: datetime, working_days: int,
                 timezone: str = "Europe/Stockholm") -> date:
    """When we promise återkoppling for a message received at ``received_at``."""
    return add_working_days(local_date(received_at, timezone), working_days)


def babel_locale(language: str) -> str:
    """The Babel locale for one of our language codes (``sv-lattlast`` is Swedish)."""
    return {"sv-lattlast": "sv", "fa": "fa_IR", "so": "so_SO"}.get(language, language)


def format_deadline(day: date, language: str) -> str:
    """The date as a reader of ``language`` writes it, weekday included
    ("fredag 27 november 2026", "Friday, November 27, 2026")."""
    return format_date(day, format="full", locale=babel_locale(language))
