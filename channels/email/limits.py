"""What one message may cost: the bounds ``normalise_email`` works within.

Every bound is configurable (``email_limits`` in config/kcs.yaml, checked by
``ingest.config.EmailLimitsConfig``); the defaults here are the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class EmailLimits:
    """Bounds on what one message may cost; every one is configurable (config/kcs.yaml)."""

    max_parts: int = 200
    max_depth: int = 5
    max_attachment_bytes: int = 25 * 2**20
    max_archive_ratio: int = 100
    max_archive_total_bytes: int = 200 * 2**20
    max_pdf_pages: int = 50
    max_text_chars: int = 1_000_000
    pdf_timeout_s: float = 20.0  # wall clock for one PDF's text, child start included
    pdf_memory_mb: int = 512  # address space of the child that reads one PDF

    def __post_init__(self) -> None:
        for limit in fields(self):
            value = getattr(self, limit.name)
            if limit.name in _SECONDS:
                if not isinstance(value, int | float) or not 0 < value < math.inf:
                    raise ValueError(
                        f"EmailLimits.{limit.name} must be a positive number, got {value!r}")
            elif not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"EmailLimits.{limit.name} must be a positive integer, got {value!r}")


_SECONDS = frozenset({"pdf_timeout_s"})


DEFAULT_LIMITS = EmailLimits()
