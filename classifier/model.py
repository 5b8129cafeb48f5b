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
threshold mean "ask a person". Coefficients are stored as float32 to halve the
file and the memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from classifier.fastvec import FastTransform
from classifier.features import build_vectoriser
from classifier.settings import ModelSettings


@dataclass
class Prediction:
    """Probabilities for one message at each level, best first."""

    types: list[tuple[str, float]]
    categories: list[tuple[str, float]]
    classes: list[tuple[str, float]]
    row: int
    #: P(flag) from each safety-flag model (``akut``, ``sekretess``).
    flags: dict[str, float] = field(default_factory=dict)


def _calibrated(cfg: ModelSettings, n_min: int) -> CalibratedClassifierCV:
    cv = max(2, min(cfg.calibration_cv, n_min))
    base = LinearSVC(C=cfg.c, class_weight="balanced", random_state=cfg.seed)
    return CalibratedClassifierCV(base, method="sigmoid", cv=cv, ensemble=False)


def _shrink(clf: CalibratedClassifierCV) -> np.ndarray:
    """Cast the fitted SVM's coefficients to float32, Fortran order; return them.

    Fortran order makes ``coef_.T`` C-contiguous, so ``X @ coef_.T`` does not copy
    the whole matrix on every call (it did: 80 % of single-message time).
    """
    est = clf.calibrated_classifiers_[0].estimator
    est.coef_ = np.asfortranarray(est.coef_, dtype=np.float32)
    return est.coef_


class _SigmoidProba:
    """``CalibratedClassifierCV.predict_proba`` for the multiclass sigmoid case, minus overhead.

    sklearn validates each of the 66 per-class calibrators on every call (≈6 ms
    per message); the arithmetic is one matmul and one ``expit``. Same formula:
    p_k = expit(-(a_k · d_k + b_k)), rows normalised, uniform if all are zero.
    Binary problems fall back to sklearn.
    """

    def __init__(self, clf: CalibratedClassifierCV) -> None:
        cal = clf.calibrated_classifiers_[0]
        self.clf = clf
        self.est = cal.estimator
        self.fast = len(clf.classes_) > 2 and list(self.est.classes_) == list(clf.classes_)
        self.a = np.array([c.a_ for c in cal.calibrators], dtype=np.float64)
        self.b = np.array([c.b_ for c in cal.calibrators], dtype=np.float64)

    def __call__(self, x: sparse.csr_matrix) -> np.ndarray:
        if not self.fast:
            return np.asarray(self.clf.predict_proba(x))
        d = np.asarray(x @ self.est.coef_.T, dtype=np.float64) + self.est.intercept_
        proba = expit(-(self.a * d + self.b))
        denom = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        return np.divide(proba, denom, out=uniform, where=denom != 0)


def _fit_one(x: sparse.csr_matrix, labels: Sequence[str], weights: np.ndarray,
             cfg: ModelSettings) -> CalibratedClassifierCV:
    counts = {lab: labels.count(lab) for lab in set(labels)}
    clf = _calibrated(cfg, min(counts.values()))
    clf.fit(x, np.asarray(labels), sample_weight=weights)
    return clf


#: The flags with a model of their own (each needs gold labels of that name in the corpus).
FLAG_MODELS = ("akut", "sekretess")


class _FlagModel:
    """A binary logistic model for one flag, reduced to what prediction needs."""

    def __init__(self, clf: LogisticRegression) -> None:
        self.coef = np.ascontiguousarray(clf.coef_[0], dtype=np.float32)
        self.intercept = float(clf.intercept_[0])

    def __call__(self, x: sparse.csr_matrix) -> np.ndarray:
        return expit(np.asarray(x @ self.coef, dtype=np.float64) + self.intercept)


def _fit_flag(x: sparse.csr_matrix, gold: Sequence[bool | None], weights: np.ndarray,
              cfg: ModelSettings) -> _FlagModel | None:
    keep = [i for i, g in enumerate(gold) if g is not None]
    y = np.asarray([bool(gold[i]) for i in keep])
    if len(keep) < 20 or y.sum() < 5 or (~y).sum() < 5:
        return None  # too few labelled examples: the rules alone decide
    clf = LogisticRegression(C=cfg.flag_c, class_weight="balanced", max_iter=2000,
                             solver="liblinear", random_state=cfg.seed)
    clf.fit(x[keep], y, sample_weight=weights[keep])
    return _FlagModel(clf)


