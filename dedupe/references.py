"""External references: diarienummer and OCR-nummer (payment references), normalised.

The same case appears as "Dnr 036-1139/2008" and "Diarienummer 001139/2008",
and a year as "08" or "2008": the key keeps the numbers that identify the
case (leading zeros, register prefixes and the century dropped), in a fixed
order, so every spelling of one reference meets in the index.
"""

from __future__ import annotations

import re

from channels.scan.fields import digits, find_diarienummer

_OCR_NR = re.compile(r"\bocr(?:-?\s?(?:nummer|nr|referens))?\s*[:.]?\s*((?:\d[\s-]?){6,25})",
                     re.I)


def diarienummer_key(value: str) -> str | None:
    """``ref:dnr:<n>/<n>`` for one diarienummer as ``find_diarienummer`` returns it."""
    number = value.split()[-1]
    parts = [p.lstrip("0") or "0" for p in re.split(r"[-/]", number) if p]
    if len(parts) == 3:  # register or unit prefix: 036-1139/2008 ≡ 1139/2008
        parts = parts[1:]
    if len(parts) != 2:
        return None
    parts = [str(int(p) % 100) if len(p) == 4 and p[:2] in ("19", "20") else p for p in parts]
    return "ref:dnr:" + "/".join(sorted(parts))


def reference_keys(text: str) -> dict[str, str]:
    """Index key → the reference as written (for the explanation), for every reference."""
    out: dict[str, str] = {}
    for dnr in find_diarienummer(text):
        key = diarienummer_key(dnr)
        if key:
            out.setdefault(key, f"Dnr {dnr}")
    for m in _OCR_NR.finditer(text):
        number = digits(m.group(1))
        if 6 <= len(number) <= 25:
            out.setdefault(f"ref:ocr:{number}", f"OCR-nummer {number}")
    return out


def assigned_reference_key(reference: str) -> str | None:
    """The key of a reference a downstream system reports (``Dnr …`` or bare number)."""
    keys = reference_keys(reference if re.search(r"(?i)dnr|diarie|ocr", reference)
                          else f"Dnr {reference}")
    return next(iter(keys), None)
