"""Explicit rules: every akut and sekretess case written in the held-out split is caught."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from classifier import load_settings
from classifier.rules import RuleEngine
from classifier.settings import RuleSpec

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"



@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    s = load_settings(CONFIG)
    return RuleEngine(s.rules, max_chars=s.limits.max_rule_chars,
                      regex_timeout_ms=s.limits.regex_timeout_ms,
                      max_gap_tokens=s.max_gap_tokens)


def test_every_written_akut_case_is_caught(engine: RuleEngine,
                                           heldout_records: list[dict]) -> None:
    """GIVEN the akut cases we wrote (all languages) THEN the rules alone set akut."""
    cases = [r for r in heldout_records if r.get("akut")]
    assert len(cases) >= 50
    missed = [r["text"] for r in cases
              if "akut" not in engine.run(f"{r['subject']}\n{r['text']}").flags()]
    assert missed == []


@pytest.mark.parametrize("text", [
    "min man slår mig",
    "MIN MAN SLOG MIG IGÅR",
    "hemtjansten har inte kommit och hon har inte atit",
    "Hemtjänsten har inte kommit i dag och mamma har inte ätit.",
    "pappa har fallit och kommer inte upp",
    "jag vill inte leva längre",
    "barnen är ensamma hemma sedan i går",
    "Det luktar gas i trapphuset",
    "det brinner i soprummet",
    "My husband hits me",
    "nobody from home care has come today",
    "زوجي يضربني",
    "Муж бьёт меня",
    "Kocam beni dövüyor",
    "Ninkayga ayaa i garaacay",
    # said indirectly, the OCR'd letter without å/ä/ö included
    "Jag har sparat pa mig tabletterna och ska inte vara till besvar for nagon langre",
    "jag orkar inte längre, alla har det bättre utan mig",
    "I have been saving my pills, everyone is better off without me",
])
def test_akut_phrases(engine: RuleEngine, text: str) -> None:
    assert "akut" in engine.run(text).flags()


@pytest.mark.parametrize("text", [
    "Vilket stöd finns för den som utsatts för våld i nära relation?",
    "Fakturan har inte kommit än",
    "Beslutet om bygglovet har inte kommit",
    "Jag är ensamstående med två barn och undrar om förskoleavgiften",
    "Vi lämnar barnen på förskolan klockan åtta",
    "Jag är döv och behöver tolk",
])
def test_no_akut_on_ordinary_messages(engine: RuleEngine, text: str) -> None:
    assert "akut" not in engine.run(text).flags()


@pytest.mark.parametrize("text", [
    "Min vän blev stucken av en geting och läpparna svullnar",
    "pappa andas inte ordentligt och går inte att väcka",
    "Grannen ligger medvetslös i trappan",
    "my friend got stung and her face is swelling up, what number do we call",
    "he can't breathe properly after eating nuts",
    "Mi hijo no respira bien",
    "Mąż nie oddycha",
    "Он без сознания",
    "أخي فاقد الوعي",
    "Babam bayıldı",
])
def test_someone_with_acute_symptoms_is_akut_and_sekretess(engine: RuleEngine,
                                                          text: str) -> None:
    """Danger to life or health in the sender's words: akut, and the symptoms are
    health details about a person (sekretess)."""
    result = engine.run(text)
    assert {"akut", "sekretess"} <= result.flags()
    assert "akut_medicinskt" in {hit.rule for hit in result.hits}


def test_a_child_who_can_get_out_unseen_is_akut(engine: RuleEngine) -> None:
    result = engine.run("Grinden på förskolan går inte att stänga, i dag stod min son ute "
                        "på gångvägen och ingen personal såg.")
    assert "akut" in result.flags()
    assert "akut_barn_utan_tillsyn" in {hit.rule for hit in result.hits}


def test_information_about_violence_is_sekretess_not_akut(engine: RuleEngine) -> None:
    flags = engine.run("Vilket stöd finns för den som utsatts för våld i nära relation?").flags()
    assert flags == {"sekretess"}


@pytest.mark.parametrize("text", [
    "Min mamma har demens", "Jag har skyddad identitet", "Han får försörjningsstöd",
    "vår son har autism", "min pappa har cancer", "ansökan om personlig assistans",
    "Min man halkade förra vintern och bröt höften, han låg inne i tre veckor.",
    "Läkarintyget om min reumatism skickades i augusti.",
    "Min fru är gravid i tionde veckan.",
    "Jag bröt handleden och opererades på Södersjukhuset.",
])
def test_sekretess_phrases(engine: RuleEngine, text: str) -> None:
    assert "sekretess" in engine.run(text).flags()


def test_rules_report_what_matched(engine: RuleEngine) -> None:
    hit = engine.run("Hej. Min sambo hotade mig i går.").hits[0]
    assert hit.rule == "akut_vald" and hit.matched == "hotade mig"
    assert hit.hint == "socialtjanst/vald_i_nara_relation"


def test_regex_runs_with_a_time_limit() -> None:
    """A catastrophic regex on hostile input is cut off and reported, not hung on."""
    spec = RuleSpec(id="evil", flags=("akut",), phrases=(), regexes=(r"(a+)+$",),
                    require_any=(), hint=None, description="")
    engine = RuleEngine((spec,), max_chars=100_000, regex_timeout_ms=20)
    t0 = time.perf_counter()
    result = engine.run("a" * 5000 + "!")
    assert time.perf_counter() - t0 < 2.0
    assert result.timed_out == ["evil"]


def test_long_input_is_bounded(engine: RuleEngine) -> None:
    text = "hej " * 300_000 + "min man slår mig"
    t0 = time.perf_counter()
    result = engine.run(text)
    assert time.perf_counter() - t0 < 5.0
    assert "akut" in result.flags()  # the tail of a long letter is read too


def test_a_fallen_tree_is_not_a_fallen_person(engine: RuleEngine) -> None:
    """In a storm every third mail says a tree has fallen; the old-person rule must not
    put them all on the akut fast path, and must still read a person's fall."""
    storm = engine.run("Träd över vägen\nEtt stort träd har fallit över cykelbanan vid "
                       "Hornsgatan 12.")
    assert "akut_aldre_utan_mat" not in [h.rule for h in storm.hits]
    for text in ("Min mor har fallit två gånger i badrummet.",
                 "Brukaren bor ensam och har fallit två ggr i oktober.",
                 "Jag har fallit i trappan och kommer inte upp.",
                 "Pappa har fallit hemma i natt."):
        assert "akut" in engine.run(text).flags(), text