class TrainedModel:
    """Vectoriser plus the calibrated classifiers, the flag models and what explanations
    need."""

    def __init__(self, vectoriser: FeatureUnion, cat_clf: CalibratedClassifierCV,
                 type_clf: CalibratedClassifierCV, class_clf: CalibratedClassifierCV,
                 top_features: int, flag_models: dict[str, _FlagModel] | None = None) -> None:
        self.vectoriser = vectoriser
        self.flag_models = dict(flag_models or {})
        self.cat_clf = cat_clf
        self.type_clf = type_clf
        self.class_clf = class_clf
        self.top_features = top_features
        self.type_labels: list[str] = [str(c) for c in type_clf.classes_]
        self.class_labels: list[str] = [str(c) for c in class_clf.classes_]
        self.categories: list[str] = [str(c) for c in cat_clf.classes_]
        cat_pos = {c: i for i, c in enumerate(self.categories)}
        # Sums type probabilities into category probabilities with one matmul.
        self._type_to_cat = sparse.csr_matrix(
            (np.ones(len(self.type_labels)),
             ([i for i in range(len(self.type_labels))],
              [cat_pos[t.split("/")[0]] for t in self.type_labels])),
            shape=(len(self.type_labels), len(self.categories)))
        _shrink(cat_clf)
        self._type_coef = _shrink(type_clf)
        self._class_coef = _shrink(class_clf)
        self._names = np.asarray(vectoriser.get_feature_names_out(), dtype=object)
        self._cat_proba = _SigmoidProba(cat_clf)
        self._type_proba = _SigmoidProba(type_clf)
        self._class_proba = _SigmoidProba(class_clf)

    def __getstate__(self) -> dict[str, Any]:
        """The model file holds the model, not the fast path's word cache."""
        return {k: v for k, v in self.__dict__.items() if k != "_fast"}

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

    @cached_property
    def _fast(self) -> FastTransform:
        # Built on first use: a model loaded from its file has none (``__getstate__``).
        return FastTransform(self.vectoriser)

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows for prepared documents (``classifier.fastvec``: the same matrix
        as the vectoriser's own ``transform``, built for one message at a time)."""
        return self._fast(docs)

    def predict(self, x: sparse.csr_matrix) -> list[Prediction]:
        """Ranked probabilities per row of ``x``."""
        if x.shape[0] == 0:
            return []
        p_joint = self._type_proba(x)
        p_cat = self._cat_proba(x)
        # P(type | category) from the joint model, times P(category) from the category model.
        mass = np.asarray(self._type_to_cat.T.dot(p_joint.T).T)        # (n, categories)
        type_cat = self._type_to_cat.indices                             # category of each type
        cond = p_joint / np.maximum(mass[:, type_cat], 1e-12)
        p_type = cond * p_cat[:, type_cat]
        p_class = self._class_proba(x)
        p_flags = {name: model(x) for name, model in self.flag_models.items()}
        out = []
        for i in range(x.shape[0]):
            out.append(Prediction(
                types=_ranked(self.type_labels, p_type[i], 5),
                categories=_ranked(self.categories, p_cat[i], 5),
                classes=_ranked(self.class_labels, p_class[i], 5), row=i,
                flags={name: float(p[i]) for name, p in p_flags.items()}))
        return out

    def top_features_for(self, x: sparse.csr_matrix, row: int, type_label: str | None,
                         class_label: str | None) -> dict[str, list[list[Any]]]:
        """Features that pushed this row towards the chosen type and ärendeklass."""
        out: dict[str, list[list[Any]]] = {}
        if self.top_features == 0:
            return out
        xr = x.getrow(row)
        for level, label, labels, coef in (
                ("arendetyp", type_label, self.type_labels, self._type_coef),
                ("arendeklass", class_label, self.class_labels, self._class_coef)):
            if label is None or label not in labels:
                continue
            k = labels.index(label)
            # Binary case: one row of coefficients, its sign gives the class.
            weights = (coef[0] if k == 1 else -coef[0]) if coef.shape[0] == 1 else coef[k]
            contrib = xr.data * weights[xr.indices]
            order = np.argsort(-contrib)[: self.top_features]
            out[level] = [[str(self._names[xr.indices[j]]), round(float(contrib[j]), 4)]
                          for j in order if contrib[j] > 0]
        return out

    def stats(self) -> dict[str, int]:
        """Sizes worth logging: features and labels."""
        return {"features": len(self._names), "types": len(self.type_labels),
                "classes": len(self.class_labels), "flag_models": sorted(self.flag_models)}


def _ranked(labels: Sequence[str], probs: np.ndarray, k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[:k]
    return [(labels[j], float(probs[j])) for j in order]
