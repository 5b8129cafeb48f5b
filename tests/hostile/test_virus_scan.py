"""The optional virus scan stage against a real clamd (private, on loopback).

clamd runs with ClamAV's own test signature (tests/hostile/clamav/README.md), so
every file of Debian's clamav-testfiles (the test file packed, archived, mailed
and embedded in 44 ways) must be found through clamd's own unpacking; clean mail
must pass; clamd being away must hold items, never let them through unscanned.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from email.message import EmailMessage

import pytest
import requests
from hostile_support import CLAMAV_TESTFILES, as_attachment, require_dir, scanning, smtp_meta
from pipeline_support import downstream_everywhere, running_pipeline, wait_for_state
from sqlalchemy import select

from ingest.app import Runtime
from ingest.audit import AuditEvent

pytestmark = pytest.mark.slow


def letter(subject: str = "Trasig gatlykta", attachment: tuple[str, bytes] | None = None,
           sender: str = "anna@example.se") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "kontaktcenter@stockholm.se", subject
    msg["Message-ID"] = f"<{hashlib.sha1(subject.encode()).hexdigest()}@example.se>"
    msg.set_content("Hej, gatlyktan utanför Sveavägen 12 är släckt sedan en vecka.")
    if attachment:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="zip", filename=name)
    return msg.as_bytes()


def audit_reasons(rt: Runtime, intake_id: str) -> list[str | None]:
    with rt.store.reading() as session:
        return [e.reason for e in session.scalars(
            select(AuditEvent).where(AuditEvent.intake_id == intake_id))]


def test_every_clamav_test_file_attached_to_a_mail_is_quarantined(settings, clamd) -> None:
    files = sorted(p for p in require_dir(CLAMAV_TESTFILES, "clamav-testfiles").iterdir()
                   if p.is_file())
    assert len(files) >= 40
    rt = Runtime.build(scanning(settings, clamd.address))
    raws = {p.name: as_attachment(p.name, p.read_bytes()) for p in files}
    with running_pipeline(rt, threads=4):
        receipts = {name: rt.intake.accept(raw, smtp_meta()) for name, raw in raws.items()}
        states = {name: wait_for_state(rt, r.intake_id, timeout=120)
                  for name, r in receipts.items()}
    assert states == dict.fromkeys(states, "rejected")
    for name, receipt in receipts.items():
        row = rt.store.get_intake(receipt.intake_id)
        assert row.reason_code == "malware_found", name
        assert row.reason_detail.startswith("ClamAV-Test-File"), (name, row.reason_detail)
        # The original is kept for the record, byte for byte ...
        assert rt.blobs.get(row.raw_sha256) == raws[name]
        # ... but the attachment is never stored apart, and the decision is audited.
        digest = hashlib.sha256((CLAMAV_TESTFILES / name).read_bytes()).hexdigest()
        with pytest.raises((FileNotFoundError, ValueError)):
            rt.blobs.get(digest)
        assert "malware_found" in audit_reasons(rt, receipt.intake_id)
    # Nothing reached a case system and nobody was acknowledged (senders of malware
    # are usually forged).
    assert downstream_everywhere(settings) == []
    assert not list(settings.outbox_dir.glob("*.eml"))


def test_clean_mail_passes_with_its_verdict_recorded(settings, clamd) -> None:
    rt = Runtime.build(scanning(settings, clamd.address))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("foto-beskrivning.txt", "Lyktstolpe nr 4711, släckt.")
    with running_pipeline(rt):
        plain = rt.intake.accept(letter("Gatlykta 1"), smtp_meta())
        zipped = rt.intake.accept(letter("Gatlykta 2", ("bilder.zip", archive.getvalue())),
                                  smtp_meta())
        assert wait_for_state(rt, plain.intake_id) == "done"
        assert wait_for_state(rt, zipped.intake_id) == "done"
    scans = [rt.store.get_item(r.intake_id).normalised["virus_scan"] for r in (plain, zipped)]
    assert [(s["verdict"], s["objects"]) for s in scans] == [("clean", 1), ("clean", 2)]
    assert len(downstream_everywhere(settings)) == 2


def test_a_file_past_clamds_limits_is_held_for_review_not_passed_or_lost(settings,
                                                                          clamd) -> None:
    """clamd reads files inside archives up to 2 MiB here (MaxFileSize) and says so
    with a Heuristics alert; an object larger than virus_scan.max_object_bytes is not
    sent at all. Both wait for a person, like an unsure OCR page."""
    rt = Runtime.build(scanning(settings, clamd.address, max_object_bytes=6 * 2**20))
    big_member = io.BytesIO()
    with zipfile.ZipFile(big_member, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ritning.bin", os.urandom(3 * 2**20))
    with running_pipeline(rt):
        heuristic = rt.intake.accept(letter("Bygglov 1", ("ritning.zip", big_member.getvalue())),
                                     smtp_meta())
        oversized = rt.intake.accept(letter("Bygglov 2", ("arkiv.zip", os.urandom(7 * 2**20))),
                                     smtp_meta())
        for receipt in (heuristic, oversized):
            assert wait_for_state(rt, receipt.intake_id, frozenset({"review", "done",
                                                                    "rejected", "dead"}),
                                  timeout=120) == "review"
    first, second = (rt.store.get_intake(r.intake_id) for r in (heuristic, oversized))
    assert first.reason_code == second.reason_code == "virus_scan_inconclusive"
    assert "Heuristics.Limits.Exceeded" in first.reason_detail
    assert "max_object_bytes" in second.reason_detail
    assert downstream_everywhere(settings) == []


def test_without_clamd_items_wait_and_go_on_once_it_is_back(settings, clamd,
                                                            web_server) -> None:
    rt = Runtime.build(scanning(settings, clamd.address))
    base = web_server(rt)
    clamd.stop()
    try:
        with running_pipeline(rt):
            receipt = rt.intake.accept(letter("Under driftstopp"), smtp_meta())
            time.sleep(3)
            row = rt.store.get_intake(receipt.intake_id)
            assert row.state in {"accepted", "processing"} and row.stage is None
            assert requests.get(f"{base}/health", timeout=10).json()[
                "virus_scan"] == "error: clamd unreachable"
            clamd.start()
            assert wait_for_state(rt, receipt.intake_id, timeout=60) == "done"
    finally:
        if clamd.process is None or clamd.process.poll() is not None:
            clamd.start()
    assert requests.get(f"{base}/health", timeout=10).json()["virus_scan"] == "ok"
    assert rt.store.get_item(receipt.intake_id).normalised["virus_scan"]["verdict"] == "clean"


def test_quarantined_original_is_not_served_by_the_blob_api(settings, clamd, web_server,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("KCS_API_TOKEN", "hemlig-token")
    rt = Runtime.build(scanning(settings, clamd.address))
    base = web_server(rt)
    clean_raw = letter("Ren")
    with running_pipeline(rt):
        infected = rt.intake.accept(as_attachment("clam.zip", (CLAMAV_TESTFILES / "clam.zip")
                                                  .read_bytes()), smtp_meta())
        clean = rt.intake.accept(clean_raw, smtp_meta())
        assert wait_for_state(rt, infected.intake_id) == "rejected"
        assert wait_for_state(rt, clean.intake_id) == "done"
    auth = {"Authorization": "Bearer hemlig-token"}
    refused = requests.get(f"{base}/api/blobs/{infected.raw_sha256}", headers=auth, timeout=10)
    assert refused.status_code == 403 and "Quarantined" in refused.text
    served = requests.get(f"{base}/api/blobs/{clean.raw_sha256}", headers=auth, timeout=10)
    assert served.status_code == 200 and served.content == clean_raw


def test_an_infected_file_no_parser_can_read_is_still_quarantined(settings, clamd) -> None:
    """The raw original is scanned before normalising, so a file that is no mail at all
    (clam.exe itself, sent as the whole message) is quarantined, not just rejected as
    ``not_a_message`` with a downloadable original."""
    rt = Runtime.build(scanning(settings, clamd.address))
    with running_pipeline(rt):
        receipt = rt.intake.accept((CLAMAV_TESTFILES / "clam.exe").read_bytes(), smtp_meta())
        assert wait_for_state(rt, receipt.intake_id) == "rejected"
    row = rt.store.get_intake(receipt.intake_id)
    assert (row.reason_code, row.reason_detail) == (
        "malware_found", "ClamAV-Test-File.UNOFFICIAL in raw original")
