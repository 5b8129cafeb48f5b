"""What a follow-up without any reference still says: the people, streets, mobiles and
labelled numbers it names (issue 16: most missed links had no key in common)."""

from __future__ import annotations

import dataclasses

from scenario_support import replay, scenario_message

from channels.scan.fields import find_diarienummer
from dedupe.arende_number import find_numbers
from dedupe.identity import (
    ADDRESS,
    CONTACT,
    PERSON,
    PERSON_INITIAL,
    PHONE,
    identity_of,
    keyed,
    mentioned_addresses,
    mentioned_contacts,
    mentioned_names,
)
from dedupe.references import reference_keys
from ingest.model import Sender


def test_people_named_in_the_text_and_who_names_themselves() -> None:
    assert mentioned_names("Hej, Karin Bergholm här, dotter till Elsa Berg i Hägersten.") == [
        ("Karin Bergholm", True), ("Elsa Berg", False)]
    assert mentioned_names("Hej det är Ulla Sandberg igen. Jag mejlade om björken.") == [
        ("Ulla Sandberg", True)]
    assert mentioned_names("Jag heter Holger Sjöberg och är 89 år.") == [
        ("Holger Sjöberg", True)]
    # Greetings, places and institutions are not people; a street is not a surname.
    assert mentioned_names("Svenska Bostäder har inte gjort något på Finn Malmgrens väg 7.") \
        == []
    assert mentioned_names("Dr. Siobhan O'Neill") == [("Siobhan O'Neill", False)]


def test_a_genitive_and_an_initial_meet_the_full_name() -> None:
    letter = identity_of(Sender(name="Bengt Lund"), "Färdtjänsten har inte kommit.")
    wife = identity_of(Sender(phone="+46701740656"),
                       "Hej det är Ingrid, Bengt Lunds fru. Bilen kom nu.")
    assert letter.keys[PERSON] & wife.keys[PERSON]
    short = identity_of(Sender(phone="0701740647"), "Hej detta är B-M Sjöholm Ringv 88a.")
    full = identity_of(Sender(name="Britt-Marie Sjöholm",
                              postal_address="Ringvägen 88 A, 3 tr, 118 60 Stockholm"), "")
    assert short.keys[PERSON_INITIAL] & full.keys[PERSON_INITIAL]
    assert PERSON not in short.keys  # "B-M" alone is not a full name
    assert short.keys[ADDRESS] == full.keys[ADDRESS]
    assert keyed(PERSON, "b m sjoholm") not in short.own


def test_streets_named_in_the_text_in_their_spellings() -> None:
    assert mentioned_addresses("Jag är dotter till Elsa Berg, Mörtviksvägen 12 i Hägersten.") \
        == ["mortviksv 12"]
    assert mentioned_addresses("fru Lindh på Trollesundsvägen 9O i Högdalen") == \
        mentioned_addresses("Trollesundsvägen 90")
    assert mentioned_addresses("Tensta Allé 12 lgh 1204") == \
        mentioned_addresses("Tensta allé 12")
    assert mentioned_addresses("Ålstensg. 33") == mentioned_addresses("Ålstensgatan 33")


def test_mobiles_and_addresses_written_in_the_text_but_not_the_citys() -> None:
    phones, emails = mentioned_contacts(
        "Hassan Jafari / 070-334 90 12. Svara till hassan@example.se, kopia till "
        "kontaktcenter@stockholm.se. Kontorets nummer 08-508 000 00.", "kcs.stockholm.se")
    assert phones == ["+46703349012"] and emails == ["hassan@example.se"]
    ident = identity_of(Sender(email="hassan@example.se"), "Ring mig på 070-334 90 12.")
    sms = identity_of(Sender(phone="+46703349012"), "Ingen har hämtat soffan.")
    # They meet as a contact named, not as the same phone: two citizens quoting one
    # contractor's number do not share an identity.
    assert ident.keys[CONTACT] & sms.keys[CONTACT] and PHONE not in ident.keys


def test_labelled_numbers_and_prefixed_diarienummer_are_references() -> None:
    assert set(reference_keys("Kundnummer 2004518.")) == \
        set(reference_keys("kundnr 2004518, ordf"))
    assert set(reference_keys("bokningsnr GA-88213")) == {"ref:num:88213"}
    assert set(reference_keys("köbekräftelse nr 55102")) == \
        set(reference_keys("(köbekräftelse 55102)"))
    # Two people's numbers one digit apart stay apart; a date after a label is no number.
    assert set(reference_keys("kundnr 2004518")) != set(reference_keys("kundnr 2004581"))
    assert reference_keys("Fakturanummer 2026-03-15") == {}
    assert reference_keys("en faktura 2026") == {}
    assert find_diarienummer("Ang. SBK 2O26-O47l1. Tillbyggnaden") == ["SBK 2026-04711"]
    assert set(reference_keys("SBK 2026-04711")) == set(reference_keys("Dnr 2026/4711"))


