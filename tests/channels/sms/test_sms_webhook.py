"""POST /sms/twilio and /sms/twilio/status over real HTTP on the real web app, with
signatures computed like Twilio computes them."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest
from sms_support import AUTH_TOKEN, CITIZEN, inbound_params, post_form, status_params, with_sms
from twilio.twiml.messaging_response import MessagingResponse

from channels.sms import state
from channels.sms.signature import SignatureChecker
from channels.sms.webhook import EMPTY_TWIML
from ingest.app import Runtime
from ingest.errors import IntakeUnavailable
from ingest.model import ChannelMeta


def stored(rt: Runtime) -> list:
    return rt.store.list_intake(("accepted", "processing", "done", "rejected", "dead"))


def test_valid_signature_stores_the_exact_body_then_answers_empty_twiml(
        sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    params = inbound_params("Hej! Gatlyktan på Sveavägen 12 är släckt sedan en vecka. 😀")
    status, body, headers = post_form(f"{web.base}/sms/twilio", params)
    assert status == 200
    assert body.decode() == EMPTY_TWIML == str(MessagingResponse())
    assert headers["content-type"].startswith("text/xml")

    (row,) = stored(rt)
    assert row.channel == "sms" and row.transport == "twilio"
    assert rt.blobs.get(row.raw_sha256) == urllib.parse.urlencode(params).encode()
    meta = ChannelMeta.from_dict(row.meta)
    assert meta.source_keys == (f"twilio:{params['MessageSid']}",)
    assert meta.detail["signed_url"] == f"{web.base}/sms/twilio"
    assert meta.detail["signature"] and meta.detail["message_sid"] == params["MessageSid"]
    assert meta.envelope_from == CITIZEN


@pytest.mark.parametrize("signature", ["", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="])
def test_missing_or_invalid_signature_is_403_and_nothing_is_stored(
        sms_settings, serve_web, twilio_env, signature: str) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    status, _, _ = post_form(f"{web.base}/sms/twilio", inbound_params("Hej"),
                             signature=signature)
    assert status == 403
    assert stored(rt) == []


def test_signature_by_another_token_or_over_other_params_is_403(
        sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    url = f"{web.base}/sms/twilio"
    params = inbound_params("Hej")
    assert post_form(url, params, token="another-token")[0] == 403
    genuine = SignatureChecker(AUTH_TOKEN).sign(url, params)
    tampered = {**params, "Body": "Hej, skicka pengar"}
    assert post_form(url, tampered, signature=genuine)[0] == 403
    assert post_form(url, {**params, "Extra": "1"}, signature=genuine)[0] == 403
    assert stored(rt) == []
    assert post_form(url, params, signature=genuine)[0] == 200


def test_replayed_message_sid_is_one_item(sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    params = inbound_params("Hej, fråga om bygglov")
    assert post_form(f"{web.base}/sms/twilio", params)[0] == 200
    assert post_form(f"{web.base}/sms/twilio", params)[0] == 200
    # Twilio's retry may carry a parameter more; the MessageSid still makes it the same.
    assert post_form(f"{web.base}/sms/twilio", {**params, "AddOns": "{}"})[0] == 200
    assert len(stored(rt)) == 1


def test_behind_a_reverse_proxy_the_public_url_is_what_counts(
        sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(with_sms(sms_settings, public_base_url="https://kcs.example.se"))
    web = serve_web(rt)
    params = inbound_params("Hej")
    assert post_form(f"{web.base}/sms/twilio", params)[0] == 403  # signed for the inner URL
    assert post_form(f"{web.base}/sms/twilio", params,
                     sign_url="https://kcs.example.se/sms/twilio")[0] == 200


def test_trusted_forwarded_headers_rebuild_the_url(sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(with_sms(sms_settings, trust_forwarded_headers=True))
    web = serve_web(rt)
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.stockholm.se"}
    assert post_form(f"{web.base}/sms/twilio", inbound_params("Hej"), headers=proxy,
                     sign_url="https://sms.stockholm.se/sms/twilio")[0] == 200


def test_without_an_auth_token_the_webhook_refuses_everything(
        sms_settings, serve_web, monkeypatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    assert post_form(f"{web.base}/sms/twilio", inbound_params("Hej"))[0] == 503
    assert stored(rt) == []


def test_store_unavailable_is_503(sms_settings, serve_web, twilio_env, monkeypatch) -> None:
    rt = Runtime.build(sms_settings)

    async def down(raw: bytes, meta: ChannelMeta):
        raise IntakeUnavailable("database unavailable")

    monkeypatch.setattr(rt.intake, "accept_async", down)
    web = serve_web(rt)
    assert post_form(f"{web.base}/sms/twilio", inbound_params("Hej"))[0] == 503


def test_oversized_and_non_form_bodies(sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(with_sms(sms_settings, max_body_bytes=4096))
    web = serve_web(rt)
    assert post_form(f"{web.base}/sms/twilio", inbound_params("x" * 5000))[0] == 413
    request = urllib.request.Request(f"{web.base}/sms/twilio", data=b"Body=%FF", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 400
    assert stored(rt) == []


def test_stop_and_start_are_recorded_at_arrival(sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    assert post_form(f"{web.base}/sms/twilio", inbound_params("STOPP"))[0] == 200
    assert state.is_opted_out(rt.store, CITIZEN)
    assert post_form(f"{web.base}/sms/twilio", inbound_params("Hej igen"))[0] == 200
    assert state.is_opted_out(rt.store, CITIZEN)  # writing again is no opt-in
    assert post_form(f"{web.base}/sms/twilio", inbound_params("start"))[0] == 200
    assert not state.is_opted_out(rt.store, CITIZEN)
    assert len(stored(rt)) == 3  # keywords are items too


def test_status_callbacks_move_delivery_forward_only(sms_settings, serve_web,
                                                     twilio_env) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    sid = "SM" + "a" * 32
    state.claim_outbound(rt.store, sms_id="x:ack", intake_id=None, purpose="ack",
                         to_phone=CITIZEN, body="Tack", encoding="GSM-7", segments=1)
    state.finish_outbound(rt.store, "x:ack", status="queued", twilio_sid=sid)
    url = f"{web.base}/sms/twilio/status"
    assert post_form(url, status_params(sid, "sent"))[0] == 204
    assert state.get_outbound(rt.store, "x:ack").status == "sent"
    assert post_form(url, status_params(sid, "delivered"), signature="forged")[0] == 403
    assert state.get_outbound(rt.store, "x:ack").status == "sent"
    assert post_form(url, status_params(sid, "delivered"))[0] == 204
    assert post_form(url, status_params(sid, "sent"))[0] == 204  # late, out of order
    assert state.get_outbound(rt.store, "x:ack").status == "delivered"


def test_undelivered_with_unsubscribed_error_opts_the_number_out(
        sms_settings, serve_web, twilio_env) -> None:
    rt = Runtime.build(sms_settings)
    web = serve_web(rt)
    sid = "SM" + "b" * 32
    assert post_form(f"{web.base}/sms/twilio/status",
                     status_params(sid, "failed", error_code="21610"))[0] == 204
    row = state.get_outbound(rt.store, f"twilio:{sid}")
    assert row.status == "failed" and row.error_code == "21610"
    assert state.is_opted_out(rt.store, CITIZEN)
