"""Routing, secrecy, audit and personal data through the real pipeline on a real Redis."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from pipeline_support import downstream, running_pipeline, wait_for_state
from sqlalchemy import select

from ingest import audit
from ingest.app import Runtime
from ingest.cli import main
from ingest.db import Publication
from ingest.governance.db import PersonRef
from ingest.model import Channel, ChannelMeta

PNR = "19121212-1212"


def mail(n: int, subject: str, body: str, sender: str = "a@example.se") -> bytes:
    return (f"From: {sender}\r\nTo: kontaktcenter@stockholm.se\r\nSubject: {subject}\r\n"
            f"Message-ID: <gov{n}@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{body}\r\n").encode()


def meta(sender: str = "a@example.se") -> ChannelMeta:
    return ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from=sender)


def cli_env(settings) -> dict[str, str]:
    return {"KCS_CONFIG_DIR": str(settings.config_dir), "KCS_VAR_DIR": str(settings.var_dir),
            "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url}


def test_tensta_socialtjanst_akut_fast_path_audit_and_clean_logs(
        settings, trained_classifier, log_stream) -> None:
    rt = Runtime.build(settings)
    social = mail(1, "Ekonomiskt bistånd", "Hej! Jag bor i Tensta och behöver ansöka om "
                  f"ekonomiskt bistånd, försörjningsstöd, för december. Mitt personnummer är "
                  f"{PNR}. Hur gör jag och vilka papper behövs till socialtjänsten?",
                  sender="samira@example.se")
    akut = mail(2, "Pappa har ingen mat", "Min pappa är 87 år och har varken fått mat eller "
                "sina mediciner i dag. Hemtjänsten har inte kommit och han är ensam och "
                "mycket svag. Någon måste åka dit nu.", sender="erik@example.se")
    with running_pipeline(rt, trained_classifier):
        social_id = rt.intake.accept(social, meta("samira@example.se")).intake_id
        akut_id = rt.intake.accept(akut, meta("erik@example.se")).intake_id
        assert wait_for_state(rt, social_id) == "done"
        assert wait_for_state(rt, akut_id) == "done"

    # Socialtjänst from Tensta: Spånga-Tensta's restricted queue, marked for referral.
    routed = rt.store.get_item(social_id).routing
    assert routed["queue"] == "kcs.restricted.spanga_tensta.socialtjanst"
    assert routed["stadsdel"] == "spanga_tensta" and routed["stadsdel_from"] == "text"
    [item] = downstream(settings.redis_url, "kcs.restricted.spanga_tensta.socialtjanst")
    assert item["item_id"] == social_id
    assert item["routing"]["out_of_scope"] is True
    assert item["routing"]["referral"] == "socialtjanst"
    assert item["routing"]["owner"] == "stadsdelsnamnd_spanga_tensta"
    # ... and the sender is told the message was passed on (a referral text).
    assert item["acknowledgement"]["kind"] == "referral"
    sent = rt.store.get_item(social_id).acknowledgement
    assert sent is not None and sent["state"] in ("written", "sent")

    # Akut: one item on the fast path and one on the owner's queue, each published once.
    akut_routing = rt.store.get_item(akut_id).routing
    assert akut_routing["owner"] == "aldrenamnden"
    owner_queue, fast_queue = akut_routing["queues"]
    assert fast_queue in ("kcs.fastpath.akut", "kcs.restricted.fastpath.akut")
    for queue in (owner_queue, fast_queue):
        copies = [i for i in downstream(settings.redis_url, queue) if i["item_id"] == akut_id]
        assert len(copies) == 1, queue
    with rt.store.reading() as session:
        pubs = session.scalars(select(Publication.queue)
                               .where(Publication.intake_id == akut_id)).all()
        assert sorted(pubs) == sorted([owner_queue, fast_queue])
        # Every automated decision is in the audit log, codes only.
        events = audit.history(session, intake_id=social_id)
        refs = session.scalars(select(PersonRef).where(PersonRef.intake_id == social_id)).all()
    actions = [e.action for e in events]
    assert actions == ["pipeline.normalise", "pipeline.classify", "pipeline.link",
                       "pipeline.route", "pipeline.publish", "pipeline.acknowledge"]
    route_event = events[3].detail
    assert route_event["rule"] == "socialtjanst_lokal" and route_event["out_of_scope"] is True
    assert events[1].detail["huvudkategori"] == "socialtjanst"
    assert "Tensta" not in json.dumps([e.detail for e in events])  # no text
    # The personnummer is kept as a keyed hash, and in clear for the owning district only.
    pnr_refs = [r for r in refs if r.kind == "personnummer"]
    assert len(pnr_refs) == 1 and re.fullmatch(r"[0-9a-f]{64}", pnr_refs[0].digest)
    assert pnr_refs[0].value == "191212121212"
    assert "191212121212" not in pnr_refs[0].digest

    # `kcs audit show` and `kcs routes explain` answer from the same records.
    runner = CliRunner()
    shown = runner.invoke(main, ["audit", "show", "--item", social_id], env=cli_env(settings))
    assert shown.exit_code == 0, shown.output
    assert "pipeline.route" in shown.output and "socialtjanst_lokal" in shown.output
    explained = runner.invoke(main, ["routes", "explain", social_id], env=cli_env(settings))
    assert explained.exit_code == 0, explained.output
    assert "FIRED  socialtjanst_lokal" in explained.output
    assert "no     aldreomsorg: huvudkategori: wants aldreomsorg, item has socialtjanst" in \
        explained.output

    # Logs of the whole run: no personnummer in any shape, no body text.
    text = log_stream.getvalue()
    assert "pipeline.stage_done" in text
    assert PNR not in text and "191212121212" not in text and "1212-1212" not in text
    assert "försörjningsstöd" not in text and "mediciner" not in text
