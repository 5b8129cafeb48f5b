"""Names of the pipeline stages, in order, and where each stores its result.

Kept apart from ``ingest.pipeline`` so that intake, the relay and the CLI can
name stages without importing the stage logic.
"""

from __future__ import annotations

STAGES: tuple[str, ...] = ("normalise", "classify", "link", "route", "publish", "acknowledge")
COLUMN: dict[str, str] = {"normalise": "normalised", "classify": "classification",
                          "link": "link", "route": "routing", "publish": "published",
                          "acknowledge": "acknowledgement"}
TERMINAL_STATES = frozenset({"done", "rejected", "dead"})


def actor_name(stage: str) -> str:
    """Broker name of a stage's actor."""
    return f"kcs.{stage}"


START_ACTOR = actor_name(STAGES[0])


def next_stage(done_columns: set[str]) -> str | None:
    """The first stage whose result is not stored yet, or None when all are."""
    return next((s for s in STAGES if COLUMN[s] not in done_columns), None)
