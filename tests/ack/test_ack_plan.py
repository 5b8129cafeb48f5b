"""Channel choice: the incoming channel, the sender's stated wish, or a printed letter."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from ack_support import plan_message

from ingest.ack import service
from ingest.ack.preference import stated_preference
from ingest.model import Channel, NormalisedMessage, Sender


@pytest.mark.parametrize(("text", "channel", "to"), [
    ("Hej! Svara gärna på sms till 070-123 45 67, jag läser sällan mejl.", "sms",
     "+46701234567"),
    ("Jag vill ha svar via SMS: 0739-876543. Tack!", "sms", "+46739876543"),
    ("Please reply by text message to +46 70 123 45 67.", "sms", "+46701234567"),
    ("Kan ni svara på sms? Mitt nummer är 0701234567", "sms", "+46701234567"),
    ("Svara gärna via e-post till lisa.ek@example.se, tack.", "email", "lisa.ek@example.se"),
    ("Ring mig på 08-123 456 78 eller skriv.", None, None),            # no explicit wish
    ("Tel: 070-123 45 67\nMvh Lisa", None, None),                      # a signature is not one
])
def test_stated_preference_is_found_only_when_asked_for(text: str, channel: str | None,
                                                        to: str | None) -> None:
    wish = stated_preference(text)
    assert (wish.channel if wish else None, wish.to if wish else None) == (channel, to)


def test_an_email_asking_for_sms_is_answered_by_sms(make_settings) -> None:
    plan = plan_message(make_settings(), channel=Channel.EMAIL,
                        body="Hej, svara gärna på sms 070-123 45 67. Soporna hämtas inte.",
                        sender=Sender(email="anna@example.se"))
    assert (plan["channel"], plan["to"], plan["stated_preference"]) == (
        "sms", "+46701234567", True)
    assert set(plan["recipients"]) == {"+46701234567", "anna@example.se"}


def test_an_sms_wish_to_an_opted_out_number_falls_back_to_email(make_settings) -> None:
    plan = plan_message(make_settings(), channel=Channel.EMAIL,
                        body="Svara gärna på sms 070-123 45 67.",
                        sender=Sender(email="anna@example.se"),
                        opted_out=frozenset({"+46701234567"}))
    assert (plan["channel"], plan["to"]) == ("email", "anna@example.se")


@pytest.mark.parametrize(("sender", "channel"), [
    (Sender(name="Karl Holm", postal_address="Storgatan 1\n123 45 Stockholm",
            email="karl@example.se"), "email"),
    (Sender(name="Karl Holm", postal_address="Storgatan 1\n123 45 Stockholm",
            phone="+46701234567"), "sms"),
    (Sender(name="Karl Holm", postal_address="Storgatan 1\n123 45 Stockholm",
            phone="+4681234567"), "letter"),                     # a landline gets paper
    (Sender(name="Karl Holm", postal_address="Storgatan 1\n123 45 Stockholm"), "letter"),
])
def test_a_scanned_letter_is_answered_by_email_sms_or_paper(make_settings, sender: Sender,
                                                            channel: str) -> None:
    plan = plan_message(make_settings(), channel=Channel.LETTER, sender=sender)
    assert plan["planned"] is True and plan["channel"] == channel


def test_anonymous_senders_get_nothing(make_settings) -> None:
    for channel in (Channel.LETTER, Channel.FAX):
        plan = plan_message(make_settings(), channel=channel, sender=Sender(name="En granne"))
        assert (plan["planned"], plan["reason"]) == (False, "anonymous")


def test_kinds_referral_and_akut(make_settings) -> None:
    settings = make_settings()
    sender = Sender(email="anna@example.se")
    social = plan_message(settings, channel=Channel.EMAIL, sender=sender,
                          huvudkategori="socialtjanst", arendetyp="ekonomiskt_bistand",
                          flags={"sekretess": True})
    assert social["kind"] == "referral" and social["sekretess"] is True
    other = plan_message(settings, channel=Channel.EMAIL, sender=sender,
                         huvudkategori="ovrigt", arendetyp="annan_myndighet")
    assert other["kind"] == "referral"
    akut = plan_message(settings, channel=Channel.EMAIL, sender=sender,
                        huvudkategori="aldreomsorg", arendetyp="hemtjanst", flags={"akut": True})
    assert akut["kind"] == "akut"
    lss = plan_message(settings, channel=Channel.EMAIL, sender=sender,
                       huvudkategori="funktionsnedsattning", arendetyp="lss_insats")
    assert lss["language"] == "sv-lattlast" and lss["kind"] == "referral"


def test_a_letter_goes_to_the_print_queue_as_a_pdf(settings) -> None:
    from ingest.app import Runtime

    rt = Runtime.build(settings)
    sender = Sender(name="Karl Holm", postal_address="Storgatan 1\n123 45 Stockholm")
    plan = plan_message(settings, channel=Channel.LETTER, sender=sender,
                        huvudkategori="avfall", arendetyp="hamtning")
    message = NormalisedMessage(subject="", body="Soporna", sender=sender)
    result = service.acknowledge(settings, rt.store, intake_id="01LETTER", message=message,
                                 arende_id="KC-2026-000042-K", plan=plan)
    assert result["state"] == "queued_for_print"
    (pdf,) = (settings.var_dir / "print" / "queue").glob("*.pdf")
    with pdfplumber.open(io.BytesIO(pdf.read_bytes())) as doc:
        text = doc.pages[0].extract_text()
    assert "KC-2026-000042-K" in text and "Karl Holm" in text and "Storgatan 1" in text
    assert "Skriv till oss och ange ärendenummer" in text        # how to add, on paper
