"""Errors of the intake core, as one shallow tree.

    KcsError
    ├── ConfigError            config file wrong: names file, key and line
    ├── IntakeUnavailable      the store cannot take the message now (answer 451)
    │   └── StorageFull        the blob disk is full (answer 452)
    ├── InputRejected          the input can never be processed (reason code)
    ├── NeedsReview            a person must look before the item goes on (reason code)
    └── StageError             a pipeline stage failed (retried, then dead letter)

Channels catch ``IntakeUnavailable`` and answer "try later" on their protocol;
they never answer "received" unless ``accept`` returned.
"""

from __future__ import annotations

from typing import Any

from ingest.reasons import ReasonCode


class KcsError(Exception):
    """Root of every error the product raises on purpose."""


class ConfigError(KcsError):
    """A configuration file is wrong; the message says where and how to fix it."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")
        self.file = file
        self.key = key
        self.line = line


class IntakeUnavailable(KcsError):
    """The blob store or database could not durably take the message."""


class StorageFull(IntakeUnavailable):
    """The blob file system has no room (ENOSPC, EDQUOT): SMTP's 452, not 451."""


class InputRejected(KcsError):
    """The input cannot be processed at all; it is kept with this reason code."""

    def __init__(self, reason: ReasonCode, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class NeedsReview(KcsError):
    """The stage produced a result a person must check first (e.g. low OCR confidence).

    The pipeline stores ``result`` and ``blobs`` as usual, puts the item in
    state ``review`` with this reason code, and goes on only when registratur
    releases it (``Runtime.release``).
    """

    def __init__(self, reason: ReasonCode, result: Any, blobs: dict[str, bytes] | None = None,
                 detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.result = result
        self.blobs = blobs or {}
        self.detail = detail


class StageError(KcsError):
    """A pipeline stage could not finish; Dramatiq retries it with backoff."""
