"""End to end as a user sees it: an Arabic e-mail to `kcs run`, an Arabic answer in var/outbox."""

from __future__ import annotations

import email
import email.policy
import json
import smtplib
import sqlite3
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date
from tests_support import kcs_run, wait_until

from classifier.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parent.parent.parent
ARABIC = ("مرحبا، أمي عمرها ٨٥ سنة وتسكن في حي سكارهولمن. موظفو خدمة الرعاية المنزلية "
          "(hemtjänst) لا يأتون في الوقت المتفق عليه، وأحيانا لا يأتون أبدا. أريد أن أعرف "
          "من المسؤول وكيف يمكن تحسين الزيارات. شكرا لكم.")


def _expected_deadline(received: datetime, working_days: int) -> date:
    """Counted here on its own: weekdays that are not Swedish public or de-facto holidays."""
    day = received.astimezone(ZoneInfo("Europe/Stockholm")).date()
    off = holidays.Sweden(years=[day.year, day.year + 1], categories=("public", "de_facto"))
    left = working_days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    return day


def test_an_arabic_mail_gets_an_arabic_acknowledgement_in_var_outbox(
        tmp_path: Path, trained_classifier) -> None:
    # trained_classifier: the model is trained once into the shared cache, not by kcs run.
    with kcs_run(tmp_path) as kcs:
        msg = EmailMessage()
        msg["From"] = "Fatima Ali <fatima@example.org>"
        msg["To"] = "kontaktcenter@stockholm.se"
        msg["Subject"] = "خدمة الرعاية المنزلية لأمي"
        msg["Message-ID"] = "<arabic-1@example.org>"
        msg.set_content(ARABIC)
        with smtplib.SMTP("127.0.0.1", kcs.smtp_port) as client:
            assert client.send_message(msg) == {}
        outbox = kcs.var / "outbox"
        wait_until(lambda: list(outbox.glob("*.eml")), 90, "the acknowledgement in var/outbox")
        (path,) = outbox.glob("*.eml")
        ack = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        with sqlite3.connect(kcs.var / "kcs.db") as db:
            received_at, arende, stored, published = db.execute(
                "SELECT intake.received_at, item.arende_id, item.classification, "
                "item.published FROM intake JOIN item ON item.intake_id = intake.id").fetchone()
    classification = json.loads(stored)
    plan = json.loads(published)["acknowledgement_plan"]
    assert classification["language"] == "ar" and plan["language"] == "ar"
    taxonomy = load_taxonomy(REPO / "config")
    category, code = classification["huvudkategori"], classification["arendetyp"]
    case_type = taxonomy.type(category, code) if category and code else None
    days = (case_type.ack_deadline_working_days if case_type
            else taxonomy.categories[category].ack_deadline_working_days if category else 5)
    received = datetime.fromisoformat(received_at).replace(tzinfo=UTC)
    due = _expected_deadline(received, days)

    assert ack["To"] == "fatima@example.org"
    assert ack["In-Reply-To"] == "<arabic-1@example.org>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Content-Language"] == "ar"
    assert arende in str(ack["Subject"]) and "استلمنا" in str(ack["Subject"])
    text = ack.get_body(("plain",)).get_content()
    html = ack.get_body(("html",)).get_content()
    assert arende in text and arende in html
    assert "شكرًا لرسالتك" in text                               # Arabic, not Swedish
    assert format_date(due, format="full", locale="ar") in text  # the right deadline
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    assert plan["deadline"] == due.isoformat()
