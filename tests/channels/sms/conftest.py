"""Fixtures for the SMS channel: Twilio's REST API on loopback (``MockTwilio``), the
real web app under uvicorn on a port known before the settings are made, and
the Twilio secrets in the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sms_support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, MockTwilio, Web, with_sms
from tests_support import free_port

from ingest.app import Runtime
from ingest.config import Settings


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
def serve_web(web_server: Callable[..., str], web_port: int) -> Callable[[Runtime], Web]:
    """Start the web app on ``web_port`` (the public URL Twilio signs); stopped after."""

    def start(rt: Runtime) -> Web:
        web_server(rt, web_port)
        return Web(web_port)

    return start


@pytest.fixture
def sms_settings(settings: Settings, mock_twilio: MockTwilio, web_port: int) -> Settings:
    """Settings whose Twilio is the mock and whose public URL is the test web app."""
    return with_sms(settings, api_base_url=mock_twilio.url, from_number=OUR_NUMBER,
                    public_base_url=f"http://127.0.0.1:{web_port}", send_backoff_s=0.01)
