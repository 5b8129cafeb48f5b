"""Stadsdel from a postal address: which of Stockholm's districts a matter is local to.

Districts insist that local matters reach local units, so routing needs the
stadsdelsområde. The table is data (``config/stadsdelar.yaml``): area names
and postcode ranges per district. An area name found as a word in the
address wins (names follow district borders, postcode areas do not); the
postcode is the fallback; anything else is unknown and routed centrally.
The file's header says how complete the table is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError
from ingest.yamlfile import load_yaml

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
WORD_RE = re.compile(r"\w+")
# Addresses and place names come early in a letter; a 300 KB pasted document
# is not searched to its end.
MAX_SCAN_CHARS = 20_000
# "163 64", "16364", "SE-163 64"; not inside a longer number (a phone, a personnummer).
POSTCODE_RE = re.compile(r"(?<![\d-])(?:SE-?)?([1-9]\d{2}) ?(\d{2})(?![\d-])")
# The postort after a postcode ("163 74 Spånga") is a post town, not a district:
# Rinkeby's addresses say Spånga, Gröndal's say Stockholm.
POSTORT_RE = re.compile(r"(?<![\d-])(?:SE-?)?[1-9]\d{2} ?\d{2}[ \t]+[^\W\d_][\w -]*")


def fold(text: str) -> str:
    """Lower case without diacritics, so "Hasselby" in a plain-ASCII address still matches."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class District:
    """One stadsdelsområde: code for routing, label for people."""

    code: str
    label: str
    names: tuple[str, ...]
    postcodes: tuple[tuple[int, int], ...]  # inclusive ranges of five-digit codes


@dataclass(frozen=True)
class Placement:
    """Where an address was placed and on what evidence (for ``routes explain``)."""

    stadsdel: str | None
    source: str  # "name", "postcode" or "unknown"
    evidence: str | None = None


@dataclass(frozen=True)
class Districts:
    """The whole table, with a name index built once."""

    districts: dict[str, District]
    source: str = ""

    def __post_init__(self) -> None:
        index: dict[tuple[str, ...], tuple[str, str]] = {}
        for d in self.districts.values():
            for name in d.names:
                index[tuple(WORD_RE.findall(fold(name)))] = (name, d.code)
        object.__setattr__(self, "_names", index)
        object.__setattr__(self, "_longest", max((len(k) for k in index), default=1))

    @property
    def codes(self) -> frozenset[str]:
        """The district codes routing rules may name."""
        return frozenset(self.districts)

    def place(self, *texts: str | None) -> Placement:
        """The district of the first text that names one.

        Area names outside the postcode line first, then the postcode, then a
        post town that is also an area name ("Bromma", "Farsta").
        """
        for text in texts:
            if not text:
                continue
            placed = (self._by_name(POSTORT_RE.sub(" ", text[:MAX_SCAN_CHARS]))
                      or self._by_postcode(text)
                      or self._by_name(text))
            if placed:
                return placed
        return Placement(None, "unknown")

    def _by_name(self, text: str) -> Placement | None:
        """Word n-grams against the name index: one pass, whatever the table's size."""
        words = WORD_RE.findall(fold(text[:MAX_SCAN_CHARS]))
        names: dict[tuple[str, ...], tuple[str, str]] = self._names  # type: ignore[attr-defined]
        for i in range(len(words)):
            for n in range(min(self._longest, len(words) - i), 0, -1):  # type: ignore[attr-defined]
                hit = names.get(tuple(words[i:i + n]))
                if hit:
                    return Placement(hit[1], "name", hit[0])
        return None

    def _by_postcode(self, text: str) -> Placement | None:
        for m in POSTCODE_RE.finditer(text[:MAX_SCAN_CHARS]):
            number = int(m.group(1) + m.group(2))
            for district in self.districts.values():
                if any(lo <= number <= hi for lo, hi in district.postcodes):
                    return Placement(district.code, "postcode", f"{m.group(1)} {m.group(2)}")
        return None


def _ranges(spec: str) -> tuple[int, int]:
    spec = spec.replace(" ", "")
    if re.fullmatch(r"\d{3}", spec):
        return int(spec) * 100, int(spec) * 100 + 99
    m = re.fullmatch(r"(\d{5})-(\d{5})", spec)
    if m and int(m.group(1)) <= int(m.group(2)):
        return int(m.group(1)), int(m.group(2))
    raise ValueError("write a three-digit prefix (\"112\") or a range (\"16300-16369\")")


def load_districts(path: Path) -> Districts:
    """Read and check the table; ``ConfigError`` names file, key and line."""
    data, line_of = load_yaml(path)
    where = str(path)

    def fail(msg: str, *key: str | int) -> ConfigError:
        return ConfigError(msg, file=where, key=".".join(map(str, key)), line=line_of(key))

    if not isinstance(data, dict) or set(data) != {"districts"} or not isinstance(
            data["districts"], dict) or not data["districts"]:
        raise fail("expected one key, districts: a mapping of code → {label, names, "
                   "postcodes}")
    districts: dict[str, District] = {}
    seen_names: dict[str, str] = {}
    for code, entry in data["districts"].items():
        if not CODE_RE.match(str(code)):
            raise fail("district codes are lower-case ASCII with underscores", "districts", code)
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
            raise fail("give label, names and postcodes", "districts", code)
        unknown = set(entry) - {"label", "names", "postcodes"}
        if unknown:
            raise fail(f"unknown key {sorted(unknown)[0]!r}", "districts", code)
        names = tuple(str(n) for n in entry.get("names") or ())
        for i, name in enumerate(names):
            other = seen_names.setdefault(fold(name), code)
            if other != code:
                raise fail(f"area name {name!r} is also listed under {other}; an area "
                           "belongs to one district", "districts", code, "names", i)
        ranges = []
        for i, spec in enumerate(entry.get("postcodes") or ()):
            try:
                ranges.append(_ranges(str(spec)))
            except ValueError as exc:
                raise fail(f"{exc} (got {spec!r})", "districts", code, "postcodes", i) from None
        districts[code] = District(code, entry["label"], names, tuple(ranges))
    spans = sorted((lo, hi, d.code) for d in districts.values() for lo, hi in d.postcodes)
    reach, reach_code = -1, ""
    for lo, hi, code in spans:
        if lo <= reach and code != reach_code:
            raise fail(f"postcode {lo} is in both {reach_code} and {code}", "districts", code,
                       "postcodes")
        if hi > reach:
            reach, reach_code = hi, code
    return Districts(districts, where)
