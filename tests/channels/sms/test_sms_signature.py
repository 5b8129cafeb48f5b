"""Twilio's signature scheme through twilio's own RequestValidator, and the URL we
rebuild for it behind a reverse proxy."""

from __future__ import annotations

from starlette.datastructures import Headers

from channels.sms.signature import FormParams, SignatureChecker, parse_form, signed_url
from ingest.config import SmsConfig

# Twilio's "Webhooks security" page: token 12345, this URL, these parameters.
DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOCS_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
               "From": "+12349013030", "To": "+18005551212"}
DOCS_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def form(params: dict[str, str | list[str]]) -> FormParams:
    return FormParams({k: v if isinstance(v, list) else [v] for k, v in params.items()})


def test_twilio_published_example_is_reproduced() -> None:
    checker = SignatureChecker("12345")
    assert checker.sign(DOCS_URL, DOCS_PARAMS) == DOCS_SIGNATURE
    assert checker.valid(DOCS_URL, form(DOCS_PARAMS), DOCS_SIGNATURE)


def test_twilio_python_vectors_ports_and_repeated_keys() -> None:
    checker = SignatureChecker("12345")
    params = form({"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
                   "To": "+18005551212", "Caller": "+14158675309"})
    assert checker.valid(DOCS_URL, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    # Twilio signs with or without the default port; both are accepted.
    assert checker.valid("https://mycompany.com:443/myapp.php?foo=1&bar=2", params,
                         "kvajT1Ptam85bY51eRf/AJRuM3w=")
    assert checker.valid("http://mycompany.com:80/myapp.php?foo=1&bar=2", params,
                         "0ZXoZLH/DfblKGATFgpif+LLRf4=")
    repeated = form({"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234"]})
    assert checker.valid(DOCS_URL, repeated, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")


def test_any_change_breaks_the_signature() -> None:
    checker = SignatureChecker("12345")
    assert not checker.valid(DOCS_URL, form({**DOCS_PARAMS, "Digits": "1235"}), DOCS_SIGNATURE)
    assert not checker.valid(DOCS_URL, form({**DOCS_PARAMS, "Extra": ""}), DOCS_SIGNATURE)
    assert not checker.valid(DOCS_URL.replace("foo=1", "foo=2"), form(DOCS_PARAMS),
                             DOCS_SIGNATURE)
    assert not checker.valid(DOCS_URL, form(DOCS_PARAMS), None)
    assert not checker.valid(DOCS_URL, form(DOCS_PARAMS), "")
    assert not SignatureChecker("54321").valid(DOCS_URL, form(DOCS_PARAMS), DOCS_SIGNATURE)


def test_parse_form_keeps_every_value_and_blank_ones() -> None:
    params = parse_form(b"Body=Hej+d%C3%A4r%21&Body=igen&ToCity=&Emoji=%F0%9F%98%80")
    assert params.getlist("Body") == ["Hej där!", "igen"]
    assert params.first("ToCity", "x") == ""
    assert params.first("Emoji") == "😀"


def headers(**values: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in values.items()})


def test_signed_url_without_configuration_is_the_url_as_seen() -> None:
    url = signed_url(SmsConfig(), seen_url="http://127.0.0.1:8025/sms/twilio?x=1",
                     path="/sms/twilio", query="x=1", headers=headers(host="127.0.0.1:8025"))
    assert url == "http://127.0.0.1:8025/sms/twilio?x=1"


def test_signed_url_behind_a_proxy_uses_the_public_base_url() -> None:
    cfg = SmsConfig(public_base_url="https://kcs.example.se/intake/")
    url = signed_url(cfg, seen_url="http://127.0.0.1:8025/sms/twilio", path="/sms/twilio",
                     query="", headers=headers(host="127.0.0.1:8025",
                                               x_forwarded_host="evil.example"))
    assert url == "https://kcs.example.se/intake/sms/twilio"


def test_forwarded_headers_only_when_trusted() -> None:
    seen = "http://10.0.0.5:8025/sms/twilio"
    proxied = headers(host="10.0.0.5:8025", x_forwarded_proto="https, http",
                      x_forwarded_host="kcs.example.se")
    trusted = SmsConfig(trust_forwarded_headers=True, public_base_url="https://fallback.se")
    assert signed_url(trusted, seen_url=seen, path="/sms/twilio", query="",
                      headers=proxied) == "https://kcs.example.se/sms/twilio"
    # No forwarded headers on this request: the public base URL still applies.
    assert signed_url(trusted, seen_url=seen, path="/sms/twilio", query="",
                      headers=headers(host="10.0.0.5:8025")) == "https://fallback.se/sms/twilio"
    assert signed_url(SmsConfig(), seen_url=seen, path="/sms/twilio", query="",
                      headers=proxied) == seen
