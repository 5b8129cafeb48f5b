"""Statistics for the analysis function: volumes, automation share, time to acknowledge,
review backlog; as SVG charts with a date filter and CSV export.

Figures are counts and durations over codes (channel, taxonomy codes,
stadsdel); no subject, body, name or other text of an item ever reaches a
chart or the CSV, so secret items are counted without being shown.

"Handled without a person" (utan handpåläggning) is defined precisely: the
item is done, was never held for review or triage, and no person changed,
released, labelled or replayed it (audit log).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from ingest.audit import AuditEvent
from ingest.db import Intake, Item
from ingest.model import as_utc, utcnow
from ingest.webapp import charts
from ingest.webapp.web import PREFIX, WebContext

ROLES = ("registratur", "analyst", "admin")
LOCAL = ZoneInfo("Europe/Stockholm")
STAFF_ACTIONS = ("item.release", "item.triage", "item.replay", "item.classification_corrected")
CHANNELS = {"email": "E-post", "sms": "SMS", "letter": "Brev", "fax": "Fax"}
MAX_DAYS = 366
BACKLOG_BUCKETS = (("under 1 timme", 3600), ("1–4 timmar", 4 * 3600), ("4–24 timmar", 86400),
                   ("1–3 dygn", 3 * 86400), ("över 3 dygn", None))


@dataclass
class Stats:
    """Everything the statistics page shows for one period."""

    start: date
    end: date
    total: int = 0
    channel: Counter[str] = field(default_factory=Counter)
    category: Counter[str] = field(default_factory=Counter)
    arendetyp: Counter[str] = field(default_factory=Counter)
    stadsdel: Counter[str] = field(default_factory=Counter)
    day: Counter[str] = field(default_factory=Counter)
    hour: Counter[int] = field(default_factory=Counter)
    done: int = 0
    automatic: int = 0
    ack_seconds: list[float] = field(default_factory=list)
    backlog_ages: list[float] = field(default_factory=list)

    @property
    def automatic_share(self) -> float | None:
        """Share of finished items no person touched."""
        return self.automatic / self.done if self.done else None

    def ack_quantiles(self) -> tuple[float | None, float | None]:
        """Median and 90th percentile of arrival → acknowledgement, seconds."""
        values = sorted(self.ack_seconds)
        if not values:
            return None, None
        if len(values) == 1:
            return values[0], values[0]
        return statistics.median(values), statistics.quantiles(values, n=10,
                                                               method="inclusive")[8]


def parse_period(start: str | None, end: str | None) -> tuple[date, date, str | None]:
    """The date filter: defaults to the last 30 days; bad input falls back with a message."""
    today = datetime.now(LOCAL).date()
    error = None
    try:
        to = date.fromisoformat(end) if end else today
        since = date.fromisoformat(start) if start else to - timedelta(days=29)
    except ValueError:
        to, since = today, today - timedelta(days=29)
        error = "Datumen ska skrivas ÅÅÅÅ-MM-DD. Visar de senaste 30 dagarna."
    if since > to:
        since, to = to, since
    if (to - since).days >= MAX_DAYS:
        since = to - timedelta(days=MAX_DAYS - 1)
        error = f"Perioden kortades till {MAX_DAYS} dagar."
    return since, to, error


def compute(ctx: WebContext, since: date, to: date) -> Stats:
    """Gather the figures for ``since``..``to`` (local dates, both included)."""
    begin = datetime.combine(since, time(), LOCAL).astimezone(UTC)
    finish = datetime.combine(to + timedelta(days=1), time(), LOCAL).astimezone(UTC)
    out = Stats(since, to)
    with ctx.runtime.store.reading() as session:
        pairs = session.execute(
            select(Intake, Item).outerjoin(Item, Item.intake_id == Intake.id)
            .where(Intake.received_at >= begin, Intake.received_at < finish)).all()
        touched = set(session.scalars(
            select(AuditEvent.intake_id).where(AuditEvent.action.in_(STAFF_ACTIONS),
                                               AuditEvent.at >= begin)))
        waiting = session.scalars(select(Intake.received_at).where(Intake.state == "review"))
        now = utcnow()
        out.backlog_ages = [(now - as_utc(t)).total_seconds() for t in waiting]
    labels = {c.code: c.label for c in ctx.taxonomy.categories.values()}
    for row, item in pairs:
        out.total += 1
        local = as_utc(row.received_at).astimezone(LOCAL)
        out.channel[CHANNELS.get(row.channel, row.channel)] += 1
        out.day[local.date().isoformat()] += 1
        out.hour[local.hour] += 1
        classification = (item.classification if item else None) or {}
        cat = classification.get("huvudkategori")
        out.category[labels.get(cat, "Ej klassad") if cat else "Ej klassad"] += 1
        if cat and classification.get("arendetyp"):
            out.arendetyp[f"{cat}/{classification['arendetyp']}"] += 1
        stadsdel = ((item.routing if item else None) or {}).get("stadsdel") or (
            ((item.normalised if item else None) or {}).get("headers") or {}).get("x-stadsdel")
        if stadsdel:
            out.stadsdel[str(stadsdel)] += 1
        if row.state == "done":
            out.done += 1
            headers = ((item.normalised if item else None) or {}).get("headers") or {}
            if not (classification.get("needs_triage") or row.id in touched
                    or headers.get("x-scan-reviewed")):
                out.automatic += 1
        ack = (item.acknowledgement if item else None) or {}
        if ack.get("at") and ack.get("state") not in ("skipped", "failed"):
            try:
                sent = datetime.fromisoformat(ack["at"])
            except ValueError:
                continue
            out.ack_seconds.append(max(0.0, (as_utc(sent) - as_utc(row.received_at))
                                       .total_seconds()))
    return out


def backlog_buckets(ages: list[float]) -> list[tuple[str, float]]:
    """How long the items waiting for review have waited."""
    counts = []
    lower = 0.0
    for label, upper in BACKLOG_BUCKETS:
        counts.append((label, sum(1 for a in ages if a >= lower and (upper is None
                                                                     or a < upper))))
        lower = float(upper or 0)
    return counts


def duration(seconds: float | None) -> str:
    """A duration as people say it (Swedish)."""
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h".replace(".", ",")
    return f"{seconds / 86400:.1f} dygn".replace(".", ",")


def as_csv(s: Stats) -> str:
    """The figures as CSV (semicolon-separated, as Swedish spreadsheets expect)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(["matt", "nyckel", "varde"])
    w.writerow(["period", "fran", s.start.isoformat()])
    w.writerow(["period", "till", s.end.isoformat()])
    w.writerow(["totalt", "", s.total])
    for name, counter in (("kanal", s.channel), ("huvudkategori", s.category),
                          ("arendetyp", s.arendetyp), ("stadsdel", s.stadsdel),
                          ("dag", s.day)):
        for key, value in sorted(counter.items()):
            w.writerow([name, key, value])
    for hour in range(24):
        w.writerow(["timme", f"{hour:02d}", s.hour.get(hour, 0)])
    w.writerow(["utan_handpalaggning", "klara", s.done])
    w.writerow(["utan_handpalaggning", "automatiska", s.automatic])
    median, p90 = s.ack_quantiles()
    w.writerow(["tid_till_kvittens_s", "median", "" if median is None else round(median)])
    w.writerow(["tid_till_kvittens_s", "p90", "" if p90 is None else round(p90)])
    w.writerow(["granskningsko", "antal", len(s.backlog_ages)])
    w.writerow(["granskningsko", "aldsta_s", round(max(s.backlog_ages)) if s.backlog_ages
                else ""])
    for label, value in backlog_buckets(s.backlog_ages):
        w.writerow(["granskningsko_alder", label, value])
    return buf.getvalue()


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the statistics screen."""
    router = APIRouter()
    require = ctx.require(*ROLES)

    @router.get(f"{PREFIX}/statistik")
    def page(request: Request, fran: str = "", till: str = "") -> Any:
        """Charts for the chosen period."""
        signed = require(request)
        since, to, error = parse_period(fran[:20], till[:20])
        s = compute(ctx, since, to)
        days = [(since + timedelta(days=i)).isoformat() for i in range((to - since).days + 1)]
        median, p90 = s.ack_quantiles()
        share = s.automatic_share
        figures = [
            charts.bar_chart("Inkomna per kanal", s.channel.most_common(), head=("Kanal", "Antal")),
            charts.bar_chart("Inkomna per huvudkategori", s.category.most_common(),
                             head=("Huvudkategori", "Antal")),
            charts.bar_chart("Vanligaste ärendetyperna", s.arendetyp.most_common(15),
                             head=("Ärendetyp", "Antal")),
            charts.column_chart("Inkomna per dag", [(d[5:], s.day.get(d, 0)) for d in days],
                                head=("Dag", "Antal"), every=max(1, len(days) // 10)),
            charts.column_chart("Inkomna per timme (svensk tid)",
                                [(f"{h:02d}", s.hour.get(h, 0)) for h in range(24)],
                                head=("Timme", "Antal"), every=2),
            charts.bar_chart("Granskningskön efter väntetid",
                             backlog_buckets(s.backlog_ages), head=("Väntetid", "Antal")),
        ]
        if s.stadsdel:
            figures.insert(3, charts.bar_chart("Inkomna per stadsdel", s.stadsdel.most_common(),
                                               head=("Stadsdel", "Antal")))
        return ctx.render(
            request, "stats.html", signed, active="statistik", error=error, s=s,
            since=since.isoformat(), to=to.isoformat(), figures=figures,
            share=None if share is None else f"{share * 100:.0f} %".replace(".", ","),
            ack_median=duration(median), ack_p90=duration(p90), acks=len(s.ack_seconds),
            backlog=len(s.backlog_ages),
            oldest=duration(max(s.backlog_ages) if s.backlog_ages else None))

    @router.get(f"{PREFIX}/statistik.csv")
    def export(request: Request, fran: str = "", till: str = "") -> Response:
        """The same figures as CSV (codes and counts only)."""
        signed = require(request)
        since, to, _ = parse_period(fran[:20], till[:20])
        ctx.audit(signed.user, "statistics.export",
                  detail={"from": since.isoformat(), "to": to.isoformat()})
        body = "\ufeff" + as_csv(compute(ctx, since, to))
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="kcs-statistik-{since}-{to}.csv"'})

    return router
