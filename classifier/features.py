"""Feature extraction: TF-IDF over Swedish stems (1–2 grams) and characters (2–5 grams).

Word n-grams on folded stems carry the vocabulary ("bygglov", "hemtjänst",
"ansöka om"); character n-grams inside word boundaries catch what stems miss:
typos ("hemtjänsetn"), compounds ("parkeringstillståndet"), missing å/ä/ö and
every other script, where the Swedish stemmer does nothing. Both read the
subject plus the first ``max_model_chars`` of the body, so a 1 MB letter costs
the same as a page.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from classifier.settings import ModelSettings
from classifier.text import fold, stems

if TYPE_CHECKING:
    from sklearn.pipeline import FeatureUnion


def model_input(subject: str, text: str, max_chars: int, extra: str = "") -> str:
    """The one string both vectorisers read: subject, the start of the body, bridge words."""
    subject = subject[:300]
    doc = f"{subject}\n{text[:max_chars]}" if subject else text[:max_chars]
    return f"{doc}\n{extra}" if extra else doc


def stem_ngrams(doc: str) -> list[str]:
    """Unigrams and bigrams of folded stems (module-level so the model pickles)."""
    s = [t for t in stems(doc) if len(t) > 1 or not t.isascii()]
    return s + [f"{a} {b}" for a, b in pairwise(s)]


def build_vectoriser(cfg: ModelSettings) -> FeatureUnion:
    """Unfitted word + character TF-IDF union with sublinear term frequency.

    scikit-learn is imported here, not at module level: a worker unpickling a model
    imports this module for ``stem_ngrams`` and must not pay for scikit-learn.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    word = TfidfVectorizer(analyzer=stem_ngrams, sublinear_tf=True, min_df=1,
                           max_features=cfg.max_features_word, dtype=_float32())
    char = TfidfVectorizer(analyzer="char_wb", preprocessor=fold,
                           ngram_range=cfg.char_ngrams, sublinear_tf=True, min_df=2,
                           max_features=cfg.max_features_char, dtype=_float32())
    if cfg.word_ngrams != (1, 2):
        word.set_params(analyzer=_WordNgrams(cfg.word_ngrams))
    return FeatureUnion([("word", word), ("char", char)])


def _float32() -> type:
    import numpy as np

    return np.float32


class _WordNgrams:
    """Stem n-grams for a range other than (1, 2); picklable callable."""

    def __init__(self, ngram_range: tuple[int, int]) -> None:
        self.low, self.high = ngram_range

    def __call__(self, doc: str) -> list[str]:
        s = [t for t in stems(doc) if len(t) > 1 or not t.isascii()]
        out: list[str] = []
        for n in range(self.low, self.high + 1):
            out += [" ".join(s[i:i + n]) for i in range(len(s) - n + 1)]
        return out