def test_a_zero_for_a_check_letter_is_read_as_d_only() -> None:
    """A 0 typed or OCR'd for the check letter is a D (the letter it resembles most); read as
    any round letter it would let one wrong digit in four pass as another ärende."""
    assert find_numbers("Ärende KC-2026-000014-0. Ingen har hämtat") == ["KC-2026-000014-D"]
    assert find_numbers("KC-2026-000001-0") == []  # its letter is Q
    assert find_numbers("KC-2026-000013-0") == []  # 13 is C: not a mistyped 14


_msg = scenario_message


FAMILY = {"id": "M1", "expected_groups": [["a", "b", "c"], ["d"], ["e"]], "messages": [
    _msg("a", "letter", 0, "Jag heter Elsa Berg och är 91 år. Hemtjänsten kommer aldrig på "
         "den tid som står i min plan och jag får mina tabletter för sent.\n\nElsa Berg",
         from_name="Elsa Berg", postal_address="Mörtviksvägen 12, 129 37 Hägersten",
         subject="Hemtjänsten"),
    # The daughter, from her own e-mail, no number: the mother's name and street.
    _msg("b", "email", 1500, "Hej, jag är dotter till Elsa Berg, Mörtviksvägen 12 i Hägersten. "
         "Hemtjänsten kom först kl 22 i går och mamma hade inte fått sina tabletter. "
         "Ni når mig på 070-174 06 12.\n\nMvh Karin Bergholm",
         from_email="karin.bergholm@example.se", from_name="Karin Bergholm",
         subject="Min mamma Elsa Berg och hemtjänsten", message_id="<kb1@example.se>"),
    # Then from the mobile she gave, naming herself.
    _msg("c", "sms", 3000, "Hej, Karin Bergholm här igen. I dag kom ingen från hemtjänsten "
         "till mamma på morgonen.", from_phone="+46701740612"),
    # A neighbour writes about the same street's pavement: another matter, another person.
    _msg("d", "email", 3100, "Hej, trottoaren utanför Mörtviksvägen 12 är full av is och "
         "ingen har sandat.\n\nMvh Per Holm", from_email="per.holm@example.se",
         from_name="Per Holm", subject="Halka", message_id="<ph1@example.se>"),
    # Someone the ärende does not know quotes its number.
    _msg("e", "email", 3200, "Gäller {REF:a}. Skicka mig hennes beslut om hemtjänst.\n\n"
         "Mvh Jan Eriksson", from_email="jan.e@example.com", from_name="Jan Eriksson",
         subject="Beslut", message_id="<je1@example.com>"),
]}


def test_a_relative_and_a_new_mobile_join_without_a_number(trained_classifier,
                                                           make_settings) -> None:
    result = replay(make_settings(), trained_classifier, FAMILY)
    got = result.arende_of
    assert got["b"] == got["a"], result.explanations["b"]
    assert got["c"] == got["a"], result.explanations["c"]
    assert got["d"] != got["a"] and got["e"] != got["a"]
    signals_b = {e["signal"] for e in result.explanations["b"]}
    assert {"same_person_named", "same_address"} <= signals_b
    assert result.decisions["e"] in ("review", "new")
    assert result.ok


def test_a_quoted_number_is_scored_however_popular_the_other_keys(tmp_path) -> None:
    """Fifty-nine ärenden share a name and a boilerplate text with the new message, more
    keys than the one whose number it quotes; that one, from its own phone, is still
    scored (the cap of 20 applies to the others) and wins."""
    from datetime import UTC, datetime

    from dedupe import index, linker
    from dedupe.arende_number import format_number
    from dedupe.evidence import gather
    from dedupe.policy import LinkingConfig
    from ingest.db import Arende
    from ingest.model import NormalisedMessage
    from ingest.store import Store

    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    policy = LinkingConfig(max_candidates=20)
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    store.migrate()
    text = ("Hej, sopkärlet på gården har inte tömts sedan förra veckan och det luktar. "
            "Kan ni skicka någon? Mvh Anna Berg")
    try:
        for seq in range(1, 61):
            aid = format_number(2026, seq)
            # The quoted ärende began as an SMS in other words; the others share it all.
            body = "Tunnan står kvar vid grinden sedan i tisdags." if seq == 42 else text
            msg = NormalisedMessage(subject="Sopor", body=body,
                                    sender=Sender(email=f"granne{seq}@example.se"))
            ev = gather(msg, channel="email", received_at=now, classification=None,
                        policy=policy, our_domain="kcs.stockholm.se")
            with store.transaction() as session:
                session.add(Arende(id=aid, created_at=now, last_activity_at=now, status="open",
                                   status_changed_at=now))
                session.flush()
                index.index_keys(session, aid, [*ev.index_keys(),
                                                keyed(PHONE, f"+4670100{seq:04d}")], now)
        quoted = format_number(2026, 42)
        msg = NormalisedMessage(subject="", body=f"Gäller {quoted}. {text}",
                                sender=Sender(phone="+46701000042"))
        decision = linker.link(store, msg, channel="sms", received_at=now, classification=None,
                               policy=policy, our_domain="kcs.stockholm.se")
    finally:
        store.dispose()
    assert decision.decision == "link" and decision.arende_id == quoted, decision.explanation


