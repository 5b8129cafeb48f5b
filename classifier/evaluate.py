"""Evaluation: the figures ``kcs eval`` prints and docs/classifier.md reports.

Two kinds of accuracy, because the product has a triage threshold:

* *raw*: the model's best guess on every item (what it would say if forced);
* *covered*: only items the classifier decided itself (``needs_triage`` false),
  with *coverage* the share of such items. The issue's bar is set on this.

Gold labels missing from a record are skipped for that level only, so a file
with only categories, or without akut/sekretess/language, still evaluates.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sklearn.metrics import f1_score

from classifier.engine import Classification, Classifier

LEVELS = ("huvudkategori", "arendetyp", "arendeklass")
SWEEP = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: What the product must reach on messages nobody tuned on (issue 16): figure → (key, floor).
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("coverage", "coverage", 0.90),
    ("huvudkategori accuracy at coverage", "huvudkategori", 0.95),
    ("ärendetyp accuracy", "arendetyp", 0.90),
    ("ärendeklass accuracy", "arendeklass", 0.85),
    ("akut recall", "akut", 1.00),
    ("sekretess recall", "sekretess", 0.98),
)


def _gold(rec: Mapping[str, Any], level: str) -> str | None:
    cat = rec.get("huvudkategori")
    if level == "arendetyp":
        typ = rec.get("arendetyp")
        return f"{cat}/{typ}" if isinstance(cat, str) and isinstance(typ, str) and typ else None
    v = rec.get(level)
    return v if isinstance(v, str) and v else None


def _guess(c: Classification, level: str) -> str | None:
    """The model's best guess, also when it was below the threshold."""
    s = c.explanation.get("suggestion") or {}
    cat = s.get("huvudkategori") or c.huvudkategori
    if level == "arendetyp":
        typ = s.get("arendetyp") or c.arendetyp
        return f"{cat}/{typ}" if cat and typ else None
    if level == "huvudkategori":
        return cat
    return s.get("arendeklass") or c.arendeklass


def _decided(c: Classification, level: str) -> str | None:
    """What the classifier actually output at ``level``."""
    if level == "arendetyp":
        return f"{c.huvudkategori}/{c.arendetyp}" if c.huvudkategori and c.arendetyp else None
    return getattr(c, level)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _level_metrics(pairs: Sequence[tuple[Mapping[str, Any], Classification]],
                   level: str) -> dict[str, Any]:
    rows = [(g, c) for r, c in pairs if (g := _gold(r, level)) is not None]
    if not rows:
        return {"n": 0}
    gold = [g for g, _ in rows]
    raw = [_guess(c, level) or "<none>" for _, c in rows]
    covered = [(g, _decided(c, level)) for g, c in rows if not c.needs_triage]
    correct_cov = sum(1 for g, d in covered if g == d)
    return {
        "n": len(rows),
        "raw_accuracy": _ratio(sum(1 for g, p in zip(gold, raw, strict=True) if g == p),
                               len(rows)),
        "macro_f1": round(float(f1_score(gold, raw, labels=sorted(set(gold)), average="macro",
                                          zero_division=0)), 4),
        "coverage": _ratio(len(covered), len(rows)),
        "covered_accuracy": _ratio(correct_cov, len(covered)),
    }


