"""Bad input against the staff screens: forged CSRF, someone else's session, injection,
a 50 MB upload. Each is refused cleanly (a Swedish page, never a 500) and audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from webapp_support import PASSWORD, sign_in

from ingest.audit import AuditEvent
from ingest.webapp import sessions

pytestmark = pytest.mark.slow
INJECTION = "<script>alert('x')</script>' OR '1'='1'; DROP TABLE web_user;--"


def actions(rt) -> list[tuple[str, str, str | None]]:
    with rt.store.reading() as session:
        return [(e.actor, e.action, e.reason) for e in
                session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_forged_csrf_other_sessions_injection_and_huge_upload(app_env, browser,
                                                              tmp_path) -> None:
    env = app_env
    anna_ctx = browser.new_context(locale="sv-SE")
    anna = anna_ctx.new_page()
    dialogs: list[str] = []
    anna.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # Injection in the sign-in fields: escaped, refused, audited, no error 500.
    anna.goto(f"{env.base}/app/logga-in")
    anna.get_by_label("Användarnamn").fill(INJECTION)
    anna.get_by_label("Lösenord").fill(INJECTION)
    anna.get_by_role("button", name="Logga in").click()
    assert anna.get_by_role("alert").inner_text() == "Fel användarnamn eller lösenord."
    assert anna.get_by_label("Användarnamn").input_value() == INJECTION
    assert ("anonymous", "web.sign_in_failed", None) in actions(env.rt)

    sign_in(anna, env.base, "anna", "/app/skanning")
    cookies = {c["name"]: c["value"] for c in anna_ctx.cookies()}
    cookie = next(c for c in anna_ctx.cookies() if c["name"] == sessions.COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    anna_csrf = anna.locator("input[name=csrf_token]").first.get_attribute("value")

    # Forged CSRF: a POST with a made-up token (and one without) is refused and audited.
    for token in ("forged-token", ""):
        response = anna.request.post(f"{env.base}/app/ej-levererade/X/spela-om",
                                     form={"csrf_token": token})
        assert response.status == 403 and "CSRF" in response.text()
    assert actions(env.rt).count(("user:anna", "web.csrf_rejected",
                                  "CSRF token missing or wrong")) == 2

    # Another user's session: Bo's cookie with Anna's CSRF token is refused; Bo's cookie
    # gives Bo's rights, never Anna's.
    bo_ctx = browser.new_context(locale="sv-SE")
    bo = bo_ctx.new_page()
    sign_in(bo, env.base, "bo", "/app/skanning")
    response = bo.request.post(f"{env.base}/app/logga-ut", form={"csrf_token": anna_csrf})
    assert response.status == 403
    assert ("user:bo", "web.csrf_rejected", "CSRF token missing or wrong") in actions(env.rt)
    # A forged or stolen-then-ended session cookie leads to the sign-in page, audited.
    intruder_ctx = browser.new_context(locale="sv-SE")
    intruder_ctx.add_cookies([{"name": sessions.COOKIE, "value": "A" * 43,
                               "url": env.base}])
    intruder = intruder_ctx.new_page()
    intruder.goto(f"{env.base}/app/skanning")
    assert "/app/logga-in" in intruder.url
    assert ("anonymous", "web.session_rejected", "unknown or ended session") in actions(env.rt)
    anna.get_by_role("button", name="Logga ut").click()
    anna.wait_for_url(re.compile("/app/logga-in"))
    intruder_ctx.add_cookies([{"name": sessions.COOKIE, "value": cookies[sessions.COOKIE],
                               "url": env.base}])
    intruder.goto(f"{env.base}/app/skanning")
    assert "/app/logga-in" in intruder.url  # Anna signed out: her old cookie is dead
    # The analyst's role has no queue screens.
    cecilia_ctx = browser.new_context(locale="sv-SE")
    cecilia = cecilia_ctx.new_page()
    sign_in(cecilia, env.base, "cecilia", "/app/")
    assert cecilia.url.endswith("/app/statistik")
    assert cecilia.goto(f"{env.base}/app/skanning").status == 403

    # Injection in the statistics filter, ids in URLs: escaped, never a 500.
    sign_in(anna, env.base, "anna", "/app/skanning")
    response = anna.goto(f"{env.base}/app/statistik?fran={INJECTION}&till={INJECTION}")
    assert response.status == 200
    assert anna.get_by_role("alert").inner_text().startswith("Datumen ska skrivas")
    for path in ("/app/granska/", "/app/triage/", "/app/ej-levererade/"):
        response = anna.goto(f"{env.base}{path}%3Cscript%3Ealert(1)%3C%2Fscript%3E'--")
        assert response.status in (404, 405), path
        assert "<script>alert(1)" not in anna.content()
    assert not dialogs

    # A 50 MB upload through the form: refused with a Swedish page, nothing stored, audited.
    big = tmp_path / "stor-sats.pdf"
    with big.open("wb") as f:
        f.write(b"%PDF-1.7\n")
        f.seek(50 * 2**20)
        f.write(b"\n%%EOF\n")
    anna.goto(f"{env.base}/app/skanning")
    stored_before = len(env.rt.store.list_intake(("accepted", "processing", "review",
                                                  "done", "rejected"), 1000))
    anna.get_by_label(re.compile("^Fil")).set_input_files(str(big))
    with anna.expect_response(re.compile("/ladda-upp$")) as answer:
        anna.get_by_role("button", name="Ladda upp").click()
    assert answer.value.status == 413
    assert anna.get_by_role("heading", name="Filen är för stor").is_visible()
    assert len(env.rt.store.list_intake(("accepted", "processing", "review", "done",
                                         "rejected"), 1000)) == stored_before
    assert ("user:anna", "scan.upload_refused", "too large") in actions(env.rt)
    assert PASSWORD not in str(actions(env.rt))
    for ctx in (anna_ctx, bo_ctx, intruder_ctx, cecilia_ctx):
        ctx.close()
