"""Splitting a scanner batch into letters, before intake.

A batch file may carry several letters. Each page is classified from a
150-dpi rendering (text-layer PDF pages are never rendered):

- ``separator``: a barcode or QR code whose text is one of
  ``scan.separator_codes`` (paperless-ngx's "PATCHT" convention);
- ``blank``: no ink beyond specks (``imaging.is_blank``);
- ``content``: anything else.

Letters are the runs of content pages between separators, and between
blank pages when ``scan.split_on_blank`` is ``single`` (simplex scanning:
one blank sheet between letters) or two consecutive blank pages when it is
``double`` (duplex: a blank sheet has two blank sides). Separator and blank
pages belong to no letter but stay in the batch's chain of custody. A batch
with no content page at all becomes one letter of all its pages, so that
nothing is dropped: the normaliser then holds it for review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.scan import imaging
from channels.scan.formats import ScanDocument

ANALYSIS_DPI = 150.0


@dataclass(frozen=True, slots=True)
class PageFacts:
    """One page of a batch as intake saw it."""

    index: int
    sha256: str
    kind: str                    # content | blank | separator
    text_layer: bool = False
    ink_ratio: float | None = None
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in every letter's manifest)."""
        return {"index": self.index, "sha256": self.sha256, "kind": self.kind,
                "text_layer": self.text_layer,
                "ink_ratio": None if self.ink_ratio is None else round(self.ink_ratio, 5),
                "code": self.code}


@dataclass
class BatchPlan:
    """The batch's pages and the letters cut from them (lists of page indices)."""

    pages: list[PageFacts] = field(default_factory=list)
    letters: list[list[int]] = field(default_factory=list)


def read_codes(image: Any) -> list[str]:
    """Texts of the barcodes and QR codes on a page (zxing-cpp)."""
    import zxingcpp

    formats = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.DataMatrix,
               zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.Code39)
    try:
        return [r.text for r in zxingcpp.read_barcodes(image, formats=formats) if r.text]
    except (ValueError, RuntimeError):
        return []


def classify_page(document: ScanDocument, index: int, *, blank_max_ink_ratio: float,
                  separator_codes: tuple[str, ...]) -> PageFacts:
    """Hash and classify one page."""
    sha = document.page_sha256(index)
    if document.text_layer(index) is not None:
        return PageFacts(index, sha, "content", text_layer=True)
    rendered = document.render(index, ANALYSIS_DPI)
    ratio = imaging.ink_ratio(rendered.image, rendered.dpi)
    if ratio <= blank_max_ink_ratio:
        return PageFacts(index, sha, "blank", ink_ratio=ratio)
    wanted = {c.strip().upper() for c in separator_codes}
    for code in read_codes(rendered.image):
        if code.strip().upper() in wanted:
            return PageFacts(index, sha, "separator", ink_ratio=ratio, code=code.strip())
    return PageFacts(index, sha, "content", ink_ratio=ratio)


def cut(pages: list[PageFacts], split_on_blank: str) -> list[list[int]]:
    """Letters from classified pages (see the module docstring).

    Blank pages that do not separate (``off``, or a single blank side in
    ``double`` mode) stay inside the letter when content follows them, so
    the letter's page list is what was scanned; leading and trailing blank
    pages of a letter are left to the batch record.
    """
    letters: list[list[int]] = [[]]
    blanks: list[int] = []
    for page in pages:
        if page.kind == "separator":
            letters.append([])
            blanks = []
        elif page.kind == "blank":
            blanks.append(page.index)
            if split_on_blank == "single" or (split_on_blank == "double" and len(blanks) == 2):
                letters.append([])
                blanks = []
        else:
            if letters[-1]:
                letters[-1].extend(blanks)
            blanks = []
            letters[-1].append(page.index)
    result = [letter for letter in letters if letter]
    return result or [[p.index for p in pages]]


def plan_batch(document: ScanDocument, *, blank_max_ink_ratio: float,
               separator_codes: tuple[str, ...], split_on_blank: str) -> BatchPlan:
    """Classify every page and cut the batch into letters."""
    pages = [classify_page(document, i, blank_max_ink_ratio=blank_max_ink_ratio,
                           separator_codes=separator_codes)
             for i in range(document.page_count)]
    return BatchPlan(pages, cut(pages, split_on_blank))
