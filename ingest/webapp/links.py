"""Link review: possible links the linker was not sure of, for a person to decide.

The linker gave the item its own ärende and recorded a possible link to a
candidate ärende (``dedupe.review``). Here each one is shown with the linker's
per-signal explanation side by side with the candidate ärende (its items'
subjects and dates, personnummer masked); accept moves the item into the
candidate (``dedupe.review.accept``), reject keeps it where it is
(``dedupe.review.reject``). Both are audited by those functions with the
person's name; showing the list is audited here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from dedupe import review
from ingest.db import Intake, Item
from ingest.logs import mask_personnummer
from ingest.webapp import access
from ingest.webapp.web import PREFIX, PageError, WebContext

ROLES = ("registratur", "admin")
BASE = f"{PREFIX}/kopplingar"
LIMIT = 100
ITEMS_PER_ARENDE = 10

SIGNALS = {
    "our_message_id": "Svar på vårt meddelande", "thread": "Samma e-posttråd",
    "arende_number": "Ärendenumret nämns", "external_ref": "Samma diarienummer/referens",
    "identity_conflict": "Avsändaruppgifter som inte stämmer",
    "within_window": "Inom tidsfönstret", "outside_window": "Utanför tidsfönstret",
    "sms_continuity": "SMS-fortsättning", "same_category": "Samma huvudkategori",
    "other_category": "Annan huvudkategori", "text_similarity": "Liknande text",
    "relative": "Skriver för en anhörig", "same_email": "Samma e-postadress",
    "same_phone": "Samma telefonnummer", "same_personnummer": "Samma personnummer",
    "same_name_address": "Samma namn och adress", "same_name": "Samma namn",
    "identity_only": "Bara samma avsändare, inget om saken",
    "other_sender": "Liknande text från en annan avsändare",
    "same_person_named": "Samma person nämns", "same_initial_named": "Samma initial och efternamn",
    "same_address": "Samma gatuadress", "same_type": "Samma ärendetyp",
    "other_type": "Annan ärendetyp", "quoted_by_other": "Ärendenumret från någon okänd",
    "same_contact_named": "Samma nummer eller e-post nämns",
}


def signal_label(signal: str) -> str:
    """A signal's Swedish name (``same_email`` → "Samma e-post" style for identity kinds)."""
    if signal in SIGNALS:
        return SIGNALS[signal]
    if signal.startswith("same_"):
        return "Samma " + signal.removeprefix("same_").replace("_", " ")
    return signal


def _detail(entry: dict[str, Any]) -> str:
    parts = [f"{k}: {v}" for k, v in entry.items() if k not in ("signal", "points")]
    return mask_personnummer(", ".join(parts))


def _summary(intake: Intake, item: Item, user: Any, secret: set[str]) -> dict[str, Any]:
    visible = access.can_view(user, access.facts(item, secret))
    normalised = item.normalised or {}
    return {"id": intake.id, "received_at": intake.received_at, "channel": intake.channel,
            "visible": visible,
            "subject": mask_personnummer(normalised.get("subject") or "") if visible else ""}


def pending_links(ctx: WebContext, user: Any) -> tuple[list[dict[str, Any]], int]:
    """Open possible links this person may decide, with both sides (module docstring)."""
    rows, hidden = [], 0
    with ctx.runtime.store.reading() as session:
        for link in review.pending(session, LIMIT):
            pair = session.execute(select(Intake, Item).join(Item, Item.intake_id == Intake.id)
                                   .where(Intake.id == link.intake_id)).first()
            if pair is None:
                continue
            this = _summary(pair[0], pair[1], user, ctx.secret_categories)
            if not this["visible"]:
                hidden += 1
                continue
            candidates = [_summary(i, it, user, ctx.secret_categories) for i, it in
                          session.execute(select(Intake, Item)
                                          .join(Item, Item.intake_id == Intake.id)
                                          .where(Item.arende_id == link.candidate_arende_id)
                                          .order_by(Intake.received_at)
                                          .limit(ITEMS_PER_ARENDE)).all()]
            rows.append({"id": link.id, "score": link.score, "arende_id": link.arende_id,
                         "candidate": link.candidate_arende_id, "item": this,
                         "candidate_items": candidates,
                         "signals": [{"label": signal_label(str(e.get("signal"))),
                                      "signal": e.get("signal"), "points": e.get("points"),
                                      "detail": _detail(e)}
                                     for e in (link.explanation or [])]})
    return rows, hidden


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the link review."""
    router = APIRouter()
    require = ctx.require(*ROLES)

    @router.get(BASE)
    def listing(request: Request, klar: str = "") -> Any:
        """Every open possible link, the evidence beside the candidate ärende."""
        signed = require(request)
        rows, hidden = pending_links(ctx, signed.user)
        if rows:
            ctx.audit(signed.user, "item.view", detail={
                "screen": "kopplingar", "items": [r["item"]["id"] for r in rows]})
        return ctx.render(request, "links.html", signed, active="kopplingar", rows=rows,
                          hidden=hidden, done=klar[:20])

    async def _decide(request: Request, link_id: int, accept: bool) -> Any:
        signed = require(request)
        await ctx.check_csrf(request, signed)
        rows, _ = pending_links(ctx, signed.user)
        if link_id not in {r["id"] for r in rows}:
            raise PageError(404, "Hittades inte",
                            "Kopplingen finns inte, är redan avgjord eller gäller ett "
                            "meddelande du inte har behörighet till.")
        try:
            if accept:
                review.accept(ctx.runtime.store, link_id, signed.user.actor)
            else:
                review.reject(ctx.runtime.store, link_id, signed.user.actor)
        except (KeyError, ValueError):
            raise PageError(409, "Redan avgjord",
                            "Någon annan har redan avgjort kopplingen.") from None
        verdict = "kopplad" if accept else "avvisad"
        return RedirectResponse(f"{BASE}?klar={verdict}", status_code=303)

    @router.post(f"{BASE}/{{link_id}}/koppla")
    async def accept(request: Request, link_id: int) -> Any:
        """The item belongs to the candidate ärende."""
        return await _decide(request, link_id, True)

    @router.post(f"{BASE}/{{link_id}}/avvisa")
    async def reject(request: Request, link_id: int) -> Any:
        """The item keeps its own ärende."""
        return await _decide(request, link_id, False)

    return router
