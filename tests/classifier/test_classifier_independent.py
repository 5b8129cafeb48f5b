"""The safety flags on the test split: messages by writers the model never read.

``corpus/test`` was written by authors who saw only DOMAIN.md and a brief of who
writes (corpus/README.md); nothing is trained or tuned on it. A missed akut or secret
message is the worst mistake the classifier can make, so recall is asserted here;
the category figures are reported by ``make eval`` and docs/classifier.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier import Classifier
from classifier.corpus import iter_jsonl
from classifier.evaluate import evaluate

TEST_SPLIT = Path(__file__).resolve().parents[2] / "corpus" / "test"


@pytest.fixture(scope="module")
def report(trained: Classifier) -> dict:
    records = [r for f in sorted(TEST_SPLIT.rglob("*.jsonl")) for _n, r in iter_jsonl(f)
               if r is not None]
    assert len(records) >= 300
    return evaluate(trained, records)


def test_no_akut_message_is_missed(report: dict) -> None:
    """GIVEN urgent messages phrased indirectly, about third persons, in other languages
    THEN every one of them is flagged akut (and so reaches the fast path)."""
    akut = report["flags"]["akut"]
    assert akut["positives"] >= 50
    assert akut["recall"] == 1.0, akut["missed"]


def test_secret_messages_reach_restricted_queues(report: dict) -> None:
    """GIVEN messages with socialtjänst, LSS or health content THEN at least 98 % carry
    sekretess (issue 16's bar)."""
    sekretess = report["flags"]["sekretess"]
    assert sekretess["positives"] >= 80
    assert sekretess["recall"] >= 0.98, sekretess["missed"]


def test_false_alarms_stay_bounded(report: dict) -> None:
    """The price of that recall is triage volume; it must stay below half the inbox."""
    assert report["flags"]["akut"]["flagged_share"] < 0.5
    assert report["flags"]["sekretess"]["flagged_share"] < 0.5
