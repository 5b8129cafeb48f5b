"""The issue's bar, measured on the held-out split (corpus/heldout, never trained on).

Done when: huvudkategori accuracy ≥ 0.95 and ärendetyp ≥ 0.90 at ≥ 90 %
coverage; akut recall 1.0 on the akut cases we wrote. Figures per language
and channel are in the report (docs/classifier.md); they are not asserted
one by one because some slices hold only a handful of messages.
"""

from __future__ import annotations

import pytest

from classifier import Classifier
from classifier.evaluate import evaluate


@pytest.fixture(scope="module")
def report(trained: Classifier, heldout_records: list[dict]) -> dict:
    return evaluate(trained, heldout_records)


def test_heldout_is_big_enough(report: dict) -> None:
    assert report["n"] >= 450
    assert len(report["per_language"]) >= 10


def test_accuracy_at_coverage(report: dict) -> None:
    cat, typ = report["levels"]["huvudkategori"], report["levels"]["arendetyp"]
    assert cat["coverage"] >= 0.90
    assert cat["covered_accuracy"] >= 0.95
    assert typ["covered_accuracy"] >= 0.90


def test_akut_recall_is_total(report: dict) -> None:
    assert report["flags"]["akut"]["positives"] >= 50
    assert report["flags"]["akut"]["recall"] == 1.0


def test_sekretess_recall_reaches_the_bar(report: dict) -> None:
    """Issue 16's bar (≥ 0.98). One message of this older split, a question about how to
    become förvaltare, is secret only by this split's convention (god_man's default)."""
    assert report["flags"]["sekretess"]["recall"] >= 0.98


def test_throughput(report: dict) -> None:
    """Loose floor only (the benchmark measures properly): a few seconds per 1 000."""
    assert report["messages_per_second"] > 100
