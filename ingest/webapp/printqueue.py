"""The print queue: acknowledgement letters waiting to be printed and posted.

The letters are the PDFs the acknowledge stage put in the ack package's print
queue (``ingest.ack.delivery``: ``waiting_letters``, ``mark_printed``, the same
functions as ``kcs ack print-queue``). The list shows ärende number, date and
language only — no names or addresses. A batch downloads as one PDF (pypdf
joins the letters) so one print job covers the day's post; marking a batch
printed moves it to ``printed/<date>/``. Downloads and marking are audited.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pypdf import PdfWriter

from ingest import audit
from ingest.ack import delivery
from ingest.webapp import access
from ingest.webapp.web import PREFIX, WebContext, not_found

ROLES = ("registratur", "admin")
BASE = f"{PREFIX}/utskrift"


def letters_for(ctx: WebContext, user: Any) -> tuple[list[dict[str, Any]], int]:
    """The waiting letters this person may see (secret ones need the sekretess right)."""
    rows, hidden = [], 0
    for path in delivery.waiting_letters(ctx.runtime.settings):
        ids = delivery.letter_ids(path)
        if ids is None:
            continue
        arende_id, intake_id = ids
        item = ctx.runtime.store.get_item(intake_id)
        if not access.can_view(user, access.facts(item, ctx.secret_categories)):
            hidden += 1
            continue
        plan = ((item.published or {}) if item else {}).get("acknowledgement_plan") or {}
        rows.append({"name": path.name, "path": path, "arende_id": arende_id,
                     "intake_id": intake_id, "language": plan.get("language") or "",
                     "queued_at": datetime.fromtimestamp(path.stat().st_mtime).astimezone()})
    return rows, hidden


def merge(paths: list[Path]) -> bytes:
    """The letters as one PDF, in order, for one print job."""
    writer = PdfWriter()
    for path in paths:
        writer.append(str(path))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the print queue."""
    router = APIRouter()
    require = ctx.require(*ROLES)

    def _chosen(signed: Any, names: list[str]) -> list[dict[str, Any]]:
        rows, _ = letters_for(ctx, signed.user)
        wanted = set(names)
        return [r for r in rows if r["name"] in wanted] if wanted else rows

    @router.get(BASE)
    def listing(request: Request, klart: int = -1) -> Any:
        """The letters waiting, oldest first, all ticked for the next batch."""
        signed = require(request)
        rows, hidden = letters_for(ctx, signed.user)
        return ctx.render(request, "print_queue.html", signed, active="utskrift", rows=rows,
                          hidden=hidden, printed=klart)

    @router.get(f"{BASE}/brev/{{name}}")
    def one(request: Request, name: str) -> Response:
        """One letter as its PDF."""
        signed = require(request)
        [row] = _chosen(signed, [name[:80]]) or [None]
        if row is None:
            raise not_found()
        data = row["path"].read_bytes()
        ctx.audit(signed.user, "letter.download", intake_id=row["intake_id"],
                  detail={"arende": row["arende_id"], "bytes": len(data)})
        return _pdf(data, row["name"])

    @router.post(f"{BASE}/samlad")
    async def batch(request: Request) -> Response:
        """The ticked letters (all, when none is ticked) as ONE PDF."""
        signed = require(request)
        await ctx.check_csrf(request, signed)
        rows = _chosen(signed, _names(await request.form()))
        if not rows:
            raise not_found()
        data = merge([r["path"] for r in rows])
        ctx.audit(signed.user, "letter.batch_download",
                  detail={"letters": [r["intake_id"] for r in rows], "bytes": len(data)})
        stamp = datetime.now().strftime("%Y-%m-%d-%H%M")
        return _pdf(data, f"kvittensbrev-{stamp}-{len(rows)}st.pdf")

    @router.post(f"{BASE}/utskrivna")
    async def printed(request: Request) -> Any:
        """The ticked letters are printed and posted: off the queue, into ``printed/``."""
        signed = require(request)
        await ctx.check_csrf(request, signed)
        rows = _chosen(signed, _names(await request.form()))
        if rows:
            folder = delivery.mark_printed(ctx.runtime.settings, [r["path"] for r in rows])
            with ctx.runtime.store.transaction() as session:
                for r in rows:
                    audit.record(session, actor=signed.user.actor, action="letter.printed",
                                 intake_id=r["intake_id"], arende_id=r["arende_id"],
                                 detail={"folder": folder.name})
        return RedirectResponse(f"{BASE}?klart={len(rows)}", status_code=303)

    return router


def _names(form: Any) -> list[str]:
    return [v[:80] for v in form.getlist("brev") if isinstance(v, str)]


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff",
                             "Cache-Control": "private, no-store"})
