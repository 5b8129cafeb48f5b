"""Logs of a whole SMS run carry no message text, no full phone number, no auth token."""

from __future__ import annotations

import json

from pipeline_support import running_pipeline, wait_for_state
from sms_support import AUTH_TOKEN, CITIZEN, inbound_params, post_form, twilio_error

from ingest.app import Runtime

MARKER = "Kronobergsgatan-hemlig-sms-text"


def test_sms_run_logs_only_masked_numbers(sms_settings, serve_web, twilio_env, mock_twilio,
                                          log_stream) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    mock_twilio.script = [(429, twilio_error(429, 20429, "Too Many Requests")),
                          (400, twilio_error(400, 21610, "Attempt to send to unsubscribed "
                                                         "recipient"))]
    with running_pipeline(rt):
        params = inbound_params(f"Hej, {MARKER}")
        assert post_form(f"{web.base}/sms/twilio", params)[0] == 200
        assert post_form(f"{web.base}/sms/twilio", params, signature="fel")[0] == 403
        with rt.store.reading() as session:
            key = f"twilio:{params['MessageSid']}"
            intake_id = rt.store.keys_taken(session, [key])[key]
        assert wait_for_state(rt, intake_id) == "done"
        assert post_form(f"{web.base}/sms/twilio", inbound_params("STOP"))[0] == 200

    text = log_stream.getvalue()
    events = {json.loads(line).get("event") for line in text.splitlines()
              if line.startswith("{")}
    assert {"intake.committed", "sms.signature_rejected", "sms.refused", "sms.keyword"} <= events
    assert MARKER not in text
    assert CITIZEN not in text and CITIZEN[1:] not in text and "701234567" not in text
    assert AUTH_TOKEN not in text
    assert "…67" in text
