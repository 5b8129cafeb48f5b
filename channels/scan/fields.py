"""Fields from the text of a letter or fax, tolerant of what OCR does to it.

What is found: the sender's name and postal address (the address block, or
the signature), e-mail, phone, personnummer/samordningsnummer (Luhn- and
date-checked), diarienummer, our own ärende numbers, a subject line, and a
fax header (sender's number, time, page n of m). The city's own letterhead
(configured names, addresses, phones, e-mails, domains) is never taken as
the sender's: letters to us quote our address, and replies quote our forms.

OCR confusions are repaired only inside shapes that must be digits (O→0,
l/I/|→1, S→5, B→8), and labels are matched with and without å/ä/ö
("Angående", "Angaende"), because Tesseract drops diacritics on bad scans.

``strip_furniture`` removes page furniture (running headers and footers,
page numbers, fax header lines) from the body; the full text keeps them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers

_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "Q": "0", "D": "0", "I": "1", "l": "1",
                            "|": "1", "!": "1", "i": "1", "S": "5", "B": "8", "Z": "2"})
_D = r"[0-9OoQDIl|!SBZ]"  # a character OCR may have made of a digit


def fold(text: str) -> str:
    """Lower case without diacritics (å→a, ö→o): labels survive OCR's losses."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def digits(text: str) -> str:
    """OCR look-alikes made digits, everything else dropped."""
    return re.sub(r"\D", "", text.translate(_DIGIT_FIX))


# --------------------------------------------------------------------------- letterhead


