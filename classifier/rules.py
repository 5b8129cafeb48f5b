"""Explicit rules from config for what must never be missed (akut, sekretess).

A statistical model trades recall for precision at its threshold; a message
saying "min man slår mig" must set akut no matter what the model thinks. So
every rule phrase is stemmed with the same Swedish Snowball stemmer and
folding as the text, which lets "hotade mig", "hotar mig" and "HOTAR MIG"
match the one phrase "hotar mig".

Phrase syntax (config/classifier.yaml):

* words separated by spaces; each word matches by stem ("kommit" ≈ "kommer"
  only if their stems agree, so prefer listing forms when in doubt);
* ``word*`` matches any folded token starting with ``word`` (≥ 3 letters):
  compounds and inflections in any language ("självmord*", "يضرب*");
* ``...`` allows up to ``phrase_max_gap_tokens`` arbitrary tokens in between.

Regexes run on the folded text (lower case, no diacritics) with the ``regex``
package's ``timeout``; the input is cut at ``max_rule_chars`` first, so a
pathological pattern or a 1 MB letter costs at most the timeout (for longer input the
rules read the first ``max_rule_chars`` minus 20 000 and the last 20 000
characters, where pleas usually are). A rule whose
regex times out is reported, and the item goes to a person.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import regex

from classifier.settings import RuleSpec
from classifier.text import fold, fold_token, stem, tokens

_GAP = ("gap", "")
Token = tuple[str, str]  # (kind, value): ("stem", s) | ("prefix", p) | ("gap", "")


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired: which, what flags it sets, and the text that matched."""

    rule: str
    flags: tuple[str, ...]
    matched: str
    hint: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form recorded in the explanation."""
        return {"rule": self.rule, "flags": list(self.flags), "matched": self.matched,
                "hint": self.hint}


@dataclass
class RuleResult:
    """All hits, plus rules that could not be evaluated (regex timeout)."""

    hits: list[RuleHit]
    timed_out: list[str]

    def flags(self) -> set[str]:
        """Union of the flags every hit sets."""
        return {f for h in self.hits for f in h.flags}


def _compile_phrase(phrase: str) -> tuple[Token, ...]:
    out: list[Token] = []
    for word in phrase.split():
        if word == "...":
            out.append(_GAP)
        elif word.endswith("*") and len(word) > 1:
            out.append(("prefix", fold(word[:-1])))
        else:
            out.extend(("stem", stem(t)) for t in tokens(word))
    while out and out[0] == _GAP:
        out.pop(0)
    while out and out[-1] == _GAP:
        out.pop()
    return tuple(out)


class _PhraseSet:
    """Phrases indexed by their first token, so long texts are scanned once."""

    def __init__(self, phrases: tuple[str, ...], max_gap: int) -> None:
        self.max_gap = max_gap
        self.by_stem: dict[str, list[tuple[str, tuple[Token, ...]]]] = defaultdict(list)
        self.by_prefix: dict[str, list[tuple[str, tuple[Token, ...]]]] = defaultdict(list)
        for phrase in phrases:
            compiled = _compile_phrase(phrase)
            if not compiled:
                continue
            kind, value = compiled[0]
            if kind == "stem":
                self.by_stem[value].append((phrase, compiled))
            else:
                self.by_prefix[value[:3]].append((phrase, compiled))

    def _match_at(self, pattern: tuple[Token, ...], k: int, folded: list[str],
                  stemmed: list[str], i: int) -> int | None:
        """End index if ``pattern[k:]`` matches starting at token ``i``."""
        if k == len(pattern):
            return i
        kind, value = pattern[k]
        if kind == "gap":
            for j in range(i, min(i + self.max_gap, len(folded)) + 1):
                end = self._match_at(pattern, k + 1, folded, stemmed, j)
                if end is not None:
                    return end
            return None
        if i >= len(folded):
            return None
        ok = stemmed[i] == value if kind == "stem" else folded[i].startswith(value)
        return self._match_at(pattern, k + 1, folded, stemmed, i + 1) if ok else None

    def first_match(self, folded: list[str], stemmed: list[str],
                    raw: list[str]) -> str | None:
        """The matched text of the first phrase that occurs, or None."""
        for i in range(len(folded)):
            candidates = list(self.by_stem.get(stemmed[i], ()))
            candidates += [c for c in self.by_prefix.get(folded[i][:3], ())
                           if folded[i].startswith(c[1][0][1])]
            for _phrase, pattern in candidates:
                end = self._match_at(pattern, 0, folded, stemmed, i)
                if end is not None:
                    return " ".join(raw[i:end])
        return None


class _PhraseIndex:
    """Every rule's phrases in one index, so a text's tokens are scanned once for all
    rules (not once per rule): each rule still gets its first match in text order."""

    def __init__(self, sets: dict[str, _PhraseSet]) -> None:
        self.max_gap = max((p.max_gap for p in sets.values()), default=0)
        self.by_stem: dict[str, list[tuple[str, _PhraseSet, tuple[Token, ...]]]] = \
            defaultdict(list)
        self.by_prefix: dict[str, list[tuple[str, _PhraseSet, tuple[Token, ...]]]] = \
            defaultdict(list)
        for rule, phrase_set in sets.items():
            for key, entries in phrase_set.by_stem.items():
                self.by_stem[key] += [(rule, phrase_set, pattern) for _p, pattern in entries]
            for key, entries in phrase_set.by_prefix.items():
                self.by_prefix[key] += [(rule, phrase_set, pattern) for _p, pattern in entries]

    def first_matches(self, folded: list[str], stemmed: list[str],
                      raw: list[str]) -> dict[str, str]:
        """Rule id → the matched text of its first phrase occurring in the text."""
        found: dict[str, str] = {}
        for i in range(len(folded)):
            by_stem = self.by_stem.get(stemmed[i], ())
            by_prefix = self.by_prefix.get(folded[i][:3], ())
            if not by_stem and not by_prefix:
                continue
            for rule, phrase_set, pattern in (*by_stem, *by_prefix):
                if rule in found or (pattern[0][0] == "prefix"
                                     and not folded[i].startswith(pattern[0][1])):
                    continue
                end = phrase_set._match_at(pattern, 0, folded, stemmed, i)
                if end is not None:
                    found[rule] = " ".join(raw[i:end])
        return found


class RuleEngine:
    """Compiled rules; ``run`` is pure and thread-safe."""

    def __init__(self, specs: tuple[RuleSpec, ...], *, max_chars: int, regex_timeout_ms: int,
                 max_gap_tokens: int = 3) -> None:
        self.specs = specs
        self.max_chars = max_chars
        self.timeout_s = regex_timeout_ms / 1000
        self._phrases = {s.id: _PhraseSet(s.phrases, max_gap_tokens) for s in specs}
        self._index = _PhraseIndex(self._phrases)
        self._required = {s.id: _PhraseSet(s.require_any, max_gap_tokens) for s in specs
                          if s.require_any}
        self._regexes = {s.id: [regex.compile(p) for p in s.regexes] for s in specs}

    def run(self, text: str) -> RuleResult:
        """Evaluate every rule on ``text`` (subject and body joined by the caller)."""
        if len(text) > self.max_chars:
            # Head and tail: a long letter states its errand first and its plea last.
            tail = min(20_000, self.max_chars // 4)
            text = f"{text[: self.max_chars - tail]}\n{text[-tail:]}"
        raw = tokens(text)
        folded = [fold_token(t) for t in raw]
        stemmed = [stem(t) for t in raw]
        folded_text = fold(text)
        hits: list[RuleHit] = []
        timed_out: list[str] = []
        phrase_hits = self._index.first_matches(folded, stemmed, raw)
        for spec in self.specs:
            matched = phrase_hits.get(spec.id)
            if matched is None:
                for pattern in self._regexes[spec.id]:
                    try:
                        m = pattern.search(folded_text, timeout=self.timeout_s)
                    except TimeoutError:
                        timed_out.append(spec.id)
                        break
                    if m:
                        matched = m.group(0)[:80]
                        break
            if matched is None:
                continue
            req = self._required.get(spec.id)
            if req is not None and req.first_match(folded, stemmed, raw) is None:
                continue
            hits.append(RuleHit(rule=spec.id, flags=spec.flags, matched=matched, hint=spec.hint))
        return RuleResult(hits=hits, timed_out=timed_out)
