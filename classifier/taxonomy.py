"""The case taxonomy (config/taxonomy.yaml) as frozen, validated objects.

The taxonomy is data, not code, so a new ärendetyp is a YAML edit plus training
examples. Because queue payloads and evaluation sets written elsewhere use the
canonical codes of DOMAIN.md, loading refuses a file that lacks one of them; it
may add codes, never rename them. Every error names file, key path and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.yamlmarks import KeyPath, MarkedDoc, load_marked

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_DEADLINE_WORKING_DAYS = 60

#: Codes DOMAIN.md fixes; configuration may add to these, never drop or rename them.
CANONICAL_TYPES: dict[str, tuple[str, ...]] = {
    "aldreomsorg": ("hemtjanst", "sarskilt_boende", "dagverksamhet", "fardtjanst",
                    "riksfardtjanst", "trygghetslarm", "fixaren", "god_man", "avgift_faktura",
                    "val_av_utforare"),
    "forskola": ("plats_och_ko", "avgift_faktura", "inskrivning_och_schema", "verksamhet"),
    "skola": ("skolval", "vuxenutbildning", "skolskjuts", "betyg_och_intyg", "verksamhet"),
    "bygglov": ("bygglov", "detaljplan", "kartor_och_matning", "olovligt_byggande"),
    "miljo": ("buller", "inomhusmiljo", "livsmedel", "miljofarlig_verksamhet", "avgift_faktura"),
    "avfall": ("hamtning", "grovavfall", "abonnemang", "avgift_faktura"),
    "trafik": ("parkeringstillstand", "felanmalan_gata", "vinterunderhall", "kontrollavgift",
               "trafikplanering"),
    "stadsmiljo": ("park", "klotter", "nedskrapning", "lekplats", "trad"),
    "bostad": ("bostadsko", "hyresfragor"),
    "idrott": ("bokning", "badhus", "foreningsbidrag"),
    "kultur": ("bibliotek", "stadsarkiv", "kulturskola"),
    "konsument": ("konsumentrad",),
    "fastighet": ("mark_och_arrende", "lokaler", "exploatering"),
    "kyrkogard": ("gravskotsel", "gravplats"),
    "socialtjanst": ("ekonomiskt_bistand", "barn_och_familj", "missbruk", "vald_i_nara_relation"),
    "funktionsnedsattning": ("lss_insats", "personlig_assistans", "bostad_sarskild_service"),
    "ovrigt": ("annan_myndighet", "allman_information", "kontakt_med_handlaggare"),
}
CANONICAL_CLASSES = ("information", "ansokan", "status", "synpunkt_klagomal", "felanmalan")
CANONICAL_FLAGS = ("sekretess", "akut", "myndighetsutovning", "tolk", "anonym")

_TOP_KEYS = {"version", "flags", "arendeklasser", "huvudkategorier"}
_CAT_KEYS = {"label", "owner", "handled_by", "ack_deadline_working_days", "default_flags",
             "arendetyper", "description"}
_TYPE_KEYS = {"label", "owner", "handled_by", "ack_deadline_working_days", "default_flags",
              "description"}
_OWNER_KEYS = {"code", "label"}
_FLAG_DEFAULT_KEYS = {"sekretess", "myndighetsutovning"}
_SIMPLE_ENTRY_KEYS = {"label", "description"}


@dataclass(frozen=True)
class Owner:
    """The nämnd or bolag that owns an ärende: a code for routing, a label for people."""

    code: str
    label: str


@dataclass(frozen=True)
class CaseType:
    """One ärendetyp inside one huvudkategori; flags and deadline already resolved."""

    category: str
    code: str
    label: str
    owner: Owner
    handled_by: str | None
    ack_deadline_working_days: int
    sekretess: bool
    #: True, False, or the ärendeklass codes for which a nämnd decision is needed.
    myndighetsutovning: bool | frozenset[str]

    @property
    def key(self) -> str:
        """``huvudkategori/arendetyp``: unique, unlike the bare code."""
        return f"{self.category}/{self.code}"

    def needs_decision(self, arendeklass: str | None) -> bool:
        """Whether an item of this type and ärendeklass is myndighetsutövning."""
        if isinstance(self.myndighetsutovning, bool):
            return self.myndighetsutovning
        return arendeklass is not None and arendeklass in self.myndighetsutovning


@dataclass(frozen=True)
class Category:
    """One huvudkategori with its ärendetyper in file order."""

    code: str
    label: str
    owner: Owner
    handled_by: str | None
    ack_deadline_working_days: int
    sekretess: bool
    types: Mapping[str, CaseType]


@dataclass(frozen=True)
class Taxonomy:
    """The whole taxonomy; ``source`` is the file it came from."""

    categories: Mapping[str, Category]
    classes: Mapping[str, str]
    flags: Mapping[str, str]
    source: str = ""
    version: int = 1
    _index: dict[str, CaseType] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for cat in self.categories.values():
            for t in cat.types.values():
                self._index[t.key] = t

    def type(self, category: str, code: str) -> CaseType | None:
        """The ärendetyp ``category/code``, or None when it does not exist."""
        return self._index.get(f"{category}/{code}")

    def iter_types(self) -> Iterator[CaseType]:
        """Every ärendetyp, category by category, in file order."""
        yield from self._index.values()

    def type_keys(self) -> list[str]:
        """Every ``huvudkategori/arendetyp`` key."""
        return list(self._index)

    def is_valid(self, category: str | None, code: str | None = None) -> bool:
        """Whether the category (and, when given, the type within it) exists."""
        if category not in self.categories:
            return False
        return code is None or f"{category}/{code}" in self._index


def _require_mapping(doc: MarkedDoc, path: KeyPath, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise doc.error(path, f"{what} must be a mapping")
    return value


def _check_keys(doc: MarkedDoc, path: KeyPath, value: dict[str, Any], allowed: set[str]) -> None:
    for key in value:
        if key not in allowed:
            raise doc.error((*path, key), f"unknown key {key!r}; allowed: "
                            + ", ".join(sorted(allowed)))


def _label(doc: MarkedDoc, path: KeyPath, value: dict[str, Any]) -> str:
    label = value.get("label")
    if not isinstance(label, str) or not label.strip():
        raise doc.error((*path, "label"), "missing or empty label (Swedish text required)")
    return label.strip()


def _code(doc: MarkedDoc, path: KeyPath, code: str) -> str:
    if not CODE_RE.match(code):
        raise doc.error(path, f"code {code!r} must be lower-case ASCII letters, digits, '_'")
    return code


def _owner(doc: MarkedDoc, path: KeyPath, value: Any) -> Owner:
    owner = _require_mapping(doc, path, value, "owner")
    _check_keys(doc, path, owner, _OWNER_KEYS)
    code = owner.get("code")
    if not isinstance(code, str):
        raise doc.error((*path, "code"), "owner needs a code (the nämnd's routing code)")
    return Owner(code=_code(doc, (*path, "code"), code), label=_label(doc, path, owner))


def _deadline(doc: MarkedDoc, path: KeyPath, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            1 <= value <= MAX_DEADLINE_WORKING_DAYS):
        raise doc.error(path, f"ack_deadline_working_days must be a whole number of working "
                        f"days between 1 and {MAX_DEADLINE_WORKING_DAYS}, got {value!r}")
    return value


def _flags(doc: MarkedDoc, path: KeyPath, value: Any, classes: Mapping[str, str],
           inherited: tuple[bool, bool | frozenset[str]]) -> tuple[bool, bool | frozenset[str]]:
    if value is None:
        return inherited
    flags = _require_mapping(doc, path, value, "default_flags")
    _check_keys(doc, path, flags, _FLAG_DEFAULT_KEYS)
    sekretess, myndighet = inherited
    if "sekretess" in flags:
        if not isinstance(flags["sekretess"], bool):
            raise doc.error((*path, "sekretess"), "sekretess must be true or false")
        sekretess = flags["sekretess"]
    if "myndighetsutovning" in flags:
        m = flags["myndighetsutovning"]
        if isinstance(m, bool):
            myndighet = m
        elif isinstance(m, list) and m and all(isinstance(c, str) for c in m):
            for i, c in enumerate(m):
                if c not in classes:
                    raise doc.error((*path, "myndighetsutovning", i),
                                    f"unknown ärendeklass {c!r}")
            myndighet = frozenset(m)
        else:
            raise doc.error((*path, "myndighetsutovning"),
                            "myndighetsutovning must be true, false or a list of ärendeklass codes")
    return sekretess, myndighet


def _simple_section(doc: MarkedDoc, key: str, required: tuple[str, ...]) -> dict[str, str]:
    section = _require_mapping(doc, (key,), doc.data.get(key), key)
    out: dict[str, str] = {}
    for code, entry in section.items():
        path = (key, code)
        _code(doc, path, code)
        entry = _require_mapping(doc, path, entry, code)
        _check_keys(doc, path, entry, _SIMPLE_ENTRY_KEYS)
        out[code] = _label(doc, path, entry)
    for code in required:
        if code not in out:
            raise doc.error((key,), f"canonical code {code!r} is missing (DOMAIN.md)")
    return out


def parse_taxonomy(doc: MarkedDoc, *, require_canonical: bool = True) -> Taxonomy:
    """Validate a parsed taxonomy document; see the module docstring for the rules."""
    top = _require_mapping(doc, (), doc.data, "the taxonomy file")
    _check_keys(doc, (), top, _TOP_KEYS)
    version = top.get("version", 1)
    if version != 1:
        raise doc.error(("version",), f"unsupported taxonomy version {version!r}; expected 1")
    for key in ("flags", "arendeklasser", "huvudkategorier"):
        if key not in top:
            raise doc.error((), f"missing section {key!r}")
    flags = _simple_section(doc, "flags", CANONICAL_FLAGS if require_canonical else ())
    classes = _simple_section(doc, "arendeklasser",
                              CANONICAL_CLASSES if require_canonical else ())
    cats_raw = _require_mapping(doc, ("huvudkategorier",), top["huvudkategorier"],
                                "huvudkategorier")
    categories: dict[str, Category] = {}
    for cat_code, cat_raw in cats_raw.items():
        cpath: KeyPath = ("huvudkategorier", cat_code)
        _code(doc, cpath, cat_code)
        cat = _require_mapping(doc, cpath, cat_raw, f"huvudkategori {cat_code}")
        _check_keys(doc, cpath, cat, _CAT_KEYS)
        label = _label(doc, cpath, cat)
        if "owner" not in cat:
            raise doc.error(cpath, "missing owner (the nämnd that owns these ärenden)")
        owner = _owner(doc, (*cpath, "owner"), cat["owner"])
        if "ack_deadline_working_days" not in cat:
            raise doc.error(cpath, "missing ack_deadline_working_days")
        deadline = _deadline(doc, (*cpath, "ack_deadline_working_days"),
                             cat["ack_deadline_working_days"])
        handled_by = cat.get("handled_by")
        cat_flags = _flags(doc, (*cpath, "default_flags"), cat.get("default_flags"), classes,
                           (False, False))
        types_raw = _require_mapping(doc, (*cpath, "arendetyper"), cat.get("arendetyper"),
                                     "arendetyper")
        if not types_raw:
            raise doc.error((*cpath, "arendetyper"), "a huvudkategori needs at least one ärendetyp")
        types: dict[str, CaseType] = {}
        for type_code, type_raw in types_raw.items():
            tpath: KeyPath = (*cpath, "arendetyper", type_code)
            _code(doc, tpath, type_code)
            t = _require_mapping(doc, tpath, type_raw, f"ärendetyp {type_code}")
            _check_keys(doc, tpath, t, _TYPE_KEYS)
            sek, myn = _flags(doc, (*tpath, "default_flags"), t.get("default_flags"), classes,
                              cat_flags)
            types[type_code] = CaseType(
                category=cat_code, code=type_code, label=_label(doc, tpath, t),
                owner=_owner(doc, (*tpath, "owner"), t["owner"]) if "owner" in t else owner,
                handled_by=t.get("handled_by", handled_by),
                ack_deadline_working_days=_deadline(
                    doc, (*tpath, "ack_deadline_working_days"),
                    t.get("ack_deadline_working_days", deadline)),
                sekretess=sek, myndighetsutovning=myn)
        categories[cat_code] = Category(
            code=cat_code, label=label, owner=owner, handled_by=handled_by,
            ack_deadline_working_days=deadline, sekretess=cat_flags[0], types=types)
    if require_canonical:
        for cat_code, type_codes in CANONICAL_TYPES.items():
            if cat_code not in categories:
                raise doc.error(("huvudkategorier",),
                                f"canonical huvudkategori {cat_code!r} is missing (DOMAIN.md)")
            for tc in type_codes:
                if tc not in categories[cat_code].types:
                    raise doc.error(("huvudkategorier", cat_code, "arendetyper"),
                                    f"canonical ärendetyp {cat_code}/{tc} is missing (DOMAIN.md)")
    return Taxonomy(categories=categories, classes=classes, flags=flags, source=doc.file,
                    version=version)


def load_taxonomy(path: Path | str, *, require_canonical: bool = True) -> Taxonomy:
    """Load and validate a taxonomy file, or a config dir containing ``taxonomy.yaml``.

    Raises ``TaxonomyError`` (a ValueError) with ``file``, ``key`` and ``line`` set.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "taxonomy.yaml"
    return parse_taxonomy(load_marked(p), require_canonical=require_canonical)