@dataclass(frozen=True)
class Letterhead:
    """The city's own contact details, normalised for comparison."""

    names: tuple[str, ...] = ()
    postcodes: frozenset[str] = frozenset()
    streets: tuple[str, ...] = ()
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: Any) -> Letterhead:
        """From ``scan.city_letterhead``."""
        postcodes, streets = set(), []
        for address in cfg.addresses:
            m = re.search(r"(\d{3})\s?(\d{2})", address)
            if m:
                postcodes.add(m.group(1) + m.group(2))
            streets.append(_squash(address.split(",")[0]))
        phones = {p for p in (e164(x) for x in cfg.phones) if p}
        return cls(names=tuple(_squash(n) for n in cfg.names), postcodes=frozenset(postcodes),
                   streets=tuple(streets), phones=frozenset(phones),
                   emails=frozenset(e.lower() for e in cfg.emails),
                   domains=tuple(d.lower().lstrip("@.") for d in cfg.domains))

    def is_city_email(self, email: str) -> bool:
        """Our own address, or any address in our domains (and their subdomains)."""
        email = email.lower()
        domain = email.rsplit("@", 1)[-1]
        return email in self.emails or any(domain == d or domain.endswith("." + d)
                                           for d in self.domains)

    def is_city_line(self, line: str) -> bool:
        """A line of our letterhead: an office name or street."""
        squashed = _squash(line)
        return bool(squashed) and any(n and n in squashed for n in (*self.names, *self.streets))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def e164(text: str) -> str | None:
    """A Swedish or international number as E.164, or None."""
    try:
        number = phonenumbers.parse(text, "SE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --------------------------------------------------------------------------- identifiers

_PNR = re.compile(rf"(?<![0-9A-Za-z])((?:1\s?9|2\s?0)?{_D}{{6}})\s?([-+–])?\s?({_D}{{4}})"
                  r"(?![0-9A-Za-z])")
_PNR_LABEL = re.compile(r"(person|pers\.?\s?nr|p-?nr|samordning|fodelse|id-?nr)", re.I)


def find_personnummer(text: str) -> list[tuple[str, bool]]:
    """Valid personnummer/samordningsnummer as (YYYYMMDDNNNN, is_samordning), in order.

    A number needs a separator (YYMMDD-NNNN) or a label nearby: ten digits
    alone are as often a phone number that happens to pass the Luhn check.
    """
    from personnummer import personnummer

    out: list[tuple[str, bool]] = []
    for m in _PNR.finditer(text):
        date_part, sep, serial = digits(m.group(1)), m.group(2), digits(m.group(3))
        if len(date_part) not in (6, 8) or len(serial) != 4:
            continue
        before = fold(text[max(0, m.start() - 40):m.start()])
        if not sep and not _PNR_LABEL.search(before):
            continue
        candidate = f"{date_part}{'+' if sep == '+' else '-'}{serial}"
        try:
            parsed = personnummer.parse(candidate)
        except Exception:  # the library raises its own exception types for invalid input
            continue
        value = (parsed.format(True), bool(parsed.is_coordination_number()))
        if value not in out:
            out.append(value)
    return out


def mask_personnummer(value: str) -> str:
    """YYYYMMDD-XXXX: enough for staff to recognise, not enough to misuse."""
    d = digits(value)
    return f"{d[:8]}-XXXX" if len(d) >= 10 else "XXXX"


_DNR = re.compile(
    rf"(?:v[aå]r[t]?\s+|er[t]?\s+)?(?:d[nm]r|diarie\s?(?:nummer|nr))\.?\s*:?\s*"
    rf"(?P<prefix>[A-ZÅÄÖ]{{1,5}}\s?:?\s)?"
    rf"(?P<num>{_D}{{1,6}}(?:\s?[-/]\s?{_D}{{1,6}}){{1,2}})", re.I)


# A förvaltning's register prefix and year-number without a "Dnr" label, as people
# copy them from a decision ("SBK 2026-04711", OCR'd "SBK 2O26-O47l1").
_PREFIXED_DNR = re.compile(
    rf"\b(?P<prefix>SBK|SBN|MF|MHN|TK|TN|SDF|SDN|ÄF|SOF|SN|UF|UN|KF|KUF|IF|EXP|SLK|KS)"
    rf"\s?:?\s?(?P<num>[2Z][0O][0-9OoQDIl|!SBZ]{{2}}\s?[-/]\s?{_D}{{3,6}})(?![0-9])"
    rf"(?!\s?[-/]\s?[0-9])")  # "SBK 2026-04-11" is a date, not a diarienummer


def find_diarienummer(text: str) -> list[str]:
    """Diarienummer: labelled ("Dnr 036-1139/2008", "Diarienummer 001139/2008",
    "Dnr SB: 08-0346") or with a förvaltning's prefix ("SBK 2026-04711")."""
    out: list[str] = []
    for m in (*_DNR.finditer(text), *_PREFIXED_DNR.finditer(text)):
        num = re.sub(r"\s", "", m.group("num"))
        num = "".join(ch.translate(_DIGIT_FIX) if ch not in "-/" else ch for ch in num)
        if not re.fullmatch(r"\d{1,6}(?:[-/]\d{1,6}){1,2}", num):
            continue
        prefix = (m.group("prefix") or "").strip().rstrip(":").strip()
        value = f"{prefix.upper()} {num}" if prefix else num
        if value not in out:
            out.append(value)
    return out


def find_arende_refs(text: str) -> list[str]:
    """Our ärende numbers (KC-YYYY-NNNNNN-C), repaired and check-letter verified."""
    from dedupe.arende_number import find_numbers

    return find_numbers(text)


_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]{1,64})\s?[@©]\s?([a-z0-9-]+(?:\s?\.\s?[a-z0-9-]+)+)",
                    re.I)


def find_emails(text: str) -> list[str]:
    """E-mail addresses, with '©' for '@' and stray spaces around dots repaired."""
    out: list[str] = []
    for m in _EMAIL.finditer(text):
        local, domain = m.group(1).strip("."), re.sub(r"\s", "", m.group(2)).strip(".")
        if "." not in domain or not re.search(r"\.[a-z]{2,}$", domain, re.I):
            continue
        value = f"{local}@{domain}".lower()
        if value not in out:
            out.append(value)
    return out


_FAX_WORD = re.compile(r"\bfax\b", re.I)
_PHONE_LABEL = re.compile(r"\b(tel|telefon|tfn|mobil|mob|phone|ring)\b", re.I)


