"""Ärende numbers people can read aloud, type, and OCR can damage without losing them.

Format: ``KC-YYYY-NNNNNN-C``, where ``C`` is a check letter: the number
``YYYYNNNNNN`` modulo 23, written in the 23 letters that are not I, L or O.
Because 23 is a prime above 10, every single wrong digit and every swap of
two neighbouring digits changes the letter. A mis-read digit is caught, and the
finder repairs the usual OCR confusions (O→0, I/l→1, S→5, B→8) before it
checks, so "KC-2O26-0O47l1-K" is still found, while a random number that
merely looks similar is not.
"""

from __future__ import annotations

import re

PREFIX = "KC"
# 23 letters: the alphabet without I, L and O, which people and OCR confuse with digits.
_CHECK_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ"
_OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                             "i": "1", "|": "1", "!": "1", "S": "5", "s": "5", "B": "8",
                             "Z": "2", "z": "2", "G": "6", "g": "9"})
# A check letter OCR'd as a digit: map back to the letter it resembles.
_OCR_CHECK = str.maketrans({"8": "B", "5": "S", "2": "Z", "6": "G", "0": "D", "4": "A"})
# O is never a check letter (left out for its likeness to 0), so an O read there is a
# round letter misread: accepted for exactly these. A "0" is read as D only: accepting
# it for all four round letters would let one wrong digit in four pass.
_ROUND_CHECKS = frozenset("QDCG")

_DIGITISH = r"[0-9OoDQIli|!SsBZzGg]"
_SEP = r"[\s\-–—_./]*"
FINDER = re.compile(
    rf"(?<![A-Za-z0-9])[KkR][CcG]{_SEP}(?P<year>(?:{_DIGITISH}{_SEP}?){{4}})"
    rf"{_SEP}(?P<seq>(?:{_DIGITISH}{_SEP}?){{6}})(?:{_SEP}(?P<check>[0-9A-Za-z]))?"
    r"(?![A-Za-z0-9])"
)


def check_char(year: int, seq: int) -> str:
    """The check letter of ``YYYYNNNNNN``."""
    return _CHECK_ALPHABET[int(f"{year:04d}{seq:06d}") % 23]


def format_number(year: int, seq: int) -> str:
    """``KC-2026-004711-X`` for year 2026, sequence 4711."""
    if not (0 <= seq <= 999_999):
        raise ValueError(f"sequence out of range: {seq}")
    return f"{PREFIX}-{year:04d}-{seq:06d}-{check_char(year, seq)}"


def parse_number(text: str) -> str | None:
    """The canonical number if ``text`` is exactly one (after OCR repair), else None."""
    found = find_numbers(text)
    return found[0] if len(found) == 1 else None


def find_numbers(text: str) -> list[str]:
    """Every valid ärende number in free text, canonical form, in order, no repeats."""
    out: list[str] = []
    for m in FINDER.finditer(text):
        year_s = re.sub(r"[^0-9A-Za-z|!]", "", m.group("year")).translate(_OCR_DIGITS)
        seq_s = re.sub(r"[^0-9A-Za-z|!]", "", m.group("seq")).translate(_OCR_DIGITS)
        if not (year_s.isdigit() and seq_s.isdigit() and len(year_s) == 4 and len(seq_s) == 6):
            continue
        year, seq = int(year_s), int(seq_s)
        if not 2000 <= year <= 2099:
            continue
        expected = check_char(year, seq)
        check = m.group("check")
        if check is None:
            continue  # without the check character a number proves nothing
        read = check.translate(_OCR_CHECK).upper()
        if read != expected and not (read == "O" and expected in _ROUND_CHECKS):
            continue
        canonical = format_number(year, seq)
        if canonical not in out:
            out.append(canonical)
    return out
