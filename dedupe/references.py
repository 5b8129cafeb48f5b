"""External references: diarienummer and OCR-nummer (payment references), normalised.

The same case appears as "Dnr 036-1139/2008" and "Diarienummer 001139/2008",
and a year as "08" or "2008": the key keeps the numbers that identify the
case (leading zeros, register prefixes and the century dropped), in a fixed
order, so every spelling of one reference meets in the index.
"""

from __future__ import annotations

import re

from channels.scan.fields import digits, find_diarienummer, find_personnummer

# Bounded whitespace around the colon: "\s*[:.]?\s*" split a long blank run every
# possible way (quadratic on a form with empty rows).
_OCR_NR = re.compile(r"\bocr(?:-?\s?(?:nummer|nr|referens))?\s{0,3}(?:[:.]\s{0,3})?"
                     r"((?:\d[\s-]?){6,25})", re.I)


# Numbers a förvaltning or its contractor gave the citizen, by their label: the waste
# kundnummer, an invoice's fakturanummer, a booking or queue confirmation, a parking
# fine. Only the digits count ("GA-88213" ≡ "88213"), and only with the label.
_LABELLED = re.compile(
    r"\b(?:kund(?:nummer|nr)|faktura(?:nummer|nr|\s+nr)|bokning(?:snummer|snr|\s+nr)|"
    r"k[oö]bekr[aä]ftelse|k[oö]nummer|order(?:nummer|nr)|kontrollavgift(?:snummer)?|"
    r"parkeringsbot|p-bot|avgiftsnummer|ans[oö]kningsnummer|referensnummer|ref\.?\s?nr|"
    r"makbuz numaras[iı]|numer faktury|invoice (?:number|no)|customer number)\.?"
    r"(?:[ \t]{1,3}(?:nr|nummer|no)\.?)?[ \t]{0,3}(?:[:#][ \t]{0,3})?(?:[A-ZÅÄÖ]{1,3}-?)?"
    r"(\d+(?:-\d+)?)(?![\d])(?![-/.]\d)(?![ \t]*(?:kr\b|kronor|:-|sek\b))",
    re.I)


_DATE = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d")


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
    for m in _LABELLED.finditer(text):
        number = re.sub(r"\D", "", m.group(1))
        # Not an amount, a year or a date; never a personnummer (the index keeps
        # references readable, so a personnummer must not become one).
        if (5 <= len(number) <= 20 and not _DATE.fullmatch(m.group(1).strip())
                and not (len(number) == 4 and number[:2] in ("19", "20"))
                and not find_personnummer(m.group(1))):
            out.setdefault(f"ref:num:{number}", m.group(0).strip())
    return out


def assigned_reference_key(reference: str) -> str | None:
    """The key of a reference a downstream system reports (``Dnr …`` or bare number)."""
    keys = reference_keys(reference if re.search(r"(?i)dnr|diarie|ocr", reference)
                          else f"Dnr {reference}")
    return next(iter(keys), None)
