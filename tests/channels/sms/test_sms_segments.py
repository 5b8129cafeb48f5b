"""Segment counting (GSM 03.38 vs UCS-2) and fitting our texts into sms.max_segments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms import segments
from channels.sms.outbound import acknowledgement_text

ARENDE = "KC-2026-004711-J"


def test_swedish_letters_stay_in_gsm7() -> None:
    text = "Hej! Gatlyktan på Sveavägen är släckt. Åtgärda snarast. ÅÄÖ åäö é É ü Ü"
    assert segments.count(text) == segments.SegmentCount("GSM-7", len(text), 1)


def test_gsm7_boundaries_160_and_153_per_part() -> None:
    assert segments.count("a" * 160).segments == 1
    assert segments.count("a" * 161).segments == 2
    assert segments.count("a" * 306).segments == 2
    assert segments.count("a" * 307).segments == 3
    assert segments.count("").segments == 1


def test_extension_characters_cost_two_septets_and_are_never_split() -> None:
    assert segments.count("€" * 80) == segments.SegmentCount("GSM-7", 160, 1)
    assert segments.count("€" * 80 + "a").segments == 2
    # 152 septets, then an escape pair: it cannot straddle the part boundary.
    assert segments.count("a" * 152 + "€" + "a" * 152).segments == 3
    assert segments.count("a" * 151 + "€" + "a" * 153).segments == 2


def test_emoji_and_curly_quotes_force_ucs2() -> None:
    assert segments.count("Tack 😀").encoding == "UCS-2"
    assert segments.count("”citat”").encoding == "UCS-2"
    assert segments.count("å" * 69 + "😀").segments == 2  # 71 UTF-16 units
    assert segments.count("ä" * 68 + "😀") == segments.SegmentCount("UCS-2", 70, 1)
    # 67 units per part hold 33 emoji (a surrogate pair is never split).
    assert segments.count("😀" * 66).segments == 2
    assert segments.count("😀" * 67).segments == 3
    assert segments.count("ö" * 134 + "😀").segments == 3


def test_plain_makes_our_typography_gsm7() -> None:
    assert segments.is_gsm7(segments.plain("Vi har tagit emot ”ditt” ärende – tack…"))


def test_fit_cuts_at_a_word_boundary_and_keeps_the_arende_number() -> None:
    text = f"Ärende {ARENDE}. " + " ".join(["hemtjänst"] * 100)
    cut = segments.fit(text, 2, keep=ARENDE)
    assert segments.count(cut).segments <= 2
    assert ARENDE in cut and text.startswith(cut)
    assert cut.endswith("hemtjänst") and len(cut) > 250


def test_fit_refuses_when_the_number_itself_cannot_fit() -> None:
    with pytest.raises(ValueError):
        segments.fit("x" * 200 + ARENDE, 1, keep=ARENDE)


def test_acknowledgement_fits_every_segment_limit_with_its_number() -> None:
    text = acknowledgement_text(ARENDE)
    assert segments.is_gsm7(text)
    full = segments.count(text).segments
    for limit in range(1, full + 1):
        cut = segments.fit(text, limit, keep=ARENDE)
        assert segments.count(cut).segments <= limit and ARENDE in cut


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc åäö€{😀\n")), max_size=600),
       st.integers(min_value=1, max_value=4))
def test_fit_result_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = segments.fit(text, limit)
    assert text.startswith(cut)
    assert segments.count(cut).segments <= limit
