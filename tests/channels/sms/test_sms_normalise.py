"""The stored webhook body read back as a NormalisedMessage: E.164, whitespace,
keywords, UCS-2 text, and MMS media fetched from Twilio with the account's credentials."""

from __future__ import annotations

import hashlib
import urllib.parse

import pytest
from sms_support import ACCOUNT_SID, AUTH_TOKEN, inbound_params, letter_png

from channels.sms.credentials import TwilioCredentials
from channels.sms.errors import MediaUnavailable
from channels.sms.keywords import Keyword, keyword_of
from channels.sms.media import MediaFetcher
from channels.sms.normalise import normalise_sms
from ingest.config import SmsConfig
from ingest.errors import InputRejected

CREDS = TwilioCredentials(ACCOUNT_SID, AUTH_TOKEN)


def raw(params: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(params).encode()


def read(params: dict[str, str], cfg: SmsConfig | None = None,
         creds: TwilioCredentials = CREDS):
    cfg = cfg or SmsConfig()
    return normalise_sms(raw(params), cfg, MediaFetcher(cfg, creds))


@pytest.mark.parametrize(("body", "expected"), [
    ("STOP", Keyword.STOP), ("stopp", Keyword.STOP),
    (" Avsluta. ", Keyword.STOP), ("SLUTA!", Keyword.STOP), ("unsubscribe", Keyword.STOP),
    ("Start", Keyword.START), ("UNSTOP", Keyword.START),
    ("hjälp", Keyword.HELP), ("HJA\u0308LP", Keyword.HELP), ("Info?", Keyword.HELP),
    ("Stoppa inte hemtjänsten", None), ("stop the noise please", None), ("", None),
])
def test_keywords_are_the_whole_message(body: str, expected: Keyword | None) -> None:
    assert keyword_of(body, SmsConfig()) == expected


def test_plain_sms_sender_in_e164_and_whitespace_tidied() -> None:
    params = inbound_params("  Hej!\r\nGatlyktan på Sveavägen 12 är släckt.   \r\n\r\n\r\n"
                            "Mvh Anna  ", sender="070-123 45 67")
    message, blobs = read(params)
    assert message.sender.phone == "+46701234567"
    assert message.sender.email is None and not message.sender.anonymous
    assert message.body == "Hej!\nGatlyktan på Sveavägen 12 är släckt.\n\nMvh Anna"
    assert message.subject == "" and message.full_text == message.body
    assert message.message_id == params["MessageSid"]
    assert message.problems == () and blobs == {}
    assert "sms-keyword" not in message.headers


def test_emoji_and_decomposed_swedish_letters_survive() -> None:
    message, _ = read(inbound_params("Tack för hja\u0308lpen 😀👍🏽"))
    assert message.body == "Tack för hjälpen 😀👍🏽"


def test_stop_is_kept_and_flagged() -> None:
    message, _ = read(inbound_params("Stopp"))
    assert message.body == "Stopp"
    assert message.headers["sms-keyword"] == "stop"
    assert message.problems == ("sms_opt_out",)


def test_alphanumeric_sender_is_anonymous_with_a_reason() -> None:
    message, _ = read(inbound_params("Ditt paket har kommit", sender="PostNord"))
    assert message.sender.phone is None and message.sender.anonymous
    assert "sms_sender_unparseable" in message.problems


def test_mms_image_is_fetched_with_the_account_credentials(mock_twilio) -> None:
    png = letter_png()
    mock_twilio.add_media("ME" + "1" * 32, "image/png", png)
    params = inbound_params("Här är brevet", media=[
        ("image/png", mock_twilio.media_url("MM" + "2" * 32, "ME" + "1" * 32))])
    message, blobs = read(params, SmsConfig(api_base_url=mock_twilio.url))
    assert mock_twilio.media_gets == [{"auth": True}]
    (attachment,) = message.attachments
    assert attachment.content_type == "image/png" and attachment.filename == "mms-1.png"
    assert attachment.sha256 == hashlib.sha256(png).hexdigest() and attachment.size == len(png)
    assert attachment.text is None  # OCR: the scan channel's reader, once it is wired in
    assert blobs == {attachment.sha256: png}


def test_mms_media_type_lie_is_recorded_and_the_sniffed_type_kept(mock_twilio) -> None:
    png = letter_png()
    mock_twilio.add_media("ME" + "3" * 32, "image/jpeg", png)
    params = inbound_params("", media=[
        ("application/pdf", mock_twilio.media_url("MM" + "2" * 32, "ME" + "3" * 32))])
    message, _ = read(params, SmsConfig(api_base_url=mock_twilio.url))
    assert message.attachments[0].content_type == "image/png"
    assert message.attachments[0].problems == ("content_type_mismatch",)


def test_media_outside_twilio_is_never_fetched_with_our_credentials(mock_twilio) -> None:
    params = inbound_params("x", media=[("image/png", f"{mock_twilio.url}/2010-04-01/x/Media/ME1")])
    message, blobs = read(params, SmsConfig(api_base_url=mock_twilio.url))
    assert mock_twilio.media_gets == [] and blobs == {}
    assert message.problems == ("sms_media_not_twilio",)


def test_gone_media_is_a_problem_not_a_failure(mock_twilio) -> None:
    params = inbound_params("x", media=[
        ("image/jpeg", mock_twilio.media_url("MM" + "2" * 32, "ME" + "9" * 32))])
    message, _ = read(params, SmsConfig(api_base_url=mock_twilio.url))
    assert message.attachments == () and message.problems == ("sms_media_unavailable",)


def test_unreachable_media_raises_so_the_stage_retries() -> None:
    cfg = SmsConfig(api_base_url="http://127.0.0.1:9", request_timeout_s=2)
    params = inbound_params("x", media=[
        ("image/jpeg", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1")])
    with pytest.raises(MediaUnavailable):
        read(params, cfg)


def test_empty_or_undecodable_raw_is_rejected() -> None:
    with pytest.raises(InputRejected):
        normalise_sms(b"", SmsConfig(), MediaFetcher(SmsConfig(), CREDS))
    with pytest.raises(InputRejected):
        normalise_sms(b"Body=%FF%FE", SmsConfig(), MediaFetcher(SmsConfig(), CREDS))
