"""The same person written differently gives the same name+address key; others do not."""

from __future__ import annotations

from dedupe.arende_number import find_numbers, format_number
from dedupe.identity import NAME_ADDRESS, address_variants, identity_of, signed_name
from ingest.model import Sender


def _name_address(name: str | None, address: str | None, text: str = "") -> set[str]:
    ident = identity_of(Sender(name=name, postal_address=address), text)
    return ident.keys.get(NAME_ADDRESS, set())


def test_abbreviated_street_floor_and_missing_postcode_are_one_address() -> None:
    """GIVEN one woman's letters signed three ways, her street abbreviated, her floor given
    once, her postcode left out once THEN every pair shares a name+address key."""
    first = _name_address("Gun-Britt Wikström", "Västertorpsvägen 21, 1 tr, 129 44 Hägersten")
    for name, address in (("G-B Wikström", "Västertorpsv. 21"),
                          ("Wikström, Gun-Britt", "Västertorpsv 21, 129 44 Hägersten")):
        assert first & _name_address(name, address), (name, address)


def test_a_namesake_next_door_or_on_another_street_is_not_the_same_person() -> None:
    """GIVEN Gun Wikström at number 12 and at another street THEN no shared key with
    Gun-Britt Wikström at number 21."""
    gun_britt = _name_address("Gun-Britt Wikström", "Västertorpsvägen 21, 129 44 Hägersten")
    assert not gun_britt & _name_address("Gun Wikström", "Västertorpsvägen 12, 129 44 Hägersten")
    assert not gun_britt & _name_address("Gun-Britt Wikström", "Hornsgatan 21, 118 20 Stockholm")


def test_a_street_that_starts_like_a_flat_marker_keeps_its_name() -> None:
    """"Lagergrens väg" must not lose its name to the "läg(enhet)" marker."""
    assert address_variants("Lagergrens väg 3, 124 57 Bandhagen")[0].startswith("lagergrens")
    assert address_variants("Ringvägen 88 A, lgh 1102") == ["ringv 88a"]


def test_a_letter_signed_with_the_bare_name() -> None:
    assert signed_name("Sain kirjeenne.\n\nAino Mäkinen") == "Aino Mäkinen"
    assert signed_name("soptunnan ej tömd igen") is None


def test_an_o_read_for_a_round_check_letter_is_our_number() -> None:
    """GIVEN KC-2026-000001-Q copied with O for Q THEN it is found; O for a check letter
    that is not round (R) is not."""
    assert format_number(2026, 1) == "KC-2026-000001-Q"
    assert find_numbers("Sain kirjeenne, numero KC-2026-000001-O.") == ["KC-2026-000001-Q"]
    assert format_number(2026, 2) == "KC-2026-000002-R"
    assert find_numbers("ärende KC-2026-000002-O") == []