def find_phones(text: str) -> list[tuple[str, bool]]:
    """Valid phone numbers as (E.164, labelled as a phone) per line; fax lines skipped."""
    out: list[tuple[str, bool]] = []
    for line in text.splitlines():
        if _FAX_WORD.search(line):
            continue
        for m in phonenumbers.PhoneNumberMatcher(line, "SE"):
            number = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            labelled = bool(_PHONE_LABEL.search(line))
            if all(number != n for n, _ in out):
                out.append((number, labelled))
    return out


# --------------------------------------------------------------------------- fax header

_FAX_PAGE = re.compile(r"(?:\bsida|\bsid|\bs|\bpage|\bp|\bpg)\.?\s*0*(\d{1,3})\s*(?:/|av|of)\s*"
                       r"0*(\d{1,3})\b", re.I)
_FAX_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|"
    r"\d{1,2}\s+[a-zåäö]{3,9}\.?\s+\d{4}|[a-z]{3}[-\s]\d{1,2}[-\s]\d{4})"
    r"[\s,]+(?:kl\.?\s*)?(?P<time>\d{1,2}[:.]\d{2})", re.I)
_FAX_KEYWORD = re.compile(r"\b(fax|från|fran|from|fr|till|to|tel)\b", re.I)
_FROM = re.compile(r"\b(fr[aå]n|from|fr|avs[aä]ndare)\b\.?\s*:?", re.I)
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "maj": 5, "may": 5, "jun": 6, "jul": 7,
           "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "dec": 12}


@dataclass(frozen=True)
class FaxHeader:
    """The line a fax machine prints at the top of every page."""

    line: str
    number: str | None = None
    sent_at: datetime | None = None
    page: int | None = None
    pages: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["sent_at"] = self.sent_at.isoformat() if self.sent_at else None
        return data


def _fax_time(m: re.Match[str]) -> datetime | None:
    date, clock = m.group("date"), m.group("time").replace(".", ":")
    hour, minute = (int(x) for x in clock.split(":"))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            y, mo, d = (int(x) for x in date.split("-"))
        elif re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", date):
            d, mo, y = (int(x) for x in re.split(r"[./-]", date))
            y += 2000 if y < 100 else 0
        else:
            parts = re.split(r"[\s-]+", date.strip())
            words = [p for p in parts if not p.isdigit()]
            nums = [int(p) for p in parts if p.isdigit()]
            mo = _MONTHS.get(fold(words[0])[:3].rstrip(".")) if words else None
            if mo is None or len(nums) != 2:
                return None
            d, y = nums[0], nums[1]
        return datetime(y, mo, d, hour, minute)
    except ValueError:
        return None


def parse_fax_header(line: str, letterhead: Letterhead) -> FaxHeader | None:
    """A fax header if the line has at least two of: page n/m, date and time, a fax keyword."""
    page_m = _FAX_PAGE.search(line)
    time_m = _FAX_TIME.search(line)
    keyword = _FAX_KEYWORD.search(line)
    if sum(bool(x) for x in (page_m, time_m, keyword)) < 2:
        return None
    number = None
    scan = line
    from_m = _FROM.search(line)
    if from_m:
        scan = line[from_m.end():]
    if time_m:  # a date like 2026-11-23 must not be read as a phone number
        scan = scan.replace(time_m.group(0), " ")
    for m in phonenumbers.PhoneNumberMatcher(scan, "SE"):
        candidate = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        if candidate not in letterhead.phones:
            number = candidate
            break
    return FaxHeader(line=line.strip(), number=number,
                     sent_at=_fax_time(time_m) if time_m else None,
                     page=int(page_m.group(1)) if page_m else None,
                     pages=int(page_m.group(2)) if page_m else None)


# --------------------------------------------------------------------------- furniture

_PAGE_NUMBER = re.compile(
    r"^\s*(?:-\s*\d{1,3}\s*-|\d{1,3}\s*\(\s*\d{1,3}\s*\)|(?:sida|sid|page|s\.)\s*\d{1,3}"
    r"(?:\s*(?:av|of|/)\s*\d{1,3})?|\d{1,3}\s*/\s*\d{1,3})\s*$", re.I)


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", " ", fold(line))).strip()


