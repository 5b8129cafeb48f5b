"""The quality gate: which letters a person must read before they go on.

Per OCR'd page, two measures from Tesseract's word confidences (0–100):
the mean, and the share of words below ``low_word_conf``. A page below
``min_page_mean_conf`` or above ``max_low_conf_share`` holds the whole
letter for registratur review. So do a page OCR could not read at all, a
letter with no text, and a page count that differs from what the operator
or the fax header announced. Text-layer PDF pages are exact and always pass.

Nothing is dropped by the gate: it only decides between "straight on" and
"a person looks first", and says why with reason codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.reasons import ReasonCode


@dataclass(frozen=True, slots=True)
class GateSettings:
    """Thresholds (``scan.*`` in config/kcs.yaml)."""

    min_page_mean_conf: float = 70.0
    low_word_conf: float = 50.0
    max_low_conf_share: float = 0.25

    @classmethod
    def from_config(cls, cfg: Any) -> GateSettings:
        """From a ``ScanConfig``."""
        return cls(cfg.min_page_mean_conf, cfg.low_word_conf, cfg.max_low_conf_share)


@dataclass(frozen=True, slots=True)
class PageQuality:
    """One page's measures and verdict."""

    source: str                 # "ocr", "text-layer" or "blank"
    words: int
    mean_conf: float | None
    low_conf_share: float | None
    passed: bool
    reason: ReasonCode | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"source": self.source, "words": self.words,
                "mean_conf": None if self.mean_conf is None else round(self.mean_conf, 1),
                "low_conf_share": (None if self.low_conf_share is None
                                   else round(self.low_conf_share, 3)),
                "passed": self.passed, "reason": self.reason.value if self.reason else None}


def assess_ocr_page(mean_conf: float, low_share: float, words: int, error: str | None,
                    settings: GateSettings) -> PageQuality:
    """The verdict on one OCR'd, non-blank page."""
    if error:
        return PageQuality("ocr", words, None, None, False, ReasonCode.OCR_FAILED)
    if words == 0:
        return PageQuality("ocr", 0, 0.0, 1.0, False, ReasonCode.OCR_LOW_CONFIDENCE)
    passed = (mean_conf >= settings.min_page_mean_conf
              and low_share <= settings.max_low_conf_share)
    return PageQuality("ocr", words, mean_conf, low_share, passed,
                       None if passed else ReasonCode.OCR_LOW_CONFIDENCE)


@dataclass
class Verdict:
    """The letter's verdict: hold for review with these reasons, or go on."""

    reasons: list[ReasonCode] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def hold(self) -> bool:
        """Whether registratur must look first."""
        return bool(self.reasons)

    def add(self, reason: ReasonCode, detail: str) -> None:
        """Record one reason (each code once; details accumulate)."""
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.details.append(detail)


def verdict(pages: list[PageQuality], *, expected_pages: int | None, found_pages: int
            ) -> Verdict:
    """Combine page verdicts with the letter-level checks."""
    result = Verdict()
    for number, page in enumerate(pages, 1):
        if not page.passed and page.reason is not None:
            measure = ("OCR failed" if page.reason is ReasonCode.OCR_FAILED else
                       f"mean {page.mean_conf or 0:.0f}, low {page.low_conf_share or 0:.0%}")
            result.add(page.reason, f"page {number}: {measure}")
    if all(p.source == "blank" or p.words == 0 for p in pages):
        result.add(ReasonCode.SCAN_NO_TEXT, "no readable text on any page")
    if expected_pages is not None and expected_pages != found_pages:
        result.add(ReasonCode.SCAN_PAGE_COUNT_MISMATCH,
                   f"expected {expected_pages} pages, found {found_pages}")
    return result
