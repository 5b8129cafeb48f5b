"""Staff corrections: stored when a person changes a label, used by the next ``kcs train``.

One JSONL file per model directory (``corrections.jsonl``), append-only, so
the web app and the trainer never need a lock: a line is written with a single
``write`` and the trainer reads whatever complete lines exist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.corpus import iter_jsonl

CORRECTIONS_FILE = "corrections.jsonl"
REQUIRED = ("text", "huvudkategori", "arendetyp")
FIELDS = ("id", "channel", "subject", "text", "huvudkategori", "arendetyp", "arendeklass",
          "corrected_by", "corrected_at")


def corrections_path(model_dir: Path) -> Path:
    """Where corrections for ``model_dir`` live."""
    return Path(model_dir) / CORRECTIONS_FILE


def append_correction(model_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the shape of ``record`` and append it; returns what was stored.

    Labels are checked against the taxonomy at training time, not here, so a
    correction made under a newer taxonomy is not lost.
    """
    for key in REQUIRED:
        if not isinstance(record.get(key), str) or not record[key]:
            raise ValueError(f"correction needs a non-empty string {key!r}")
    stored = {k: record.get(k) for k in FIELDS}
    stored["subject"] = stored.get("subject") or ""
    stored["corrected_at"] = stored.get("corrected_at") or datetime.now(UTC).isoformat()
    path = corrections_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(stored, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return stored


def read_corrections(model_dir: Path) -> Iterator[dict[str, Any]]:
    """Every complete, well-formed correction line (later lines win at training time)."""
    path = corrections_path(model_dir)
    if not path.exists():
        return
    for _n, rec in iter_jsonl(path):
        if rec is not None:
            yield rec


def apply_staff_classification(result: Mapping[str, Any], staff: Mapping[str, Any],
                               taxonomy: Any = None) -> dict[str, Any]:
    """The classifier's ``result`` with the labels a person set at review put over it.

    A person has decided, so the item no longer needs triage; the model's own
    guess stays in ``explanation.model`` for the record. Flags from rules (akut,
    sekretess) are kept, and a secret category turns ``sekretess`` on.
    """
    out = dict(result)
    cat, typ = staff.get("huvudkategori"), staff.get("arendetyp")
    if taxonomy is not None and not taxonomy.is_valid(cat, typ):
        return out  # a taxonomy changed under a held item: the model decides
    out["explanation"] = {**(out.get("explanation") or {}),
                          "model": {k: result.get(k) for k in
                                    ("huvudkategori", "arendetyp", "arendeklass")}}
    out["huvudkategori"], out["arendetyp"] = cat, typ
    if staff.get("arendeklass"):
        out["arendeklass"] = staff["arendeklass"]
    out["needs_triage"] = False
    out["reasons"] = [*(out.get("reasons") or []), "staff_correction"]
    flags = dict(out.get("flags") or {})
    if taxonomy is not None and cat is not None:
        case_type = taxonomy.type(cat, typ) if typ else None
        if (case_type.sekretess if case_type else taxonomy.categories[cat].sekretess):
            flags["sekretess"] = True
        if case_type is not None:
            flags["myndighetsutovning"] = case_type.needs_decision(out.get("arendeklass"))
    out["flags"] = flags
    return out
