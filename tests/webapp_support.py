"""Helpers for the registratur web app's browser tests (fixtures live in tests/webapp)."""

from __future__ import annotations

from typing import Any

PASSWORD = "korrekt-häst-batteri-häftstift"


def sign_in(page: Any, base: str, username: str, target: str = "/app/") -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{base}{target}")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
