"""The statistical model: calibrated linear SVMs over word and character n-grams.

Three classifiers share one vectoriser:

* a huvudkategori classifier, which decides the category and its confidence;
* a joint ``huvudkategori/arendetyp`` classifier, read *within* the chosen
  category: P(type) = P(category) · P(joint type) / Σ P(joint types of that
  category). Measured on the held-out sets (docs/classifier.md): never worse
  at 90 % coverage than summing joint probabilities into categories; against
  a cascade with one type model per category, within a message or two on
  categories and better on types in the ``final`` set, with one type model
  instead of seventeen;
* an ärendeklass classifier (what the sender wants), independent of topic;
* one binary model per safety flag (``akut``, ``sekretess``): logistic
  regression with balanced class weights, trained only on records that carry
  that flag's gold label. The rules still run; the flag is set when a rule fires
  *or* the model's probability reaches its threshold, so a danger written in
  words no rule lists is still caught (docs/classifier.md, issue 16).

Each is ``CalibratedClassifierCV(LinearSVC, method="sigmoid", ensemble=False)``:
one SVM fitted on all data, its scores mapped to probabilities by sigmoids
fitted on cross-validated predictions. Calibrated probabilities are what make a
threshold mean "ask a person".

This module *fits*; ``TrainedModel.compact`` reduces the fitted objects to the
arrays prediction needs (``classifier.compact``), which is what the model file
holds and a worker loads, without importing scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from classifier.compact import CompactModel, Logistic, SigmoidLinear, TfidfBlock
from classifier.errors import ClassifierError
from classifier.features import build_vectoriser
from classifier.settings import ModelSettings

#: The flags with a model of their own (each needs gold labels of that name in the corpus).
FLAG_MODELS = ("akut", "sekretess")


def _calibrated(cfg: ModelSettings, n_min: int) -> CalibratedClassifierCV:
    cv = max(2, min(cfg.calibration_cv, n_min))
    base = LinearSVC(C=cfg.c, class_weight="balanced", random_state=cfg.seed)
    return CalibratedClassifierCV(base, method="sigmoid", cv=cv, ensemble=False)


def _fit_one(x: sparse.csr_matrix, labels: Sequence[str], weights: np.ndarray,
             cfg: ModelSettings) -> CalibratedClassifierCV:
    counts = {lab: labels.count(lab) for lab in set(labels)}
    clf = _calibrated(cfg, min(counts.values()))
    clf.fit(x, np.asarray(labels), sample_weight=weights)
    return clf


def _fit_flag(x: sparse.csr_matrix, gold: Sequence[bool | None], weights: np.ndarray,
              cfg: ModelSettings) -> LogisticRegression | None:
    keep = [i for i, g in enumerate(gold) if g is not None]
    y = np.asarray([bool(gold[i]) for i in keep])
    if len(keep) < 20 or y.sum() < 5 or (~y).sum() < 5:
        return None  # too few labelled examples: the rules alone decide
    clf = LogisticRegression(C=cfg.flag_c, class_weight="balanced", max_iter=2000,
                             solver="liblinear", random_state=cfg.seed)
    clf.fit(x[keep], y, sample_weight=weights[keep])
    return clf


class TrainedModel:
    """The fitted scikit-learn objects: vectoriser, calibrated classifiers, flag models.

    Lives only in the process that trained; ``compact()`` is what is saved and run.
    """

    def __init__(self, vectoriser: FeatureUnion, cat_clf: CalibratedClassifierCV,
                 type_clf: CalibratedClassifierCV, class_clf: CalibratedClassifierCV,
                 top_features: int, flag_models: dict[str, LogisticRegression]) -> None:
        self.vectoriser = vectoriser
        self.cat_clf = cat_clf
        self.type_clf = type_clf
        self.class_clf = class_clf
        self.top_features = top_features
        self.flag_models = dict(flag_models)

    @classmethod
    def fit(cls, docs: Sequence[str], types: Sequence[str], classes: Sequence[str | None],
            weights: Sequence[float], cfg: ModelSettings,
            flags: dict[str, Sequence[bool | None]] | None = None) -> TrainedModel:
        """Fit on prepared documents; ``classes`` may hold None where a record has none,
        and each of ``flags`` (gold akut/sekretess) None where it is not labelled."""
        vec = build_vectoriser(cfg)
        x = vec.fit_transform(docs).tocsr()
        w = np.asarray(weights, dtype=np.float64)
        cat_clf = _fit_one(x, [t.split("/")[0] for t in types], w, cfg)
        type_clf = _fit_one(x, list(types), w, cfg)
        keep = [i for i, c in enumerate(classes) if c]
        class_clf = _fit_one(x[keep], [str(classes[i]) for i in keep], w[keep], cfg)
        flag_models = {}
        for name, gold in (flags or {}).items():
            model = _fit_flag(x, gold, w, cfg)
            if model is not None:
                flag_models[name] = model
        return cls(vec, cat_clf, type_clf, class_clf, cfg.top_features, flag_models)

    def compact(self) -> CompactModel:
        """The arrays prediction needs, for the model file and the workers."""
        blocks = [(name, _block(name, vec)) for name, vec in self.vectoriser.transformer_list]
        return CompactModel(
            blocks, _sigmoid_linear(self.cat_clf), _sigmoid_linear(self.type_clf),
            _sigmoid_linear(self.class_clf),
            {name: Logistic(clf.coef_[0], float(clf.intercept_[0]))
             for name, clf in self.flag_models.items()},
            self.top_features)


def _block(name: str, vec: Any) -> TfidfBlock:
    """A ``TfidfBlock`` for one fitted vectoriser of the union built by ``build_vectoriser``."""
    plain = (isinstance(vec, TfidfVectorizer) and not vec.binary and vec.input == "content"
             and vec.norm == "l2" and vec.use_idf and vec.tokenizer is None)
    if plain and callable(vec.analyzer):
        return TfidfBlock(dict(vec.vocabulary_), vec.idf_, sublinear=vec.sublinear_tf,
                          dtype=vec.dtype, analyzer=vec.analyzer)
    if plain and vec.analyzer == "char_wb" and vec.preprocessor is not None:
        return TfidfBlock(dict(vec.vocabulary_), vec.idf_, sublinear=vec.sublinear_tf,
                          dtype=vec.dtype, preprocess=vec.preprocessor,
                          ngram_range=tuple(vec.ngram_range))
    raise ClassifierError(f"vectoriser block {name!r} ({vec!r}) has a form classifier.compact "
                          "does not reproduce; build it with classifier.features.build_vectoriser")


def _sigmoid_linear(clf: CalibratedClassifierCV) -> SigmoidLinear:
    cal = clf.calibrated_classifiers_[0]
    est = cal.estimator
    if list(est.classes_) != list(clf.classes_):
        raise ClassifierError("calibrated classifier's classes differ from its estimator's")
    return SigmoidLinear(clf.classes_, est.coef_, est.intercept_,
                         np.array([c.a_ for c in cal.calibrators]),
                         np.array([c.b_ for c in cal.calibrators]))
