"""Dead letters: items that failed or were rejected, with reason, original and replay.

Replay is ``Runtime.replay`` (the same as ``kcs dead-letters replay``); the
raw original downloads exactly as it arrived. Both are audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ingest.reasons import ReasonCode
from ingest.webapp import access
from ingest.webapp.web import PREFIX, PageError, WebContext, not_found

ROLES = ("registratur", "admin")
LIMIT = 300
EXTENSIONS = {"email": "eml", "sms": "json", "letter": "json", "fax": "json"}
QUARANTINED = ReasonCode.MALWARE_FOUND.value


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the dead-letter screen."""
    router = APIRouter()
    require = ctx.require(*ROLES)
    base = f"{PREFIX}/ej-levererade"

    def _visible(signed: Any, intake_id: str) -> Any:
        row = ctx.runtime.store.get_intake(intake_id[:40])
        if row is None:
            raise not_found()
        item = ctx.runtime.store.get_item(row.id)
        if not access.can_view(signed.user, access.facts(item, ctx.secret_categories)):
            ctx.audit(signed.user, "item.view_denied", intake_id=row.id,
                      reason="outside the user's nämnder or sekretess right")
            raise PageError(403, "Ingen behörighet",
                            "Du har inte behörighet att öppna det här meddelandet.")
        return row

    @router.get(base)
    def listing(request: Request, spelas: str = "") -> Any:
        """Dead and rejected items with their reason codes."""
        signed = require(request)
        rows, hidden = [], 0
        for row in ctx.runtime.store.list_intake(("dead", "rejected"), LIMIT):
            item = ctx.runtime.store.get_item(row.id)
            if not access.can_view(signed.user, access.facts(item, ctx.secret_categories)):
                hidden += 1
                continue
            rows.append(row)
        return ctx.render(request, "dead_letters.html", signed, active="dodsbrev", rows=rows,
                          hidden=hidden, replayed=spelas[:40], quarantined=QUARANTINED)

    @router.get(f"{base}/{{intake_id}}/original")
    def original(request: Request, intake_id: str) -> Response:
        """The raw original, byte for byte, as a download."""
        signed = require(request)
        row = _visible(signed, intake_id)
        if row.reason_code == QUARANTINED:
            ctx.audit(signed.user, "item.original_download_refused", intake_id=row.id,
                      reason=QUARANTINED)
            raise PageError(403, "Originalet är i karantän",
                            "Virusskanningen hittade skadlig kod i meddelandet "
                            f"({row.reason_detail or 'okänd signatur'}). Originalet sparas "
                            "som allmän handling men lämnas inte ut här. Kontakta "
                            "IT-säkerhet om det behöver granskas.")
        try:
            data = ctx.runtime.blobs.get(row.raw_sha256)
        except (FileNotFoundError, ValueError):
            raise not_found() from None
        ctx.audit(signed.user, "item.original_download", intake_id=row.id,
                  detail={"sha256": row.raw_sha256, "bytes": len(data)})
        name = f"{row.id}.{EXTENSIONS.get(row.channel, 'bin')}"
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "private, no-store"})

    @router.post(f"{base}/{{intake_id}}/spela-om")
    async def replay(request: Request, intake_id: str) -> Any:
        """Send the item through again from the stage that stopped it."""
        signed = require(request)
        await ctx.check_csrf(request, signed)
        row = _visible(signed, intake_id)
        try:
            stage = ctx.runtime.replay(row.id)
        except ValueError:
            raise PageError(409, "Kan inte spelas om",
                            "Meddelandet är inte längre ett ej levererat meddelande.") from None
        ctx.audit(signed.user, "item.replay", intake_id=row.id,
                  detail={"from_stage": stage, "reason_code": row.reason_code})
        return RedirectResponse(f"{base}?spelas={row.id}", status_code=303)

    return router
