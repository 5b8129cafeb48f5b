"""Sign in and out; the start page sends each role to its first screen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from ingest.webapp import sessions
from ingest.webapp.users import authenticate
from ingest.webapp.web import NAV, PREFIX, PageError, WebContext, safe_next

MAX_FIELD = 256


def make_router(ctx: WebContext) -> APIRouter:
    """Routes of the sign-in page."""
    router = APIRouter()

    def _login_page(request: Request, *, status: int = 200, error: str | None = None,
                    username: str = "", next_url: str = "") -> Any:
        token = sessions.new_login_csrf()
        response = ctx.render(request, "login.html", None, status=status, error=error,
                              username=username, next_url=safe_next(next_url),
                              login_csrf=token)
        response.set_cookie(sessions.LOGIN_CSRF_COOKIE, token, httponly=True,
                            samesite="strict", secure=ctx.cfg.secure_cookies,
                            path=f"{PREFIX}/logga-in", max_age=3600)
        return response

    @router.get(f"{PREFIX}/logga-in")
    def login_form(request: Request, next: str = "") -> Any:
        """The sign-in form."""
        return _login_page(request, next_url=next)

    @router.post(f"{PREFIX}/logga-in")
    async def login(request: Request) -> Any:
        """Check name and password; start a session with a fresh CSRF token."""
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        username = values.get("username", "")[:MAX_FIELD]
        next_url = values.get("next", "")
        cookie = request.cookies.get(sessions.LOGIN_CSRF_COOKIE)
        if not cookie or not sessions.csrf_ok(cookie, values.get("csrf_token")):
            ctx.audit(None, "web.csrf_rejected", reason="sign-in form without its token",
                      detail={"path": request.url.path})
            return _login_page(request, status=403, username=username, next_url=next_url,
                               error="Formuläret hade gått ut. Försök igen.")
        user = await run_in_threadpool(authenticate, ctx.runtime, username,
                                       values.get("password", "")[:MAX_FIELD])
        if user is None:
            ctx.audit(None, "web.sign_in_failed", detail={"username": username[:64]})
            return _login_page(request, status=401, username=username, next_url=next_url,
                               error="Fel användarnamn eller lösenord.")
        token, _ = sessions.open_session(ctx.runtime.store, user, ctx.cfg)
        ctx.audit(user, "web.sign_in")
        response = RedirectResponse(safe_next(next_url), status_code=303)
        response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict",
                            secure=ctx.cfg.secure_cookies, path="/",
                            max_age=int(ctx.cfg.session_hours * 3600))
        response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path=f"{PREFIX}/logga-in")
        return response

    @router.post(f"{PREFIX}/logga-ut")
    async def logout(request: Request) -> Any:
        """End the session everywhere."""
        signed = ctx.require()(request)
        await ctx.check_csrf(request, signed)
        sessions.close_session(ctx.runtime.store, signed.token_sha256)
        ctx.audit(signed.user, "web.sign_out")
        response = RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        response.delete_cookie(sessions.COOKIE, path="/")
        return response

    @router.get(f"{PREFIX}/")
    def start(request: Request) -> Any:
        """The first screen this person's role may use."""
        signed = ctx.require()(request)
        for screen in NAV:
            if signed.user.role in screen.roles:
                return RedirectResponse(screen.path, status_code=303)
        raise PageError(403, "Ingen behörighet", "Din roll har inga skärmar.")

    return router
