"""Twilio webhook signatures: which URL Twilio signed, and whether the signature holds.

Twilio signs the full URL it called (scheme, host, path and query) followed
by every posted parameter. Behind a reverse proxy this server sees another
URL (``http://127.0.0.1:8025/...``), so the signed URL is rebuilt from
``sms.public_base_url``, or from the proxy's ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` when ``sms.trust_forwarded_headers`` says the proxy sets
them. Validation is twilio's own ``RequestValidator`` over all parameters
as posted: Twilio adds parameters without notice, so there is no whitelist.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator, get_signature_algorithm

from ingest.config import SmsConfig

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"


class FormParams(dict[str, list[str]]):
    """Posted parameters with every value kept, as ``RequestValidator`` wants them."""

    def getlist(self, name: str) -> list[str]:
        """All values of ``name`` (the validator signs each one)."""
        return self.get(name, [])

    def first(self, name: str, default: str = "") -> str:
        """The first value of ``name``."""
        values = self.get(name)
        return values[0] if values else default


def parse_form(raw: bytes) -> FormParams:
    """``application/x-www-form-urlencoded`` bytes to parameters; ``ValueError`` if not UTF-8."""
    params = FormParams()
    text = raw.decode("utf-8")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8",
                                 errors="strict"):
        params.setdefault(name, []).append(value)
    return params


def _first(header: str | None) -> str | None:
    """First hop of a possibly comma-separated forwarded header."""
    if not header:
        return None
    return header.split(",")[0].strip() or None


def signed_url(cfg: SmsConfig, *, seen_url: str, path: str, query: str,
               headers: Mapping[str, str]) -> str:
    """The URL Twilio called, as Twilio wrote it when signing.

    ``seen_url`` is the URL as this server received it; ``headers`` are the
    request headers (case-insensitive mapping).
    """
    tail = path + (f"?{query}" if query else "")
    if cfg.trust_forwarded_headers:
        proto = _first(headers.get("x-forwarded-proto"))
        host = _first(headers.get("x-forwarded-host"))
        if proto or host:
            scheme = proto or seen_url.split("://", 1)[0]
            netloc = host or headers.get("host", "")
            return f"{scheme}://{netloc}{tail}"
    if cfg.public_base_url:
        return cfg.public_base_url + tail
    return seen_url


class SignatureChecker:
    """Checks ``X-Twilio-Signature`` with the account's auth token."""

    def __init__(self, auth_token: str) -> None:
        if not auth_token:
            raise ValueError("an auth token is required to check signatures")
        self._validator = RequestValidator(auth_token)

    def valid(self, url: str, params: FormParams, signature: str | None,
              settings_header: str | None = None) -> bool:
        """Whether ``signature`` is Twilio's for this URL and these parameters."""
        if not signature:
            return False
        algorithm = get_signature_algorithm(settings_header)
        return bool(self._validator.validate(url, params, signature, algorithm))

    def sign(self, url: str, params: Mapping[str, list[str]] | Mapping[str, str]) -> str:
        """The signature Twilio would send (tests, benchmarks, local tools)."""
        form = FormParams({k: list(v) if isinstance(v, list | tuple) else [v]
                           for k, v in params.items()})
        return str(self._validator.compute_signature(url, form))
