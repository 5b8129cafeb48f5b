"""Errors of the SMS channel, under the core's root.

    KcsError (ingest.errors)
    └── SmsError
        ├── SmsSendFailed       Twilio kept answering 429/5xx or could not be reached
        │                       after the bounded retries: the pipeline stage retries later
        └── MediaUnavailable    an MMS media URL failed in a way that may pass (5xx,
                                timeout): normalisation retries later

Permanent refusals (a 4xx other than 429, a 404 on a media URL) are not
errors: they are recorded as states and reason codes and the item goes on.
"""

from __future__ import annotations

from ingest.errors import KcsError


class SmsError(KcsError):
    """Root of the SMS channel's errors."""


class SmsSendFailed(SmsError):
    """Sending failed for now; ``status`` is the last HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int, attempts: int) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class MediaUnavailable(SmsError):
    """An MMS media download failed for now; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
