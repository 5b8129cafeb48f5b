"""MMS media downloads: Twilio's media URLs, with the account's credentials.

Twilio's media URLs (``https://api.twilio.com/2010-04-01/Accounts/AC…/
Messages/MM…/Media/ME…``) answer with the file or redirect to its storage.
The account credentials go to Twilio's hosts only: a media URL pointing
anywhere else is not fetched (it cannot come from a correctly signed
webhook, and sending our credentials there would leak them); ``requests``
drops the Authorization header itself when a redirect leaves the host.
Downloads are streamed and capped at ``sms.max_media_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from channels.sms.credentials import TwilioCredentials
from channels.sms.errors import MediaUnavailable
from channels.sms.twilio_http import is_twilio_host, rebase
from ingest.config import SmsConfig
from ingest.reasons import ReasonCode

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """A media download: the bytes and the type the server declared, or why there are none."""

    data: bytes | None
    content_type: str | None
    problem: ReasonCode | None = None


class MediaFetcher:
    """Downloads MMS media for the normaliser."""

    def __init__(self, cfg: SmsConfig, credentials: TwilioCredentials,
                 session: requests.Session | None = None) -> None:
        self.cfg = cfg
        self.credentials = credentials
        self.session = session or requests.Session()

    def fetch(self, url: str) -> Fetched:
        """The media at ``url``; ``MediaUnavailable`` when trying again later may help."""
        if not is_twilio_host(urlsplit(url).hostname):
            return Fetched(None, None, ReasonCode.SMS_MEDIA_NOT_TWILIO)
        target = rebase(url, self.cfg.api_base_url)
        try:
            with self.session.get(target, auth=self.credentials.basic_auth, stream=True,
                                  timeout=self.cfg.request_timeout_s,
                                  allow_redirects=True) as resp:
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise MediaUnavailable(f"media download answered {resp.status_code}",
                                           status=resp.status_code)
                if resp.status_code != 200:
                    return Fetched(None, None, ReasonCode.SMS_MEDIA_UNAVAILABLE)
                declared = resp.headers.get("Content-Type")
                data = bytearray()
                for chunk in resp.iter_content(_CHUNK):
                    data += chunk
                    if len(data) > self.cfg.max_media_bytes:
                        return Fetched(None, declared, ReasonCode.ATTACHMENT_TOO_LARGE)
                return Fetched(bytes(data), declared)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise MediaUnavailable(f"media download failed: {type(exc).__name__}",
                                   status=0) from None
