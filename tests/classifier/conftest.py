"""Fixtures for the classifier: one model trained per session on the repo's corpus.

Training takes ~20 s on two cores, so it happens once (``trained``) in a
session temp dir; tests that need retraining use a tiny corpus instead.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier import Classifier
from classifier.corpus import iter_jsonl

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
CORPUS = REPO / "corpus"
HELDOUT = CORPUS / "heldout"

TINY_TYPES = {
    "avfall/hamtning": ["soptunnan har inte tömts", "sopbilen missade vår gata",
                        "soporna hämtades inte i dag", "tömning av sopkärlet uteblev"],
    "trafik/felanmalan_gata": ["gatlyktan är trasig", "hål i asfalten på gatan",
                               "trafikljuset fungerar inte", "trottoaren är sönder"],
    "kultur/bibliotek": ["lånekort till biblioteket", "biblioteket öppettider",
                         "låna böcker på biblioteket", "reservera en bok på biblioteket"],
}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private model directory for the session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def trained(model_dir: Path) -> Classifier:
    """The real classifier, trained once on corpus/train with config/."""
    return Classifier.load_or_train(model_dir, CONFIG, CORPUS)


@pytest.fixture(scope="session")
def heldout_records() -> list[dict]:
    """Every record of the held-out split (never used for training)."""
    return [r for f in sorted(HELDOUT.glob("*.jsonl")) for _n, r in iter_jsonl(f)
            if r is not None]


@pytest.fixture
def config_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of config/ for tests that break it on purpose."""
    dest = tmp_path / "config"
    shutil.copytree(CONFIG, dest)
    yield dest




@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A three-type corpus that trains in well under a second."""
    root = tmp_path / "corpus"
    (root / "train").mkdir(parents=True)
    lines = []
    for key, texts in TINY_TYPES.items():
        cat, typ = key.split("/")
        for i in range(12):
            text = f"{texts[i % len(texts)]} nummer {i}"
            lines.append(json.dumps({"id": f"{typ}-{i}", "channel": "email", "subject": "",
                                     "text": text, "huvudkategori": cat, "arendetyp": typ,
                                     "arendeklass": "felanmalan" if i % 2 else "information"},
                                    ensure_ascii=False))
    (root / "train" / "tiny.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
