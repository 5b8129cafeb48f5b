"""Which classifier the pipeline uses in this process."""

from __future__ import annotations

from typing import Any

from ingest.config import Settings


def load_classifier(settings: Settings) -> Any:
    """The trained classifier when the classifier package provides one, else triage-all."""
    from ingest.pipeline import PlaceholderClassifier

    return PlaceholderClassifier()
