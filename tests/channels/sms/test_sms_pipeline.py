"""SMS end to end on a real Redis: signed webhook in, pipeline, acknowledgement SMS out
through twilio's Client (to the local Twilio), delivery report back, conversations kept
together, STOP honoured, and the outbox fallback when only the auth token is set."""

from __future__ import annotations

import json

from pipeline_support import downstream, running_pipeline, wait_for_state
from sms_support import CITIZEN, inbound_params, letter_png, post_form, status_params

from channels.sms import state
from ingest.app import Runtime
from ingest.contract import validator

QUEUE = "kcs.triage"  # the placeholder classifier is always unsure


def send(web, body: str, **kwargs) -> str:
    """Post one signed inbound SMS; returns its MessageSid."""
    params = inbound_params(body, **kwargs)
    status, _, _ = post_form(f"{web.base}/sms/twilio", params)
    assert status == 200
    return params["MessageSid"]


def intake_of(rt: Runtime, sid: str) -> str:
    with rt.store.reading() as session:
        return rt.store.keys_taken(session, [f"twilio:{sid}"])[f"twilio:{sid}"]


def processed(rt: Runtime, sid: str) -> str:
    intake_id = intake_of(rt, sid)
    assert wait_for_state(rt, intake_id) == "done"
    return intake_id


def item_for(settings, intake_id: str) -> dict:
    items = [i for i in downstream(settings.effective_redis_url(), QUEUE)
             if i["item_id"] == intake_id]
    assert len(items) == 1
    assert list(validator().iter_errors(items[0])) == []
    return items[0]


def test_sms_is_acknowledged_by_sms_and_a_second_sms_joins_the_arende(
        sms_settings, serve_web, twilio_env, mock_twilio) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    with running_pipeline(rt):
        first = processed(rt, send(web, "Hej! Gatlyktan på Sveavägen 12 är släckt. 😀"))
        item = item_for(sms_settings, first)
        assert item["channel"]["type"] == "sms" and item["channel"]["transport"] == "twilio"
        assert item["sender"]["phone"] == CITIZEN and item["sender"]["email"] is None
        assert item["body"] == "Hej! Gatlyktan på Sveavägen 12 är släckt. 😀"
        assert {k: item["acknowledgement"][k] for k in ("planned", "channel", "to", "reason")
                } == {"planned": True, "channel": "sms", "to": CITIZEN, "reason": None}
        arende = item["arende"]["id"]
        (ack,) = mock_twilio.sent
        assert ack["To"] == CITIZEN and arende in ack["Body"]

        result = rt.store.get_item(first).acknowledgement
        assert result["state"] == "queued" and result["twilio_sid"] == ack["sid"]
        assert result["to_masked"] == "…67" and CITIZEN not in json.dumps(result)
        assert post_form(f"{web.base}/sms/twilio/status",
                         status_params(ack["sid"], "delivered"))[0] == 204
        assert rt.store.get_item(first).acknowledgement["state"] == "delivered"

        second = processed(rt, send(web, "Jag glömde: lyktan vid nummer 14 också."))
        linked = item_for(sms_settings, second)["arende"]
        assert linked["id"] == arende and linked["new"] is False
        assert linked["linked_by"] == "sms_same_number_recent"

        other = processed(rt, send(web, "Hej, en fråga om bygglov", sender="0739876543"))
        assert item_for(sms_settings, other)["arende"]["new"] is True


def test_mms_photo_of_a_letter_becomes_an_attachment(
        sms_settings, serve_web, twilio_env, mock_twilio) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    png = letter_png()
    mock_twilio.add_media("ME" + "4" * 32, "image/png", png)
    media_url = mock_twilio.media_url("MM" + "5" * 32, "ME" + "4" * 32)
    with running_pipeline(rt):
        intake_id = processed(rt, send(web, "Brevet jag fick", media=[("image/png", media_url)]))
    (attachment,) = item_for(sms_settings, intake_id)["attachments"]
    assert attachment["content_type"] == "image/png" and attachment["size"] == len(png)
    assert rt.blobs.get(attachment["sha256"]) == png
    assert mock_twilio.media_gets == [{"auth": True}]
    # The photo was read with the scan channel's OCR; its text is on the stored message.
    assert attachment["text_extracted"] is True
    (stored,) = rt.store.get_item(intake_id).normalised["attachments"]
    assert "hemtjänsten" in stored["text"].lower()


def test_stop_silences_us_until_start_and_help_gets_the_help_text(
        sms_settings, serve_web, twilio_env, mock_twilio) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    with running_pipeline(rt):
        stop = processed(rt, send(web, "STOPP"))
        assert state.is_opted_out(rt.store, CITIZEN)
        after = processed(rt, send(web, "Men jag har en fråga"))
        for intake_id in (stop, after):
            item = item_for(sms_settings, intake_id)
            assert item["acknowledgement"]["reason"] == "opted_out"
        assert "sms_opt_out" in item_for(sms_settings, stop)["problems"]
        assert mock_twilio.attempts == 0

        start = processed(rt, send(web, "START"))
        assert item_for(sms_settings, start)["acknowledgement"]["reason"] == "sms_keyword"
        processed(rt, send(web, "Hjälp"))
        assert mock_twilio.sent[-1]["Body"].startswith("Kontaktcenter Stockholm: skriv vad")
        processed(rt, send(web, "Nu en riktig fråga"))
        assert len(mock_twilio.sent) == 2 and "KC-" in mock_twilio.sent[-1]["Body"]


def test_with_only_the_auth_token_acknowledgements_go_to_the_outbox(
        sms_settings, serve_web, token_only_env, mock_twilio) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    with running_pipeline(rt):
        intake_id = processed(rt, send(web, "Hej från en mobil utan Twilio-konto"))
    arende = item_for(sms_settings, intake_id)["arende"]["id"]
    (path,) = (sms_settings.outbox_dir / "sms").glob("*.json")
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["to"] == CITIZEN and arende in record["body"]
    assert rt.store.get_item(intake_id).acknowledgement["state"] == "written"
    assert mock_twilio.attempts == 0
