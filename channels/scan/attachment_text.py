"""Text of an image or scanned PDF that arrived inside another channel's message.

MMS photos of letters (and, later, e-mail attachments) are read with the same
OCR path as scanned letters: text layer when there is one, else orientation,
deskew and Tesseract. Used by other channels' normalisers; a file that cannot
be read yields no text, never an exception (its bytes are kept regardless).
"""

from __future__ import annotations

from typing import Any

from channels.scan.formats import ScanLimits, open_document
from channels.scan.normalise import read_pages
from channels.scan.ocr import OcrEngine, OcrSettings
from channels.scan.quality import GateSettings
from ingest.errors import InputRejected
from ingest.logs import get_logger

log = get_logger("scan.attachment_text")


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
