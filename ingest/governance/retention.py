"""Gallring: anonymise items and delete originals once their owner's plan says so.

Each item falls under the first ``governance.retention.rules`` entry whose
owner pattern and huvudkategori fit it (else the default). An item older than
``anonymise_after_days`` is anonymised; older than
``delete_originals_after_days`` (if set; unset means the originals are
archived, not gallrade) its raw original and attachments are deleted too.
Ärenden under legal hold are skipped and counted.

``plan`` decides and measures without changing anything (the dry-run
report); ``run`` carries out exactly that plan and returns the same report,
so an operator can compare the two.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ingest import audit
from ingest.db import Intake, Item
from ingest.governance import erasure
from ingest.governance.config import RetentionConfig, RetentionRule
from ingest.governance.db import ItemPrivacy
from ingest.logs import get_logger
from ingest.model import as_utc, utcnow

if TYPE_CHECKING:
    from ingest.app import Runtime

log = get_logger("retention")
ACTIVE_STATES = ("accepted", "processing")  # never gallra an item still in the pipeline


def rule_for(config: RetentionConfig, owner: str | None, huvudkategori: str | None
             ) -> RetentionRule:
    """The first rule that fits (owner pattern, huvudkategori), else the default."""
    for rule in config.rules:
        if rule.owner is not None and not (owner and fnmatch.fnmatchcase(owner, rule.owner)):
            continue
        if rule.huvudkategori is not None and rule.huvudkategori != huvudkategori:
            continue
        return rule
    return config.default


@dataclass
class Action:
    """What the plan does to one item."""

    intake_id: str
    arende_id: str | None
    rule: str
    anonymise: bool
    originals: bool = False
    delete_blobs: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """The actions and the report (figures per rule)."""

    now: datetime
    actions: list[Action] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def _blob_size(rt: Runtime, sha: str) -> int:
    try:
        return rt.blobs.path(sha).stat().st_size
    except FileNotFoundError:
        data = rt.store.get_blob(sha)
        return len(data) if data is not None else 0


def plan(rt: Runtime, now: datetime | None = None) -> Plan:
    """Decide what gallring would do at ``now``; changes nothing."""
    config = rt.settings.kcs.governance.retention
    now = now or utcnow()
    shortest = min(r.anonymise_after_days for r in (*config.rules, config.default))
    cutoff = now - timedelta(days=shortest)
    result = Plan(now=now)
    per_rule: dict[str, dict[str, int]] = {}
    with rt.store.reading() as session:
        rows = session.execute(
            select(Intake, Item, ItemPrivacy).outerjoin(Item, Item.intake_id == Intake.id)
            .outerjoin(ItemPrivacy, ItemPrivacy.intake_id == Intake.id)
            .where(Intake.received_at < cutoff, Intake.state.not_in(ACTIVE_STATES))
            .order_by(Intake.received_at)).all()
        holds = erasure.held(session, {i.arende_id for _, i, _ in rows if i and i.arende_id})
        candidates: list[tuple[Action, Intake, Item | None]] = []
        for intake, item, privacy in rows:
            owner = ((item.routing or {}).get("owner") if item else None)
            category = ((item.classification or {}).get("huvudkategori") if item else None)
            rule = rule_for(config, owner, category)
            age = now - as_utc(intake.received_at)
            anonymise = (age >= timedelta(days=rule.anonymise_after_days)
                         and not (privacy and privacy.anonymised_at))
            originals = (rule.delete_originals_after_days is not None
                         and age >= timedelta(days=rule.delete_originals_after_days)
                         and not (privacy and privacy.blobs_deleted_at))
            if not (anonymise or originals):
                continue
            counts = per_rule.setdefault(rule.name, {"anonymise": 0, "delete_originals": 0,
                                                     "blobs": 0, "bytes": 0, "held": 0})
            if item is not None and item.arende_id in holds:
                counts["held"] += 1
                continue
            action = Action(intake.id, item.arende_id if item else None, rule.name, anonymise,
                            originals)
            if originals:
                action.delete_blobs = sorted(erasure.blobs_of(intake, item))
            candidates.append((action, intake, item))
        deleting = {a.intake_id for a, _, _ in candidates if a.originals}
        seen: set[str] = set()
        for action, _intake, _item in candidates:
            counts = per_rule[action.rule]
            counts["anonymise"] += action.anonymise
            if action.originals:
                counts["delete_originals"] += 1
                kept = [b for b in action.delete_blobs
                        if b not in seen and not erasure.referenced_elsewhere(session, b,
                                                                              deleting)]
                seen.update(kept)
                action.delete_blobs = kept
                counts["blobs"] += len(kept)
                counts["bytes"] += sum(_blob_size(rt, b) for b in kept)
            result.actions.append(action)
    result.report = {"now": now.isoformat(), "rules": per_rule,
                     "items": len(result.actions)}
    return result


def run(rt: Runtime, now: datetime | None = None, *, dry_run: bool = False,
        actor: str = "retention") -> dict[str, Any]:
    """Plan, and unless ``dry_run`` carry the plan out; returns the plan's report."""
    decided = plan(rt, now)
    if dry_run:
        return decided.report
    for action in decided.actions:
        for sha in action.delete_blobs:  # files first: a crash leaves the item to re-plan
            rt.blobs.delete(sha)
        with rt.store.transaction() as session:
            if action.anonymise:
                erasure.anonymise(session, action.intake_id, by="retention")
            if action.originals:
                erasure.mark_blobs_deleted(session, action.intake_id, by="retention")
            audit.record(session, actor=actor, action="retention.gallring",
                         intake_id=action.intake_id, arende_id=action.arende_id,
                         reason=f"rule {action.rule}",
                         detail={"anonymised": action.anonymise,
                                 "blobs_deleted": len(action.delete_blobs)})
    log.info("retention.done", items=len(decided.actions))
    return decided.report


def run_forever(rt: Runtime, stop: threading.Event) -> None:
    """``kcs run``'s scheduled gallring: once at start, then every ``interval_s``."""
    config = rt.settings.kcs.governance.retention
    while not stop.is_set():
        try:
            run(rt)
        except Exception as exc:  # keep the schedule; the next round tries again
            log.error("retention.failed", error=type(exc).__name__)
        stop.wait(config.interval_s)
