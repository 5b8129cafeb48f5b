"""The web app over real HTTP: health, metrics, blob download for case systems."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests_support import free_port

from ingest.app import Runtime
from ingest.model import Channel, ChannelMeta


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_health_reports_database_and_redis(settings, web_server) -> None:
    base = web_server(Runtime.build(settings))
    status, body = get(f"{base}/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok", "redis": "ok",
                                "virus_scan": "off", "outbox_backlog": 0}


def test_health_is_503_when_the_database_is_down(make_settings, web_server) -> None:
    settings = make_settings(DATABASE_URL=f"postgresql://x@127.0.0.1:{free_port()}/none",
                             REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    base = web_server(Runtime.build(settings, migrate=False))
    status, body = get(f"{base}/health")
    assert status == 503
    data = json.loads(body)
    assert data["status"] == "unavailable"
    assert data["database"].startswith("error") and data["redis"].startswith("error")


def test_metrics_and_blob_download(settings, web_server, monkeypatch) -> None:
    rt = Runtime.build(settings)
    raw = b"From: a@example.se\r\nSubject: x\r\n\r\nHej\r\n"
    receipt = rt.intake.accept(raw, ChannelMeta(channel=Channel.EMAIL, transport="test"))
    base = web_server(rt)
    status, body = get(f"{base}/metrics")
    assert status == 200
    assert 'kcs_items{channel="email",state="accepted"} 1.0' in body.decode()
    assert "kcs_outbox_backlog 1.0" in body.decode()

    url = f"{base}/api/blobs/{receipt.raw_sha256}"
    assert get(url, "x")[0] == 404  # off until a token is configured
    monkeypatch.setenv("KCS_API_TOKEN", "s3cret-token")
    assert get(url)[0] == 401
    assert get(url, "wrong")[0] == 401
    assert get(url, "s3cret-token") == (200, raw)
    assert get(f"{base}/api/blobs/..%2f..%2fetc%2fpasswd", "s3cret-token")[0] == 404


def test_start_page_is_swedish_and_escapes_nothing_it_should_not(settings, web_server) -> None:
    base = web_server(Runtime.build(settings))
    status, body = get(f"{base}/")
    assert status == 200
    assert b'<html lang="sv">' in body or b"<html lang='sv'>" in body
    assert b"Inkomna meddelanden" in body
