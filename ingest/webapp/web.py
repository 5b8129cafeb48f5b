"""What every screen shares: templates, the signed-in person, CSRF, audit, navigation.

Navigation is one list (``NAV``): a screen added later (link review, the
acknowledgement print queue) is one entry plus its router, and appears for
the roles named there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from ingest import audit
from ingest.webapp import sessions
from ingest.webapp.sessions import Signed
from ingest.webapp.users import ROLES, StaffUser

PREFIX = "/app"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Screen:
    """One entry of the navigation."""

    key: str
    label: str
    path: str
    roles: tuple[str, ...]
    shortcut: str | None = None


NAV: list[Screen] = [
    Screen("skanning", "Skanningskö", f"{PREFIX}/skanning", ("registratur", "admin"), "1"),
    Screen("triage", "Triage", f"{PREFIX}/triage", ("registratur", "admin"), "2"),
    Screen("kopplingar", "Kopplingar", f"{PREFIX}/kopplingar", ("registratur", "admin"), "3"),
    Screen("dodsbrev", "Ej levererade", f"{PREFIX}/ej-levererade", ("registratur", "admin"), "4"),
    Screen("utskrift", "Utskriftskö", f"{PREFIX}/utskrift", ("registratur", "admin"), "5"),
    Screen("statistik", "Statistik", f"{PREFIX}/statistik", ("registratur", "analyst", "admin"),
           "6"),
]


class NotSignedIn(Exception):
    """No valid session: the page handler sends the browser to sign in."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageError(Exception):
    """A refusal shown as a Swedish page with the right status code."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


_MARK = re.compile(r"⟦(.*?)⟧", re.S)


def marked_html(text: str) -> Markup:
    """OCR text with ⟦unsure⟧ words as <mark>, everything else escaped."""
    out, pos = [], 0
    for m in _MARK.finditer(text or ""):
        out.append(escape(text[pos:m.start()]))
        out.append(Markup('<mark class="osaker">%s</mark>') % m.group(1))
        pos = m.end()
    out.append(escape((text or "")[pos:]))
    return Markup("").join(out)


@dataclass
class WebContext:
    """The runtime plus what the screens load once: templates and the taxonomy."""

    runtime: Any
    templates: Jinja2Templates = field(init=False)
    taxonomy: Any = field(init=False)
    secret_categories: set[str] = field(init=False)

    def __post_init__(self) -> None:
        from classifier.taxonomy import load_taxonomy

        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["marked"] = marked_html
        self.taxonomy = load_taxonomy(self.runtime.settings.config_dir / "taxonomy.yaml")
        self.secret_categories = {c.code for c in self.taxonomy.categories.values()
                                  if c.sekretess}

    @property
    def cfg(self) -> Any:
        """``webapp:`` settings."""
        return self.runtime.settings.kcs.webapp

    def signed(self, request: Request) -> Signed | None:
        """The request's session (cached on the request)."""
        if not hasattr(request.state, "signed"):
            request.state.signed = sessions.lookup(
                self.runtime.store, request.cookies.get(sessions.COOKIE), self.cfg)
            if request.state.signed is None and request.cookies.get(sessions.COOKIE):
                self.audit(None, "web.session_rejected", reason="unknown or ended session",
                           detail={"path": request.url.path[:200]})
        return request.state.signed

    def require(self, *roles: str) -> Callable[[Request], Signed]:
        """A dependency: the signed-in person, who must have one of ``roles``."""

        def dependency(request: Request) -> Signed:
            signed = self.signed(request)
            if signed is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                raise NotSignedIn(target if request.method == "GET" else PREFIX + "/")
            if roles and signed.user.role not in roles:
                self.audit(signed.user, "web.forbidden", detail={"path": request.url.path})
                raise PageError(403, "Ingen behörighet",
                                "Din roll ger inte tillgång till den här sidan.")
            return signed

        return dependency

    async def check_csrf(self, request: Request, signed: Signed) -> dict[str, Any]:
        """The posted form, after its CSRF token matched this session's; 403 otherwise."""
        form = await request.form()
        given = form.get("csrf_token") or request.headers.get("x-csrf-token")
        if not sessions.csrf_ok(signed.csrf_token, given if isinstance(given, str) else None):
            self.audit(signed.user, "web.csrf_rejected", reason="CSRF token missing or wrong",
                       detail={"path": request.url.path[:200]})
            raise PageError(403, "Formuläret kunde inte tas emot",
                            "Säkerhetskontrollen (CSRF) misslyckades. Ladda om sidan och "
                            "försök igen.")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def audit(self, user: StaffUser | None, action: str, *, intake_id: str | None = None,
              reason: str | None = None, detail: dict[str, Any] | None = None) -> None:
        """One audit row in its own transaction (views and refusals have nothing else to
        commit with)."""
        with self.runtime.store.transaction() as session:
            audit.record(session, actor=user.actor if user else "anonymous", action=action,
                         intake_id=intake_id, reason=reason, detail=detail)

    def render(self, request: Request, template: str, signed: Signed | None, *,
               status: int = 200, active: str = "", **values: Any) -> Any:
        """A full page with navigation for this person's role."""
        user = signed.user if signed else None
        nav = [s for s in NAV if user and user.role in s.roles]
        return self.templates.TemplateResponse(
            request, template, {"user": user, "nav": nav, "active": active,
                                "role_label": ROLES.get(user.role, "") if user else "",
                                "csrf_token": signed.csrf_token if signed else "",
                                "prefix": PREFIX, "poll_ms": int(self.cfg.poll_seconds * 1000),
                                **values},
            status_code=status, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def login_url(next_url: str) -> str:
    """The sign-in page that comes back to ``next_url`` (same site only)."""
    return f"{PREFIX}/logga-in?next={quote(next_url, safe='/')}"


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else goes to the start."""
    if value and value.startswith(PREFIX + "/") and "//" not in value and "\\" not in value:
        return value
    return PREFIX + "/"


def not_found() -> PageError:
    """An id that does not exist."""
    return PageError(404, "Hittades inte", "Det finns inget sådant meddelande.")
