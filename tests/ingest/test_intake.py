"""Durable intake: stored before "received", idempotent, honest when it cannot store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ingest.app import Runtime
from ingest.blobs import BlobStore
from ingest.db import Intake as IntakeRow
from ingest.db import Outbox
from ingest.errors import IntakeUnavailable
from ingest.model import Channel, ChannelMeta

RAW = b"From: anna@example.se\r\nMessage-ID: <1@example.se>\r\nSubject: Hej\r\n\r\nText\r\n"


def meta(*keys: str) -> ChannelMeta:
    return ChannelMeta(channel=Channel.EMAIL, transport="test", source_keys=keys)


def test_accept_stores_blob_row_and_outbox_in_one_go(make_settings) -> None:
    rt = Runtime.build(make_settings())
    receipt = rt.intake.accept(RAW, meta("msgid:anna@example.se|<1@example.se>"))
    assert not rt.blobs.path(receipt.raw_sha256).exists()  # small: inline in the database

    assert not receipt.duplicate
    assert rt.blobs.get(receipt.raw_sha256) == RAW
    assert receipt.raw_sha256 == hashlib.sha256(RAW).hexdigest()
    with rt.store.transaction() as session:
        row = session.get(IntakeRow, receipt.intake_id)
        outbox = session.query(Outbox).filter_by(intake_id=receipt.intake_id).all()
    assert row is not None and row.state == "accepted" and row.raw_size == len(RAW)
    assert [(o.actor, o.payload["args"], o.sent_at) for o in outbox] == [
        ("kcs.normalise", [receipt.intake_id], None)]


def test_same_key_or_same_bytes_is_one_item(make_settings) -> None:
    rt = Runtime.build(make_settings())
    first = rt.intake.accept(RAW, meta("imap:dept/INBOX/7/42"))
    again_same_key = rt.intake.accept(RAW + b"changed", meta("imap:dept/INBOX/7/42"))
    again_same_bytes = rt.intake.accept(RAW, meta("imap:dept/INBOX/7/43"))

    assert again_same_key.duplicate and again_same_key.intake_id == first.intake_id
    assert again_same_bytes.duplicate and again_same_bytes.intake_id == first.intake_id
    assert rt.store.count_by_state() == {("email", "accepted"): 1}
    assert rt.store.outbox_backlog() == 1


def test_large_originals_go_to_fsynced_files(make_settings) -> None:
    rt = Runtime.build(make_settings())
    big = RAW + b"x" * (rt.blobs.inline_max_bytes + 1)
    receipt = rt.intake.accept(big, meta())
    assert rt.blobs.path(receipt.raw_sha256).read_bytes() == big
    assert rt.blobs.get(receipt.raw_sha256) == big


def test_unwritable_blob_store_means_not_received(make_settings, tmp_path: Path) -> None:
    rt = Runtime.build(make_settings())
    rt.blobs = BlobStore(Path("/proc/kcs-cannot-write-here"), rt.store)
    rt.intake.blobs = rt.blobs
    with pytest.raises(IntakeUnavailable):
        rt.intake.accept(RAW + b"x" * (rt.blobs.inline_max_bytes + 1), meta())
    assert rt.store.count_by_state() == {}


def test_database_down_means_not_received(make_settings, tmp_path: Path) -> None:
    free = __import__("socket").socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    settings = make_settings(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port}/none")
    rt = Runtime.build(settings, migrate=False)
    with pytest.raises(IntakeUnavailable):
        rt.intake.accept(RAW, meta())


def test_blob_names_cannot_escape_the_store(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        blobs.path("../../etc/passwd")
    digest = blobs.put(b"x")
    assert blobs.put(b"x") == digest  # idempotent
    assert os.stat(blobs.path(digest)).st_mode & 0o007 == 0  # citizens' letters: not for all


def test_postgres_store_takes_the_same_intake(postgres_server, make_settings) -> None:
    url = postgres_server.create_database("kcs_intake_test")
    rt = Runtime.build(make_settings(DATABASE_URL=url))
    first = rt.intake.accept(RAW, meta("k1"))
    second = rt.intake.accept(RAW, meta("k1"))
    assert second.duplicate and second.intake_id == first.intake_id
    assert rt.store.count_by_state() == {("email", "accepted"): 1}
    rt.store.dispose()
