"""Text of an image or scanned PDF that arrived inside another channel's message.

MMS photos of letters and e-mail attachments (photos, scans, faxes from a
fax-to-mail gateway) are read with the same OCR path as scanned letters:
text layer when there is one, else perspective (photos), orientation,
deskew and Tesseract, then the same quality gate, furniture and fields
(``normalise.assemble``). A file that cannot be read yields no text, never
an exception (its bytes are kept regardless).

``AttachmentReader`` reads several files of one message under per-message
limits: pages in all (the rest are not read, ``skipped_pages``), pixels per
image (checked from headers and PDF declarations before decoding) and one
OCR deadline shared by every page, so a message full of scans holds one
worker for a bounded time and then goes to review.
"""

from __future__ import annotations

import dataclasses
import io
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from channels.scan.formats import ScanLimits, heif_available, open_document, sniff
from channels.scan.normalise import PageResult, read_pages
from channels.scan.ocr import DEADLINE, OcrEngine, OcrSettings
from channels.scan.quality import GateSettings
from ingest.errors import InputRejected
from ingest.logs import get_logger
from ingest.reasons import ReasonCode

log = get_logger("scan.attachment_text")

RASTER_FORMATS = frozenset({"jpeg", "png", "tiff", "heic"})


def read_attachment_text(data: bytes, content_type: str, settings: Any, *,
                         max_pages: int = 5) -> str | None:
    """The readable text of an image/PDF attachment, or None if there is none."""
    cfg = settings.kcs.scan
    try:
        document = open_document(data, ScanLimits.from_config(cfg))
    except InputRejected as exc:
        log.info("scan.attachment_unreadable", content_type=content_type,
                 reason=exc.reason.value)
        return None
    try:
        pages = list(range(min(document.page_count, max_pages)))
        results = read_pages(document, pages, {}, {}, OcrEngine(OcrSettings.from_config(cfg)),
                             GateSettings.from_config(cfg), cfg.blank_max_ink_ratio)
    finally:
        document.close()
    text = "\n\n".join(r.text for r in results if r.text).strip()
    return text or None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a raster image's header (no decoding); None if unreadable."""
    from PIL import Image

    if sniff(data) == "heic" and not heif_available():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Exception:  # any decoder complaint: not something we can read
        return None


@dataclass
class ScannedFile:
    """One attachment read as a scan: its pages, or why it could not be read."""

    sha256: str
    filename: str
    format: str | None
    results: list[PageResult] = field(default_factory=list)
    problem: ReasonCode | None = None
    detail: str = ""
    skipped_pages: int = 0

    @property
    def text(self) -> str:
        """The pages' text, paragraphs apart."""
        return "\n\n".join(r.text for r in self.results if r.text).strip()

    @property
    def words(self) -> int:
        """Words read on all pages."""
        return sum(len(r.text.split()) for r in self.results)

    @property
    def ran_out_of_time(self) -> bool:
        """Whether a page was not (fully) read because the message's OCR time was up."""
        return any(r.ocr is not None and r.ocr.error == DEADLINE for r in self.results)


class AttachmentReader:
    """Reads the scanned attachments of one message under the message's limits."""

    def __init__(self, settings: Any, *, max_pages: int, max_image_pixels: int,
                 max_seconds: float) -> None:
        cfg = settings.kcs.scan
        base = ScanLimits.from_config(cfg)
        pixels = min(base.max_image_pixels, max_image_pixels)
        self.limits = dataclasses.replace(base, max_image_pixels=pixels,
                                          max_render_pixels=min(base.max_render_pixels, pixels))
        self.engine = OcrEngine(OcrSettings.from_config(cfg),
                                deadline=time.monotonic() + max_seconds)
        self.gate = GateSettings.from_config(cfg)
        self.blank_max_ink_ratio = cfg.blank_max_ink_ratio
        self.pages_left = max_pages

    def read(self, data: bytes, sha256: str, filename: str) -> ScannedFile:
        """Every page of one file (as many as the message's page budget allows)."""
        fmt = sniff(data)
        scanned = ScannedFile(sha256, filename, fmt)
        try:
            document = open_document(data, self.limits)
        except InputRejected as exc:
            scanned.problem, scanned.detail = exc.reason, exc.detail
            return scanned
        try:
            count = min(document.page_count, self.pages_left)
            scanned.skipped_pages = document.page_count - count
            self.pages_left -= count
            scanned.results = read_pages(document, list(range(count)), {}, {}, self.engine,
                                         self.gate, self.blank_max_ink_ratio)
        except InputRejected as exc:  # a page too large to render, a frame that breaks
            scanned.problem, scanned.detail = exc.reason, exc.detail
        finally:
            document.close()
        for result in scanned.results:
            result.file_sha256 = sha256
        return scanned
