"""The scan queue, the staff upload form and the review screen.

Built on ``channels.scan.review`` (show, page image, release) and
``channels.scan.intake.accept_batch``; this module only adds sign-in, access
checks, audit and HTML. Every view of an item and every change is audited.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from channels.scan import review
from channels.scan.intake import BatchSource, accept_batch
from classifier.corrections import append_correction
from ingest.db import Intake, Item
from ingest.errors import InputRejected, IntakeUnavailable
from ingest.model import Channel
from ingest.webapp import access
from ingest.webapp.web import PREFIX, PageError, WebContext, not_found

ROLES = ("registratur", "admin")
SCAN_CHANNELS = ("letter", "fax")
STATES = {"ocr": "OCR körs", "review": "Behöver granskning", "released": "Släppt",
          "failed": "Misslyckades"}
QUEUE_LIMIT = 300
MAX_TEXT_FIELD = 500


def scan_state(row: Intake) -> str:
    """The scan queue's four states from the intake life cycle."""
    if row.state in ("dead", "rejected"):
        return "failed"
    if row.state == "review":
        return "review"
    if row.state == "done" or row.stage not in (None, "normalise") or (
            row.state == "processing" and row.stage == "normalise"):
        return "released"
    return "ocr"


def queue_rows(ctx: WebContext, user: Any) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """Letters and faxes, newest first, grouped by batch; how many are hidden from ``user``."""
    with ctx.runtime.store.reading() as session:
        pairs = session.execute(
            select(Intake, Item).outerjoin(Item, Item.intake_id == Intake.id)
            .where(Intake.channel.in_(SCAN_CHANNELS))
            .order_by(Intake.received_at.desc()).limit(QUEUE_LIMIT)).all()
    batches: OrderedDict[str, dict[str, Any]] = OrderedDict()
    hidden, counts = 0, dict.fromkeys(STATES, 0)
    for row, item in pairs:
        state = scan_state(row)
        counts[state] += 1
        if not access.can_view(user, access.facts(item, ctx.secret_categories)):
            hidden += 1
            continue
        detail = (row.meta or {}).get("detail") or {}
        key = detail.get("batch_sha256") or row.raw_sha256
        batch = batches.setdefault(key, {"filename": detail.get("filename") or "(okänd fil)",
                                         "received_at": row.received_at, "letters": [],
                                         "operator": detail.get("operator")})
        headers = ((item.normalised if item else None) or {}).get("headers") or {}
        batch["letters"].append({
            "id": row.id, "received_at": row.received_at, "channel": row.channel,
            "document": detail.get("document", ""), "pages": detail.get("pages", ""),
            "state": state, "state_label": STATES[state], "reason": row.reason_code,
            "conf": headers.get("x-scan-mean-conf")})
    return list(batches.values()), hidden, counts


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the scan queue and the review screen."""
    router = APIRouter()
    require = ctx.require(*ROLES)

    def _load_visible(request: Request, signed: Any, intake_id: str) -> review.HeldItem:
        try:
            held = review.load(ctx.runtime, intake_id[:40])
        except KeyError:
            raise not_found() from None
        item = ctx.runtime.store.get_item(held.intake.id)
        if not access.can_view(signed.user, access.facts(item, ctx.secret_categories)):
            ctx.audit(signed.user, "item.view_denied", intake_id=held.intake.id,
                      reason="outside the user's nämnder or sekretess right")
            raise PageError(403, "Ingen behörighet",
                            "Du har inte behörighet att öppna det här meddelandet "
                            "(sekretess eller annan nämnd).")
        return held

    @router.get(f"{PREFIX}/skanning")
    def queue(request: Request, slappt: str = "") -> Any:
        """Batches and their letters with state; refreshes itself."""
        signed = require(request)
        batches, hidden, counts = queue_rows(ctx, signed.user)
        return ctx.render(request, "scan_queue.html", signed, active="skanning",
                          batches=batches, hidden=hidden, counts=counts, states=STATES,
                          released=slappt[:40],
                          max_upload_mb=ctx.cfg.max_upload_bytes // 2**20)

    @router.get(f"{PREFIX}/skanning/rader")
    def queue_fragment(request: Request) -> Any:
        """The queue's table body alone, for the live refresh."""
        signed = require(request)
        batches, hidden, counts = queue_rows(ctx, signed.user)
        return ctx.render(request, "_scan_rows.html", signed, batches=batches, hidden=hidden,
                          counts=counts, states=STATES)

    @router.post(f"{PREFIX}/skanning/ladda-upp")
    async def upload(request: Request) -> Any:
        """Take a scanned file from the form, refusing oversize bodies before parsing."""
        signed = require(request)
        limit = ctx.cfg.max_upload_bytes
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            ctx.audit(signed.user, "scan.upload_refused", reason="no content length")
            raise PageError(411, "Filen kunde inte tas emot", "Storleken saknades.")
        if int(length) > limit + 64 * 1024:
            ctx.audit(signed.user, "scan.upload_refused", reason="too large",
                      detail={"bytes": int(length), "limit": limit})
            if int(length) <= 8 * limit:
                await _drain(request)
            raise PageError(413, "Filen är för stor",
                            f"Filen är större än {limit // 2**20} MB och togs inte emot. "
                            "Dela upp satsen eller lägg den i den bevakade mappen.")
        form = await ctx.check_csrf(request, signed)
        upload_file = (await request.form()).get("file")
        if upload_file is None or isinstance(upload_file, str):
            raise PageError(422, "Ingen fil", "Välj en fil att ladda upp.")
        data = await upload_file.read(limit + 1)
        if len(data) > limit:
            ctx.audit(signed.user, "scan.upload_refused", reason="too large",
                      detail={"bytes": len(data), "limit": limit})
            raise PageError(413, "Filen är för stor",
                            f"Filen är större än {limit // 2**20} MB och togs inte emot.")
        channel = form.get("channel") if form.get("channel") in ("letter", "fax") else None
        source = BatchSource(filename=os.path.basename(upload_file.filename or "upload")[:200],
                             transport="upload", channel=Channel(channel) if channel else None,
                             operator=signed.user.username, scanner=None, expected_pages=None)
        try:
            receipt = await run_in_threadpool(accept_batch, ctx.runtime, data, source)
        except IntakeUnavailable:
            raise PageError(503, "Inte mottagen",
                            "Filen kunde inte sparas just nu. Försök igen om en stund.") from None
        ctx.audit(signed.user, "scan.upload",
                  detail={"batch_sha256": receipt.batch_sha256, "pages": receipt.page_count,
                          "letters": [r.intake_id for r in receipt.receipts]})
        return RedirectResponse(f"{PREFIX}/skanning", status_code=303)

    @router.get(f"{PREFIX}/granska/{{intake_id}}")
    def review_screen(request: Request, intake_id: str) -> Any:
        """The page image beside the OCR text; fields and classification to correct."""
        signed = require(request)
        held = _load_visible(request, signed, intake_id)
        return _review_page(request, signed, held)

    def _review_page(request: Request, signed: Any, held: review.HeldItem, *,
                     error: str | None = None, status: int = 200,
                     values: dict[str, str] | None = None) -> Any:
        shown = review.show(ctx.runtime, held.intake.id, mask=True)
        ctx.audit(signed.user, "item.view", intake_id=held.intake.id,
                  detail={"screen": "review"})
        sender = shown.get("sender") or {}
        fields = shown.get("fields") or {}
        current = {"subject": shown.get("subject") or "",
                   "name": sender.get("name") or "", "postal_address":
                   sender.get("postal_address") or "", "email": sender.get("email") or "",
                   "phone": sender.get("phone") or "",
                   "diarienummer": ", ".join(fields.get("diarienummer") or []),
                   "personnummer": "", "klassning": "", "arendeklass": ""}
        staff = access.staff_classification(held.message.to_dict() if held.message else None)
        if staff.get("huvudkategori"):
            current["klassning"] = f"{staff['huvudkategori']}/{staff.get('arendetyp') or ''}"
        current.update(values or {})
        waiting = [r["id"] for r in review.list_held(ctx.runtime, 200)]
        following = next((i for i in waiting if i != held.intake.id), None)
        return ctx.render(request, "review.html", signed, active="skanning", status=status,
                          item=shown, values=current, error=error, taxonomy=ctx.taxonomy,
                          masked_pnr=", ".join(fields.get("personnummer") or []),
                          waiting=held.intake.state == "review", next_id=following)

    @router.get(f"{PREFIX}/granska/{{intake_id}}/sida/{{number}}.png")
    def page_image(request: Request, intake_id: str, number: int) -> Response:
        """The page as OCR saw it."""
        signed = require(request)
        held = _load_visible(request, signed, intake_id)
        try:
            png = review.page_png(ctx.runtime, held.intake.id, number, 110)
        except (KeyError, FileNotFoundError, InputRejected):
            raise not_found() from None
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "private, no-store"})

    @router.post(f"{PREFIX}/granska/{{intake_id}}/slapp")
    async def release(request: Request, intake_id: str) -> Any:
        """Apply the corrections, store a classification correction for training,
        audit, and send the item on; then straight to the next waiting letter."""
        signed = require(request)
        form = await ctx.check_csrf(request, signed)
        held = _load_visible(request, signed, intake_id)
        values = {k: form.get(k, "")[:MAX_TEXT_FIELD] for k in
                  ("subject", "name", "postal_address", "email", "phone", "diarienummer",
                   "personnummer", "klassning", "arendeklass")}
        try:
            corrections, classification = _corrections(ctx, held, values)
            corrections["reviewer"] = signed.user.username
            following = await run_in_threadpool(review.release, ctx.runtime, held.intake.id,
                                                corrections)
        except review.ReviewError as exc:
            return _review_page(request, signed, held, error=_swedish(str(exc)), status=422,
                                values=values)
        changed = sorted(k for k in ("subject", "sender", "fields") if corrections.get(k))
        ctx.audit(signed.user, "item.release", intake_id=held.intake.id,
                  detail={"changed": changed, "next_stage": following,
                          "classification": classification or None})
        if classification and held.message is not None:
            append_correction(ctx.runtime.settings.model_dir, {
                "id": held.intake.id, "channel": held.intake.channel,
                "subject": corrections.get("subject", held.message.subject) or "",
                "text": held.message.body or "", **classification,
                "corrected_by": signed.user.username})
            ctx.audit(signed.user, "item.classification_corrected", intake_id=held.intake.id,
                      detail=classification)
        target = form.get("then", "")
        if target.startswith("next:") and len(target) < 50:
            return RedirectResponse(f"{PREFIX}/granska/{target[5:]}", status_code=303)
        return RedirectResponse(f"{PREFIX}/skanning?slappt={held.intake.id}", status_code=303)

    return router


