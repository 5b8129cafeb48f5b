"""Routing: first matching rule, secrecy before triage, nothing dropped."""

from __future__ import annotations

from pathlib import Path

from ingest.config import load_settings
from ingest.routing import route

REPO = Path(__file__).resolve().parents[2]
ROUTING = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                         "KCS_VAR_DIR": "/tmp/kcs-unused"}).routing


def decide(flags: dict | None = None, **classification) -> dict:
    return route(ROUTING, classification, flags or {})


def test_category_and_type_rules() -> None:
    assert decide(huvudkategori="aldreomsorg", arendetyp="hemtjanst")["queue"] == \
        "kcs.case.aldrenamnden"
    assert decide(huvudkategori="trafik", arendetyp="kontrollavgift")["rule"] == "kontrollavgift"
    assert decide(huvudkategori="trafik", arendetyp="parkeringstillstand")["rule"] == "trafik"


def test_out_of_scope_is_routed_to_restricted_queues_never_dropped() -> None:
    for category in ("socialtjanst", "funktionsnedsattning"):
        assert decide(huvudkategori=category)["queue"].startswith("kcs.restricted.")


def test_unsure_items_go_to_triage_but_secret_ones_stay_restricted() -> None:
    assert decide(huvudkategori=None, needs_triage=True)["queue"] == "kcs.triage"
    secret = decide({"sekretess": True}, huvudkategori=None, needs_triage=True)
    assert secret["queue"] == "kcs.restricted.kontaktcenter"


def test_nothing_matching_goes_to_the_central_default() -> None:
    assert decide(huvudkategori=None, needs_triage=False)["rule"] == "central"
