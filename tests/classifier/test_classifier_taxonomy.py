"""Taxonomy and settings: every DOMAIN code present; errors name file, key path and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from classifier import TaxonomyError, load_settings, load_taxonomy
from classifier.errors import ClassifierConfigError
from classifier.taxonomy import CANONICAL_CLASSES, CANONICAL_FLAGS, CANONICAL_TYPES

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


# The shared domain document beside the repo when it is there (a work checkout),
# else the copy kept with the tests (a clean clone on its own).
DOMAIN = next(p for p in (REPO.parent / "shared" / "DOMAIN.md",
                          REPO / "tests" / "samples" / "DOMAIN.md") if p.exists())


def test_every_canonical_code_is_configured() -> None:
    """GIVEN config/taxonomy.yaml WHEN loaded THEN every DOMAIN.md code is there, labelled."""
    tax = load_taxonomy(CONFIG)
    for cat, types in CANONICAL_TYPES.items():
        assert cat in tax.categories
        assert tax.categories[cat].label
        assert tax.categories[cat].owner.code
        for t in types:
            ct = tax.type(cat, t)
            assert ct is not None, f"{cat}/{t}"
            assert ct.label and ct.owner.label and 1 <= ct.ack_deadline_working_days <= 60
    assert set(CANONICAL_CLASSES) <= set(tax.classes)
    assert set(CANONICAL_FLAGS) <= set(tax.flags)


def test_canonical_constants_match_domain_md() -> None:
    """The constants the loader enforces are exactly the table in DOMAIN.md."""
    text = DOMAIN.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\w+) \| [^|]+ \| ([a-z_, ]+) \|", text, flags=re.M)
    table = {cat: tuple(t.strip() for t in types.split(",")) for cat, types in rows}
    assert table == CANONICAL_TYPES
    classes = re.findall(r"^\| (\w+) \| [^|]+ \| (?:\d+ %|—) \|$", text, flags=re.M)
    assert tuple(classes) == CANONICAL_CLASSES


def test_defaults_from_domain() -> None:
    """Secret categories default to sekretess; Äldreomsorg promises next working day."""
    tax = load_taxonomy(CONFIG)
    for cat in ("socialtjanst", "funktionsnedsattning"):
        assert all(t.sekretess for t in tax.categories[cat].types.values())
    assert all(t.ack_deadline_working_days == 1
               for t in tax.categories["aldreomsorg"].types.values())
    assert tax.type("bygglov", "bygglov").needs_decision("ansokan")
    assert not tax.type("bygglov", "bygglov").needs_decision("information")
    assert tax.type("trafik", "kontrollavgift").owner.code == "stockholm_parkering"


def _break(config: Path, old: str, new: str, name: str = "taxonomy.yaml") -> Path:
    path = config / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_unknown_key_names_file_key_and_line(config_copy: Path) -> None:
    path = _break(config_copy, "      fixaren:\n        label: Fixartjänsten\n",
                  "      fixaren:\n        label: Fixartjänsten\n        colour: red\n")
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(config_copy)
    e = err.value
    assert e.file == str(path)
    assert e.key == "huvudkategorier.aldreomsorg.arendetyper.fixaren.colour"
    assert e.line == _line_of(path, "colour: red")
    assert isinstance(e, ValueError)
    assert f"{path}:{e.line}" in str(e)


def test_duplicate_code_is_refused(config_copy: Path) -> None:
    path = _break(config_copy, "      klotter:\n        label: Klotter\n",
                  "      klotter:\n        label: Klotter\n      klotter:\n        label: X\n")
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(config_copy)
    assert "appears twice" in str(err.value)
    assert err.value.key == "huvudkategorier.stadsmiljo.arendetyper.klotter"
    assert err.value.line == _line_of(path, "      klotter:") + 2


def test_missing_label_is_refused(config_copy: Path) -> None:
    path = _break(config_copy, "      badhus:\n        label: Badhus\n",
                  "      badhus:\n        label: ''\n")
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(config_copy)
    assert err.value.key == "huvudkategorier.idrott.arendetyper.badhus.label"
    assert err.value.line == _line_of(path, "      badhus:") + 1


@pytest.mark.parametrize("bad", ["0", "-2", "ten", "1.5", "365"])
def test_bad_deadline_is_refused(config_copy: Path, bad: str) -> None:
    path = _break(config_copy, "        ack_deadline_working_days: 2\n",
                  f"        ack_deadline_working_days: {bad}\n")
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(config_copy)
    assert err.value.key == "huvudkategorier.avfall.arendetyper.hamtning.ack_deadline_working_days"
    assert err.value.line == _line_of(path, f"ack_deadline_working_days: {bad}")


def test_missing_canonical_code_is_refused(config_copy: Path) -> None:
    _break(config_copy, "      gravskotsel:\n        label: Gravskötsel\n",
           "      gravvard:\n        label: Gravskötsel\n")
    with pytest.raises(TaxonomyError, match="kyrkogard/gravskotsel is missing"):
        load_taxonomy(config_copy)


def test_new_type_needs_no_code(config_copy: Path) -> None:
    """Adding an ärendetyp is a YAML edit."""
    _break(config_copy, "      bibliotek:\n        label: Bibliotek\n",
           "      bibliotek:\n        label: Bibliotek\n      museum:\n        label: Museer\n")
    assert load_taxonomy(config_copy).type("kultur", "museum") is not None


def test_invalid_yaml_names_line(config_copy: Path) -> None:
    _break(config_copy, "  skola:\n", "  skola: [\n")
    with pytest.raises(TaxonomyError, match="not valid YAML") as err:
        load_taxonomy(config_copy)
    assert err.value.line is not None


def test_settings_errors_name_key_and_line(config_copy: Path) -> None:
    path = _break(config_copy, "  huvudkategori: 0.45", "  huvudkategori: 1.7",
                  "classifier.yaml")
    with pytest.raises(ClassifierConfigError) as err:
        load_settings(config_copy)
    assert err.value.key == "thresholds.huvudkategori"
    assert err.value.line == _line_of(path, "huvudkategori: 1.7")


def test_settings_refuse_bad_regex_and_unknown_flag(config_copy: Path) -> None:
    _break(config_copy, "    flags: [akut, sekretess]\n    hint: socialtjanst/vald",
           "    flags: [akut, tolk]\n    hint: socialtjanst/vald", "classifier.yaml")
    with pytest.raises(ClassifierConfigError, match="rules may set only"):
        load_settings(config_copy)


def test_real_settings_load() -> None:
    s = load_settings(CONFIG)
    assert "no" in s.languages.supported  # quoted: bare `no` is YAML false
    assert s.rules and all(r.flags for r in s.rules)
