"""Language of a message: py3langid restricted to the languages we serve, plus fallbacks.

py3langid (an offline, maintained langid.py port with its model bundled) is
reliable on a paragraph but guesses on a two-word SMS ("faktura fel" → 0.40 sv,
an emoji → "ar"). So: no letters → "und"; a script that only one supported
language uses decides alone (Cyrillic → ru, Persian letters → fa); short Latin
text with Swedish function words or å/ä/ö is Swedish (the city's default
language, and the cheapest mistake); a low-probability guess on short text is
"und" rather than a wrong language that would trigger an interpreter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from classifier.text import fold, fold_token, tokens

# Frequent Swedish words that rarely occur in the other supported languages,
# with and without diacritics (SMS writers drop them).
_SWEDISH_MARKERS = frozenset(fold(w) for w in [
    "jag", "och", "inte", "är", "ar", "har", "vill", "min", "mitt", "mina", "mamma",
    "pappa", "hej", "tack", "mvh", "vänliga", "hälsningar", "för", "for", "på", "pa", "att",
    "det", "som", "kan", "ska", "skulle", "varför", "hur", "när", "nar", "vad", "inget",
    "ingen", "idag", "kommer", "kom", "fått", "fatt", "hemtjänst", "hemtjänsten", "faktura",
    "ansökan", "ansokan", "undrar", "angående", "ang", "eller", "också", "ocksa", "vår",
    "var", "vi", "ni", "er", "dom", "dem", "han", "hon", "hemma", "snälla", "snalla"
])
_NORWEGIAN_DANISH_MARKERS = frozenset([
    "ikke", "jeg", "hvordan", "hvorfor", "hvad", "mitt", "kan", "være", "vaere", "også",
    "ogsa", "hei", "og", "ønsker", "onsker"
])
_PERSIAN_LETTERS = frozenset("پچژگکی")
_ARABIC_ONLY = frozenset("ةىيكإأؤ")


@dataclass(frozen=True)
class LanguageGuess:
    """ISO 639-1 code ('und' when unknown), its probability and how it was decided."""

    code: str
    probability: float
    method: str


class LanguageDetector:
    """Thread-safe wrapper around one py3langid identifier restricted to ``languages``."""

    def __init__(self, languages: Iterable[str], *, short_text_chars: int = 40,
                 min_probability: float = 0.5) -> None:
        self.languages = tuple(dict.fromkeys(languages))
        self.short_text_chars = short_text_chars
        self.min_probability = min_probability
        self._lock = threading.RLock()  # detect() holds it while _ident() loads
        self._identifier = None

    def load(self) -> None:
        """Load the model now (a worker at start-up) rather than on the first message."""
        self._ident()

    def _ident(self):  # type: ignore[no-untyped-def]
        # Loaded lazily: 0.5 s and ~50 MB that a process which never classifies should not pay.
        with self._lock:
            if self._identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                known = set(ident.nb_classes)
                ident.set_languages([code for code in self.languages if code in known])
                # It keeps the 97-language table (28 MB) to allow a reset we never do.
                ident._full_model = (ident.nb_ptc, ident.nb_pc, ident.nb_classes)
                self._identifier = ident
            return self._identifier

    def detect(self, text: str) -> LanguageGuess:
        """Best guess for ``text``; never raises."""
        # 1 200 characters name the language as surely as 3 000 (all 17 corpus messages
        # longer than that are still right) at less cost: langid is linear in length.
        sample = text[:1200]
        letters = [ch for ch in sample if ch.isalpha()]
        if len(letters) < 2:
            return LanguageGuess("und", 0.0, "no_letters")
        script = _script_vote(letters)
        if script == "cyrillic" and "ru" in self.languages:
            return LanguageGuess("ru", 0.99, "script")
        if script == "arabic":
            persian = sum(ch in _PERSIAN_LETTERS for ch in letters)
            arabic = sum(ch in _ARABIC_ONLY for ch in letters)
            if persian > arabic and "fa" in self.languages:
                return LanguageGuess("fa", 0.9, "script")
        if script == "other":
            return LanguageGuess("und", 0.0, "unsupported_script")
        with self._lock:
            code, prob = self._ident().classify(sample)
        short = len(letters) < self.short_text_chars
        if script == "latin" and "sv" in self.languages:
            words = [fold_token(t) for t in tokens(sample)]
            sv_hits = sum(w in _SWEDISH_MARKERS for w in words)
            nd_hits = sum(w in _NORWEGIAN_DANISH_MARKERS for w in words)
            has_aao = any(ch in "åäöÅÄÖ" for ch in sample)
            swedish_cues = sv_hits >= 1 or has_aao
            if code == "sv" and (not short or prob >= self.min_probability or swedish_cues):
                return LanguageGuess("sv", float(prob), "langid")
            if ((code in {"no", "da"} and sv_hits > nd_hits)
                    or (short and swedish_cues and prob < 0.9)
                    or (prob < self.min_probability and sv_hits >= 2)):
                return LanguageGuess("sv", max(float(prob), 0.6), "swedish_markers")
        if short and prob < self.min_probability:
            return LanguageGuess("und", float(prob), "short_uncertain")
        if prob < self.min_probability / 2:
            return LanguageGuess("und", float(prob), "uncertain")
        return LanguageGuess(str(code), float(prob), "langid")


def _script_vote(letters: list[str]) -> str:
    """Dominant script of ``letters``: latin, cyrillic, arabic or other."""
    counts = {"latin": 0, "cyrillic": 0, "arabic": 0, "other": 0}
    for ch in letters:
        cp = ord(ch)
        if cp < 0x250 or 0x1E00 <= cp < 0x1F00:
            counts["latin"] += 1
        elif 0x400 <= cp < 0x530:
            counts["cyrillic"] += 1
        elif 0x600 <= cp < 0x700 or 0x750 <= cp < 0x780 or 0xFB50 <= cp < 0xFF00:
            counts["arabic"] += 1
        else:
            counts["other"] += 1
    return max(counts, key=lambda k: counts[k])