def strip_furniture(pages: list[str], letterhead: Letterhead
                    ) -> tuple[list[str], list[str], list[FaxHeader]]:
    """(pages without furniture, the lines removed, fax headers found).

    Furniture: page numbers ("Sida 2 av 3", "- 2 -", "2 (3)"), fax header
    lines at the top of a page, and lines that recur among the first or
    last three lines of at least two pages (running headers and footers).
    """
    lines = [p.splitlines() for p in pages]
    # A running header recurs at the top of pages, a footer at the bottom: the
    # sender's name at the top of page 1 and under the signature is neither.
    tops: dict[str, set[int]] = {}
    bottoms: dict[str, set[int]] = {}
    for i, page_lines in enumerate(lines):
        content = [ln for ln in page_lines if ln.strip()]
        for edge, part in ((tops, content[:3]), (bottoms, content[-3:])):
            for ln in part:
                key = _furniture_key(ln)
                if len(key) >= 4:
                    edge.setdefault(key, set()).add(i)
    running = {k for edge in (tops, bottoms) for k, seen in edge.items() if len(seen) >= 2}
    cleaned, removed, headers = [], [], []
    for page_lines in lines:
        keep: list[str] = []
        content_seen = 0
        for ln in page_lines:
            stripped = ln.strip()
            if not stripped:
                keep.append("")
                continue
            content_seen += 1
            header = parse_fax_header(stripped, letterhead) if content_seen <= 2 else None
            if header is not None:
                headers.append(header)
                removed.append(stripped)
            elif _PAGE_NUMBER.match(stripped) or _furniture_key(stripped) in running:
                removed.append(stripped)
            else:
                keep.append(ln)
        cleaned.append(re.sub(r"\n{3,}", "\n\n", "\n".join(keep)).strip())
    return cleaned, removed, headers


# --------------------------------------------------------------------------- sender

_POSTCODE_LINE = re.compile(rf"^\s*(?:SE-?\s?)?({_D}{{3}})\s?({_D}{{2}})\s+"
                            r"([A-ZÅÄÖÉ][A-Za-zÅÄÖåäöéü\- ]{1,40})\s*$")
_NAME = re.compile(r"^[A-ZÅÄÖÉ][a-zåäöéüè]+(?:-[A-ZÅÄÖÉ][a-zåäöéü]+)?"
                   r"(?:\s+(?:af\s+|von\s+|de\s+)?[A-ZÅÄÖÉ][a-zåäöéüè]+(?:-[A-ZÅÄÖÉ][a-zåäöéü]+)?)"
                   r"{1,3}$")
_CLOSING = re.compile(r"^(med\s+)?(vanlig|vanliga|basta|hjartliga)?\s*(halsning|halsningar)\b"
                      r"|^mvh\b|^halsningar\b|^(kind|best)\s+regards|^yours\s+(sincerely|"
                      r"faithfully)|^tack\s+pa\s+forhand", re.I)
_SUBJECT = re.compile(r"^\s*(angaende|ang\.?|arende|amne|avser|galler|betr(?:affande)?\.?|re|"
                      r"subject|concerning)\s*:\s*(.+)$", re.I)
_NOT_A_NAME = {"stockholms stad", "med vanliga halsningar", "kontaktcenter stockholm"}


def looks_like_name(line: str) -> bool:
    """Two to four capitalised words, no digits: a person's name as written in a letter."""
    line = line.strip()
    return bool(_NAME.match(line)) and fold(line) not in _NOT_A_NAME


