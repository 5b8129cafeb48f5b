"""Registratur review over real HTTP and through ``kcs review``; upload of scans."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from pipeline_support import downstream, running_pipeline, wait_for_state

from channels.scan import evaluation
from ingest.app import Runtime
from ingest.cli import main

pytestmark = pytest.mark.slow
QUEUE = "kcs.triage"  # the placeholder classifier is always unsure
TOKEN = "registratur-test-token"
REPO = Path(__file__).resolve().parents[3]


def call(method: str, url: str, *, token: str | None = TOKEN, body: bytes | None = None,
         content_type: str | None = None) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                  f"{value}\r\n".encode())
    out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
              f"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_upload_then_review_then_release_over_http(scan_settings, letters, serve_app,
                                                   monkeypatch) -> None:
    """GIVEN a strict quality gate WHEN a phone photo of a letter is uploaded THEN it waits
    for registratur, who reads it, corrects the sender and releases it onward."""
    monkeypatch.setenv("KCS_API_TOKEN", TOKEN)
    settings = scan_settings(min_page_mean_conf=99.0)  # every real page is "unsure"
    rt = Runtime.build(settings)
    base = serve_app(rt)
    photo = evaluation.photo(letters[0].image)
    body, ctype = multipart({"operator": "kc-anna", "expected_pages": "1"}, "brev.jpg", photo)
    assert call("POST", f"{base}/api/scan/upload", token=None, body=body,
                content_type=ctype)[0] == 401
    status, raw, _ = call("POST", f"{base}/api/scan/upload", body=body, content_type=ctype)
    assert status == 200, raw
    answer = json.loads(raw)
    [letter] = answer["letters"]
    intake_id = letter["intake_id"]
    assert letter["pages"] == [1] and answer["pages"] == 1 and not letter["duplicate"]

    with running_pipeline(rt):
        assert wait_for_state(rt, intake_id, frozenset({"review"}), timeout=120) == "review"
        status, raw, _ = call("GET", f"{base}/api/review")
        [held] = json.loads(raw)["items"]
        assert (held["id"], held["reason"], held["channel"]) == (intake_id,
                                                                 "ocr_low_confidence", "letter")
        status, raw, _ = call("GET", f"{base}/api/review/{intake_id}")
        shown = json.loads(raw)
        [page] = shown["pages"]
        assert "⟦" in page["text_marked"] and page["low_confidence_words"]
        assert shown["fields"]["personnummer"] or shown["fields"]["samordningsnummer"]
        assert shown["custody"]["operator"] == "kc-anna"
        assert shown["custody"]["batch_sha256"] == answer["batch_sha256"]
        status, png, ctype = call("GET", f"{base}/api/review/{intake_id}/page/1.png?dpi=100")
        assert status == 200 and ctype == "image/png"
        image = Image.open(io.BytesIO(png))
        scale = 100 / 300
        assert abs(image.width - page["size"][0] * scale) < 10
        assert call("GET", f"{base}/api/review/{intake_id}/page/2.png")[0] == 404

        bad = json.dumps({"fields": {"personnummer": ["121212-1213"]}}).encode()
        status, raw, _ = call("POST", f"{base}/api/review/{intake_id}/release", body=bad,
                              content_type="application/json")
        assert status == 422 and b"Luhn" in raw
        fix = json.dumps({"sender": {"name": "Åsa Öberg-Lind", "phone": "070-123 45 67"},
                          "fields": {"personnummer": ["19121212-1212"]},
                          "reviewer": "kc-anna"}).encode()
        status, raw, _ = call("POST", f"{base}/api/review/{intake_id}/release", body=fix,
                              content_type="application/json")
        assert status == 200 and json.loads(raw)["next_stage"] == "classify"
        assert wait_for_state(rt, intake_id, timeout=60) == "done"
        status, _, _ = call("POST", f"{base}/api/review/{intake_id}/release", body=fix,
                            content_type="application/json")
        assert status == 409  # released once
    [item] = [i for i in downstream(settings.effective_redis_url(), QUEUE)
              if i["item_id"] == intake_id]
    assert item["sender"]["name"] == "Åsa Öberg-Lind"
    assert item["sender"]["phone"] == "+46701234567"
    headers = rt.store.get_item(intake_id).normalised["headers"]
    assert headers["x-scan-personnummer"] == "191212121212"
    assert headers["x-scan-reviewed-by"] == "kc-anna"


def test_review_api_is_off_without_a_token(settings, serve_app, monkeypatch) -> None:
    monkeypatch.delenv("KCS_API_TOKEN", raising=False)
    base = serve_app(Runtime.build(settings))
    assert call("GET", f"{base}/api/review")[0] == 404


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Path:
    monkeypatch.setenv("KCS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KCS_CONFIG_DIR", str(REPO / "config"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    return tmp_path


def test_kcs_ingest_and_review_commands(env: Path, make_text_pdf) -> None:
    """An operator feeds a born-digital letter, says it had 3 pages; the count does not match,
    so it waits; ``kcs review`` lists, shows (personnummer masked) and releases it."""
    letter = env / "brev.pdf"
    letter.write_bytes(make_text_pdf(["Kerstin Ek\nBox 12\n123 45 Farsta\n\nAngående: Bygglov\n"
                                      "Personnummer 19121212-1212\nHej! Jag undrar över mitt "
                                      "bygglov för altanen."]))
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", "--operator", "op1", "--expected-pages", "3",
                                  str(letter)])
    assert result.exit_code == 0, result.output
    intake_id, state, path = result.stdout.strip().split("\t")
    assert state == "accepted" and path == str(letter)
    rt = Runtime.build()
    with running_pipeline(rt):
        assert wait_for_state(rt, intake_id, frozenset({"review"}), timeout=60) == "review"
        listed = runner.invoke(main, ["review", "list"])
        assert intake_id in listed.stdout and "scan_page_count_mismatch" in listed.stdout
        shown = runner.invoke(main, ["review", "show", intake_id])
        assert shown.exit_code == 0, shown.output
        assert "expected 3 pages, found 1" in shown.stdout
        assert "19121212-XXXX" in shown.stdout and "19121212-1212" not in shown.stdout
        assert "operatör op1" in shown.stdout
        refused = runner.invoke(main, ["review", "release", intake_id, "--phone", "12"])
        assert refused.exit_code != 0 and "not a valid phone" in refused.output
        released = runner.invoke(main, ["review", "release", intake_id, "--name",
                                        "Kerstin Ek", "--reviewer", "op1"])
        assert released.exit_code == 0 and "next: classify" in released.stdout
        assert wait_for_state(rt, intake_id, timeout=60) == "done"
    assert runner.invoke(main, ["review", "show", "01NOSUCHITEM0000000000000X"]).exit_code != 0
