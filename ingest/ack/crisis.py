"""The crisis banner: one operator switch puts the same notice on every acknowledgement.

The seeds ask for "samma information till många samtidigt" in a crisis. The
banner comes from ``var/ack/crisis.json`` when that file exists (written by
``kcs ack crisis on``, removed by ``kcs ack crisis off``; read at every
acknowledgement, so no restart), else from ``ack.crisis`` in ``config/kcs.yaml``.
Texts are per language; a reader whose language has no text gets the Swedish
and English ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ingest.ack.config import CrisisConfig


def flag_path(var_dir: Path) -> Path:
    """Where ``kcs ack crisis on`` keeps the switch."""
    return var_dir / "ack" / "crisis.json"


def current(var_dir: Path, configured: CrisisConfig) -> dict[str, str]:
    """The banner texts by language, or ``{}`` when no crisis banner is on."""
    path = flag_path(var_dir)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = None
    except (OSError, ValueError):
        data = None  # a half-written or broken file must not stop acknowledgements
    if isinstance(data, dict) and data.get("enabled"):
        return {str(k): str(v) for k, v in (data.get("text") or {}).items() if str(v).strip()}
    if configured.enabled:
        return {k: v for k, v in configured.text.items() if v.strip()}
    return {}


def switch_on(var_dir: Path, texts: dict[str, str], *, operator: str | None = None) -> Path:
    """Turn the banner on with these texts (``sv`` required); atomic for concurrent readers."""
    if not texts.get("sv", "").strip():
        raise ValueError("a Swedish text (sv) is required: it is shown to every reader")
    path = flag_path(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"enabled": True, "text": texts, "operator": operator}, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def switch_off(var_dir: Path) -> bool:
    """Turn the file switch off; True if it was on. (A banner in kcs.yaml stays.)"""
    try:
        flag_path(var_dir).unlink()
    except FileNotFoundError:
        return False
    return True


def for_languages(banner: dict[str, str], languages: list[str]) -> list[tuple[str, str]]:
    """(language, text) pairs to show a reader of ``languages``: theirs, else sv and en."""
    if not banner:
        return []
    chosen = [(lang, banner[lang]) for lang in languages if lang in banner]
    if chosen:
        return chosen
    if languages and languages[0] == "sv-lattlast" and "sv" in banner:
        return [("sv", banner["sv"])]
    return [(lang, banner[lang]) for lang in ("sv", "en") if lang in banner]
