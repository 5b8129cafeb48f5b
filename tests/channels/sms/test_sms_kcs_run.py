"""`kcs run` with only TWILIO_AUTH_TOKEN set: signed webhooks are accepted and the
acknowledgement SMS is written to var/outbox/sms/ instead of being sent."""

from __future__ import annotations

import json
from pathlib import Path

from sms_support import AUTH_TOKEN, CITIZEN, inbound_params, post_form
from tests_support import kcs_run, wait_until


def test_kcs_run_without_an_account_writes_sms_to_the_outbox(tmp_path: Path) -> None:
    with kcs_run(tmp_path, drop_env=("TWILIO_ACCOUNT_SID",),
                 TWILIO_AUTH_TOKEN=AUTH_TOKEN) as run:
        params = inbound_params("Hej! Soptunnan på Hornsgatan 5 har inte tömts. Mvh Åsa")
        assert post_form(f"{run.base_url}/sms/twilio", params, signature="forged")[0] == 403
        assert post_form(f"{run.base_url}/sms/twilio", params)[0] == 200
        outbox = run.var / "outbox" / "sms"
        wait_until(lambda: list(outbox.glob("*.json")), 60, "SMS acknowledgement file")
        (path,) = outbox.glob("*.json")
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["to"] == CITIZEN and "ärende KC-" in record["body"]
        assert record["purpose"] == "ack" and record["encoding"] == "GSM-7"
