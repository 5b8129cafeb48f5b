"""The HTTP client twilio's ``Client`` sends through, pointed at ``sms.api_base_url``.

twilio-python has no base-URL option (``region`` and ``edge`` only change
parts of ``*.twilio.com``), so this client rewrites the scheme and host of
every Twilio URL before the request leaves. In production the base URL is
https://api.twilio.com and nothing changes; tests and staging point it at a
server that speaks Twilio's REST API. The library's own request logging
(URLs and headers at INFO) is kept at WARNING: it is noise in our JSON logs.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

_quiet = logging.getLogger("kcs.sms.twilio_http")
_quiet.setLevel(logging.WARNING)


def is_twilio_host(host: str | None) -> bool:
    """Whether ``host`` is Twilio's (media and API URLs we may send credentials to)."""
    host = (host or "").lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


def rebase(url: str, base_url: str) -> str:
    """``url`` with a Twilio scheme and host replaced by ``base_url``'s; others unchanged."""
    parts = urlsplit(url)
    if not is_twilio_host(parts.hostname):
        return url
    base = urlsplit(base_url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio's requests-based client, sending to ``base_url`` instead of api.twilio.com."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_quiet)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Send the request to the configured base URL."""
        return super().request(method, rebase(url, self.base_url), *args, **kwargs)