def test_what_the_review_found_is_not_a_person_a_reference_or_a_self_naming() -> None:
    # "har" is "has", not "här"; "det är X som …" is someone else; a greeted name is
    # the person addressed, not the writer nor a party.
    assert mentioned_names("Grannen Lars Andersson har en hund")[-1] == ("Lars Andersson", False)
    assert mentioned_names("Det är Anna Svensson som är min handläggare") == [
        ("Anna Svensson", False)]
    assert mentioned_names("Hej Elsa Berg, har ni något nytt?") == []
    assert mentioned_names("Socialtjänsten Norrmalm och Röda Korset i Gamla Stan") == []
    assert identity_of(Sender(), "Mvh Anna B.").keys.get(PERSON) is None
    # Amounts, years and dates after a label are not reference numbers; nor a personnummer.
    for text in ("Kontrollavgift 1 300 kr", "parkeringsbot 1300 kr", "kontrollavgift 2026",
                 "Ordernummer 5512 2026-05-12", "Referensnummer 19380412-1238"):
        assert reference_keys(text) == {}, text
    assert set(reference_keys("Kundnummer 88213 070-123 45 67")) == {"ref:num:88213"}
    assert find_diarienummer("Beslut från SBK 2026-04-11 om bygglov") == []
    # Long blank runs after a label are linear, not quadratic (a form with empty rows).
    assert reference_keys("kundnummer" + " " * 200_000 + "x") == {}
    assert reference_keys("ocr" + "\n" * 200_000 + "x") == {}


def test_naming_someone_on_the_arende_does_not_make_a_stranger_known() -> None:
    from datetime import UTC, datetime, timedelta

    from dedupe.arende_number import format_number
    from dedupe.evidence import Evidence
    from dedupe.policy import LinkingConfig
    from dedupe.scoring import Candidate, score

    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    policy = LinkingConfig()
    ev = Evidence(channel="email", received_at=now, text_chars=100,
                  identity=identity_of(Sender(email="okand@example.com"),
                                       "Jag har pratat med Elsa Berg. Något nytt?"))
    cand = Candidate(arende_id=format_number(2026, 1), status="open",
                     last_activity_at=now - timedelta(days=2), quoted=True,
                     kinds={"em", "pm"}, matched_kinds={"pm"})
    result = score(cand, ev, policy)
    assert result.score < policy.thresholds.link, result.explanation
    # The writer naming themselves, and being on the ärende, is known.
    own = dataclasses.replace(cand, own_named=True)
    assert score(own, ev, policy).score >= policy.thresholds.link


POTHOLE = {"id": "M3", "expected_groups": [["a", "b"], ["c"]], "messages": [
    _msg("a", "sms", 0, "Hej! Det är ett djupt hål i gatan utanför Bellmansgatan 14, bilarna "
         "kör runt det och en cyklist höll på att välta. /Maja", from_phone="+46701112233"),
    # Two weeks later by letter, from her address, naming no one the SMS named.
    _msg("b", "letter", 20160, "Till Trafikkontoret\n\nFör två veckor sedan skrev jag om "
         "hålet i gatan utanför Bellmansgatan 14. Det är fortfarande inte lagat och i går "
         "körde en bil sönder ett däck i det.\n\nMaja Lind",
         from_name="Maja Lind", postal_address="Bellmansgatan 14, 118 47 Stockholm"),
    # A neighbour in the same house about another kind of matter.
    _msg("c", "email", 20200, "Hej, grannen på Bellmansgatan 14 spelar hög musik varje "
         "natt till klockan fyra och vi kan inte sova.\n\nMvh Olle Berg",
         from_email="olle.berg@example.se", from_name="Olle Berg", subject="Buller",
         message_id="<ob1@example.se>"),
]}


def test_the_same_kind_of_matter_at_the_same_street_is_a_follow_up(trained_classifier,
                                                                    make_settings) -> None:
    """A street alone is a household or a place; with the same ärendetyp it is where
    the matter is: the letter about the same pothole joins the SMS (it was a
    possible link only, 35 points, before ``place_of_matter``)."""
    result = replay(make_settings(), trained_classifier, POTHOLE)
    got = result.arende_of
    assert got["b"] == got["a"], result.explanations["b"]
    assert {"same_address", "same_type", "place_of_matter"} <= {
        e["signal"] for e in result.explanations["b"]}
    assert got["c"] not in (got["a"], got["b"]), result.explanations["c"]
    assert result.ok
