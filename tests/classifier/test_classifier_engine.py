"""The pipeline's API: shape of results, bad input, caching, corrections."""

from __future__ import annotations

import json
import time
from pathlib import Path

import joblib
import pytest

from classifier import FORMAT_VERSION, Classification, Classifier, append_correction
from classifier.corpus import iter_jsonl
from classifier.corrections import read_corrections

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


KEYS = {"huvudkategori", "arendetyp", "arendeklass", "flags", "language", "confidence",
        "needs_triage", "reasons", "model_version", "explanation"}


def _valid(c: Classification) -> dict:
    d = c.to_dict()
    assert set(d) == KEYS
    assert set(d["flags"]) == {"sekretess", "akut", "myndighetsutovning", "tolk"}
    assert isinstance(d["language"], str) and d["language"]
    json.dumps(d)  # serialisable as is
    return d


def test_result_shape_and_explanation(trained: Classifier) -> None:
    d = _valid(trained.classify("Bygglov", "Hej, vi vill söka bygglov för en tillbyggnad av "
                                "vårt radhus. Vilka ritningar behövs?", "email"))
    assert d["huvudkategori"] == "bygglov" and d["arendetyp"] == "bygglov"
    assert d["language"] == "sv" and not d["flags"]["tolk"]
    assert d["model_version"].startswith(f"{FORMAT_VERSION}.")
    assert d["explanation"]["top_features"]["arendetyp"]
    assert d["explanation"]["scores"]["huvudkategori"][0][0] == "bygglov"
    assert 0.0 <= d["confidence"]["arendetyp"] <= d["confidence"]["huvudkategori"] <= 1.0


def test_socialtjanst_is_secret_and_akut_is_flagged(trained: Classifier) -> None:
    d = _valid(trained.classify("", "min man slår mig och jag vågar inte gå hem", "sms"))
    assert d["flags"]["akut"] and d["flags"]["sekretess"]
    assert d["huvudkategori"] == "socialtjanst"
    assert any(r["rule"] == "akut_vald" for r in d["explanation"]["rules"])


def test_other_language_sets_tolk(trained: Classifier) -> None:
    d = _valid(trained.classify("", "Hooyaday waxay u baahan tahay daryeelka guriga, "
                                "sidee loo codsadaa?", "email"))
    assert d["language"] == "so" and d["flags"]["tolk"]
    d = _valid(trained.classify("", "Hello, how do I apply for a parking permit?", "email"))
    assert d["language"] == "en" and not d["flags"]["tolk"]


def test_short_swedish_sms_without_diacritics(trained: Classifier) -> None:
    d = _valid(trained.classify("", "soptunnan ej tomd", "sms"))
    assert d["language"] == "sv"


@pytest.mark.parametrize(("subject", "text", "reason"), [
    ("", "", "empty_text"),
    (None, None, "empty_text"),
    ("", "😀😀😀 🙏🙏", "too_few_letters"),
    ("", "   \n\t  ", "empty_text"),
    ("", bytes(range(256)).decode("latin-1") * 50, "not_text"),
])
def test_bad_input_goes_to_triage(trained: Classifier, subject, text, reason: str) -> None:
    d = _valid(trained.classify(subject, text, "email"))
    assert d["needs_triage"] and reason in d["reasons"]
    assert d["language"] == "und"


def test_one_megabyte_of_text(trained: Classifier) -> None:
    text = ("Soptunnan har inte tömts på flera veckor. " * 30_000)[:1_000_000]
    t0 = time.perf_counter()
    d = _valid(trained.classify("", text, "letter"))
    assert time.perf_counter() - t0 < 5.0
    assert "text_truncated" in d["reasons"]
    assert d["huvudkategori"] == "avfall"


def test_mixed_scripts_and_odd_types(trained: Classifier) -> None:
    d = _valid(trained.classify("Фaктура", "Hej جدتي min mamma 妈妈 behöver hemtjänst "
                                "🙂 ещё", "fax"))
    assert d["huvudkategori"] in (None, "aldreomsorg")
    _valid(trained.classify(b"\xff\xfe", b"hemtj\xc3\xa4nst", "brevduva"))  # type: ignore[arg-type]
    assert "unknown_channel" in trained.classify("", "hej", "brevduva").reasons