@dataclass
class Fields:
    """Everything extracted from one letter."""

    name: str | None = None
    postal_address: str | None = None
    email: str | None = None
    phone: str | None = None
    personnummer: list[str] = field(default_factory=list)
    samordningsnummer: list[str] = field(default_factory=list)
    diarienummer: list[str] = field(default_factory=list)
    arende_refs: list[str] = field(default_factory=list)
    subject: str | None = None
    fax: FaxHeader | None = None
    other_emails: list[str] = field(default_factory=list)
    other_phones: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (personnummer in full: this is the record staff correct)."""
        data = asdict(self)
        data["fax"] = self.fax.to_dict() if self.fax else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fields:
        """Inverse of ``to_dict``."""
        fax = data.get("fax")
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "fax"}
        header = None
        if fax:
            sent = fax.get("sent_at")
            header = FaxHeader(line=fax.get("line", ""), number=fax.get("number"),
                               sent_at=datetime.fromisoformat(sent) if sent else None,
                               page=fax.get("page"), pages=fax.get("pages"))
        return cls(**values, fax=header)


def _address_blocks(lines: list[str]) -> list[list[str]]:
    """Up to three short lines above each postcode line.

    Tesseract often makes every short line of an address its own paragraph,
    so one blank line inside the block is allowed; two end it, as do a long
    line (running text) or another postcode line.
    """
    blocks = []
    for i, line in enumerate(lines):
        if not _POSTCODE_LINE.match(line):
            continue
        block = [line.strip()]
        j, gap = i - 1, 0
        while j >= 0 and len(block) < 4:
            above = lines[j].strip()
            if not above:
                gap += 1
                if gap >= 2:
                    break
            elif len(above) > 45 or _POSTCODE_LINE.match(above):
                break
            else:
                gap = 0
                block.insert(0, above)
            j -= 1
        blocks.append(block)
    return blocks


def _format_address(block: list[str]) -> tuple[str | None, str]:
    """(name line or None, "street, 123 45 City")."""
    m = _POSTCODE_LINE.match(block[-1])
    assert m is not None
    postcode = f"{digits(m.group(1))} {digits(m.group(2))} {m.group(3).strip()}"
    street_lines = [ln for ln in block[:-1]
                    if not _PHONE_LABEL.search(ln) and "@" not in ln and not looks_like_name(ln)]
    name = next((ln for ln in block[:-1] if looks_like_name(ln)), None)
    street = ", ".join(street_lines[-2:])
    return name, f"{street}, {postcode}" if street else postcode


def extract(text: str, letterhead: Letterhead, fax_headers: list[FaxHeader] = ()
            ) -> Fields:
    """All fields of one letter's text (furniture already removed)."""
    fields = Fields()
    lines = text.splitlines()
    for block in _address_blocks(lines):
        m = _POSTCODE_LINE.match(block[-1])
        assert m is not None
        postcode = digits(m.group(1)) + digits(m.group(2))
        if postcode in letterhead.postcodes or any(letterhead.is_city_line(b) for b in block):
            continue
        name, address = _format_address(block)
        fields.postal_address = address
        fields.name = name
        break
    if fields.name is None:
        for i, line in enumerate(lines):
            if _CLOSING.match(fold(line.strip())):
                following = [ln.strip() for ln in lines[i + 1:i + 5] if ln.strip()]
                if following and looks_like_name(following[0]) and not letterhead.is_city_line(
                        following[0]):
                    fields.name = following[0]
    for email in find_emails(text):
        if letterhead.is_city_email(email):
            continue
        if fields.email is None:
            fields.email = email
        else:
            fields.other_emails.append(email)
    ranked = sorted((p for p in find_phones(text) if p[0] not in letterhead.phones),
                    key=lambda p: not p[1])
    pnr_digits = {digits(p)[-10:] for p, _ in find_personnummer(text)}
    for number, _ in ranked:
        if number.lstrip("+").removeprefix("46") in {d[1:] for d in pnr_digits}:
            continue
        if fields.phone is None:
            fields.phone = number
        else:
            fields.other_phones.append(number)
    for value, coordination in find_personnummer(text):
        (fields.samordningsnummer if coordination else fields.personnummer).append(value)
    fields.diarienummer = find_diarienummer(text)
    fields.arende_refs = find_arende_refs(text)
    for line in lines:
        m = _SUBJECT.match(fold(line))
        if m:
            fields.subject = line.split(":", 1)[1].strip() or None
            break
    headers = [h for h in fax_headers if h.number or h.sent_at]
    if fax_headers:
        first = headers[0] if headers else fax_headers[0]
        pages = max((h.pages for h in fax_headers if h.pages), default=None)
        fields.fax = FaxHeader(line=first.line, number=first.number, sent_at=first.sent_at,
                               page=first.page, pages=pages)
    return fields
