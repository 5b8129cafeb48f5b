"""config/classifier.yaml as one frozen object: thresholds, limits, languages, model, rules.

Parsed and validated once at start-up (unknown keys, wrong types and bad
ranges name the file, key path and line), then passed into the classifier as
a constructor argument; nothing deeper reads YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.errors import ClassifierConfigError
from classifier.yamlmarks import KeyPath, MarkedDoc, load_marked

RULE_FLAGS = ("akut", "sekretess")


@dataclass(frozen=True)
class Thresholds:
    """Calibrated-probability floors below which a level is left to a person."""

    huvudkategori: float
    arendetyp: float
    arendeklass: float
    #: When False a weak ärendeklass is left empty but does not by itself send to triage.
    arendeklass_triggers_triage: bool
    #: Summed probability of secret categories (socialtjänst, LSS) that sets sekretess.
    sekretess_probability: float
    #: P(akut) from the akut model at or above which the flag is set (rules set it too).
    akut_model: float = 1.0
    #: P(sekretess) from the sekretess model at or above which the flag is set.
    sekretess_model: float = 1.0


@dataclass(frozen=True)
class Limits:
    """Input bounds that keep one hostile message from stalling a worker."""

    max_model_chars: int
    max_rule_chars: int
    regex_timeout_ms: int
    min_letters: int


@dataclass(frozen=True)
class LanguageSettings:
    """Languages we detect, and those whose writers need no interpreter."""

    supported: tuple[str, ...]
    no_tolk: tuple[str, ...]
    short_text_chars: int
    min_probability: float


@dataclass(frozen=True)
class ModelSettings:
    """Hyper-parameters of the statistical model (see docs/classifier.md for the choice)."""

    word_ngrams: tuple[int, int]
    char_ngrams: tuple[int, int]
    max_features_word: int
    max_features_char: int
    c: float
    calibration_cv: int
    correction_weight: float
    seed: int
    top_features: int
    #: Inverse regularisation of the akut and sekretess logistic models.
    flag_c: float = 4.0


@dataclass(frozen=True)
class RuleSpec:
    """One explicit rule: any phrase or regex matching sets ``flags``.

    ``require_any``, when given, must also match somewhere in the message (for
    rules such as "child" + "alone at home"). ``hint`` is a ``category/type``
    used only when the statistical model is unsure.
    """

    id: str
    flags: tuple[str, ...]
    phrases: tuple[str, ...]
    regexes: tuple[str, ...]
    require_any: tuple[str, ...]
    hint: str | None
    description: str


@dataclass(frozen=True)
class ClassifierSettings:
    """Everything in config/classifier.yaml."""

    thresholds: Thresholds
    limits: Limits
    languages: LanguageSettings
    model: ModelSettings
    rules: tuple[RuleSpec, ...]
    max_gap_tokens: int
    source: str


_SECTIONS = {"version", "thresholds", "limits", "languages", "model", "rules",
             "phrase_max_gap_tokens"}


class _Reader:
    """Typed reads from a section, each error naming the key path and line."""

    def __init__(self, doc: MarkedDoc, path: KeyPath, value: Any, allowed: set[str]) -> None:
        if not isinstance(value, dict):
            raise doc.error(path, "must be a mapping", ClassifierConfigError)
        for key in value:
            if key not in allowed:
                raise doc.error((*path, key), f"unknown key {key!r}; allowed: "
                                + ", ".join(sorted(allowed)), ClassifierConfigError)
        self.doc, self.path, self.value = doc, path, value

    def _get(self, key: str) -> Any:
        if key not in self.value:
            raise self.doc.error(self.path, f"missing key {key!r}", ClassifierConfigError)
        return self.value[key]

    def fail(self, key: str | int, message: str) -> ClassifierConfigError:
        err = self.doc.error((*self.path, key), message, ClassifierConfigError)
        assert isinstance(err, ClassifierConfigError)
        return err

    def prob(self, key: str) -> float:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise self.fail(key, f"must be a probability between 0 and 1, got {v!r}")
        return float(v)

    def number(self, key: str, low: float, high: float) -> float:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not low <= v <= high:
            raise self.fail(key, f"must be a number between {low} and {high}, got {v!r}")
        return float(v)

    def integer(self, key: str, low: int, high: int) -> int:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise self.fail(key, f"must be a whole number between {low} and {high}, got {v!r}")
        return v

    def boolean(self, key: str) -> bool:
        v = self._get(key)
        if not isinstance(v, bool):
            raise self.fail(key, f"must be true or false, got {v!r}")
        return v

    def strings(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        if not required and key not in self.value:
            return ()
        v = self._get(key)
        if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(s.strip() for s in v)

    def pair(self, key: str) -> tuple[int, int]:
        v = self._get(key)
        if (not isinstance(v, list) or len(v) != 2 or not all(isinstance(n, int) for n in v)
                or not 1 <= v[0] <= v[1] <= 8):
            raise self.fail(key, f"must be [low, high] with 1 <= low <= high <= 8, got {v!r}")
        return (v[0], v[1])


def _rules(doc: MarkedDoc, raw: Any) -> tuple[RuleSpec, ...]:
    import regex

    if not isinstance(raw, list):
        raise doc.error(("rules",), "rules must be a list", ClassifierConfigError)
    seen: set[str] = set()
    out: list[RuleSpec] = []
    allowed = {"id", "flags", "phrases", "regexes", "require_any", "hint", "description"}
    for i, item in enumerate(raw):
        r = _Reader(doc, ("rules", i), item, allowed)
        rid = item.get("id")
        if not isinstance(rid, str) or not rid:
            raise r.fail("id", "every rule needs an id")
        if rid in seen:
            raise r.fail("id", f"rule id {rid!r} appears twice")
        seen.add(rid)
        flags = r.strings("flags")
        for j, f in enumerate(flags):
            if f not in RULE_FLAGS:
                raise doc.error(("rules", i, "flags", j),
                                f"rules may set only {', '.join(RULE_FLAGS)}; got {f!r}",
                                ClassifierConfigError)
        phrases = r.strings("phrases", required=False)
        regexes = r.strings("regexes", required=False)
        if not phrases and not regexes:
            raise r.fail("phrases", "a rule needs phrases or regexes")
        for j, pattern in enumerate(regexes):
            try:
                regex.compile(pattern)
            except regex.error as exc:
                raise doc.error(("rules", i, "regexes", j), f"bad regex: {exc}",
                                ClassifierConfigError) from exc
        hint = item.get("hint")
        if hint is not None and (not isinstance(hint, str) or hint.count("/") != 1):
            raise r.fail("hint", "hint must be 'huvudkategori/arendetyp'")
        out.append(RuleSpec(id=rid, flags=flags, phrases=phrases, regexes=regexes,
                            require_any=r.strings("require_any", required=False), hint=hint,
                            description=str(item.get("description", ""))))
    return tuple(out)


def load_settings(path: Path | str) -> ClassifierSettings:
    """Load config/classifier.yaml (or a config dir containing it) and validate it."""
    p = Path(path)
    if p.is_dir():
        p = p / "classifier.yaml"
    doc = load_marked(p, ClassifierConfigError)
    top = _Reader(doc, (), doc.data, _SECTIONS)
    if doc.data.get("version", 1) != 1:
        raise top.fail("version", "unsupported version; expected 1")
    t = _Reader(doc, ("thresholds",), top._get("thresholds"),
                {"huvudkategori", "arendetyp", "arendeklass", "arendeklass_triggers_triage",
                 "sekretess_probability", "akut_model", "sekretess_model"})
    lim = _Reader(doc, ("limits",), top._get("limits"),
                  {"max_model_chars", "max_rule_chars", "regex_timeout_ms", "min_letters"})
    lang = _Reader(doc, ("languages",), top._get("languages"),
                   {"supported", "no_tolk", "short_text_chars", "min_probability"})
    m = _Reader(doc, ("model",), top._get("model"),
                {"word_ngrams", "char_ngrams", "max_features_word", "max_features_char", "C",
                 "calibration_cv", "correction_weight", "seed", "top_features", "flag_C"})
    supported = lang.strings("supported")
    for i, code in enumerate(supported):
        if len(code) != 2 or not code.isalpha() or not code.islower():
            raise doc.error(("languages", "supported", i),
                            f"{code!r} is not an ISO 639-1 code", ClassifierConfigError)
    settings = ClassifierSettings(
        thresholds=Thresholds(
            huvudkategori=t.prob("huvudkategori"), arendetyp=t.prob("arendetyp"),
            arendeklass=t.prob("arendeklass"),
            arendeklass_triggers_triage=t.boolean("arendeklass_triggers_triage"),
            sekretess_probability=t.prob("sekretess_probability"),
            akut_model=t.prob("akut_model"), sekretess_model=t.prob("sekretess_model")),
        limits=Limits(max_model_chars=lim.integer("max_model_chars", 200, 100_000),
                      max_rule_chars=lim.integer("max_rule_chars", 1_000, 2_000_000),
                      regex_timeout_ms=lim.integer("regex_timeout_ms", 1, 5_000),
                      min_letters=lim.integer("min_letters", 1, 100)),
        languages=LanguageSettings(supported=supported, no_tolk=lang.strings("no_tolk"),
                                   short_text_chars=lang.integer("short_text_chars", 0, 500),
                                   min_probability=lang.prob("min_probability")),
        model=ModelSettings(word_ngrams=m.pair("word_ngrams"), char_ngrams=m.pair("char_ngrams"),
                            max_features_word=m.integer("max_features_word", 100, 5_000_000),
                            max_features_char=m.integer("max_features_char", 100, 5_000_000),
                            c=m.number("C", 1e-4, 1e4),
                            calibration_cv=m.integer("calibration_cv", 2, 10),
                            correction_weight=m.number("correction_weight", 0.0, 100.0),
                            seed=m.integer("seed", 0, 2**31 - 1),
                            top_features=m.integer("top_features", 0, 50),
                            flag_c=m.number("flag_C", 1e-4, 1e4)),
        rules=_rules(doc, top._get("rules")),
        max_gap_tokens=int(doc.data.get("phrase_max_gap_tokens", 3)),
        source=doc.file)
    return settings
