"""The fitted model reduced to arrays and dictionaries: what a worker loads and runs.

scikit-learn is needed to *fit* the model, not to apply it. Applying it is a
TF-IDF lookup, one sparse-times-dense product per level and a sigmoid. A worker
that unpickled the fitted scikit-learn objects imported scikit-learn, joblib's
parallel machinery and half of scipy for that, and kept the estimators' fitting
state: about 90 MiB of its resident memory (docs/performance.md, issue 17).

``CompactModel`` holds only

* per vectoriser block (stem n-grams, character n-grams): the vocabulary, the
  idf weights and the analyser settings; a block gives the very matrix
  scikit-learn's ``TfidfVectorizer.transform`` gives, down to the last bit
  (``tests/classifier`` checks it on every corpus text), the character n-grams
  counted per word through a bounded cache as ``classifier.fastvec`` did;
* per level (huvudkategori, joint ärendetyp, ärendeklass): the SVM's
  coefficients as float32 and the sigmoid calibrators' two numbers per class,
  the formula of ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``;
* per safety flag: the logistic model's coefficients.

It is built from a ``TrainedModel`` in the training process
(``TrainedModel.compact``) and is what the model file stores. Nothing here imports
scikit-learn.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit

#: Words whose n-gram indices are kept per character block (an entry is a short tuple).
WORD_CACHE_SIZE = 50_000
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's ``_VectorizerMixin._white_spaces``


@dataclass
class Prediction:
    """Probabilities for one message at each level, best first."""

    types: list[tuple[str, float]]
    categories: list[tuple[str, float]]
    classes: list[tuple[str, float]]
    row: int
    #: P(flag) from each safety-flag model (``akut``, ``sekretess``).
    flags: dict[str, float] = field(default_factory=dict)


class TfidfBlock:
    """One fitted ``TfidfVectorizer`` (l2 norm, smooth idf already folded into ``idf``).

    ``analyzer`` is the fitted vectoriser's callable for word blocks; for a
    ``char_wb`` block it is None and ``preprocess`` plus ``ngram_range`` cut the
    n-grams.
    """

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, *, sublinear: bool,
                 dtype: Any, analyzer: Callable[[str], list[str]] | None = None,
                 preprocess: Callable[[str], str] | None = None,
                 ngram_range: tuple[int, int] = (1, 1)) -> None:
        self.vocabulary = vocabulary
        self.idf = idf
        self.sublinear = sublinear
        self.dtype = np.dtype(dtype)
        self.analyzer = analyzer
        self.preprocess = preprocess
        self.min_n, self.max_n = ngram_range
        self.cache: dict[str, tuple[int, ...]] = {}
        self._terms: list[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """The model file holds the block, not its word cache or term list."""
        return {**self.__dict__, "cache": {}, "_terms": None}

    def term(self, column: int) -> str:
        """The vocabulary entry of a column (explanations only, so built on first use)."""
        if self._terms is None:
            terms = [""] * self.width
            for term, index in self.vocabulary.items():
                terms[index] = term
            self._terms = terms
        return self._terms[column]

    @property
    def width(self) -> int:
        """Number of features (columns) of this block."""
        return len(self.vocabulary)

    def _char_word(self, word: str) -> tuple[int, ...]:
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

    def _counts(self, doc: str) -> Counter[int]:
        counter: Counter[int] = Counter()
        if self.analyzer is not None:
            vocab = self.vocabulary
            counter.update(i for i in map(vocab.get, self.analyzer(doc)) if i is not None)
            return counter
        text = self.preprocess(doc) if self.preprocess is not None else doc
        for word in _WHITE_SPACES.sub(" ", text).split():
            counter.update(self._char_word(word))
        return counter

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows as ``TfidfVectorizer.transform`` computes them, operation for
        operation in the same precision (so the floats are identical)."""
        indptr = [0]
        indices: list[int] = []
        values: list[int] = []
        for doc in docs:
            counter = self._counts(doc)
            for index in sorted(counter):
                indices.append(index)
                values.append(counter[index])
            indptr.append(len(indices))
        idx = np.asarray(indices, dtype=np.int32)
        data = np.asarray(values, dtype=self.dtype)
        if self.sublinear:
            np.log(data, data)
            data += 1.0
        data *= self.idf[idx]
        ptr = np.asarray(indptr, dtype=np.int32)
        _l2_normalise_rows(data, ptr)
        return sparse.csr_matrix((data, idx, ptr), shape=(len(docs), self.width))


def _l2_normalise_rows(data: np.ndarray, indptr: np.ndarray) -> None:
    """``sklearn.preprocessing.normalize(norm="l2")`` on CSR data in place: squares in
    the data's precision, summed in order in double, each value divided in double."""
    for start, end in pairwise(indptr.tolist()):
        if start == end:
            continue
        row = data[start:end]
        total = float(np.cumsum(row * row, dtype=np.float64)[-1])
        if total == 0.0:
            continue
        row[:] = row.astype(np.float64) / np.sqrt(total)


