"""Leave-one-author-out cross-validation on the training split: how thresholds are chosen.

    .venv/bin/python scripts/author_cv.py [--out var/cv.jsonl]

For every author file in ``corpus/train/independent/`` the classifier is trained on the
whole training split *without* that author and classifies that author's messages, so
every message is judged by a model that never saw its writer. The out-of-fold results
(gold labels, rule hits, the flag models' probabilities, the model's labels and
confidences) go to one JSONL file; ``--thresholds`` then prints recall, precision and
triage cost per threshold. The test split (``corpus/test``) is never read here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rich.progress import track

from classifier import Classifier
from classifier.corpus import iter_jsonl

REPO = Path(__file__).resolve().parent.parent


def out_of_fold(corpus: Path, config: Path) -> list[dict]:
    """One record per training-author message, classified by a model without its author."""
    authors = sorted((corpus / "train" / "independent").glob("*.jsonl"))
    rows: list[dict] = []
    for held in track(authors, description="folds"):
        with tempfile.TemporaryDirectory(prefix="kcs-cv-") as tmp:
            fold = Path(tmp) / "corpus"
            shutil.copytree(corpus / "train", fold / "train")
            (fold / "train" / "independent" / held.name).unlink()
            clf = Classifier.train(fold, config)
        recs = [r for _n, r in iter_jsonl(held) if r]
        results = clf.classify_batch([(r.get("subject", ""), r.get("text", ""),
                                       r.get("channel", "")) for r in recs])
        for rec, c in zip(recs, results, strict=True):
            sug = c.explanation.get("suggestion") or {}
            rows.append({
                "id": rec["id"], "author": held.stem, "language": rec.get("language"),
                "channel": rec.get("channel"),
                "gold": {k: rec.get(k) for k in ("huvudkategori", "arendetyp", "arendeklass",
                                                 "akut", "sekretess")},
                "rules": sorted({f for h in c.explanation.get("rules", []) for f in h["flags"]}),
                "flag_model": c.explanation.get("flag_model", {}),
                "flags": c.flags, "reasons": c.reasons,
                "guess": {"huvudkategori": sug.get("huvudkategori"),
                          "arendetyp": sug.get("arendetyp"),
                          "arendeklass": sug.get("arendeklass")},
                "confidence": c.confidence})
    return rows


def threshold_table(rows: list[dict]) -> None:
    """Recall and cost of each flag at candidate thresholds (rules OR model)."""
    for flag in ("akut", "sekretess"):
        gold = [r for r in rows if isinstance(r["gold"].get(flag), bool)]
        pos = sum(r["gold"][flag] for r in gold)
        print(f"\n{flag}: {len(gold)} messages, {pos} positive")
        print("threshold  recall  precision  flagged  false_alarms  missed")
        for th in (1.01, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05):
            hit = [r for r in gold if flag in r["rules"]
                   or r["flag_model"].get(flag, 0.0) >= th
                   or (flag == "sekretess" and "sekretess_category" in r["reasons"])]
            tp = sum(r["gold"][flag] for r in hit)
            missed = [r["id"] for r in gold if r["gold"][flag] and r not in hit]
            print(f"{th:9.2f}  {tp / pos if pos else 1:6.3f}  {tp / len(hit) if hit else 1:9.3f}"
                  f"  {len(hit):7d}  {len(hit) - tp:12d}  {' '.join(missed[:12])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "var" / "cv.jsonl")
    parser.add_argument("--thresholds", action="store_true",
                        help="only print the threshold table from an earlier --out")
    args = parser.parse_args()
    if not args.thresholds:
        rows = out_of_fold(REPO / "corpus", REPO / "config")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    rows = [json.loads(line) for line in args.out.read_text().splitlines()]
    threshold_table(rows)


if __name__ == "__main__":
    main()
