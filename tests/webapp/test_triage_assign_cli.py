"""``kcs triage assign``: a label from the command line re-routes a published triage item
(real pipeline, Redis and database; the same ``Runtime.assign`` as the triage screen)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from pipeline_support import downstream, running_pipeline, wait_for_state
from sqlalchemy import select

from ingest.app import Runtime
from ingest.audit import AuditEvent
from ingest.cli import main
from ingest.db import Publication
from ingest.model import Channel, ChannelMeta

MAIL = ("From: sami@example.se\r\nTo: kontaktcenter@stockholm.se\r\nSubject: Pengar\r\n"
        "Message-ID: <assign1@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hej, jag behöver hjälp med hyran den här månaden.\r\n").encode()


def test_assign_reroutes_once_to_the_restricted_owner(settings, tmp_path, monkeypatch) -> None:
    """GIVEN an unsure e-mail published to triage WHEN registratur labels it socialtjänst
    from the CLI THEN a copy with key :triage reaches the restricted queue, once, and a
    different second label is refused."""
    for key, value in {"KCS_VAR_DIR": str(settings.var_dir),
                       "KCS_CONFIG_DIR": str(settings.config_dir),
                       "DATABASE_URL": settings.database_url,
                       "REDIS_URL": settings.effective_redis_url(),
                       "KCS_MODEL_DIR": str(tmp_path / "models")}.items():
        monkeypatch.setenv(key, value)
    rt = Runtime.build(settings)
    url = settings.effective_redis_url()
    with running_pipeline(rt):
        intake_id = rt.intake.accept(MAIL, ChannelMeta(channel=Channel.EMAIL, transport="smtp",
                                                       envelope_from="sami@example.se")
                                     ).intake_id
        assert wait_for_state(rt, intake_id) == "done"
    assert [i["item_id"] for i in downstream(url, "kcs.triage")] == [intake_id]

    runner = CliRunner()
    args = ["triage", "assign", intake_id, "--category", "socialtjanst", "--type",
            "ekonomiskt_bistand", "--by", "user:anna"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    done = json.loads(first.output)
    assert done["republished"] is True and done["queue"].startswith("kcs.restricted.")
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and json.loads(again.output)["republished"] is False
    other = runner.invoke(main, ["triage", "assign", intake_id, "--category", "aldreomsorg",
                                 "--type", "hemtjanst"])
    assert other.exit_code != 0 and "already labelled" in other.output
    unknown = runner.invoke(main, ["triage", "assign", intake_id, "--category", "socialtjanst",
                                   "--type", "finns_inte"])
    assert unknown.exit_code != 0 and "unknown huvudkategori/ärendetyp" in unknown.output
    assert runner.invoke(main, ["triage", "assign", "0" * 26, "--category", "socialtjanst",
                                "--type", "ekonomiskt_bistand"]).exit_code != 0

    # The relay is a separate step: run it once to hand the outbox rows to Redis.
    with running_pipeline(rt):
        from tests_support import wait_until

        wait_until(lambda: downstream(url, done["queue"]), 30, "the re-routed copy")
    [copy] = downstream(url, done["queue"])
    assert copy["idempotency_key"] == f"kcs:{intake_id}:triage"
    assert copy["flags"]["sekretess"] is True
    assert copy["classification"]["arendetyp"] == "ekonomiskt_bistand"
    item = rt.store.get_item(intake_id)
    assert item.classification["needs_triage"] is False
    assert item.routing["queue"] == done["queue"]
    with rt.store.reading() as session:
        keys = sorted(session.scalars(select(Publication.idempotency_key)
                                      .where(Publication.intake_id == intake_id)))
        actions = [(e.actor, e.action) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.intake_id == intake_id))]
    assert keys == [f"kcs:{intake_id}", f"kcs:{intake_id}:triage"]
    assert actions.count(("user:anna", "item.triage")) == 1
