"""Names of the pipeline stages, in order, where each stores its result, and
which broker queue carries it.

Kept apart from ``ingest.pipeline`` so that intake, the relay and the CLI can
name stages without importing the stage logic.

Every stage after the first has a queue of its own and a higher priority
than the one before it. Broker queues are first in, first out: on one shared
queue, an item's next stage waits behind the first stage of everything that
arrived meanwhile, so in a surge nothing finishes until the whole backlog has
been normalised. With a queue per stage, a worker takes work already begun
before new work (Dramatiq runs prefetched messages by actor priority), and
items finish in roughly the order they arrived.

Under ``pipeline.run_through`` (the default) the worker that takes a stage
runs the item's later stages too, so only the first stage of a new item, a
retry or a release from review goes through the broker; the queues and
priorities above still order that work.

New items the akut pre-triage flags (``ingest.pretriage``) go instead to the
akut lane: one actor on its own queue, with a priority above every stage,
that runs all of an item's stages one after the other without going back to
the broker between them.
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
AKUT_ACTOR = "kcs.akut"
AKUT_PRIORITY = 0  # below (before) every stage's priority


def akut_queue(base: str) -> str:
    """Broker queue of the akut lane."""
    return f"{base}.akut"


def stage_queue(base: str, stage: str) -> str:
    """Broker queue of ``stage``: the first stage on ``pipeline.queue`` itself (where
    intake puts new items), each later one on ``<pipeline.queue>.<stage>``."""
    return base if stage == STAGES[0] else f"{base}.{stage}"


def stage_priority(stage: str) -> int:
    """Dramatiq priority of a stage's actor: lower runs first, so later stages win."""
    return len(STAGES) - STAGES.index(stage)


def pipeline_queues(base: str) -> tuple[str, ...]:
    """Every queue a pipeline worker consumes (the dead-letter actor is on ``base``)."""
    return (*(stage_queue(base, s) for s in STAGES), akut_queue(base))


def stored_columns(item: object | None) -> set[str]:
    """Names of the stage columns an item row (or None: no row yet) has stored."""
    return {c for c in COLUMN.values() if item is not None and getattr(item, c)}


def next_stage(done_columns: set[str]) -> str | None:
    """The first stage whose result is not stored yet, or None when all are."""
    return next((s for s in STAGES if COLUMN[s] not in done_columns), None)
