"""The triage queue: items the classifier was unsure of, for a person to label.

The label takes effect through ``Runtime.assign`` (``ingest.reassign``): the
item is routed again and published to its owner's queue, the label is kept as
a correction for ``kcs train``, and the audit row (``item.triage``) is also
what takes the item off this queue.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from ingest.audit import AuditEvent
from ingest.db import Intake, Item
from ingest.logs import mask_personnummer
from ingest.model import NormalisedMessage
from ingest.reassign import ACTION as DONE_ACTION
from ingest.reassign import AlreadyAssigned, NotPublished
from ingest.webapp import access
from ingest.webapp.web import PREFIX, PageError, WebContext, not_found

ROLES = ("registratur", "admin")
SCAN_LIMIT = 1000


def unsure_items(ctx: WebContext, user: Any) -> tuple[list[dict[str, Any]], int]:
    """Items routed to triage and not yet labelled by a person, oldest first."""
    with ctx.runtime.store.reading() as session:
        pairs = session.execute(
            select(Intake, Item).join(Item, Item.intake_id == Intake.id)
            .where(Item.classification.is_not(None))
            .order_by(Item.updated_at.desc()).limit(SCAN_LIMIT)).all()
        done = set(session.scalars(select(AuditEvent.intake_id)
                                   .where(AuditEvent.action == DONE_ACTION)))
    rows, hidden = [], 0
    for row, item in pairs:
        classification = item.classification or {}
        if not classification.get("needs_triage") or row.id in done:
            continue
        if not access.can_view(user, access.facts(item, ctx.secret_categories)):
            hidden += 1
            continue
        suggestion = (classification.get("explanation") or {}).get("suggestion") or {}
        rows.append({"id": row.id, "received_at": row.received_at, "channel": row.channel,
                     "subject": (item.normalised or {}).get("subject") or "",
                     "suggestion": suggestion, "reasons": classification.get("reasons") or [],
                     "arende_id": item.arende_id})
    rows.reverse()
    return rows, hidden


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the triage queue."""
    router = APIRouter()
    require = ctx.require(*ROLES)

    def _visible(signed: Any, intake_id: str) -> tuple[Intake, Item]:
        row = ctx.runtime.store.get_intake(intake_id[:40])
        item = ctx.runtime.store.get_item(intake_id[:40]) if row else None
        if row is None or item is None or not item.classification:
            raise not_found()
        if not access.can_view(signed.user, access.facts(item, ctx.secret_categories)):
            ctx.audit(signed.user, "item.view_denied", intake_id=row.id,
                      reason="outside the user's nämnder or sekretess right")
            raise PageError(403, "Ingen behörighet",
                            "Du har inte behörighet att öppna det här meddelandet "
                            "(sekretess eller annan nämnd).")
        return row, item

    @router.get(f"{PREFIX}/triage")
    def queue(request: Request, klar: str = "") -> Any:
        """What waits for a person's label."""
        signed = require(request)
        rows, hidden = unsure_items(ctx, signed.user)
        return ctx.render(request, "triage.html", signed, active="triage", rows=rows,
                          hidden=hidden, done=klar[:40], taxonomy=ctx.taxonomy)

    @router.get(f"{PREFIX}/triage/rader")
    def queue_fragment(request: Request) -> Any:
        """The table body alone, for the live refresh."""
        signed = require(request)
        rows, hidden = unsure_items(ctx, signed.user)
        return ctx.render(request, "_triage_rows.html", signed, rows=rows, hidden=hidden,
                          taxonomy=ctx.taxonomy)

    @router.get(f"{PREFIX}/triage/{{intake_id}}")
    def show(request: Request, intake_id: str) -> Any:
        """One unsure item: its text (personnummer masked) and the model's guesses."""
        signed = require(request)
        row, item = _visible(signed, intake_id)
        return _page(request, signed, row, item)

    def _page(request: Request, signed: Any, row: Intake, item: Item, *,
              error: str | None = None, status: int = 200) -> Any:
        ctx.audit(signed.user, "item.view", intake_id=row.id, detail={"screen": "triage"})
        message = NormalisedMessage.from_dict(item.normalised) if item.normalised else None
        classification = item.classification or {}
        explanation = classification.get("explanation") or {}
        suggestion = explanation.get("suggestion") or {}
        preset = (f"{classification.get('huvudkategori') or suggestion.get('huvudkategori')}/"
                  f"{classification.get('arendetyp') or suggestion.get('arendetyp')}")
        return ctx.render(
            request, "triage_item.html", signed, active="triage", status=status, error=error,
            row=row, item=item, taxonomy=ctx.taxonomy,
            subject=message.subject if message else "",
            body=mask_personnummer(message.body if message else ""),
            scores=explanation.get("scores") or {}, reasons=classification.get("reasons") or [],
            preset=preset, preset_class=(classification.get("arendeklass")
                                         or suggestion.get("arendeklass") or ""))

    @router.post(f"{PREFIX}/triage/{{intake_id}}")
    async def decide(request: Request, intake_id: str) -> Any:
        """A person's label: a correction for training, recorded in the audit log."""
        signed = require(request)
        form = await ctx.check_csrf(request, signed)
        row, item = _visible(signed, intake_id)
        cat, _, typ = form.get("klassning", "").partition("/")
        label = {"huvudkategori": cat, "arendetyp": typ,
                 "arendeklass": form.get("arendeklass", "")}
        try:
            ctx.runtime.assign(row.id, label, actor=signed.user.actor, taxonomy=ctx.taxonomy)
        except AlreadyAssigned:
            return _page(request, signed, row, item, status=409,
                         error="Meddelandet har redan klassats av någon annan.")
        except NotPublished:
            return _page(request, signed, row, item, status=409,
                         error="Meddelandet behandlas fortfarande. Försök igen om en stund.")
        except ValueError:
            return _page(request, signed, row, item, status=422,
                         error="Välj en kategori och ärendetyp ur listan.")
        return RedirectResponse(f"{PREFIX}/triage?klar={row.id}", status_code=303)

    return router
