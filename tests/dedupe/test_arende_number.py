"""Ärende numbers survive people and OCR, and random look-alikes are not taken."""

from __future__ import annotations

import random

from dedupe.arende_number import check_char, find_numbers, format_number


def test_format_and_find_back() -> None:
    number = format_number(2026, 4711)
    assert number.startswith("KC-2026-004711-") and len(number) == 16
    assert find_numbers(f"Angående {number}, se nedan.") == [number]


def test_ocr_confusions_spaces_and_line_breaks_are_repaired() -> None:
    number = format_number(2026, 104711)
    damaged = number.replace("0", "O").replace("1", "l")
    assert find_numbers(f"Ärende: {damaged}") == [number]
    spaced = f"kc 2026 1047 11 {number[-1].lower()}"
    assert find_numbers(spaced) == [number]
    broken = f"KC-2026-\n104711-{number[-1]}"
    assert find_numbers(broken) == [number]


def test_every_single_digit_error_and_neighbour_swap_is_caught() -> None:
    rng = random.Random(7)
    for _ in range(300):
        year, seq = 2026, rng.randrange(1_000_000)
        digits = list(f"{year:04d}{seq:06d}")
        check = check_char(year, seq)
        i = rng.randrange(4, 10)
        wrong = digits.copy()
        wrong[i] = str((int(wrong[i]) + rng.randrange(1, 10)) % 10)
        s = "".join(wrong)
        assert check_char(int(s[:4]), int(s[4:])) != check
        j = rng.randrange(4, 9)
        swapped = digits.copy()
        swapped[j], swapped[j + 1] = swapped[j + 1], swapped[j]
        if swapped != digits:
            s = "".join(swapped)
            assert check_char(int(s[:4]), int(s[4:])) != check


def test_numbers_without_or_with_wrong_check_are_not_found() -> None:
    number = format_number(2026, 4711)
    wrong = "B" if number[-1] != "B" else "C"
    assert find_numbers("KC-2026-004711") == []
    assert find_numbers(f"KC-2026-004711-{wrong}") == []
    assert find_numbers("Dnr 2026-004711") == []