def test_configured_regex_rule(engine: RuleEngine) -> None:
    result = engine.run("Min bror sa att han tänker ta sitt eget liv.")
    assert [h.rule for h in result.hits] == ["akut_sjalvmord"]
    assert result.hits[0].matched == "ta sitt eget liv"


def test_one_scan_for_all_rules_finds_what_each_rule_finds_alone(engine: RuleEngine) -> None:
    """The combined phrase index (one pass over a text's tokens for every rule) gives each
    rule the same first match as scanning the text once per rule, on the whole corpus."""
    from classifier.corpus import iter_jsonl
    from classifier.text import fold, stem, tokens

    texts = [f"{r.get('subject') or ''}\n{r.get('text') or ''}"
             for f in sorted((REPO / "corpus").rglob("*.jsonl")) for _n, r in iter_jsonl(f) if r]
    assert len(texts) > 5000
    fired = 0
    for text in texts:
        raw = tokens(text)
        folded, stemmed = [fold(t) for t in raw], [stem(t) for t in raw]
        alone = {rule: m for rule, phrases in engine._phrases.items()
                 if (m := phrases.first_match(folded, stemmed, raw)) is not None}
        assert engine._index.first_matches(folded, stemmed, raw) == alone, text[:80]
        fired += bool(alone)
    assert fired > 1000  # the comparison is not vacuous
