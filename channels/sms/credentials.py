"""Twilio secrets, from the environment only (never from YAML, never logged).

``TWILIO_AUTH_TOKEN`` alone lets the web app check inbound signatures;
sending and authenticated media downloads also need ``TWILIO_ACCOUNT_SID``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

ACCOUNT_SID_ENV = "TWILIO_ACCOUNT_SID"
AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"


@dataclass(frozen=True, slots=True)
class TwilioCredentials:
    """The account SID and auth token, either of which may be missing."""

    account_sid: str | None = None
    auth_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TwilioCredentials:
        """Read ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN``; blank counts as unset."""
        env = os.environ if env is None else env
        return cls(account_sid=(env.get(ACCOUNT_SID_ENV) or "").strip() or None,
                   auth_token=(env.get(AUTH_TOKEN_ENV) or "").strip() or None)

    @property
    def can_send(self) -> bool:
        """Both parts present: outbound SMS go to Twilio, not to the outbox directory."""
        return bool(self.account_sid and self.auth_token)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """HTTP basic auth for Twilio's API and media URLs, when we have both parts."""
        if self.account_sid and self.auth_token:
            return (self.account_sid, self.auth_token)
        return None
