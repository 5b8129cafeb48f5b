"""Per-language texts: ``config/templates/ack/texts/<language>.yaml``.

Each file has the same keys (``tests/ack`` checks it): the sentences the
channel templates put together. Texts that depend on the case are maps with a
``default`` and optional ``<huvudkategori>`` and ``<huvudkategori>/<ärendetyp>``
keys; the most specific one wins. Placeholders in texts are Jinja2
expressions rendered with the same strict context as the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ingest.errors import ConfigError

#: Keys every language file must have.
REQUIRED_KEYS: tuple[str, ...] = (
    "language_name", "subject", "greeting", "received", "number", "next_steps", "deadline",
    "add_info", "add_info_letter", "urgent", "akut", "referral", "no_decision", "signoff",
    "crisis_heading", "sms", "sms_referral", "letter_title", "letter_reference")
#: Keys that are maps by category (``default`` required).
BY_CASE_KEYS: tuple[str, ...] = ("next_steps", "referral")


@lru_cache(maxsize=32)
def load_texts(directory: str, language: str) -> Mapping[str, Any]:
    """The texts of one language, checked for every required key."""
    path = Path(directory) / "texts" / f"{language}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no acknowledgement texts for language {language!r}",
                          file=str(path), key="", line=None) from exc
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of text keys", file=str(path), key="", line=1)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ConfigError(f"missing text keys {missing}", file=str(path), key=missing[0],
                          line=None)
    for key in BY_CASE_KEYS:
        if not isinstance(data[key], dict) or "default" not in data[key]:
            raise ConfigError("must be a map with a 'default' text", file=str(path), key=key,
                              line=None)
    return data


def for_case(texts: Mapping[str, Any], key: str, case_key: str | None) -> str:
    """The text for ``case_key`` (``huvudkategori/ärendetyp``), its category, or the default."""
    options = texts[key]
    if case_key:
        if case_key in options:
            return str(options[case_key])
        category = case_key.split("/", 1)[0]
        if category in options:
            return str(options[category])
    return str(options["default"])
