"""Fixtures for the SMS channel: Twilio's REST API on loopback (``MockTwilio``), the
real web app under uvicorn on a port known before the settings are made, and
the Twilio secrets in the environment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from sms_support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, MockTwilio, Web, with_sms
from tests_support import free_port

from ingest.app import Runtime
from ingest.config import Settings
from ingest.web import create_app


@pytest.fixture
def mock_twilio() -> Iterator[MockTwilio]:
    """Twilio's REST API on loopback."""
    mock = MockTwilio(ACCOUNT_SID, AUTH_TOKEN)
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def twilio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both Twilio secrets set: outbound goes to Twilio (the mock)."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)


@pytest.fixture
def token_only_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the auth token: signed webhooks accepted, outbound written to var/outbox/sms."""
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)


@pytest.fixture
def web_port() -> int:
    """The port the web app will listen on (known before the settings are made)."""
    return free_port()


@pytest.fixture
def serve_web(web_port: int) -> Iterator:
    """Start ``create_app(runtime)`` under uvicorn in a thread; stopped after the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(rt: Runtime) -> Web:
        server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=web_port,
                                               log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "web app did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        return Web(web_port)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(5)


@pytest.fixture
def sms_settings(settings: Settings, mock_twilio: MockTwilio, web_port: int) -> Settings:
    """Settings whose Twilio is the mock and whose public URL is the test web app."""
    return with_sms(settings, api_base_url=mock_twilio.url, from_number=OUR_NUMBER,
                    public_base_url=f"http://127.0.0.1:{web_port}", send_backoff_s=0.01)
