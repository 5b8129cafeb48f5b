"""Translation-free carry-over: append Swedish concept words to non-Swedish messages.

The model learns most of its cues from Swedish text. For a message detected
as another supported language, the phrases of that language in
``bridge.yaml`` that occur in the text add their Swedish concept words
("kotipalvelua" → "hemtjänst"), so Swedish cues fire too. Only the detected
language's phrases are tried, so a word that means different things in two
languages ("home": English vs Finnish *mould*) cannot cross over.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import yaml

from classifier.text import fold, tokens

BRIDGE_FILE = Path(__file__).resolve().parent / "bridge.yaml"
_AR_PREFIXES = ("وال", "بال", "فال", "كال", "کال", "لل", "ال")


def _norm(token: str) -> str:
    t = fold(token)
    for p in _AR_PREFIXES:
        if t.startswith(p) and len(t) - len(p) >= 3:
            return t[len(p):]
    return t


def _key(token: str) -> tuple[str, bool]:
    """(value, is_prefix): long words match inflected forms by their first letters."""
    t = _norm(token)
    if len(t) >= 6:
        return t[: max(5, len(t) - 2)], True
    return t, False


class Bridge:
    """Per-language phrase index; ``augment`` is pure and thread-safe."""

    def __init__(self, entries: dict[str, dict[str, list[str]]]) -> None:
        self.index: dict[str, dict[str, list[tuple[tuple[tuple[str, bool], ...], str]]]] = {}
        by_lang: dict[str, dict[str, list[tuple[tuple[tuple[str, bool], ...], str]]]] = (
            defaultdict(lambda: defaultdict(list)))
        for concept, langs in entries.items():
            for lang, phrases in (langs or {}).items():
                for phrase in phrases or []:
                    keys = tuple(_key(t) for t in tokens(str(phrase)))
                    if keys:
                        by_lang[lang][keys[0][0][:3]].append((keys, concept))
        self.index = {lang: dict(v) for lang, v in by_lang.items()}

    def augment(self, text: str, lang: str) -> str:
        """Swedish concept words for phrases of ``lang`` found in ``text`` ('' if none)."""
        idx = self.index.get(lang)
        if not idx:
            return ""
        toks = [_norm(t) for t in tokens(text[:20_000])]
        found: dict[str, None] = {}
        for i, tok in enumerate(toks):
            for keys, concept in idx.get(tok[:3], ()):
                if concept in found or i + len(keys) > len(toks):
                    continue
                if all((toks[i + j].startswith(v) if pre else toks[i + j] == v)
                       for j, (v, pre) in enumerate(keys)):
                    found[concept] = None
        return " ".join(found)


@lru_cache(maxsize=4)
def load_bridge(path: Path = BRIDGE_FILE) -> Bridge:
    """The bridge lexicon shipped with the package (cached)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Bridge(data)
