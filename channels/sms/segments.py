"""How many SMS segments a text costs, and how to make our own texts fit.

An SMS is sent in GSM 03.38 7-bit encoding when every character is in the
GSM default alphabet or its extension table (Swedish å/ä/ö/Å/Ä/Ö/é are in
it), otherwise in UCS-2 (really UTF-16: an emoji is two code units). One
segment holds 160 septets or 70 UCS-2 units; a concatenated message loses
room to its header and holds 153 septets or 67 units per segment. An
extension character (€, [, {, …) costs two septets, and neither an escape
pair nor a surrogate pair may be split across segments.

The tables are written out here rather than taken from a package: they are
small, fixed by the standard, and the PyPI packages for them are unmaintained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]

# Typography that would force our own texts into UCS-2 for no reason.
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " "})


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """What a text costs: its encoding, length in that encoding's units, and segments."""

    encoding: Encoding
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` fits the GSM 7-bit alphabet (with extension)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def encoding_of(text: str) -> Encoding:
    """GSM-7 when possible, else UCS-2 (as handsets and Twilio choose)."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    """Per character: septets (1 or 2) for GSM-7, UTF-16 code units (1 or 2) for UCS-2."""
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(costs: list[int], per_part: int) -> int:
    """Segments needed when indivisible items of these costs fill parts greedily."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def count(text: str) -> SegmentCount:
    """Segments ``text`` takes as one SMS (an empty text still costs one segment)."""
    encoding = encoding_of(text)
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    segments = 1 if units <= single else _pack(costs, part)
    return SegmentCount(encoding, units, segments)


def plain(text: str) -> str:
    """Our own text with typographic quotes, dashes and ellipses made GSM-7 friendly."""
    return text.translate(_PLAIN)


def fit(text: str, max_segments: int, *, keep: str = "") -> str:
    """``text`` cut at a word boundary so it takes at most ``max_segments`` segments.

    ``keep`` (the ärende number) must survive whole: the cut is never before
    its end. Raises ``ValueError`` when even the text up to ``keep`` is too long.
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    if count(text).segments <= max_segments:
        return text
    floor = 0
    if keep:
        at = text.find(keep)
        if at < 0:
            raise ValueError("the text to keep is not in the text")
        floor = at + len(keep)
        if count(text[:floor]).segments > max_segments:
            raise ValueError("the text to keep does not fit in max_segments")
    # Longer prefixes never cost fewer segments: binary search the longest that fits.
    lo, hi = floor, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]).segments <= max_segments:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= floor and space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:-\n")
