"""One headless Chromium per session (Debian's, driven by Playwright), and a running app.

``app_env`` gives a runtime with a strict OCR quality gate (every real page
goes to review), two signed-up users, the web app on a free loopback port and
the real pipeline (worker threads and relay on the private Redis).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import running_pipeline
from webapp_support import PASSWORD

from ingest.app import Runtime
from ingest.webapp.users import add_user

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium for the whole session; Playwright never downloads a browser here."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: run `make setup-test` as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@dataclasses.dataclass
class AppEnv:
    """What a browser test needs."""

    rt: Runtime
    base: str
    settings: Any

    def screenshot(self, page: Any, name: str) -> None:
        """Save a full-page screenshot for people to review."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def app_env(settings, web_server, tmp_path, monkeypatch) -> Iterator[AppEnv]:
    """A private model dir (corrections land there), and the app with users ``anna``
    (registratur, every nämnd, sekretess), ``bo`` (registratur, every nämnd, no
    sekretess) and ``cecilia`` (analyst)."""
    monkeypatch.setenv("KCS_MODEL_DIR", str(tmp_path / "models"))
    scan = settings.kcs.scan.model_copy(update={"min_page_mean_conf": 99.0})
    strict = dataclasses.replace(settings, kcs=settings.kcs.model_copy(update={"scan": scan}))
    rt = Runtime.build(strict)
    add_user(rt, username="anna", password=PASSWORD, role="registratur", namnder=["*"],
             sekretess=True, display_name="Anna Registrator")
    add_user(rt, username="bo", password=PASSWORD, role="registratur", namnder=["*"],
             display_name="Bo Utan Sekretess")
    add_user(rt, username="cecilia", password=PASSWORD, role="analyst",
             namnder=["kommunstyrelsen"], display_name="Cecilia Analytiker")
    base = web_server(rt)
    with running_pipeline(rt):
        yield AppEnv(rt, base, strict)

