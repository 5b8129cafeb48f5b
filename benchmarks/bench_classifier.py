"""Classifier benchmark: training time, model load time, messages/s and peak memory.

    python benchmarks/bench_classifier.py [--messages 1000]

A plain script printing a Markdown table, no timed asserts (machines differ). Training
runs in this process; loading and classifying run in a fresh child process so
that load time includes imports and the peak RSS is that of a worker that only
classifies. Peak RSS is the process's own VmHWM (``/proc/self/status``), not
``getrusage``'s ``ru_maxrss``: Linux carries ``ru_maxrss`` over ``exec`` from the
forking parent, so a child of the training process reported the trainer's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import peak_rss_mib  # noqa: E402


def _rss_mb() -> float:
    return peak_rss_mib(os.getpid())


def _messages(n: int) -> list[dict]:
    """``n`` realistic messages: the held-out split, repeated as needed."""
    from classifier.corpus import iter_jsonl

    pool = [r for f in sorted((REPO / "corpus" / "heldout").glob("*.jsonl"))
            for _n, r in iter_jsonl(f) if r is not None]
    return [pool[i % len(pool)] for i in range(n)]


def child(model_dir: str, n: int) -> None:
    """Fresh process: import, load the cached model, classify ``n`` messages."""
    t0 = time.perf_counter()
    from classifier import Classifier

    clf = Classifier.load_or_train(Path(model_dir), REPO / "config", REPO / "corpus")
    load_s = time.perf_counter() - t0
    msgs = _messages(n)
    items = [(m.get("subject", ""), m.get("text", ""), m.get("channel", "")) for m in msgs]
    clf.classify("", "uppvärmning", "sms")  # lazy language model load, not per message
    t1 = time.perf_counter()
    clf.classify_batch(items)
    batch_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    for item in items[:200]:
        clf.classify(*item)
    single_s = (time.perf_counter() - t2) / 200
    print(json.dumps({"load_s": load_s, "batch_s": batch_s, "single_ms": single_s * 1000,
                      "n": n, "rss_mb": _rss_mb()}))


def main() -> None:
    """Train, save, then measure a fresh worker; print one table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.messages)
        return
    from classifier import Classifier

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        clf = Classifier.load_or_train(Path(tmp), REPO / "config", REPO / "corpus")
        train_s = time.perf_counter() - t0
        train_rss = _rss_mb()
        size_mb = sum(p.stat().st_size for p in Path(tmp).glob("*.joblib")) / 2**20
        out = subprocess.run([sys.executable, __file__, "--child", tmp, "--messages",
                              str(args.messages)], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [
        ("model version", clf.model_version),
        ("training examples", str(clf.training_report.get("examples"))),
        ("features", str(clf.training_report.get("features"))),
        ("training time (train + save)", f"{train_s:.1f} s"),
        ("peak RSS while training", f"{train_rss:.0f} MB"),
        ("model file size", f"{size_mb:.1f} MB"),
        ("load time (fresh process, incl. imports)", f"{res['load_s']:.2f} s"),
        (f"classify_batch, {res['n']} messages", f"{res['batch_s']:.2f} s "
                                                  f"({res['n'] / res['batch_s']:.0f} msg/s)"),
        ("classify, one at a time", f"{res['single_ms']:.1f} ms/message "
                                    f"({1000 / res['single_ms']:.0f} msg/s)"),
        ("peak RSS of a classifying worker", f"{res['rss_mb']:.0f} MB"),
    ]
    print("| measure | value |")  # Markdown, like the other benchmarks (run_all.py)
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
