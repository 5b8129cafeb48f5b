"""Mount the registratur screens on the product's FastAPI app (``ingest/web.py``).

Plain server-rendered HTML (Jinja2, autoescaped), checked-in CSS and a little
vanilla JavaScript for live queues and keyboard shortcuts; no CDN, no build.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.webapp import auth, deadletters, links, printqueue, scan, stats, triage
from ingest.webapp.web import HERE, PREFIX, NotSignedIn, PageError, WebContext, login_url

_MESSAGES = {404: ("Hittades inte", "Sidan finns inte."),
             405: ("Fel metod", "Sidan kan inte nås på det sättet."),
             413: ("För stor", "Det som skickades är för stort."),
             422: ("Felaktiga uppgifter", "Uppgifterna i förfrågan kunde inte tolkas.")}


def install(app: FastAPI, runtime: Any) -> WebContext:
    """Add the staff screens under ``/app`` to ``app``."""
    ctx = WebContext(runtime)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="webapp-static")
    for module in (auth, scan, triage, links, deadletters, printqueue, stats):
        app.include_router(module.make_router(ctx))

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Any:
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Any:
        return ctx.render(request, "error.html", ctx.signed(request), status=exc.status,
                          title=exc.title, message=exc.message)

    def _staff_page(request: Request) -> bool:
        return request.url.path.startswith(PREFIX + "/")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not _staff_page(request):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        title, message = _MESSAGES.get(exc.status_code, ("Fel", "Något gick fel."))
        return ctx.render(request, "error.html", ctx.signed(request), status=exc.status_code,
                          title=title, message=message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        if not _staff_page(request):
            from fastapi.exception_handlers import request_validation_exception_handler

            return await request_validation_exception_handler(request, exc)
        title, message = _MESSAGES[422]
        return ctx.render(request, "error.html", ctx.signed(request), status=422,
                          title=title, message=message)

    return ctx
