"""Field extraction from OCR text: identities, references, fax headers, letterhead, furniture."""

from __future__ import annotations

import pytest

from channels.scan import evaluation
from channels.scan import fields as F
from ingest.config import ScanLetterheadConfig

LETTERHEAD = F.Letterhead.from_config(ScanLetterheadConfig())


@pytest.mark.parametrize("n", range(4))
def test_every_fact_of_the_rendered_letters_is_found_in_their_text(n: int) -> None:
    lines, facts = evaluation.letter_lines(n)
    fields = F.extract("\n".join(lines), LETTERHEAD)
    assert fields.name == facts["name"]
    assert fields.postal_address == f"{facts['street']}, {facts['postcode_city']}"
    assert fields.email == facts["email"]
    assert fields.phone == (F.e164(facts["phone"]) if facts["phone"] else None)
    found = fields.personnummer + fields.samordningsnummer
    assert [F.digits(p)[2:] for p in found] == [F.digits(facts["personnummer"])]
    assert fields.samordningsnummer == ([] if n % 4 != 3 else found)
    assert fields.arende_refs == ([facts["arende"]] if facts["arende"] else [])
    assert fields.diarienummer == ([facts["diarienummer"]] if facts["diarienummer"] else [])
    assert fields.subject == facts["subject"]


def test_the_citys_own_letterhead_is_never_the_sender() -> None:
    text = """Stockholms stad
Kontaktcenter Stockholm
Box 8314
104 20 Stockholm
Telefon 08-508 00 508
kontaktcenter@stockholm.se, registrator@stockholm.se, info@miljo.stockholm.se

Svar på ert brev.

Med vänliga hälsningar
Kalle Karlsson
"""
    fields = F.extract(text, LETTERHEAD)
    assert fields.postal_address is None
    assert fields.email is None and fields.other_emails == []
    assert fields.phone is None
    assert fields.name == "Kalle Karlsson"  # from the signature


def test_personnummer_luhn_samordningsnummer_and_ocr_confusions() -> None:
    text = ("Personnummer: 19121212-1212. Pnr 121212 1212. Samordningsnummer 701063-2391, "
            "samma nummer lästs som 7O1O63-239l. Felaktigt: 121212-1213. "
            "Telefon 0701234567 (tio siffror utan etikett är inget personnummer).")
    found = F.find_personnummer(text)
    assert found == [("191212121212", False), ("201212121212", False),
                     ("197010632391", True)]
    assert F.mask_personnummer("191212121212") == "19121212-XXXX"


@pytest.mark.parametrize(("text", "expected"), [
    ("Dnr 036-1139/2008", ["036-1139/2008"]),
    ("Diarienummer 001139/2008", ["001139/2008"]),
    ("Dnr SB: 08-0346", ["SB 08-0346"]),
    ("Dnr 2008/0499", ["2008/0499"]),
    ("Dnr 2008-0743", ["2008-0743"]),
    ("Dnr: 608-2008", ["608-2008"]),
    ("Vårt dnr: 14-0819/08", ["14-0819/08"]),
    ("Var dnr 036-l139/2OO8", ["036-1139/2008"]),  # å lost, l and O for 1 and 0
    ("14-0819/08 utan etikett", []),
])
def test_diarienummer_in_the_shapes_seen_in_the_wild(text: str, expected: list[str]) -> None:
    assert F.find_diarienummer(text) == expected


def test_our_arende_numbers_survive_ocr_confusions() -> None:
    from dedupe.arende_number import format_number

    number = format_number(2026, 4711)
    damaged = number.replace("0", "O").replace("1", "l")
    assert F.find_arende_refs(f"Ert ärende {damaged} gäller") == [number]


def test_email_with_ocr_damage() -> None:
    assert F.find_emails("E-post: anna.andersson©example.se") == ["anna.andersson@example.se"]
    assert F.find_emails("mejla sven @ exempel . se") == ["sven@exempel.se"]


@pytest.mark.parametrize(("line", "number", "page", "pages"), [
    ("FRÅN : +46 8 123 45 67   TILL: 08-508 00 508   2026-11-23 10:15   Sida 1/3",
     "+4681234567", 1, 3),
    ("Nov-23-2026 10:15  From: 0812345678  To: 08-508 00 508  P.1/3", "+46812345678", 1, 3),
    ("23/11/2026 10:15 FAX 08 612 34 56 KONTAKTCENTER S. 02/04", "+4686123456", 2, 4),
])
def test_fax_headers(line: str, number: str, page: int, pages: int) -> None:
    header = F.parse_fax_header(line, LETTERHEAD)
    assert header is not None
    assert (header.number, header.page, header.pages) == (number, page, pages)
    assert header.sent_at is not None and (header.sent_at.hour, header.sent_at.minute) == (10,
                                                                                             15)


def test_ordinary_lines_are_not_fax_headers() -> None:
    assert F.parse_fax_header("Jag ringde er den 2026-11-20 men ingen svarade.", LETTERHEAD) \
        is None


def test_furniture_is_removed_from_the_body_and_reported() -> None:
    pages = ["23/11/2026 10:15 FAX 08 612 34 56 S. 01/02\nBrev om bygglov\nFörsta sidan.\n"
             "Bostadsrättsföreningen Eken, org.nr 769600-1234\nSida 1 av 2",
             "23/11/2026 10:16 FAX 08 612 34 56 S. 02/02\nAndra sidan.\n"
             "Bostadsrättsföreningen Eken, org.nr 769600-1234\nSida 2 av 2"]
    cleaned, removed, headers = F.strip_furniture(pages, LETTERHEAD)
    assert cleaned == ["Brev om bygglov\nFörsta sidan.", "Andra sidan."]
    assert len(removed) == 6 and len(headers) == 2
    fields = F.extract("\n".join(cleaned), LETTERHEAD, headers)
    assert fields.fax is not None and fields.fax.pages == 2
    assert fields.fax.number == "+4686123456"


def test_single_page_keeps_its_edges() -> None:
    cleaned, removed, _ = F.strip_furniture(["Hej!\nMitt ärende.\nMvh Anna"], LETTERHEAD)
    assert cleaned == ["Hej!\nMitt ärende.\nMvh Anna"] and removed == []


def test_phone_labelled_as_phone_wins_over_an_unlabelled_number() -> None:
    fields = F.extract("Min granne har 08-612 34 56.\nMobil: 070-765 43 21", LETTERHEAD)
    assert fields.phone == "+46707654321" and fields.other_phones == ["+4686123456"]


def test_address_block_split_by_ocr_paragraph_breaks() -> None:
    text = "Märta Ängström\n\nHässelby strand 88\n\n165 70 Hässelby\n\nHej!"
    fields = F.extract(text, LETTERHEAD)
    assert fields.name == "Märta Ängström"
    assert fields.postal_address == "Hässelby strand 88, 165 70 Hässelby"