def test_low_confidence_is_not_guessed(trained: Classifier) -> None:
    d = _valid(trained.classify("", "Hej, jag har en fråga.", "email"))
    assert d["needs_triage"]
    assert d["arendetyp"] is None
    assert d["explanation"]["suggestion"]["arendetyp"]  # the guess is kept for the person


def test_batch_equals_single(trained: Classifier) -> None:
    items = [("", "Gatlyktan är trasig på Ringvägen", "sms"),
             ("Faktura", "Fel belopp på förskolefakturan", "email"), ("", "", "sms")]
    batch = trained.classify_batch(items)
    for item, c in zip(items, batch, strict=True):
        assert trained.classify(*item).to_dict() == c.to_dict()


def test_load_or_train_uses_the_cache(trained: Classifier, model_dir: Path) -> None:
    files = list(model_dir.glob("classifier-*.joblib"))
    assert [f.name for f in files] == [f"classifier-{trained.model_version}.joblib"]
    t0 = time.perf_counter()
    again = Classifier.load_or_train(model_dir, CONFIG)
    assert time.perf_counter() - t0 < 10
    assert again.model_version == trained.model_version


def test_corrupt_or_foreign_model_file_is_retrained(tmp_path: Path, tiny_corpus: Path) -> None:
    first = Classifier.load_or_train(tmp_path, CONFIG, tiny_corpus)
    path = tmp_path / f"classifier-{first.model_version}.joblib"
    path.write_bytes(b"not a pickle at all")
    again = Classifier.load_or_train(tmp_path, CONFIG, tiny_corpus)
    assert again.model_version == first.model_version
    assert again.classify("", "gatlyktan är trasig", "sms").explanation["suggestion"]
    blob = joblib.load(path)
    blob["format"] = FORMAT_VERSION + 1
    joblib.dump(blob, path)
    third = Classifier.load_or_train(tmp_path, CONFIG, tiny_corpus)
    assert joblib.load(path)["format"] == FORMAT_VERSION
    assert third.model is not None


def test_corrections_are_stored_and_change_the_model(tmp_path: Path,
                                                     tiny_corpus: Path) -> None:
    before = Classifier.load_or_train(tmp_path, CONFIG, tiny_corpus)
    stored = append_correction(tmp_path, {
        "id": "x1", "channel": "email", "subject": "", "text": "hål i asfalten på gatan",
        "huvudkategori": "kultur", "arendetyp": "bibliotek", "arendeklass": "information",
        "corrected_by": "registrator"})
    assert stored["corrected_at"]
    assert next(iter(read_corrections(tmp_path)))["arendetyp"] == "bibliotek"
    after = Classifier.load_or_train(tmp_path, CONFIG, tiny_corpus)
    assert after.model_version != before.model_version
    assert after.training_report["corrections"]["kept"] == 1
    with pytest.raises(ValueError):
        append_correction(tmp_path, {"text": "x"})


