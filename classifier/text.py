"""Text normalisation shared by rules and model, so both see the same tokens.

Citizens write "hemtjansten" as often as "hemtjänsten", SMS arrive in capitals,
and Arabic and Persian share letters in two code points. Folding case,
diacritics and those letter variants, then Swedish Snowball stemming, lets one
phrase in config match all of them, and lets the model's word features carry
over between spellings.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# Arabic-script letters that Persian and Arabic writers use interchangeably;
# Cyrillic ё is written е by most Russian writers.
_LETTER_MAP = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ё": "е", "ß": "ss",
                             "ı": "i", "ł": "l", "ø": "o", "æ": "a", "đ": "d"})
_TOKEN_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_SPACE_RE = re.compile(r"\s+")
_STEMMER = snowballstemmer.stemmer("swedish")


def clean(text: str) -> str:
    """Remove control characters and collapse whitespace; keeps letters of every script."""
    return _SPACE_RE.sub(" ", _CONTROL_RE.sub(" ", text)).strip()


def fold(text: str) -> str:
    """Lower-case, strip diacritics and unify letter variants: 'Hemtjänsten' → 'hemtjansten'."""
    text = text.casefold().translate(_LETTER_MAP)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def fold_token(token: str) -> str:
    """``fold`` for one word token: a text repeats its words, and rules fold every one."""
    return fold(token)


def tokens(text: str) -> list[str]:
    """Word tokens of the lower-cased text (diacritics kept, for the stemmer)."""
    return _TOKEN_RE.findall(text.casefold())


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Swedish Snowball stem of a lower-case token, then folded ('slagit' → 'slagit')."""
    return fold(_STEMMER.stemWord(token))


def stems(text: str) -> list[str]:
    """Folded stems of every token: the unit that rule phrases and word n-grams use."""
    return [stem(t) for t in tokens(text)]


def letter_count(text: str) -> int:
    """Number of letters in any script; emoji, digits and punctuation do not count."""
    return sum(1 for ch in text if ch.isalpha())


def looks_like_text(text: str, min_letter_ratio: float = 0.5) -> bool:
    """False for binary junk: few letters or many rare symbols among the non-space chars."""
    sample = text[:20_000]
    visible = [ch for ch in sample if not ch.isspace()]
    if not visible:
        return False
    letters = sum(1 for ch in visible if ch.isalpha())
    oddities = sum(1 for ch in visible
                   if unicodedata.category(ch) in {"Cc", "Co", "Cn", "Cs"} or ch == "\ufffd")
    return letters / len(visible) >= min_letter_ratio and oddities / len(visible) < 0.05