class SigmoidLinear:
    """``CalibratedClassifierCV(LinearSVC, method="sigmoid", ensemble=False).predict_proba``:
    decision values from the SVM, one sigmoid per class, rows normalised (uniform when
    all are zero); two classes calibrate the positive one only."""

    def __init__(self, labels: Sequence[str], coef: np.ndarray, intercept: np.ndarray,
                 a: np.ndarray, b: np.ndarray) -> None:
        self.labels = [str(x) for x in labels]
        #: (features, decision columns), C order, so ``x @ weights`` never copies it.
        self.weights = np.ascontiguousarray(np.asarray(coef, dtype=np.float32).T)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)

    def coefficients(self, label: str) -> np.ndarray:
        """The weights that push a row towards ``label`` (explanations)."""
        k = self.labels.index(label)
        if self.weights.shape[1] == 1:  # binary: one column, its sign gives the class
            return self.weights[:, 0] if k == 1 else -self.weights[:, 0]
        return self.weights[:, k]

    def __call__(self, x: sparse.csr_matrix) -> np.ndarray:
        d = np.asarray(x @ self.weights, dtype=np.float64) + self.intercept
        calibrated = expit(-(self.a * d + self.b))
        if len(self.labels) == 2:
            return np.hstack([1.0 - calibrated, calibrated])
        denom = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / calibrated.shape[1])
        proba = np.divide(calibrated, denom, out=uniform, where=denom != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


class Logistic:
    """A binary logistic model for one flag: P(flag) = expit(x · coef + intercept)."""

    def __init__(self, coef: np.ndarray, intercept: float) -> None:
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = float(intercept)

    def __call__(self, x: sparse.csr_matrix) -> np.ndarray:
        return expit(np.asarray(x @ self.coef, dtype=np.float64) + self.intercept)


class CompactModel:
    """Vectoriser blocks, the three calibrated levels and the flag models."""

    def __init__(self, blocks: Sequence[tuple[str, TfidfBlock]], categories: SigmoidLinear,
                 types: SigmoidLinear, classes: SigmoidLinear, flags: dict[str, Logistic],
                 top_features: int) -> None:
        self.blocks = list(blocks)
        self.cat = categories
        self.type = types
        self.klass = classes
        self.flag_models = dict(flags)
        self.top_features = top_features
        cat_pos = {c: i for i, c in enumerate(categories.labels)}
        #: The category column of each joint type column.
        self._type_cat = np.asarray([cat_pos[t.split("/")[0]] for t in types.labels])

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows for prepared documents: the blocks side by side."""
        return sparse.hstack([block.transform(docs) for _, block in self.blocks], format="csr")

    def predict(self, x: sparse.csr_matrix) -> list[Prediction]:
        """Ranked probabilities per row of ``x``."""
        if x.shape[0] == 0:
            return []
        p_joint = self.type(x)
        p_cat = self.cat(x)
        # P(type | category) from the joint model, times P(category) from the category model.
        mass = np.zeros((x.shape[0], len(self.cat.labels)))
        np.add.at(mass.T, self._type_cat, p_joint.T)
        cond = p_joint / np.maximum(mass[:, self._type_cat], 1e-12)
        p_type = cond * p_cat[:, self._type_cat]
        p_class = self.klass(x)
        p_flags = {name: model(x) for name, model in self.flag_models.items()}
        return [Prediction(types=_ranked(self.type.labels, p_type[i], 5),
                           categories=_ranked(self.cat.labels, p_cat[i], 5),
                           classes=_ranked(self.klass.labels, p_class[i], 5), row=i,
                           flags={name: float(p[i]) for name, p in p_flags.items()})
                for i in range(x.shape[0])]

    def feature_name(self, column: int) -> str:
        """``block__term`` for a column, as scikit-learn's ``get_feature_names_out``."""
        for name, block in self.blocks:
            if column < block.width:
                return f"{name}__{block.term(column)}"
            column -= block.width
        raise IndexError(column)

    def top_features_for(self, x: sparse.csr_matrix, row: int, type_label: str | None,
                         class_label: str | None) -> dict[str, list[list[Any]]]:
        """Features that pushed this row towards the chosen type and ärendeklass."""
        out: dict[str, list[list[Any]]] = {}
        if self.top_features == 0:
            return out
        xr = x.getrow(row)
        for level, label, model in (("arendetyp", type_label, self.type),
                                    ("arendeklass", class_label, self.klass)):
            if label is None or label not in model.labels:
                continue
            contrib = xr.data * model.coefficients(label)[xr.indices]
            order = np.argsort(-contrib)[: self.top_features]
            out[level] = [[self.feature_name(int(xr.indices[j])), round(float(contrib[j]), 4)]
                          for j in order if contrib[j] > 0]
        return out

    def stats(self) -> dict[str, Any]:
        """Sizes worth logging: features and labels."""
        return {"features": sum(b.width for _, b in self.blocks),
                "types": len(self.type.labels), "classes": len(self.klass.labels),
                "flag_models": sorted(self.flag_models)}


def _ranked(labels: Sequence[str], probs: np.ndarray, k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[:k]
    return [(labels[j], float(probs[j])) for j in order]