def test_unknown_corpus_labels_are_skipped(tmp_path: Path, tiny_corpus: Path) -> None:
    with (tiny_corpus / "train" / "tiny.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"text": "x", "huvudkategori": "rymden", "arendetyp": "mars"}\nnot json\n')
    clf = Classifier.train(tiny_corpus, CONFIG)
    skipped = clf.training_report["corpus"]["skipped"]
    assert skipped == {"unknown_type": 1, "bad_json": 1}


def test_the_compact_model_gives_scikit_learns_probabilities(trained: Classifier) -> None:
    """What workers run (classifier.compact) computes what the fitted CalibratedClassifierCV
    and LogisticRegression objects compute, on real corpus texts."""
    import numpy as np

    m, fitted = trained.model, trained.fitted
    assert m is not None and fitted is not None  # trained in this session, not loaded
    docs = [trained._model_doc(r.get("subject") or "", r.get("text") or "")
            for _n, r in iter_jsonl(REPO / "corpus" / "dev" / "independent" / "d1.jsonl")
            if r][:300]
    docs += ["hemtjänsten kommer sent", "bygglov för altan", "faktura fel", "hej", ""]
    x = m.transform(docs)
    for compact, clf in ((m.cat, fitted.cat_clf), (m.type, fitted.type_clf),
                         (m.klass, fitted.class_clf)):
        assert compact.labels == [str(c) for c in clf.classes_]
        np.testing.assert_allclose(compact(x), clf.predict_proba(x), rtol=1e-5, atol=1e-6)
    assert set(m.flag_models) == set(fitted.flag_models) == {"akut", "sekretess"}
    for name, clf in fitted.flag_models.items():
        np.testing.assert_allclose(m.flag_models[name](x), clf.predict_proba(x)[:, 1],
                                   rtol=1e-5, atol=1e-6)
    names = fitted.vectoriser.get_feature_names_out()
    for col in (0, 1, len(names) // 2, len(names) - 1):
        assert m.feature_name(col) == names[col]


def test_a_two_class_level_gives_scikit_learns_probabilities_too(tiny_corpus: Path) -> None:
    """A level with two labels calibrates only the positive class (the tiny corpus's
    ärendeklass: felanmalan / information); the compact model must do the same, and
    its explanation weights must point the way the SVM's decision does."""
    import numpy as np

    clf = Classifier.train(tiny_corpus, CONFIG)
    m, fitted = clf.model, clf.fitted
    assert m is not None and fitted is not None and len(m.klass.labels) == 2
    x = m.transform(["soptunnan har inte tömts nummer 3", "biblioteket öppettider", "hej"])
    np.testing.assert_allclose(m.klass(x), fitted.class_clf.predict_proba(x),
                               rtol=1e-5, atol=1e-6)
    est = fitted.class_clf.calibrated_classifiers_[0].estimator
    positive, negative = (str(c) for c in fitted.class_clf.classes_[::-1])
    # The compact model keeps its weights in float32.
    np.testing.assert_allclose(m.klass.coefficients(positive), est.coef_[0], rtol=1e-6)
    np.testing.assert_allclose(m.klass.coefficients(negative), -est.coef_[0], rtol=1e-6)


def test_the_compact_vectoriser_gives_scikit_learns_matrix(trained: Classifier) -> None:
    """The pipeline's vectoriser must give exactly the TF-IDF matrix scikit-learn's own
    ``transform`` gives, on every corpus text, one by one and in a batch, with its word
    cache cold, warm and cleared mid-way."""
    from scipy import sparse

    from classifier import compact

    docs = [trained._model_doc(r.get("subject") or "", r.get("text") or "")
            for f in sorted((REPO / "corpus").rglob("*.jsonl")) for _n, r in iter_jsonl(f)
            if r]
    docs += ["", " ", "a", "x\u00a0\u00a0y\tz", "Ärendet gäller ÅÄÖ åäö é ü ß " * 3]
    assert len(docs) > 5000
    assert trained.model is not None and trained.fitted is not None
    expected = sparse.csr_matrix(trained.fitted.vectoriser.transform(docs))
    old_size = compact.WORD_CACHE_SIZE
    compact.WORD_CACHE_SIZE = 2_000  # force clearing the cache while going
    try:
        rows = [trained.model.transform([d]) for d in docs]
    finally:
        compact.WORD_CACHE_SIZE = old_size
    batch = trained.model.transform(docs)
    for got in (batch, *rows):
        assert got.dtype == expected.dtype
    assert (batch.indices == expected.indices).all() and (batch.indptr == expected.indptr).all()
    assert (batch.data == expected.data).all()  # bit for bit, not approximately
    stacked = sparse.vstack(rows, format="csr")
    assert (stacked.indices == expected.indices).all() and (stacked.data == expected.data).all()


def test_a_worker_classifies_without_importing_scikit_learn(trained: Classifier,
                                                             model_dir: Path) -> None:
    """A process that loads the saved model and classifies never imports scikit-learn:
    that import and the fitted objects were most of a worker's memory (issue 17)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from classifier import Classifier\n"
        f"clf = Classifier.load_or_train({str(model_dir)!r}, {str(CONFIG)!r}, "
        f"{str(REPO / 'corpus')!r})\n"
        "c = clf.classify('Bygglov', 'Vi vill söka bygglov för en altan.', 'email')\n"
        "assert clf.fitted is None, 'retrained instead of loading the saved model'\n"
        "print(c.arendetyp, c.model_version, 'sklearn' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == ["bygglov", trained.model_version, "False"]
