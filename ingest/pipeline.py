"""The pipeline: normalise → classify → link → route → publish → acknowledge.

Each stage is a Dramatiq actor that receives only an intake id. A stage:

1. loads what earlier stages stored for the item;
2. returns at once if its own result is already stored (redelivery, replay);
3. computes its result;
4. commits, in one transaction, its result and the outbox row for the next
   stage (or, for ``publish``, the downstream item);
5. after the commit, hands that outbox row to the broker (the relay does it
   later if the broker is down), or, under ``pipeline.run_through`` and on the
   akut lane, marks it sent and runs the next stage itself.

So a worker killed at any point either left no trace of the stage (it runs
again) or left the result and the next message together (it is skipped), and
nothing is published twice. Failures are retried with backoff; when retries
run out the item becomes a dead letter (state ``dead``) that
``kcs dead-letters replay`` sends through again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dramatiq
from sqlalchemy import JSON, Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from channels.sms import continuity as sms_continuity
from channels.sms import state as sms_state
from dedupe import commit as link_commit
from dedupe import linker
from ingest import antivirus, audit, contract, decisions, metrics
from ingest.ack import service as ack_service
from ingest.blobs import BlobStore
from ingest.config import Settings
from ingest.db import Arende, Intake, Item, Outbox, Publication
from ingest.errors import InputRejected, NeedsReview, StageError
from ingest.governance import pii
from ingest.logs import get_logger
from ingest.model import (
    Channel,
    ChannelMeta,
    NormalisedMessage,
    as_utc,
    effective_meta,
    utcnow,
)
from ingest.normalisers import normalise
from ingest.reasons import ReasonCode
from ingest.relay import SentMarker, enqueue_row
from ingest.routing import place, route
from ingest.stages import (
    AKUT_ACTOR,
    AKUT_PRIORITY,
    COLUMN,
    STAGES,
    actor_name,
    akut_queue,
    next_stage,
    stage_priority,
    stage_queue,
    stored_columns,
)
from ingest.store import Store

log = get_logger("pipeline")

DEAD_LETTER_ACTOR = "kcs.dead_letter"
HOLD = "hold_for_review"

# The stage runner's statements, built once (Core: every stage of every item runs them).
_INTAKE_T = Intake.__table__
_ITEM_T = Item.__table__
_INTAKE_COLUMNS = tuple(c.name for c in _INTAKE_T.c)
_ITEM_COLUMNS = tuple(c.name for c in _ITEM_T.c)
_JSON_ITEM_COLUMNS = frozenset(c.name for c in _ITEM_T.c if isinstance(c.type, JSON))
_LOAD_VIEW = (select(*_INTAKE_T.c, *_ITEM_T.c)
              .select_from(_INTAKE_T.outerjoin(_ITEM_T, _ITEM_T.c.intake_id == _INTAKE_T.c.id))
              .where(_INTAKE_T.c.id == bindparam("id")))
# FOR UPDATE (PostgreSQL; SQLite's write lock is per database): two workers that got
# the same redelivered message must not both pass the "already done" check.
_LOAD_ITEM = (select(*_ITEM_T.c).where(_ITEM_T.c.intake_id == bindparam("id"))
              .with_for_update())
_INSERT_ITEM = insert(_ITEM_T)
_UPDATE_ITEM = update(_ITEM_T).where(_ITEM_T.c.intake_id == bindparam("b_id"))
_UPDATE_INTAKE = update(_INTAKE_T).where(_INTAKE_T.c.id == bindparam("b_id"))


def _item(row: Any) -> Item:
    """A detached ``Item`` from a row of the item table's columns, in table order."""
    return Item(**{c: row[i] for i, c in enumerate(_ITEM_COLUMNS)})


class Classifier(Protocol):
    """What the classify stage needs from a classifier."""

    def classify(self, subject: str, text: str, channel: str) -> Any:
        """A result with ``to_dict()``, or a mapping, in the ``classification`` shape."""


class PlaceholderClassifier:
    """Sends every item to manual triage; used until a trained model is configured."""

    model_version = "placeholder-0"

    def classify(self, subject: str, text: str, channel: str) -> dict[str, Any]:
        """Always 'I don't know': a person decides."""
        return {"huvudkategori": None, "arendetyp": None, "arendeklass": None,
                "flags": {"sekretess": False, "akut": False, "myndighetsutovning": False,
                          "tolk": False},
                "language": "und", "confidence": {}, "needs_triage": True,
                "reasons": ["no_model"], "model_version": self.model_version,
                "explanation": {}}