def _slice(pairs: Sequence[tuple[Mapping[str, Any], Classification]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(pairs),
                           "coverage": _ratio(sum(1 for _, c in pairs if not c.needs_triage),
                                              len(pairs))}
    for level in ("huvudkategori", "arendetyp"):
        m = _level_metrics(pairs, level)
        out[f"{level}_raw"] = m.get("raw_accuracy")
        out[f"{level}_covered"] = m.get("covered_accuracy")
    return out


def _flag_metrics(pairs: Sequence[tuple[Mapping[str, Any], Classification]],
                  flag: str) -> dict[str, Any]:
    rows = [(bool(r[flag]), c.flags.get(flag, False), r.get("id")) for r, c in pairs
            if isinstance(r.get(flag), bool)]
    tp = sum(1 for g, p, _ in rows if g and p)
    fn = [i for g, p, i in rows if g and not p]
    fp = [i for g, p, i in rows if p and not g]
    return {"n": len(rows), "positives": tp + len(fn), "recall": _ratio(tp, tp + len(fn)),
            "precision": _ratio(tp, tp + len(fp)), "missed": fn[:20], "false_alarms": len(fp),
            # What the recall costs: the share of all items that carry the flag.
            "flagged_share": _ratio(tp + len(fp), len(rows))}


def _confusion_matrix(pairs: Sequence[tuple[Mapping[str, Any], Classification]],
                      level: str) -> dict[str, Any]:
    """Gold (rows) × the model's best guess (columns), every label seen on either side."""
    rows = [(g, _guess(c, level) or "<none>") for r, c in pairs
            if (g := _gold(r, level)) is not None]
    labels = sorted({g for g, _ in rows} | {p for _, p in rows})
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in rows:
        matrix[index[g]][index[p]] += 1
    return {"labels": labels, "matrix": matrix}


def summary(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The headline table: each figure beside the floor it must reach."""
    out = []
    for figure, key, floor in TARGETS:
        if key == "coverage":
            value = report["coverage"]
        elif key in report["levels"]:
            value = report["levels"][key].get("covered_accuracy")
        else:
            value = report["flags"][key].get("recall")
        out.append({"figure": figure, "value": value, "target": floor,
                    "met": value is not None and value >= floor})
    return out


def _sweep(pairs: Sequence[tuple[Mapping[str, Any], Classification]]) -> list[dict[str, Any]]:
    """Coverage vs accuracy if one threshold applied to the joint type confidence."""
    rows = [(r, c) for r, c in pairs if _gold(r, "arendetyp") and c.explanation.get("suggestion")]
    out = []
    for t in SWEEP:
        kept = [(r, c) for r, c in rows if c.confidence.get("arendetyp", 0.0) >= t]
        out.append({
            "threshold": t, "coverage": _ratio(len(kept), len(rows)),
            "huvudkategori_accuracy": _ratio(sum(
                1 for r, c in kept if _gold(r, "huvudkategori") == _guess(c, "huvudkategori")),
                len(kept)),
            "arendetyp_accuracy": _ratio(sum(
                1 for r, c in kept if _gold(r, "arendetyp") == _guess(c, "arendetyp")), len(kept)),
        })
    return out


def _confusions(pairs: Sequence[tuple[Mapping[str, Any], Classification]], level: str,
                top: int = 12) -> list[dict[str, Any]]:
    counts: Counter[tuple[str, str]] = Counter()
    for r, c in pairs:
        g, p = _gold(r, level), _guess(c, level)
        if g is not None and g != p:
            counts[(g, p or "<none>")] += 1
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in counts.most_common(top)]


def evaluate(clf: Classifier, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Classify ``records`` (with gold labels) and compute every figure of the report."""
    recs = list(records)
    t0 = time.perf_counter()
    results = clf.classify_batch([(r.get("subject", ""), r.get("text", ""), r.get("channel", ""))
                                  for r in recs])
    seconds = time.perf_counter() - t0
    pairs = list(zip(recs, results, strict=True))
    by_lang: dict[str, list[Any]] = defaultdict(list)
    by_channel: dict[str, list[Any]] = defaultdict(list)
    for r, c in pairs:
        by_lang[str(r.get("language") or c.language)].append((r, c))
        by_channel[str(r.get("channel") or "?")].append((r, c))
    lang_rows = [(r, c) for r, c in pairs if isinstance(r.get("language"), str)]
    th = clf.settings.thresholds
    return {
        "model_version": clf.model_version, "n": len(recs),
        "messages_per_second": round(len(recs) / seconds, 1) if seconds else None,
        "thresholds": {"huvudkategori": th.huvudkategori, "arendetyp": th.arendetyp,
                       "arendeklass": th.arendeklass},
        "coverage": _ratio(sum(1 for _, c in pairs if not c.needs_triage), len(pairs)),
        "levels": {level: _level_metrics(pairs, level) for level in LEVELS},
        "per_language": {k: _slice(v) for k, v in sorted(by_lang.items())},
        "per_channel": {k: _slice(v) for k, v in sorted(by_channel.items())},
        "flags": {"akut": _flag_metrics(pairs, "akut"),
                  "sekretess": _flag_metrics(pairs, "sekretess")},
        "language_detection": {"n": len(lang_rows), "accuracy": _ratio(
            sum(1 for r, c in lang_rows if r["language"] == c.language), len(lang_rows))},
        "sweep": _sweep(pairs),
        "confusions": {"huvudkategori": _confusions(pairs, "huvudkategori"),
                       "arendetyp": _confusions(pairs, "arendetyp")},
        "confusion_matrix": {"huvudkategori": _confusion_matrix(pairs, "huvudkategori")},
    }


def render(report: Mapping[str, Any], console: Any) -> None:
    """Print ``report`` as rich tables on ``console``."""
    from rich.table import Table

    def fmt(v: Any) -> str:
        return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    console.print(f"[bold]Model[/bold] {report['model_version']}  items {report['n']}  "
                  f"coverage {fmt(report['coverage'])}  "
                  f"({report['messages_per_second']} msg/s)")
    t = Table(title="Summary (accuracy on covered items; recall over all items)")
    for col in ("figure", "value", "must reach", "met"):
        t.add_column(col)
    for row in summary(report):
        t.add_row(row["figure"], fmt(row["value"]), f"≥ {row['target']:.2f}",
                  "yes" if row["met"] else "[bold red]no[/bold red]")
    console.print(t)
    t = Table(title="Per level")
    for col in ("level", "n", "raw acc", "macro-F1", "coverage", "covered acc"):
        t.add_column(col)
    for level, m in report["levels"].items():
        t.add_row(level, fmt(m.get("n")), fmt(m.get("raw_accuracy")), fmt(m.get("macro_f1")),
                  fmt(m.get("coverage")), fmt(m.get("covered_accuracy")))
    console.print(t)
    for title, key in (("Per language", "per_language"), ("Per channel", "per_channel")):
        t = Table(title=title)
        for col in ("slice", "n", "coverage", "kat raw", "kat covered", "typ raw",
                    "typ covered"):
            t.add_column(col)
        for name, m in report[key].items():
            t.add_row(name, fmt(m["n"]), fmt(m["coverage"]), fmt(m["huvudkategori_raw"]),
                      fmt(m["huvudkategori_covered"]), fmt(m["arendetyp_raw"]),
                      fmt(m["arendetyp_covered"]))
        console.print(t)
    t = Table(title="Coverage vs accuracy (threshold on ärendetyp confidence)")
    for col in ("threshold", "coverage", "kat acc", "typ acc"):
        t.add_column(col)
    for row in report["sweep"]:
        t.add_row(fmt(row["threshold"]), fmt(row["coverage"]), fmt(row["huvudkategori_accuracy"]),
                  fmt(row["arendetyp_accuracy"]))
    console.print(t)
    t = Table(title="Flags (flagged: share of all items carrying the flag, the triage cost)")
    for col in ("flag", "n", "positives", "recall", "precision", "false alarms", "flagged",
                "missed"):
        t.add_column(col)
    for flag, m in report["flags"].items():
        t.add_row(flag, fmt(m["n"]), fmt(m["positives"]), fmt(m["recall"]), fmt(m["precision"]),
                  fmt(m["false_alarms"]), fmt(m.get("flagged_share")),
                  ", ".join(map(str, m["missed"])) or "–")
    console.print(t)
    cm = report.get("confusion_matrix", {}).get("huvudkategori")
    if cm and cm["labels"]:
        t = Table(title="Confusion: huvudkategori (rows gold, columns the model's guess)")
        t.add_column("gold")
        for lab in cm["labels"]:
            t.add_column(lab[:4], justify="right")
        for lab, row in zip(cm["labels"], cm["matrix"], strict=True):
            t.add_row(lab, *[str(v) if v else "·" for v in row])
        console.print(t)
    ld = report["language_detection"]
    console.print(f"Language detection: {fmt(ld['accuracy'])} on {ld['n']} items with gold")
    for level, rows in report["confusions"].items():
        t = Table(title=f"Most frequent confusions: {level}")
        for col in ("gold", "predicted", "count"):
            t.add_column(col)
        for row in rows:
            t.add_row(row["gold"], row["predicted"], str(row["count"]))
        console.print(t)
