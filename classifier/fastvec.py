"""The fitted vectoriser's ``transform``, the same matrix at a fraction of the cost.

A message is classified one at a time in the pipeline, and there scikit-learn's
``FeatureUnion.transform`` spends more on machinery than on the text: joblib's
``Parallel`` dispatch for two transformers, and, for the character n-grams, a
Python loop that cuts every word into its 2–5-grams and looks each one up in the
vocabulary, message after message, for words it has cut a thousand times.

``FastTransform`` gives the identical TF-IDF matrix (``tests/classifier`` checks it
on every corpus text) by

* calling each fitted vectoriser in turn and stacking the blocks, as the union does
  without ``n_jobs``;
* for a ``char_wb`` vectoriser, counting vocabulary indices per *word*: a word's
  n-gram indices are cut once and kept in a bounded cache, so a message costs one
  dictionary lookup per word; the counts then go through the fitted vectoriser's own
  TF-IDF weighting.

Anything it does not recognise (another analyzer, transformer weights, a
vectoriser with ``binary`` or its own tokenizer) goes to scikit-learn unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

#: Words whose n-gram indices are kept per vectoriser (an entry is a short tuple).
WORD_CACHE_SIZE = 50_000
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's ``_VectorizerMixin._white_spaces``


class _CharWordCounts:
    """Vocabulary indices of a fitted ``char_wb`` vectoriser, counted per word."""

    def __init__(self, vec: TfidfVectorizer) -> None:
        self.vec = vec
        self.vocabulary: dict[str, int] = vec.vocabulary_
        self.min_n, self.max_n = vec.ngram_range
        self.preprocess: Callable[[str], str] = vec.build_preprocessor()
        self.cache: dict[str, tuple[int, ...]] = {}

    def _word(self, word: str) -> tuple[int, ...]:
        """``_char_wb_ngrams`` for one word, as vocabulary indices (unknown ones dropped)."""
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        w = f" {word} "
        w_len = len(w)
        vocab = self.vocabulary
        out: list[int] = []
        for n in range(self.min_n, self.max_n + 1):
            for offset in range(max(0, w_len - n) + 1):
                index = vocab.get(w[offset:offset + n])
                if index is not None:
                    out.append(index)
            if w_len <= n:  # scikit-learn counts a word no longer than n once, then stops
                break
        found = tuple(out)
        if len(self.cache) >= WORD_CACHE_SIZE:
            self.cache.clear()  # a long-lived worker: start again rather than grow
        self.cache[word] = found
        return found

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """Counts as ``CountVectorizer._count_vocab`` builds them, then the fitted TF-IDF."""
        indptr = [0]
        indices: list[int] = []
        values: list[int] = []
        for doc in docs:
            counter: Counter[int] = Counter()
            text = _WHITE_SPACES.sub(" ", self.preprocess(self.vec.decode(doc)))
            for word in text.split():
                counter.update(self._word(word))
            indices.extend(counter.keys())
            values.extend(counter.values())
            indptr.append(len(indices))
        x = sparse.csr_matrix(
            (np.asarray(values, dtype=np.int64), np.asarray(indices, dtype=np.int32),
             np.asarray(indptr, dtype=np.int32)),
            shape=(len(docs), len(self.vocabulary)), dtype=self.vec.dtype)
        x.sort_indices()
        return self.vec._tfidf.transform(x, copy=False)


def _fast_char(vec: Any) -> _CharWordCounts | None:
    """The per-word counter when ``vec`` is a plain fitted ``char_wb`` TF-IDF vectoriser."""
    if (isinstance(vec, TfidfVectorizer) and vec.analyzer == "char_wb" and not vec.binary
            and vec.input == "content" and vec.tokenizer is None
            and hasattr(vec, "vocabulary_")):
        return _CharWordCounts(vec)
    return None


class FastTransform:
    """``union.transform(docs)`` for a fitted ``FeatureUnion``, without the joblib
    round trip and with the character n-grams counted per word."""

    def __init__(self, union: FeatureUnion) -> None:
        self.union = union
        self.parts: list[Callable[[Sequence[str]], Any]] | None = None
        if union.transformer_weights is None and all(
                t not in ("drop", "passthrough") for _, t in union.transformer_list):
            parts: list[Callable[[Sequence[str]], Any]] = []
            for _, trans in union.transformer_list:
                fast = _fast_char(trans)
                parts.append(fast.transform if fast is not None else trans.transform)
            self.parts = parts

    def __call__(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """The union's matrix for ``docs``, as CSR."""
        if self.parts is None:
            return self.union.transform(docs).tocsr()
        return sparse.hstack([part(docs) for part in self.parts], format="csr")
