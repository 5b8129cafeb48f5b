"""A person's triage label takes effect: re-route and publish the item again.

An item the classifier was unsure of is published at once to the triage
queue (nothing waits on a person). When registratur labels it — in the
triage screen or with ``kcs triage assign`` — ``assign`` (via
``Runtime.assign``):

1. puts the staff labels over the model's classification
   (``classifier.corrections.apply_staff_classification``: no longer needs
   triage, a secret category turns ``sekretess`` on) and stores it on the item;
2. runs routing again (``ingest.routing.route``) with the corrected codes;
3. publishes the item again to the new owner's queue(s), as a new publication
   whose idempotency key is the original one with ``:triage`` appended (the
   same publication + outbox rows as the publish stage, in one transaction),
   so a repeated call publishes nothing more;
4. audits ``item.triage`` and keeps the label as a training correction.

The acknowledgement already sent is not sent again; the new copy carries the
plan that was used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from ingest import audit, contract, metrics
from ingest.db import Arende, Item, Publication
from ingest.db import Intake as IntakeRow
from ingest.governance import pii
from ingest.model import utcnow
from ingest.routing import place, route

ACTION = "item.triage"
KEY_SUFFIX = ":triage"
LABEL_KEYS = ("huvudkategori", "arendetyp", "arendeklass")


class NotPublished(ValueError):
    """The item has not reached its (triage) queue yet: nothing to re-route."""


class AlreadyAssigned(ValueError):
    """The item was labelled and re-published before, with other labels."""


def check_label(taxonomy: Any, label: dict[str, Any]) -> dict[str, str]:
    """The label's codes, or ``ValueError`` naming what the taxonomy does not know."""
    cat, typ, klass = (label.get(k) or "" for k in LABEL_KEYS)
    if not taxonomy.is_valid(cat, typ):
        raise ValueError(f"unknown huvudkategori/ärendetyp {cat}/{typ} "
                         "(see config/taxonomy.yaml)")
    if klass and klass not in taxonomy.classes:
        raise ValueError(f"unknown ärendeklass {klass} (see config/taxonomy.yaml)")
    return {"huvudkategori": cat, "arendetyp": typ, **({"arendeklass": klass} if klass else {})}


def assign(runtime: Any, intake_id: str, label: dict[str, Any], *, actor: str,
           taxonomy: Any = None) -> dict[str, Any]:
    """Apply a person's label to a published item (module docstring). Returns the new
    routing with ``republished`` False when the same label had already been applied.
    ``KeyError``: no such item; ``ValueError``: not published yet, or a bad label."""
    from classifier.corrections import append_correction, apply_staff_classification
    from classifier.taxonomy import load_taxonomy
    from ingest.pipeline import Pipeline, View

    settings = runtime.settings
    taxonomy = taxonomy or load_taxonomy(settings.config_dir / "taxonomy.yaml")
    label = check_label(taxonomy, label)
    with runtime.store.transaction() as session:
        row = session.get(IntakeRow, intake_id, with_for_update=True)
        item = session.get(Item, intake_id, with_for_update=True)
        if row is None or item is None:
            raise KeyError(intake_id)
        if not item.published or not item.classification or not item.routing:
            raise NotPublished(f"item {intake_id} is {row.state} at {row.stage}: not published "
                             "yet, label it after it reaches the triage queue")
        earlier = (item.published or {}).get("triage")
        if earlier:
            if earlier.get("label") == label:
                return {**earlier, "republished": False}
            raise AlreadyAssigned(f"item {intake_id} was already labelled "
                                  f"{earlier.get('label')} by {earlier.get('by')}")
        model = {k: item.classification.get(k) for k in LABEL_KEYS}
        classification = apply_staff_classification(item.classification, label, taxonomy)
        classification["staff"] = {**label, "by": actor, "at": utcnow().isoformat()}
        view = View(row, item)
        message = view.message
        placement, placed_from = place(settings.districts, message)
        routing = route(settings.routing, classification, classification.get("flags", {}),
                        placement, placed_from)
        item.classification = classification
        item.routing = routing
        doc = Pipeline(settings, runtime.store, runtime.blobs,
                       runtime._broker).publish_item(view)
        doc["acknowledgement"] = item.published.get("acknowledgement_plan") or doc[
            "acknowledgement"]
        key = doc["idempotency_key"] + KEY_SUFFIX
        doc["idempotency_key"] = key
        doc["supersedes"] = item.published.get("idempotency_key")
        queues = routing.get("queues") or [routing["queue"]]
        for i, queue in enumerate(queues):
            pkey = key + ("" if i == 0 else f"@{queue}")
            session.add(Publication(idempotency_key=pkey, intake_id=intake_id, queue=queue,
                                    state="queued", created_at=utcnow(), sent_at=None))
            runtime.store.add_outbox(session, intake_id, queue, contract.ITEM_ACTOR,
                                     {"args": [doc]})
            metrics.PUBLISHED.labels(queue=queue).inc()
        done = {"label": label, "by": actor, "owner": routing["owner"],
                "queue": routing["queue"], "queues": queues, "rule": routing["rule"],
                "idempotency_key": key, "published_at": doc["published_at"]}
        item.published = {**item.published, "triage": done}
        item.updated_at = utcnow()
        if item.arende_id and (item.link or {}).get("new"):
            session.execute(update(Arende).where(Arende.id == item.arende_id).values(
                owner=routing["owner"], huvudkategori=label["huvudkategori"],
                arendetyp=label["arendetyp"]))
        pii.record_refs(session, settings, intake_id=intake_id, arende_id=item.arende_id,
                        owner=routing["owner"], message=message)
        audit.record(session, actor=actor, action=ACTION, intake_id=intake_id,
                     arende_id=item.arende_id,
                     detail={"classification": label, "model": model, "owner": routing["owner"],
                             "queues": queues, "idempotency_key": key})
        channel = row.channel
    append_correction(settings.model_dir, {
        "id": intake_id, "channel": channel, "subject": message.subject,
        "text": message.body or "(tom)", **label, "corrected_by": actor.removeprefix("user:")})
    return {**done, "republished": True}
