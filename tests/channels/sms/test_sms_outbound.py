"""Outbound SMS through twilio's real Client, pointed at a local server that speaks
Twilio's Messages API: retries, refusals, opt-outs, segments, the outbox fallback."""

from __future__ import annotations

import json

import pytest
from sms_support import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, OUR_NUMBER, twilio_error, with_sms

from channels.sms import segments, state
from channels.sms.credentials import TwilioCredentials
from channels.sms.errors import SmsSendFailed
from channels.sms.outbound import SmsSender, acknowledgement_text
from ingest.app import Runtime
from ingest.model import utcnow

CREDS = TwilioCredentials(ACCOUNT_SID, AUTH_TOKEN)
ARENDE = "KC-2026-004711-J"


@pytest.fixture
def sender_for(sms_settings):
    rt = Runtime.build(sms_settings)
    sleeps: list[float] = []

    def make(settings=sms_settings, credentials: TwilioCredentials = CREDS) -> SmsSender:
        sender = SmsSender(settings.kcs.sms, rt.store, settings.outbox_dir, credentials,
                           sleep=sleeps.append)
        sender.sleeps = sleeps  # type: ignore[attr-defined]
        return sender

    return make


def test_acknowledgement_goes_through_twilio_with_a_status_callback(
        sender_for, mock_twilio, sms_settings) -> None:
    sender = sender_for()
    delivery = sender.send(to=CITIZEN, text=acknowledgement_text(ARENDE), purpose="ack",
                           intake_id="01TESTINTAKE0000000000000A", keep=ARENDE)
    (sent,) = mock_twilio.sent
    assert sent["To"] == CITIZEN and sent["From"] == OUR_NUMBER
    assert ARENDE in sent["Body"]
    assert sent["StatusCallback"] == f"{sms_settings.kcs.sms.public_base_url}/sms/twilio/status"
    assert delivery.status == "queued" and delivery.twilio_sid == sent["sid"]
    assert delivery.encoding == "GSM-7" and delivery.attempts == 1


def test_429_is_retried_with_backoff_then_sent_once(sender_for, mock_twilio) -> None:
    mock_twilio.script = [(429, twilio_error(429, 20429, "Too Many Requests")),
                          (503, twilio_error(503, 20503, "Service Unavailable"))]
    sender = sender_for()
    delivery = sender.send(to=CITIZEN, text="Tack!", purpose="ack", intake_id="I1")
    assert mock_twilio.attempts == 3 and len(mock_twilio.sent) == 1
    assert delivery.status == "queued" and delivery.attempts == 3
    assert sender.sleeps == [0.01, 0.02]


def test_twilio_down_through_every_attempt_raises_and_sends_once_later(
        sender_for, mock_twilio) -> None:
    mock_twilio.script = [(500, twilio_error(500, 20500, "Internal Server Error"))] * 4
    sender = sender_for()
    with pytest.raises(SmsSendFailed) as failure:
        sender.send(to=CITIZEN, text="Tack!", purpose="ack", intake_id="I2")
    assert failure.value.status == 500 and failure.value.attempts == 4
    assert state.get_outbound(sender.store, "I2:ack").status == "pending"
    # The stage runs again: now Twilio answers, and the SMS goes once.
    delivery = sender.send(to=CITIZEN, text="Tack!", purpose="ack", intake_id="I2")
    assert delivery.status == "queued" and delivery.attempts == 5
    assert len(mock_twilio.sent) == 1
    assert sender.send(to=CITIZEN, text="Tack!", purpose="ack", intake_id="I2") == delivery
    assert mock_twilio.attempts == 5


def test_other_4xx_is_final_and_not_retried(sender_for, mock_twilio) -> None:
    mock_twilio.script = [(400, twilio_error(400, 21211, "Invalid 'To' Phone Number"))]
    delivery = sender_for().send(to=CITIZEN, text="Tack!", purpose="ack", intake_id="I3")
    assert delivery.status == "failed" and delivery.error_code == "21211"
    assert mock_twilio.attempts == 1
    assert not state.is_opted_out(sender_for().store, CITIZEN)


def test_unsubscribed_recipient_error_records_the_opt_out(sender_for, mock_twilio) -> None:
    mock_twilio.script = [(400, twilio_error(400, 21610,
                                             "Attempt to send to unsubscribed recipient"))]
    sender = sender_for()
    delivery = sender.send(to=CITIZEN, text="Tack!", purpose="ack", intake_id="I4")
    assert delivery.status == "failed" and delivery.error_code == "21610"
    assert state.is_opted_out(sender.store, CITIZEN)


def test_never_sends_to_an_opted_out_number(sender_for, mock_twilio) -> None:
    sender = sender_for()
    state.record_keyword(sender.store, CITIZEN, "stop", utcnow(), None)
    delivery = sender.send(to=CITIZEN, text="Uppföljning", purpose="followup", intake_id="I5")
    assert delivery.status == "suppressed" and delivery.error_code == "opted_out"
    assert mock_twilio.attempts == 0


def test_long_text_is_cut_to_max_segments_keeping_the_number(sender_for, mock_twilio) -> None:
    text = (f"Ditt ärende {ARENDE} är under handläggning. "
            + "Handläggaren återkommer med besked om hemtjänsten. " * 20)
    delivery = sender_for().send(to=CITIZEN, text=text, purpose="followup", intake_id="I6",
                                 keep=ARENDE)
    body = mock_twilio.sent[0]["Body"]
    assert ARENDE in body and text.startswith(body) and len(body) < len(text)
    assert segments.count(body) == segments.SegmentCount("GSM-7", len(body), 3)
    assert delivery.segments == 3 and len(body) > 2 * 153


def test_emoji_text_is_counted_as_ucs2(sender_for, mock_twilio, sms_settings) -> None:
    sender = sender_for(with_sms(sms_settings, max_segments=2))
    text = f"Ärende {ARENDE} 😀 " + "Tack för ditt tålamod! " * 20
    delivery = sender.send(to=CITIZEN, text=text, purpose="followup", intake_id="I7",
                           keep=ARENDE)
    body = mock_twilio.sent[0]["Body"]
    assert delivery.encoding == "UCS-2" and delivery.segments == 2
    assert len(body.encode("utf-16-le")) // 2 <= 2 * 67 and ARENDE in body


def test_without_an_account_sid_sms_are_written_to_the_outbox(
        sender_for, mock_twilio, sms_settings) -> None:
    sender = sender_for(credentials=TwilioCredentials(None, AUTH_TOKEN))
    delivery = sender.send(to=CITIZEN, text=acknowledgement_text(ARENDE), purpose="ack",
                           intake_id="I8", keep=ARENDE)
    assert delivery.status == "written" and mock_twilio.attempts == 0
    (path,) = (sms_settings.outbox_dir / "sms").glob("*.json")
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["to"] == CITIZEN and ARENDE in record["body"]
    assert record["encoding"] == "GSM-7" and record["intake_id"] == "I8"
