"""Logs never carry a message body or a full personnummer, whatever happens."""

from __future__ import annotations

import json

from pipeline_support import running_pipeline, wait_for_state

from ingest.app import Runtime
from ingest.logs import mask_personnummer
from ingest.model import Channel, ChannelMeta

PNR = "19121212-1212"
MARKER = "Kronobergsgatan-hemlig-text"
MAIL = (f"From: Dora <dora@example.se>\r\nTo: kontaktcenter@stockholm.se\r\n"
        f"Subject: Ang. {PNR}\r\nMessage-ID: <priv@example.se>\r\n\r\n"
        f"Mitt personnummer är {PNR} och {MARKER}.\r\n").encode()


class Leaky:
    """A classifier that fails with the citizen's text in the exception, as bugs do."""

    def classify(self, subject: str, text: str, channel: str) -> dict:
        raise ValueError(f"cannot classify: {text}")


def test_logs_of_a_whole_run_hold_no_body_and_no_personnummer(settings, log_stream) -> None:
    rt = Runtime.build(settings)
    with running_pipeline(rt):
        ok = rt.intake.accept(MAIL, ChannelMeta(channel=Channel.EMAIL, transport="smtp",
                                                envelope_from="dora@example.se"))
        assert wait_for_state(rt, ok.intake_id) == "done"
    from dataclasses import replace

    cfg = settings.kcs.pipeline.model_copy(update={"max_retries": 0})
    rt2 = Runtime.build(replace(settings, kcs=settings.kcs.model_copy(update={"pipeline": cfg})))
    with running_pipeline(rt2, Leaky()):
        bad = rt2.intake.accept(MAIL + b"x", ChannelMeta(channel=Channel.EMAIL, transport="smtp"))
        assert wait_for_state(rt2, bad.intake_id) == "dead"

    text = log_stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = {line.get("event") for line in lines}
    assert {"intake.committed", "pipeline.stage_done", "pipeline.dead_letter"} <= events
    assert "classify failed: ValueError at test_privacy.py" in text  # the failure is logged ...
    assert PNR not in text and "191212121212" not in text and "1212-1212" not in text
    assert MARKER not in text  # ... but not the citizen's words


def test_masking_covers_the_shapes_of_personnummer() -> None:
    for shape in ("19800101-4567", "800101-4567", "800101+4567", "198001014567",
                  "800161 4567"):  # the last: samordningsnummer, day + 60
        masked = mask_personnummer(f"Personnr {shape}, tack")
        assert "4567" not in masked and "****" in masked
