"""The routing table: owners per category, districts, secrecy, fast path, start-up checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.config import load_settings
from ingest.errors import ConfigError
from ingest.routing import decide, facts, route

REPO = Path(__file__).resolve().parents[2]
SETTINGS = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                          "KCS_VAR_DIR": "/tmp/kcs-unused"})
ROUTING, DISTRICTS = SETTINGS.routing, SETTINGS.districts

# DOMAIN.md's taxonomy table: the owner (default route) of each huvudkategori.
OWNERS = {
    "aldreomsorg": "aldrenamnden", "forskola": "stadsdelsnamnd", "skola": "utbildningsnamnden",
    "bygglov": "stadsbyggnadsnamnden", "miljo": "miljo_och_halsoskyddsnamnden",
    "avfall": "trafik_och_renhallningsnamnden", "trafik": "trafiknamnden",
    "stadsmiljo": "stadsdelsnamnd", "bostad": "bostadsformedlingen",
    "idrott": "idrottsnamnden", "kultur": "kulturnamnden", "konsument": "kontaktcenter",
    "fastighet": "exploateringsnamnden", "kyrkogard": "kyrkogardsnamnden",
    "socialtjanst": "stadsdelsnamnd", "funktionsnedsattning": "stadsdelsnamnd",
    "ovrigt": "kommunstyrelsen",
}


def at(address: str | None, **classification):
    flags = classification.pop("flags", {})
    placement = DISTRICTS.place(address) if address else None
    return route(ROUTING, classification, flags, placement, "address" if address else None)


@pytest.mark.parametrize("category", sorted(OWNERS))
def test_each_seed_category_reaches_its_owner(category: str) -> None:
    decision = at(None, huvudkategori=category)
    assert decision["owner"] == OWNERS[category]
    assert decision["queue"] and decision["rule"] != ""


def test_kontrollavgift_goes_to_stockholm_parkering_and_other_authorities_are_referred() -> None:
    assert at(None, huvudkategori="trafik", arendetyp="kontrollavgift")["unit"] == \
        "stockholm_parkering"
    other = at(None, huvudkategori="ovrigt", arendetyp="annan_myndighet")
    assert other["out_of_scope"] and other["referral"] == "annan_myndighet"
    assert other["queue"] == "kcs.case.kontaktcenter"


def test_socialtjanst_from_tensta_reaches_spanga_tenstas_restricted_queue() -> None:
    decision = at("Tensta allé 12\n163 64 Spånga", huvudkategori="socialtjanst",
                  arendetyp="ekonomiskt_bistand", flags={"sekretess": True})
    assert decision["queue"] == "kcs.restricted.spanga_tensta.socialtjanst"
    assert decision["owner"] == "stadsdelsnamnd_spanga_tensta"
    assert decision["out_of_scope"] is True and decision["referral"] == "socialtjanst"
    assert decision["restricted"] and decision["stadsdel"] == "spanga_tensta"
    # Without an address: never dropped, the central restricted queue.
    assert at(None, huvudkategori="socialtjanst")["queue"] == "kcs.restricted.socialtjanst"
    lss = at("Rinkebysvängen 5, 163 74 Spånga", huvudkategori="funktionsnedsattning")
    assert lss["queue"] == "kcs.restricted.rinkeby_kista.funktionsnedsattning"


@pytest.mark.parametrize("category", [*sorted(OWNERS), None])
def test_secret_items_only_ever_reach_restricted_queues(category: str | None) -> None:
    for akut in (False, True):
        decision = at("Hornsgatan 1, 118 20 Stockholm", huvudkategori=category,
                      flags={"sekretess": True, "akut": akut})
        assert all(q.startswith("kcs.restricted.") for q in decision["queues"]), decision


def test_akut_goes_to_the_fast_path_and_the_owner() -> None:
    decision = at(None, huvudkategori="aldreomsorg", arendetyp="hemtjanst",
                  flags={"akut": True})
    assert decision["queues"] == ["kcs.case.aldrenamnden", "kcs.fastpath.akut"]
    assert at(None, huvudkategori="aldreomsorg")["queues"] == ["kcs.case.aldrenamnden"]


def test_local_matters_go_to_the_district_unknown_addresses_to_central() -> None:
    assert at("Blackebergsvägen 3, 168 50 Bromma", huvudkategori="forskola")["queue"] == \
        "kcs.case.bromma.forskola"
    assert at("Storgatan 2, 171 45 Solna", huvudkategori="forskola")["queue"] == \
        "kcs.case.stadsdelsnamnd"


@pytest.mark.parametrize(("address", "district"), [
    ("Tensta allé 5, 163 64 Spånga", "spanga_tensta"),
    ("Hjulstavägen 3\n163 64 Spånga", "spanga_tensta"),
    ("Rinkebysvängen 5, 163 74 Spånga", "rinkeby_kista"),  # post town Spånga, district Rinkeby
    ("Kungsgatan 1, 111 43 Stockholm", "norrmalm"),
    ("Gröndalsvägen 1, Gröndal", "hagersten_liljeholmen"),
    ("Bredängsvägen 200, 127 32 Skärholmen", "skarholmen"),
    ("Hasselby strand", "hasselby_vallingby"),  # without diacritics
    ("Box 8314, 104 20 Stockholm", None),
    ("Storgatan 2, 171 45 Solna", None),
    ("Ring 08-508 00 508", None),
])
def test_district_from_address(address: str, district: str | None) -> None:
    assert DISTRICTS.place(address).stadsdel == district


def test_explain_says_why_earlier_rules_did_not_fire() -> None:
    decision, trace = decide(ROUTING, facts({"huvudkategori": "trafik",
                                             "arendetyp": "parkeringstillstand"}, {}))
    assert decision["rule"] == "trafik"
    kontroll = next(s for s in trace if s["rule"] == "kontrollavgift")
    assert kontroll["why_not"] == ["arendetyp: wants kontrollavgift, item has parkeringstillstand"]
    assert trace[-1] == {"rule": "trafik", "fired": True, "why_not": []}


# -- start-up checks -------------------------------------------------------------

def _config_with(tmp_path: Path, edit) -> Path:
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    path = cfg / "routing.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return cfg


def _load_error(cfg: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": "/tmp/kcs-unused"})
    return info.value


def _line_of(cfg: Path, needle: str) -> int:
    lines = (cfg / "routing.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_unknown_taxonomy_code_fails_naming_file_and_line(tmp_path: Path) -> None:
    cfg = _config_with(tmp_path, lambda t: t.replace("match: {huvudkategori: idrott}",
                                                     "match: {huvudkategori: idrot}"))
    err = _load_error(cfg)
    assert str(err).startswith(f"{cfg / 'routing.yaml'}:{_line_of(cfg, 'idrot}')}:")
    assert "unknown huvudkategori 'idrot'" in str(err)


def test_unknown_arendetyp_and_stadsdel_fail(tmp_path: Path) -> None:
    cfg = _config_with(tmp_path, lambda t: t.replace("arendetyp: kontrollavgift",
                                                     "arendetyp: p_bot"))
    assert "unknown ärendetyp 'p_bot'" in str(_load_error(cfg))
    cfg2 = _config_with(tmp_path / "b", lambda t: t.replace(
        'match: {huvudkategori: forskola, stadsdel: "*"}',
        "match: {huvudkategori: forskola, stadsdel: vasastan}"))
    err = _load_error(cfg2)
    assert "unknown stadsdel 'vasastan'" in str(err)
    assert f":{_line_of(cfg2, 'stadsdel: vasastan')}:" in str(err)


def test_unreachable_rule_fails_naming_the_rule_that_shadows_it(tmp_path: Path) -> None:
    cfg = _config_with(tmp_path, lambda t: t.replace(
        "  - name: kontrollavgift\n    match: {huvudkategori: trafik, arendetyp: kontrollavgift}",
        "  - name: trafik_tidig\n    match: {huvudkategori: trafik}\n    owner: trafiknamnden\n"
        "    queue: kcs.case.trafiknamnden\n"
        "  - name: kontrollavgift\n    match: {huvudkategori: trafik, arendetyp: kontrollavgift}"))
    err = _load_error(cfg)
    assert "unreachable: rule 'trafik_tidig'" in str(err)
    assert f":{_line_of(cfg, '- name: kontrollavgift')}:" in str(err)


def test_missing_default_fails(tmp_path: Path) -> None:
    def drop_default(text: str) -> str:
        start = text.index("default:\n")
        return text[:start] + text[text.index("routes:"):]

    err = _load_error(_config_with(tmp_path, drop_default))
    assert "routing.yaml:" in str(err) and "default: missing" in str(err)


def test_secret_rule_to_an_open_queue_fails(tmp_path: Path) -> None:
    cfg = _config_with(tmp_path, lambda t: t.replace(
        "    queue: kcs.restricted.kontaktcenter\n  # The classifier",
        "    queue: kcs.case.kontaktcenter\n  # The classifier"))
    assert "secret items go only to restricted queues" in str(_load_error(cfg))
