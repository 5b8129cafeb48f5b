"""The audit log keeps every decision and action, and cannot be rewritten."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from ingest import audit
from ingest.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kcs.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database("kcs_audit")
    s = Store(url)
    s.migrate()
    yield s
    s.dispose()


def test_events_are_kept_in_order_and_queryable_per_item_and_arende(store) -> None:
    with store.transaction() as session:
        audit.record(session, actor=audit.SYSTEM, action="classify", intake_id="I1",
                     detail={"huvudkategori": "Miljö"})
        audit.record(session, actor="anna", action="release", intake_id="I1",
                     arende_id="KC-2026-000001-X", reason="rättade kategori")
        audit.record(session, actor=audit.SYSTEM, action="route", intake_id="I2")
    with store.reading() as session:
        by_item = [e.action for e in audit.history(session, intake_id="I1")]
        by_arende = [audit.as_dict(e)["actor"]
                     for e in audit.history(session, arende_id="KC-2026-000001-X")]
    assert by_item == ["classify", "release"]
    assert by_arende == ["anna"]


@pytest.mark.parametrize("write", ["orm", "core"])
def test_no_personnummer_in_reasons_or_details(store, write) -> None:
    with store.transaction() as session:
        kwargs = {"actor": "anna", "action": "edit_fields", "intake_id": "I9",
                  "reason": "pnr 19121212-1212 rättat", "detail": {"old": ["19121212-1212"]}}
        if write == "orm":
            audit.record(session, **kwargs)
        else:  # the pipeline's Core path writes the same row
            audit.insert_row(session.connection(), **kwargs)
    with store.reading() as session:
        (event,) = audit.history(session, intake_id="I9")
    assert event.reason == "pnr 19121212-**** rättat"
    assert event.detail == {"old": ["19121212-****"]}
    assert (event.actor, event.action, event.arende_id) == ("anna", "edit_fields", None)


def test_core_rows_and_orm_rows_keep_the_order_they_were_written_in(store) -> None:
    with store.transaction() as session:
        audit.record(session, actor=audit.SYSTEM, action="reopen", intake_id="I4")
        session.flush()  # as the stage runner does after a commit hook
        audit.insert_row(session.connection(), actor=audit.SYSTEM, action="pipeline.link",
                         intake_id="I4", detail={"new": False})
    with store.reading() as session:
        assert [e.action for e in audit.history(session, intake_id="I4")] == [
            "reopen", "pipeline.link"]


def test_rows_cannot_be_changed_or_deleted(store) -> None:
    with store.transaction() as session:
        audit.record(session, actor="anna", action="view", intake_id="I3")
    with pytest.raises(DBAPIError, match="append-only"), store.transaction() as session:
        session.execute(update(audit.AuditEvent).values(actor="mallory"))
    with pytest.raises(DBAPIError, match="append-only"), store.transaction() as session:
        session.execute(delete(audit.AuditEvent))
    with store.reading() as session:
        assert [e.actor for e in audit.history(session, intake_id="I3")] == ["anna"]