@dataclass
class View:
    """An item as a stage sees it: the intake row and what earlier stages stored."""

    intake: Intake
    item: Item

    @property
    def meta(self) -> ChannelMeta:
        """Channel metadata recorded at intake, with the channel normalisation found
        (a fax that came through a fax-to-mail gateway is a fax)."""
        return effective_meta(ChannelMeta.from_dict(self.intake.meta), self.item.normalised)

    @property
    def message(self) -> NormalisedMessage:
        """The normalised message (after the normalise stage)."""
        assert self.item.normalised is not None
        return NormalisedMessage.from_dict(self.item.normalised)


StageFn = Callable[[View], dict[str, Any]]
CommitHook = Callable[[Session, View, dict[str, Any]], None]


class Pipeline:
    """Stage logic plus the machinery that makes each stage idempotent."""

    def __init__(self, settings: Settings, store: Store, blobs: BlobStore,
                 broker: dramatiq.Broker, classifier: Classifier | None = None) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.broker = broker
        self.classifier: Classifier = classifier or PlaceholderClassifier()
        self.queue = settings.kcs.pipeline.queue
        self.sent = SentMarker(store)
        self.scanner = antivirus.Scanner(settings.kcs.virus_scan)
        self.stages: dict[str, StageFn] = {
            "normalise": self._normalise, "classify": self._classify, "link": self._link,
            "route": self._route, "publish": self._publish, "acknowledge": self._acknowledge,
        }
        self.commit_hooks: dict[str, CommitHook] = {
            "link": self._commit_link, "route": self._commit_route,
            "publish": self._commit_publish,
        }

    # -- actors -------------------------------------------------------------

    def register(self) -> dict[str, dramatiq.Actor[Any, Any]]:
        """Declare one actor per stage, and the dead-letter actor, on ``self.broker``."""
        cfg = self.settings.kcs.pipeline

        def declare(name: str, queue: str, priority: int, first: str,
                    through: bool) -> dramatiq.Actor[Any, Any]:
            """An actor that runs stage ``first`` of an item, and with ``through`` the
            item's later stages too (its time limit is per stage it may run)."""
            def handler(intake_id: str) -> None:
                if through:
                    self.run_from(first, intake_id)
                else:
                    self.run_stage(first, intake_id)

            handler.__name__ = name.replace(".", "_")
            stages = len(STAGES) - STAGES.index(first) if through else 1
            return dramatiq.actor(
                handler, actor_name=name, queue_name=queue, priority=priority,
                broker=self.broker, max_retries=cfg.max_retries,
                min_backoff=cfg.min_backoff_ms, max_backoff=cfg.max_backoff_ms,
                time_limit=cfg.stage_time_limit_ms * stages,
                on_retry_exhausted=DEAD_LETTER_ACTOR)

        actors = {stage: declare(actor_name(stage), stage_queue(self.queue, stage),
                                 stage_priority(stage), stage, cfg.run_through)
                  for stage in STAGES}
        # The akut lane: every stage at once, whatever run_through says.
        actors["akut"] = declare(AKUT_ACTOR, akut_queue(self.queue), AKUT_PRIORITY,
                                 STAGES[0], True)

        def dead_letter(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
            self.record_dead_letter(message, retry_info)

        actors["dead_letter"] = dramatiq.actor(
            dead_letter, actor_name=DEAD_LETTER_ACTOR, queue_name=self.queue,
            broker=self.broker, max_retries=20)
        return actors

    def record_dead_letter(self, message: Mapping[str, Any], retry_info: Mapping[str, Any]
                           ) -> None:
        """Retries ran out: keep the item visible to staff with a reason code."""
        args = message.get("args") or [None]
        intake_id = args[0]
        # Stages run in order, so the one that failed is the first not stored, whether
        # its own actor or the akut lane (which runs them all) ran it.
        stage = (next_stage(stored_columns(self.store.get_item(intake_id))) or STAGES[-1]
                 if isinstance(intake_id, str)
                 else str(message.get("actor_name", "")).removeprefix("kcs."))
        trace = str(message.get("options", {}).get("traceback", "")).strip().splitlines()
        detail = f"{stage}: {trace[-1] if trace else 'unknown error'}"[:500]
        if isinstance(intake_id, str):
            self.store.set_state(intake_id, "dead", stage=stage,
                                 reason_code="stage_failed", reason_detail=detail)
            log.error("pipeline.dead_letter", intake_id=intake_id, stage=stage,
                      retries=retry_info.get("retries"))

    # -- the idempotent stage runner ------------------------------------------

    def run_from(self, first: str, intake_id: str) -> None:
        """Stage ``first`` of one item and every later one, one after the other, now.

        The akut lane, and every stage actor under ``pipeline.run_through``. Each
        stage is the same idempotent ``run_stage`` with its own commit, so a worker
        killed midway leaves the item where the stage-by-stage way would: the broker
        hands this message to another worker, which skips what is stored. It stops
        where that way would stop (held for review, rejected). A stage that fails
        fails this message, which is retried from the stage that failed and becomes
        a dead letter at that stage. Each stage starts from what the one before it
        committed, so it does not read the item back.
        """
        carried: View | None = None
        for stage in STAGES[STAGES.index(first):]:
            outcome, carried = self._run_stage(stage, intake_id, inline_next=True,
                                               carried=carried)
            if outcome not in ("done", "skipped"):
                return

    def run_stage(self, stage: str, intake_id: str, *, inline_next: bool = False) -> str:
        """Run one stage for one item, at most once in effect (see module docstring).

        Returns what happened: ``done``, ``held`` (waits for registratur),
        ``rejected``, ``skipped`` (already stored) or ``unknown``. With
        ``inline_next`` the caller runs the next stage itself (``run_from``), so no
        message for it is stored or sent: should this process die before that stage
        commits, the broker gives the caller's message to another worker, which
        skips what is stored (and the relay's sweep for stalled items is behind it).

        The work itself runs outside any transaction, so a slow stage never
        holds a database lock that intake is waiting for.
        """
        return self._run_stage(stage, intake_id, inline_next=inline_next)[0]

    def _run_stage(self, stage: str, intake_id: str, *, inline_next: bool = False,
                   carried: View | None = None) -> tuple[str, View | None]:
        """``run_stage``, starting from ``carried`` (what the previous stage of this
        run committed) instead of reading the item, and returning what this stage
        committed when the next stage runs here (``inline_next``), else None."""
        started = time.perf_counter()
        column = COLUMN[stage]
        if carried is not None and getattr(carried.item, column) is None:
            intake, item = carried.intake, carried.item
        else:
            with self.store.core_reading() as conn:
                row = conn.execute(_LOAD_VIEW, {"id": intake_id}).first()
            if row is None:
                log.warning("pipeline.unknown_item", intake_id=intake_id, stage=stage)
                return "unknown", None
            intake = Intake(**{c: row[i] for i, c in enumerate(_INTAKE_COLUMNS)})
            stored = row[len(_INTAKE_COLUMNS) + _ITEM_COLUMNS.index(column)]
            if intake.state == "rejected" or stored:
                metrics.STAGE_RESULTS.labels(stage=stage, result="skipped").inc()
                return ("rejected" if intake.state == "rejected" else "skipped"), None
            item_row = row[len(_INTAKE_COLUMNS):]
            item = (_item(item_row) if item_row[_ITEM_COLUMNS.index("intake_id")] is not None
                    else Item(intake_id=intake_id, updated_at=utcnow()))
        if intake.state == "review":  # a stray copy: only registratur's release goes on
            metrics.STAGE_RESULTS.labels(stage=stage, result="skipped").inc()
            return "held", None
        view = View(intake, item)
        _fault_injection(stage)
        try:
            result = self.stages[stage](view)
        except InputRejected as exc:
            self.store.set_state(intake_id, "rejected", stage=stage,
                                 reason_code=exc.reason.value, reason_detail=exc.detail[:500],
                                 audit_action=f"pipeline.{stage}")
            metrics.STAGE_RESULTS.labels(stage=stage, result="rejected").inc()
            log.info("pipeline.rejected", intake_id=intake_id, stage=stage,
                     reason=exc.reason.value)
            return "rejected", None
        except Exception as exc:
            metrics.STAGE_RESULTS.labels(stage=stage, result="failed").inc()
            raise _scrubbed(stage, exc) from None
        hook = self.commit_hooks.get(stage)
        # Core statements in the transaction: the same rows as the ORM wrote, without
        # identity map, flush or reload. Commit hooks get an ORM session (and an
        # ``Item`` to read and change); the other stages need none.
        with _stage_transaction(self.store, orm=hook is not None) as (session, conn):
            current = conn.execute(_LOAD_ITEM, {"id": intake_id}).first()
            if current is None:
                item = Item(intake_id=intake_id, updated_at=utcnow())
            elif current[_ITEM_COLUMNS.index(column)] is not None:
                return "skipped", None  # a concurrent copy of this message finished first
            else:
                item = _item(current)
            before = {c: getattr(item, c) for c in _ITEM_COLUMNS}
            view = View(intake, item)
            if hook is not None:
                assert session is not None
                hook(session, view, result)
                session.flush()  # what the hook added goes in before this stage's rows
            hold = result.pop(HOLD, None)
            setattr(item, column, {k: v for k, v in result.items() if k != "item"})
            item.updated_at = utcnow()
            changed = {c: getattr(item, c) for c in _ITEM_COLUMNS
                       if c != "intake_id" and (c in (column, "updated_at") or (
                           getattr(item, c) is not before[c] and getattr(item, c) != before[c]))}
            if current is None:
                conn.execute(_INSERT_ITEM, {"intake_id": intake_id, **changed})
            else:
                conn.execute(_UPDATE_ITEM, {"b_id": intake_id, **changed})
            audit.insert_row(conn, actor=audit.SYSTEM, action=f"pipeline.{stage}",
                             intake_id=intake_id, arende_id=item.arende_id,
                             reason=hold["reason"] if hold else None,
                             detail=decisions.summary(stage, result))
            if hold:  # wait for registratur: no next stage until released
                next_rows = []
                values = {"state": "review", "reason_code": hold["reason"],
                          "reason_detail": hold["detail"]}
            else:
                values = {"state": "done" if stage == STAGES[-1] else "processing",
                          "reason_code": None, "reason_detail": None}
            now = utcnow()
            conn.execute(_UPDATE_INTAKE, {"b_id": intake_id, "stage": stage,
                                          "updated_at": now, **values})
            if not hold:
                next_rows = self._next_rows(conn, stage, intake_id, result,
                                            next_stage=not inline_next)
        for row in next_rows:
            if enqueue_row(self.store, self.broker, row):
                self.sent.add(row.id)
        metrics.STAGE_SECONDS.labels(stage=stage).observe(time.perf_counter() - started)
        metrics.STAGE_RESULTS.labels(stage=stage, result="done").inc()
        log.info("pipeline.held_for_review" if hold else "pipeline.stage_done",
                 intake_id=intake_id, stage=stage)
        if hold:
            return "held", None
        if not inline_next or stage == STAGES[-1]:
            return "done", None  # nobody starts from it
        for name, value in (("stage", stage), ("updated_at", now), *values.items()):
            setattr(intake, name, value)
        for name in changed.keys() & _JSON_ITEM_COLUMNS:  # as the next stage would read it
            setattr(item, name, json.loads(json.dumps(getattr(item, name))))
        return "done", View(intake, item)

    def _next_rows(self, conn: Connection, stage: str, intake_id: str,
                   result: dict[str, Any], *, next_stage: bool) -> list[Outbox]:
        rows: list[Outbox] = []
        if stage == "publish":  # one downstream message per queue (owner, fast path)
            rows += [self.store.insert_outbox(conn, intake_id, queue, contract.ITEM_ACTOR,
                                              {"args": [result["item"]]})
                     for queue in result.get("queues") or [result["queue"]]]
        index = STAGES.index(stage)
        if next_stage and index + 1 < len(STAGES):
            rows.append(self.store.insert_stage(conn, intake_id, self.queue, STAGES[index + 1]))
        return rows

    # -- stages ---------------------------------------------------------------

    def _normalise(self, view: View) -> dict[str, Any]:
        raw = self.blobs.get(view.intake.raw_sha256)
        scanning = self.scanner.applies_to(view.meta.channel.value)
        # The original first: even one no parser can read is scanned (staff may open it).
        verdict = self._virus_scan([antivirus.ScanObject(
            "raw original", view.intake.raw_sha256, raw)]) if scanning else None
        hold: dict[str, str] | None = None
        try:
            message, blobs = normalise(raw, view.meta, self.settings)
        except NeedsReview as held:
            message, blobs = held.result, held.blobs
            hold = {"reason": held.reason.value, "detail": held.detail[:500]}
        result: dict[str, Any] = message.to_dict()
        if verdict is not None:  # then what the normaliser extracted, before it is stored
            verdict = verdict.merge(self._virus_scan(antivirus.extracted_objects(
                [(a.sha256, a.content_type) for a in message.attachments], blobs),
                skip=[view.intake.raw_sha256]))
            result["virus_scan"] = verdict.to_dict()
            if verdict.state == "inconclusive":
                hold = {"reason": ReasonCode.VIRUS_SCAN_INCONCLUSIVE.value,
                        "detail": f"{verdict.signature} ({verdict.where})"[:500]}
        for data in blobs.values():
            self.blobs.put(data)
        return {**result, HOLD: hold} if hold else result

    def _virus_scan(self, objects: list[antivirus.ScanObject], skip: list[str] | None = None
                    ) -> antivirus.Verdict:
        """One pass (the original, or what was extracted); a finding quarantines the
        item: rejected, original kept, nothing passed on."""
        verdict = self.scanner.check(objects, skip or ())
        metrics.VIRUS_SCANS.labels(verdict=verdict.state).inc()
        if verdict.state == "infected":
            raise InputRejected(ReasonCode.MALWARE_FOUND,
                                f"{verdict.signature} in {verdict.where}")
        return verdict

    def _classify(self, view: View) -> dict[str, Any]:
        message = view.message
        raw_result = self.classifier.classify(message.subject, message.analysis_text(),
                                              view.meta.channel.value)
        result = dict(raw_result.to_dict() if hasattr(raw_result, "to_dict") else raw_result)
        staff = message.headers.get("x-kcs-staff-classification")
        if staff:  # registratur set the labels at review (ingest/webapp)
            from classifier.corrections import apply_staff_classification

            result = apply_staff_classification(result, json.loads(staff),
                                                getattr(self.classifier, "taxonomy", None))
        flags = dict(result.get("flags", {}))
        flags["anonym"] = message.sender.anonymous
        result["flags"] = flags
        return result

    def _link(self, view: View) -> dict[str, Any]:
        """Evidence-scored linking (``dedupe.linker``); SMS continuity is one signal."""
        message = view.message
        received = as_utc(view.intake.received_at)
        sms_recent = None
        if view.meta.channel is Channel.SMS:  # same number, recent open ärende
            sms = sms_continuity.sms_link(self.store, message, self.settings.kcs.sms, received)
            if sms is not None and sms.linked_by == "sms_same_number_recent":
                sms_recent = sms.arende_id
        decision = linker.link(
            self.store, message, channel=view.meta.channel.value, received_at=received,
            classification=view.item.classification, policy=self.settings.linking,
            our_domain=self.settings.kcs.outbound.message_id_domain, sms_recent=sms_recent)
        return decision.to_dict()

    def _commit_link(self, session: Session, view: View, result: dict[str, Any]) -> None:
        """Open the new ärende (numbered inside this transaction) or touch the old one;
        index the item's keys, record a possible link, audit the decision."""
        link_commit.commit(session, self.store, view.intake, view.item, view.message, result)

    def _route(self, view: View) -> dict[str, Any]:
        classification = view.item.classification or {}
        placement, placed_from = place(self.settings.districts, view.message)
        return route(self.settings.routing, classification, classification.get("flags", {}),
                     placement, placed_from)

    def _commit_route(self, session: Session, view: View, result: dict[str, Any]) -> None:
        """Set the ärende's owner, and record the person references scoped to that owner."""
        if view.item.link and view.item.link.get("new"):
            session.execute(update(Arende).where(Arende.id == view.item.arende_id)
                            .values(owner=result["owner"]))
        pii.record_refs(session, self.settings, intake_id=view.intake.id,
                        arende_id=view.item.arende_id, owner=result["owner"],
                        message=view.message)

    def _publish(self, view: View) -> dict[str, Any]:
        message = view.message
        classification = dict(view.item.classification or {})
        flags = {k: bool(v) for k, v in classification.pop("flags", {}).items()}
        for key in ("sekretess", "akut", "myndighetsutovning", "tolk", "anonym"):
            flags.setdefault(key, False)
        language = classification.pop("language", "und") or "und"
        classification.setdefault("model_version", "unknown")
        plan = ack_service.plan_for(
            self.settings, message, view.meta, flags=flags,
            classification={**classification, "language": language},
            received_at=as_utc(view.intake.received_at),
            is_opted_out=lambda phone: sms_state.is_opted_out(self.store, phone),
            routing=view.item.routing or {})
        routing = view.item.routing or {}
        item = contract.build_item(
            intake_id=view.intake.id, received_at=as_utc(view.intake.received_at).isoformat(),
            meta=view.meta, message=message, language=language,
            classification={k: classification.get(k) for k in
                            ("huvudkategori", "arendetyp", "arendeklass", "confidence",
                             "needs_triage", "model_version", "explanation")
                            if k in classification},
            flags=flags, link=view.item.link or {}, routing=routing, acknowledgement=plan,
            raw_sha256=view.intake.raw_sha256, raw_size=view.intake.raw_size)
        return {"queue": routing["queue"], "queues": routing.get("queues") or [routing["queue"]],
                "idempotency_key": item["idempotency_key"],
                "published_at": item["published_at"], "acknowledgement_plan": plan,
                "item": item}

    def publish_item(self, view: View) -> dict[str, Any]:
        """The downstream item for ``view`` exactly as the publish stage builds it; used
        again when a person's triage label re-routes a published item
        (``ingest.reassign``). Needs no broker."""
        return self._publish(view)["item"]

    def _commit_publish(self, session: Session, view: View, result: dict[str, Any]) -> None:
        """The publication row's key is unique: a second publish cannot commit."""
        for i, queue in enumerate(result.get("queues") or [result["queue"]]):
            # The owner's copy keeps the bare key; further queues (the akut fast
            # path) get their own row, so each copy is published exactly once.
            key = result["idempotency_key"] + ("" if i == 0 else f"@{queue}")
            if session.get(Publication, key) is not None:
                raise StageError(f"publication {key} exists without a stored publish result")
            session.add(Publication(idempotency_key=key, intake_id=view.intake.id,
                                    queue=queue, state="queued", created_at=utcnow(),
                                    sent_at=None))
            metrics.PUBLISHED.labels(queue=queue).inc()

    def _acknowledge(self, view: View) -> dict[str, Any]:
        plan = (view.item.published or {}).get("acknowledgement_plan") or {}
        return ack_service.acknowledge(self.settings, self.store, intake_id=view.intake.id,
                                       arende_id=view.item.arende_id or "",
                                       message=view.message, plan=plan)


@contextlib.contextmanager
def _stage_transaction(store: Store, *, orm: bool
                       ) -> Iterator[tuple[Session | None, Connection]]:
    """A stage's write transaction: an ORM session and its connection when a commit
    hook needs the session, else a Core connection alone (no session to build)."""
    if orm:
        with store.transaction() as session:
            yield session, session.connection()
    else:
        with store.core_transaction() as conn:
            yield None, conn


def _scrubbed(stage: str, exc: Exception) -> StageError:
    """The failure without its message: exceptions from parsers and models often quote
    the citizen's text, and Dramatiq logs what it retries. Type and place are kept.
    Our own ``StageError``s name only codes and places (clamd unreachable, a schema
    path), so their message stays: it is what staff read on the dead letter."""
    if isinstance(exc, StageError):
        return StageError(f"{stage} failed: {exc}")
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)), "?")
    return StageError(f"{stage} failed: {type(exc).__name__} at {where}")


def _fault_injection(stage: str) -> None:
    """Test seam: ``KCS_FAULT_DELAY=stage:seconds`` stalls a stage so a test can kill it."""
    spec = os.environ.get("KCS_FAULT_DELAY", "")
    if spec.partition(":")[0] == stage:
        time.sleep(float(spec.partition(":")[2] or 0))
