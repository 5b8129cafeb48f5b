"""Reading the labelled corpus (JSONL) and staff corrections for training and evaluation.

A record is ``{"id", "channel", "subject", "text", "huvudkategori", "arendetyp",
"arendeklass", ...}``. Readers are tolerant: a broken line or a label the
taxonomy does not know is counted and skipped, never fatal, because one bad
correction typed by staff must not stop the nightly retrain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.taxonomy import Taxonomy


@dataclass(frozen=True)
class Example:
    """One training example with its labels (``arendeklass`` may be missing)."""

    id: str
    channel: str
    subject: str
    text: str
    huvudkategori: str
    arendetyp: str
    arendeklass: str | None
    weight: float = 1.0
    source: str = "corpus"
    #: Gold flags where the record has them (None: not labelled, not trained on).
    akut: bool | None = None
    sekretess: bool | None = None

    @property
    def type_key(self) -> str:
        """``huvudkategori/arendetyp``."""
        return f"{self.huvudkategori}/{self.arendetyp}"


@dataclass
class ReadStats:
    """What a read kept and skipped, and why, for the training report."""

    read: int = 0
    kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        """Count one skipped record."""
        self.skipped[why] = self.skipped.get(why, 0) + 1


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record or None if the line is not a JSON object) for each line."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                yield n, None
                continue
            yield n, rec if isinstance(rec, dict) else None


def corpus_files(corpus_dir: Path, split: str = "train") -> list[Path]:
    """JSONL files of a split: ``corpus_dir/<split>/**/*.jsonl`` (sorted, reproducible)."""
    base = corpus_dir / split
    return sorted(base.rglob("*.jsonl")) if base.is_dir() else []


def to_example(rec: dict[str, Any], taxonomy: Taxonomy, stats: ReadStats, *,
               weight: float = 1.0, source: str = "corpus") -> Example | None:
    """Validate one record against the taxonomy; None (and a counted reason) if unusable."""
    stats.read += 1
    text = rec.get("text")
    subject = rec.get("subject") or ""
    if not isinstance(text, str) or not isinstance(subject, str) or not (text or subject).strip():
        stats.skip("no_text")
        return None
    cat, typ = rec.get("huvudkategori"), rec.get("arendetyp")
    if not isinstance(cat, str) or not isinstance(typ, str) or not taxonomy.is_valid(cat, typ):
        stats.skip("unknown_type")
        return None
    klass = rec.get("arendeklass")
    if klass is not None and klass not in taxonomy.classes:
        klass = None
        stats.skip("unknown_arendeklass_kept_without")
    stats.kept += 1
    w = rec.get("weight")
    if isinstance(w, int | float) and not isinstance(w, bool) and 0.1 <= w <= 10:
        weight = weight * float(w)
    flags = {f: rec[f] if isinstance(rec.get(f), bool) else None for f in ("akut", "sekretess")}
    return Example(id=str(rec.get("id", "")), channel=str(rec.get("channel") or ""),
                   subject=subject, text=text, huvudkategori=cat, arendetyp=typ,
                   arendeklass=klass, weight=weight, source=source, **flags)


def read_examples(files: Iterable[Path], taxonomy: Taxonomy,
                  stats: ReadStats | None = None) -> list[Example]:
    """Every usable example in ``files``."""
    stats = stats if stats is not None else ReadStats()
    out: list[Example] = []
    for path in files:
        for _n, rec in iter_jsonl(path):
            if rec is None:
                stats.read += 1
                stats.skip("bad_json")
                continue
            ex = to_example(rec, taxonomy, stats)
            if ex is not None:
                out.append(ex)
    return out