def _corrections(ctx: WebContext, held: review.HeldItem, values: dict[str, str]
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    message = held.message
    corrections: dict[str, Any] = {}
    if message is not None and values["subject"] != (message.subject or ""):
        corrections["subject"] = values["subject"]
    current = message.sender.to_dict() if message else {}
    sender = {k: values[k] for k in ("name", "postal_address", "email", "phone")
              if values[k] != (current.get(k) or "")}
    if sender:
        corrections["sender"] = sender
    fields: dict[str, list[str]] = {}
    record_fields = (held.record or {}).get("fields") or {}
    diarienummer = [v.strip() for v in values["diarienummer"].split(",") if v.strip()]
    if diarienummer != list(record_fields.get("diarienummer") or []):
        fields["diarienummer"] = diarienummer
    if values["personnummer"].strip():
        fields["personnummer"] = [v.strip() for v in values["personnummer"].split(",")
                                  if v.strip()]
    if fields:
        corrections["fields"] = fields
    classification: dict[str, str] = {}
    if values["klassning"]:
        cat, _, typ = values["klassning"].partition("/")
        if not ctx.taxonomy.is_valid(cat, typ or None) or not typ:
            raise review.ReviewError("classification: unknown huvudkategori/arendetyp")
        classification = {"huvudkategori": cat, "arendetyp": typ}
        if values["arendeklass"]:
            if values["arendeklass"] not in ctx.taxonomy.classes:
                raise review.ReviewError("classification: unknown arendeklass")
            classification["arendeklass"] = values["arendeklass"]
        corrections["classification"] = classification
    return corrections, classification


_SWEDISH = {"sender.email": "E-postadressen ser inte ut som en e-postadress.",
            "sender.phone": "Telefonnumret är inte ett giltigt nummer.",
            "fields.personnummer": "Personnumret är inte giltigt (kontrollsiffra eller datum).",
            "fields.samordningsnummer": "Samordningsnumret är inte giltigt.",
            "classification": "Välj en kategori och ärendetyp ur listan.",
            "not waiting": "Meddelandet väntar inte längre på granskning (redan släppt?)."}


def _swedish(message: str) -> str:
    for key, text in _SWEDISH.items():
        if key in message:
            return text
    return "Rättelsen kunde inte tas emot. Kontrollera fälten."


async def _drain(request: Request) -> None:
    """Read and drop a refused body, so the browser gets our answer instead of a reset
    connection (only for bodies up to 8× the limit; larger ones are cut off)."""
    async for _chunk in request.stream():
        pass
