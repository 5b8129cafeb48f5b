"""Data-subject erasure with legal holds, gallring, and blobs encrypted at rest."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from pipeline_support import running_pipeline, wait_for_state
from sqlalchemy import select

from ingest import audit
from ingest.app import Runtime
from ingest.cli import main
from ingest.crypto import BlobKeyError, KeyRing
from ingest.db import Intake
from ingest.governance import gdpr, retention
from ingest.governance.db import PersonRef
from ingest.model import Channel, ChannelMeta

PNR = "19121212-1212"


def mail(n: int, subject: str, body: str, sender: str) -> bytes:
    return (f"From: {sender}\r\nTo: kontaktcenter@stockholm.se\r\nSubject: {subject}\r\n"
            f"Message-ID: <pd{n}@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{body}\r\n").encode()


def accept(rt: Runtime, raw: bytes, sender: str, received_at: datetime | None = None) -> str:
    meta = ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from=sender,
                       **({"received_at": received_at} if received_at else {}))
    return rt.intake.accept(raw, meta).intake_id


def env_of(settings) -> dict[str, str]:
    return {"KCS_CONFIG_DIR": str(settings.config_dir), "KCS_VAR_DIR": str(settings.var_dir),
            "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request, make_settings, redis_url):
    """The same tests on SQLite and on a private PostgreSQL."""
    if request.param == "sqlite":
        return make_settings(REDIS_URL=redis_url)
    url = request.getfixturevalue("postgres_server").create_database(
        f"kcs_gov_{request.node.name.split('[')[0][5:20]}")
    return make_settings(REDIS_URL=redis_url, DATABASE_URL=url)


def test_erase_removes_the_persons_data_but_keeps_what_a_legal_hold_protects(db_settings
                                                                             ) -> None:
    settings = db_settings
    rt = Runtime.build(settings)
    big = "Bilaga. " * 40_000  # above the inline limit: the raw original is a blob file
    with running_pipeline(rt):
        first = accept(rt, mail(1, "Bygglov", f"Mitt personnummer är {PNR}. Om altanen.",
                                "dora@example.se"), "dora@example.se")
        second = accept(rt, mail(2, "Buller", f"Personnummer {PNR}. Grannen spelar hög musik. "
                                 + big, "dora@example.se"), "dora@example.se")
        bystander = accept(rt, mail(3, "Parkering", "Var får jag parkera?", "ove@example.se"),
                           "ove@example.se")
        for intake_id in (first, second, bystander):
            assert wait_for_state(rt, intake_id) == "done"
    held_arende = rt.store.get_item(first).arende_id
    second_raw = rt.store.get_intake(second).raw_sha256
    assert rt.blobs.path(second_raw).exists()

    runner = CliRunner()
    env = env_of(settings)
    assert runner.invoke(main, ["gdpr", "hold", held_arende, "--reason", "överklagande",
                                "--by", "admin"], env=env).exit_code == 0
    exported = runner.invoke(main, ["gdpr", "export", "--personnummer", "191212121212",
                                    "--by", "registrator"], env=env)
    assert exported.exit_code == 0, exported.output
    assert {i["item_id"] for i in json.loads(exported.output)["items"]} == {first, second}

    erased = runner.invoke(main, ["gdpr", "erase", "--personnummer", PNR, "--yes",
                                  "--by", "registrator"], env=env)
    assert erased.exit_code == 0, erased.output
    assert "erased 1 items; kept 1 under legal hold" in erased.output

    # The unheld item: text, sender, original and person references gone.
    gone = rt.store.get_item(second)
    assert gone.normalised["body"] == "[raderat]" and gone.normalised["subject"] == "[raderat]"
    assert gone.normalised["sender"]["email"] is None
    assert not rt.blobs.exists(second_raw)
    assert "dora@example.se" not in json.dumps(rt.store.get_intake(second).meta)
    # The held item is whole; the bystander untouched.
    kept = rt.store.get_item(first)
    assert PNR in kept.normalised["body"] and kept.normalised["sender"]["email"]
    assert rt.blobs.exists(rt.store.get_intake(first).raw_sha256)
    assert "Var får jag parkera?" in rt.store.get_item(bystander).normalised["body"]
    with rt.store.reading() as session:
        refs = session.scalars(select(PersonRef.intake_id)).all()
        actions = [e.action for e in audit.history(session, intake_ids=[first, second])]
        hold_events = [e.action for e in audit.history(session, arende_id=held_arende)]
    assert second not in refs and first in refs
    assert "gdpr.erase" in actions and "gdpr.erase_held" in actions
    assert "legal_hold.set" in hold_events
    # After the hold is lifted, the same request erases the rest.
    assert runner.invoke(main, ["gdpr", "release", held_arende, "--reason", "avgjort"],
                         env=env).exit_code == 0
    assert gdpr.erase(rt, "email", "Dora@Example.se", actor="t")["erased"] == [first]


def test_retention_dry_run_and_run_agree(db_settings) -> None:
    settings = db_settings
    rt = Runtime.build(settings)
    now = datetime.now(UTC)
    old = now - timedelta(days=800)  # past the default rule's 730 days
    with running_pipeline(rt):
        ids = [accept(rt, mail(10 + n, f"Fråga {n}", f"Gammal fråga nummer {n}.",
                               f"p{n}@example.se"), f"p{n}@example.se", old)
               for n in range(3)]
        fresh = accept(rt, mail(20, "Ny", "En ny fråga.", "q@example.se"), "q@example.se")
        for intake_id in (*ids, fresh):
            assert wait_for_state(rt, intake_id) == "done"
    gdpr.set_hold(rt, rt.store.get_item(ids[2]).arende_id, reason="tvist", actor="admin")

    dry = retention.run(rt, now, dry_run=True)
    assert dry["rules"]["default"]["anonymise"] == 2
    assert dry["rules"]["default"]["delete_originals"] == 2
    assert dry["rules"]["default"]["held"] == 1
    assert dry["rules"]["default"]["bytes"] > 0
    assert rt.store.get_item(ids[0]).normalised["body"] != "[raderat]"  # dry run changed nothing

    real = retention.run(rt, now)
    assert real == dry
    for intake_id in ids[:2]:
        assert rt.store.get_item(intake_id).normalised["body"] == "[raderat]"
        assert not rt.blobs.exists(rt.store.get_intake(intake_id).raw_sha256)
    assert rt.store.get_item(ids[2]).normalised["body"] != "[raderat]"  # legal hold
    assert rt.store.get_item(fresh).normalised["body"] != "[raderat]"  # not due yet
    again = retention.run(rt, now, dry_run=True)
    assert again["items"] == 0  # nothing is done twice
    # The CLI gives the same figures as JSON.
    result = CliRunner().invoke(main, ["retention", "run", "--dry-run", "--now",
                                       now.isoformat()], env=env_of(settings))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items"] == 0


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def test_blobs_are_sealed_on_disk_and_open_after_rotation(make_settings, redis_url) -> None:
    k1, k2 = key("k1"), key("k2")
    settings = make_settings(REDIS_URL=redis_url, KCS_BLOB_KEYS=k1)
    rt = Runtime.build(settings)
    secret = "Hemlig uppgift om ekonomiskt bistånd".encode()
    large = secret + b" " + b"x" * 300_000  # a file blob
    small_id = accept(rt, mail(30, "Hemligt", secret.decode(), "s@example.se"), "s@example.se")
    file_sha = rt.blobs.put(large)
    small_sha = rt.store.get_intake(small_id).raw_sha256
    # On disk and in the database: not readable.
    assert secret not in rt.blobs.path(file_sha).read_bytes()
    with rt.store.reading() as session:
        stored_inline = session.connection().exec_driver_sql(
            "SELECT data FROM blob WHERE sha256 = ?", (small_sha,)).scalar()
    assert secret not in stored_inline
    assert rt.blobs.get(file_sha) == large and secret in rt.blobs.get(small_sha)

    # Rotate: k2 first, k1 kept for reading; afterwards k1 can go.
    rotated = CliRunner().invoke(main, ["keys", "rotate"],
                                 env={**env_of(settings), "KCS_BLOB_KEYS": f"{k2},{k1}"})
    assert rotated.exit_code == 0, rotated.output
    assert "re-sealed 1 files and 1 inline blobs with key k2" in rotated.output
    only_k2 = Runtime.build(make_settings(REDIS_URL=redis_url, KCS_BLOB_KEYS=k2))
    assert only_k2.blobs.get(file_sha) == large
    assert secret in only_k2.blobs.get(small_sha)
    only_k1 = Runtime.build(make_settings(REDIS_URL=redis_url, KCS_BLOB_KEYS=k1))
    with pytest.raises(BlobKeyError):
        only_k1.blobs.get(file_sha)
    # Without any key (make run's defaults) blobs are plain, and still read back.
    plain = Runtime.build(make_settings(REDIS_URL=redis_url))
    sha = plain.blobs.put(b"plain bytes")
    assert plain.blobs.path(sha).read_bytes() == b"plain bytes"
    assert not KeyRing.parse("").enabled


def test_a_malformed_key_fails_start_up(make_settings) -> None:
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError, match="KCS_BLOB_KEYS"):
        make_settings(KCS_BLOB_KEYS="k1:not-base64!")


def test_erase_finds_people_only_by_valid_identifiers(settings) -> None:
    rt = Runtime.build(settings)
    with pytest.raises(gdpr.RequestError):
        gdpr.intake_ids(rt, "personnummer", "19121212-1213")  # fails the Luhn check
    assert gdpr.intake_ids(rt, "phone", "070-123 45 67") == []
    with rt.store.reading() as session:
        assert session.scalars(select(Intake)).all() == []
