"""Registratur sees a quarantined message among the dead letters, says why, and cannot
download its original from the screen (refusal audited)."""

from __future__ import annotations

import pytest
from hostile_support import CLAMAV_TESTFILES, as_attachment, require_dir, scanning, smtp_meta
from pipeline_support import running_pipeline, wait_for_state
from sqlalchemy import select
from webapp_support import PASSWORD, sign_in

from ingest.app import Runtime
from ingest.audit import AuditEvent
from ingest.webapp.users import add_user

pytestmark = pytest.mark.slow


def test_quarantined_item_is_listed_and_its_original_withheld(settings, clamd, web_server,
                                                              browser, tmp_path,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("KCS_MODEL_DIR", str(tmp_path / "models"))
    clam = require_dir(CLAMAV_TESTFILES, "clamav-testfiles") / "clam.exe.rtf"
    rt = Runtime.build(scanning(settings, clamd.address))
    add_user(rt, username="anna", password=PASSWORD, role="registratur", namnder=["*"],
             sekretess=True, display_name="Anna Registrator")
    base = web_server(rt)
    with running_pipeline(rt):
        receipt = rt.intake.accept(as_attachment("ansokan.rtf", clam.read_bytes()), smtp_meta())
        assert wait_for_state(rt, receipt.intake_id) == "rejected"

    page = browser.new_context(locale="sv-SE").new_page()
    sign_in(page, base, "anna", "/app/ej-levererade")
    row = page.locator(f"#rad-{receipt.intake_id}")
    assert "Karantän: skadlig kod" in row.inner_text()
    assert "malware_found" in row.inner_text()
    assert "ClamAV-Test-File" in row.inner_text()
    assert "I karantän, lämnas inte ut" in row.inner_text()
    assert row.get_by_role("link", name="Ladda ned").count() == 0

    # Typing the download address by hand is refused with a Swedish explanation.
    response = page.request.get(f"{base}/app/ej-levererade/{receipt.intake_id}/original")
    assert response.status == 403
    assert "Originalet är i karantän" in response.text()
    with rt.store.reading() as session:
        refused = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "item.original_download_refused")).all()
    assert [(e.actor, e.intake_id, e.reason) for e in refused] == [
        ("user:anna", receipt.intake_id, "malware_found")]
