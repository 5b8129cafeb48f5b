"""Fit the linker's weights and thresholds on the training writers' scenarios.

Replays the scenarios with the current ``config/linking.yaml``, records every scored
candidate's signals (the top five per message) and whether it is the right ärende, and
fits a logistic regression on the signals. Points are the coefficients scaled so that
the link threshold stays where it is; the review threshold is put where a candidate is
as likely right as wrong. Caps (identity only, other sender, relative under review) stay
rules. Prints the suggested weights and, for the best candidate per message, precision
and recall at each link threshold. Run on the training split only:

    .venv/bin/python scripts/fit_linking.py dedupe/scenarios/train/*.jsonl
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from link_analysis import outcomes  # type: ignore[import-not-found]
from sklearn.linear_model import LogisticRegression

from dedupe.policy import Weights
from dedupe.scoring import _WEIGHT_OF
from ingest.classify import load_classifier
from ingest.config import load_settings
from ingest.logs import configure

_CAPS = {"identity_only", "other_sender"}


def main() -> None:
    """Print fitted weights and the precision/recall curve of the fitted score."""
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--C", type=float, default=1.0)
    args = parser.parse_args()
    configure("WARNING")
    settings = load_settings()
    weights = settings.linking.weights
    model = load_classifier(settings)
    rows = [r for f in args.files for r in outcomes(f, model)]
    signals = sorted(Weights.model_fields)
    # Identity weights are scored as "same_<weight>" (dedupe.scoring): one list, there.
    identity = set(_WEIGHT_OF.values())
    names = ["same_" + s if s in identity else s for s in signals]
    x, y, message_of = [], [], []
    for i, r in enumerate(rows):
        right = r["right_ids"]
        for cand in r["all_candidates"]:
            got = cand.get("signals", {})
            vec = []
            for sig, name in zip(signals, names, strict=True):
                points = got.get(name, got.get(sig))
                full = getattr(weights, sig)
                vec.append(0.0 if points is None else
                           (points / full if sig == "text_similarity" and full else 1.0))
            x.append(vec)
            y.append(cand["arende_id"] in right)
            message_of.append(i)
    xa, ya = np.array(x), np.array(y)
    fit = LogisticRegression(C=args.C, max_iter=2000).fit(xa, ya)
    coef, intercept = fit.coef_[0], fit.intercept_[0]
    p_link = 0.9
    scale = settings.linking.thresholds.link / (math.log(p_link / (1 - p_link)) - intercept)
    review = scale * (0.0 - intercept)
    print(f"candidates {len(ya)} (right {int(ya.sum())}), messages {len(rows)}; "
          f"intercept {intercept:.2f}, scale {scale:.1f} points per logit")
    for sig, c in zip(signals, coef, strict=True):
        used = int(xa[:, signals.index(sig)].astype(bool).sum())
        print(f"  {sig:16} now {getattr(weights, sig):7.1f}  fitted {scale * c:7.1f}  "
              f"(seen on {used} candidates)")
    print(f"  thresholds: link {settings.linking.thresholds.link:.0f} (p={p_link}), "
          f"review {review:.1f} (p=0.5)")
    # Pairwise-free view: per message, does the best fitted candidate name the right ärende?
    prob = fit.predict_proba(xa)[:, 1]
    best: dict[int, tuple[float, bool]] = {}
    for i, p, ok in zip(message_of, prob, ya, strict=True):
        if i not in best or p > best[i][0]:
            best[i] = (p, bool(ok))
    joins = sum(1 for r in rows if r["should"] == "join")
    print(f"messages that should join: {joins}")
    for t in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98):
        linked = [ok for p, ok in best.values() if p >= t]
        right = sum(linked)
        print(f"  p ≥ {t:.2f}: links {len(linked)}, right {right} "
              f"(precision {right / len(linked) if linked else 1:.3f}, "
              f"recall of joins {right / joins if joins else 1:.3f})")


if __name__ == "__main__":
    main()
