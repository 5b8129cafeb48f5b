"""The scan normaliser: a letter's pages → one ``NormalisedMessage``.

The raw original of a scan item is a manifest (``channels.scan.intake``)
naming the batch file in the blob store and the letter's pages; a raw PDF
or image accepted directly is read as a one-letter batch. For each page:

- a PDF text layer is used as it is (no OCR, no rendering);
- a blank page is recorded, not read;
- anything else is rendered at ``scan.ocr_dpi`` and read by Tesseract
  (``ocr``), pages in parallel.

Then page furniture is removed from the body (``fields.strip_furniture``),
fields are extracted, and the quality gate decides: straight on, or
``NeedsReview`` (the pipeline stores the result and waits for
registratur). Unreadable input raises ``InputRejected`` with its reason.

Everything OCR produced (every word with confidence and box, per-page
measures, rotation and skew, the chain of custody) goes into a JSON "scan
record" blob (``kcs.scan-record/1``) whose sha256 is in the message's
``x-scan-record`` header; the review API and CLI read it from there.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from channels.scan import fields as fieldlib
from channels.scan import imaging
from channels.scan.formats import (
    CONTENT_TYPES,
    PHOTO_FORMATS,
    ScanDocument,
    ScanLimits,
    open_document,
)
from channels.scan.intake import parse_manifest
from channels.scan.ocr import OcrEngine, OcrPage, OcrSettings
from channels.scan.quality import GateSettings, PageQuality, assess_ocr_page, verdict
from channels.scan.split import ANALYSIS_DPI
from ingest.errors import InputRejected, NeedsReview
from ingest.logs import get_logger
from ingest.model import Attachment, ChannelMeta, NormalisedMessage, Sender
from ingest.reasons import ReasonCode

log = get_logger("scan.normalise")

RECORD_SCHEMA = "kcs.scan-record/1"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
_SALUTATION = re.compile(r"^(hej|hejsan|god dag|till|bästa|baste|kära|dear|hello|hi)\b[\s!,:]*",
                         re.I)


@dataclass
class PageResult:
    """One page of the letter after reading."""

    index: int
    sha256: str
    source: str                   # ocr | text-layer | blank
    text: str = ""
    ocr: OcrPage | None = None
    quality: PageQuality | None = None
    file_sha256: str | None = None  # the file the page is in, when not the batch (e-mail)

    def to_dict(self, number: int) -> dict[str, Any]:
        """The page's part of the scan record."""
        data: dict[str, Any] = {"number": number, "index": self.index, "sha256": self.sha256,
                                "source": self.source, "text": self.text,
                                "quality": self.quality.to_dict() if self.quality else None}
        if self.file_sha256:
            data["file_sha256"] = self.file_sha256
        if self.ocr is not None:
            data.update({"dpi": round(self.ocr.dpi, 1), "width": self.ocr.width,
                         "height": self.ocr.height, "rotation": self.ocr.rotation,
                         "skew_deg": self.ocr.skew_deg,
                         "osd_confidence": self.ocr.osd_confidence,
                         "seconds": round(self.ocr.seconds, 2), "error": self.ocr.error,
                         "words": [w.to_list() for w in self.ocr.words]})
            if self.ocr.perspective:
                data["perspective"] = [list(c) for c in self.ocr.perspective]
        return data


def load_batch(raw: bytes, blob_dir: Path, blobs: Any = None
               ) -> tuple[dict[str, Any], bytes]:
    """(manifest, batch bytes) for a manifest, or a one-letter manifest for a raw file."""
    manifest = parse_manifest(raw)
    if manifest is None:
        digest = hashlib.sha256(raw).hexdigest()
        return ({"schema": None, "batch_sha256": digest, "filename": None, "pages": None,
                 "page_sha256": None, "batch_pages": [], "expected_pages": None,
                 "found_pages": None, "operator": None, "scanner": None, "problem": None,
                 "document": 1, "documents": 1}, raw)
    if manifest.get("problem"):
        try:
            reason = ReasonCode(manifest["problem"])
        except ValueError:
            reason = ReasonCode.SCAN_UNSUPPORTED_FORMAT
        raise InputRejected(reason, str(manifest.get("problem_detail") or ""))
    if blobs is None:
        from ingest.blobs import BlobStore

        blobs = BlobStore(blob_dir)
    return manifest, blobs.get(manifest["batch_sha256"])


def read_pages(document: ScanDocument, pages: list[int], kinds: dict[int, str],
               hashes: dict[int, str], engine: OcrEngine, gate: GateSettings,
               blank_max_ink_ratio: float) -> list[PageResult]:
    """Text layers, blank pages and OCR (in parallel) for the letter's pages."""
    results: list[PageResult] = []
    to_read: list[PageResult] = []
    for index in pages:
        sha = hashes.get(index) or document.page_sha256(index)
        text = document.text_layer(index)
        if text is not None:
            words = len(text.split())
            results.append(PageResult(index, sha, "text-layer", text.strip(), None,
                                      PageQuality("text-layer", words, None, None, True)))
            continue
        kind = kinds.get(index)
        if kind is None:  # a raw file without a manifest: look at the page here
            small = document.render(index, ANALYSIS_DPI)
            kind = "blank" if imaging.is_blank(small.image, small.dpi,
                                               blank_max_ink_ratio) else "content"
        if kind in {"blank", "separator"}:
            results.append(PageResult(index, sha, "blank", "", None,
                                      PageQuality("blank", 0, None, None, True)))
            continue
        result = PageResult(index, sha, "ocr")
        results.append(result)
        to_read.append(result)
    photo = document.format in PHOTO_FORMATS

    def job(index: int) -> Any:
        def load() -> tuple[Any, float, bool]:
            rendered = document.render(index, engine.dpi_for(document.native_dpi(index)))
            return rendered.image, rendered.dpi, photo
        return load

    read = engine.read_pages([job(r.index) for r in to_read])
    for result, page in zip(to_read, read, strict=True):
        result.ocr = page
        result.text = page.text()
        result.quality = assess_ocr_page(page.mean_conf, page.low_conf_share(gate.low_word_conf),
                                         len(page.words), page.error, gate)
    return results


def _subject(fields: fieldlib.Fields, body: str, channel: str) -> str:
    if fields.subject:
        return fields.subject[:200]
    for line in body.splitlines():
        line = _SALUTATION.sub("", line.strip()).strip()
        if len(line) >= 15 and not fieldlib.looks_like_name(line):
            return line[:100]
    return "Fax" if channel == "fax" else "Brev"


def normalise_scan(raw: bytes, meta: ChannelMeta, settings: Any, *, blobs: Any = None,
                   engine: OcrEngine | None = None
                   ) -> tuple[NormalisedMessage, dict[str, bytes]]:
    """Read one letter (see the module docstring); may raise NeedsReview or InputRejected."""
    cfg = settings.kcs.scan
    manifest, data = load_batch(raw, settings.blob_dir, blobs)
    engine = engine or OcrEngine(OcrSettings.from_config(cfg))
    gate = GateSettings.from_config(cfg)
    letterhead = fieldlib.Letterhead.from_config(cfg.city_letterhead)
    document = open_document(data, ScanLimits.from_config(cfg))
    try:
        pages = manifest["pages"] if manifest["pages"] else list(range(document.page_count))
        if any(not 0 <= i < document.page_count for i in pages):
            raise InputRejected(ReasonCode.SCAN_PAGE_COUNT_MISMATCH,
                                "the manifest names pages the file does not have")
        kinds = {p["index"]: p["kind"] for p in manifest.get("batch_pages") or []}
        hashes = dict(zip(pages, manifest.get("page_sha256") or [], strict=False))
        results = read_pages(document, pages, kinds, hashes, engine, gate,
                             cfg.blank_max_ink_ratio)
        all_pages = pages == list(range(document.page_count))
        letter_bytes = data if all_pages else document.subset(pages)
    finally:
        document.close()
    message, _record, blobs_out, hold = assemble(manifest, results, letter_bytes,
                                                 document.format, meta, letterhead, gate)
    if hold is not None:
        raise NeedsReview(hold[0], message, blobs_out, hold[1])
    return message, blobs_out


def assemble(manifest: dict[str, Any], results: list[PageResult], letter_bytes: bytes,
             fmt: str, meta: ChannelMeta, letterhead: fieldlib.Letterhead,
             gate: GateSettings
             ) -> tuple[NormalisedMessage, dict[str, Any], dict[str, bytes],
                        tuple[ReasonCode, str] | None]:
    """Furniture, fields, the gate's verdict and the scan record of read pages: (message,
    record, blobs to store, hold reason or None). Also used for scans that arrive as
    e-mail attachments (``channels.scan.attachment_text``)."""
    cleaned, removed, fax_headers = fieldlib.strip_furniture([r.text for r in results],
                                                             letterhead)
    body = "\n\n".join(t for t in cleaned if t.strip())
    full_text = "\n\n".join(f"--- Sida {n} ---\n{r.text}" for n, r in enumerate(results, 1))
    fields = fieldlib.extract(body, letterhead, fax_headers)
    verdict_ = verdict([r.quality for r in results if r.quality is not None],
                       expected_pages=manifest.get("expected_pages"),
                       found_pages=manifest.get("found_pages") or len(results))
    if fields.fax and fields.fax.pages and fields.fax.pages != len(results):
        verdict_.add(ReasonCode.SCAN_PAGE_COUNT_MISMATCH,
                     f"fax header says {fields.fax.pages} pages, letter has {len(results)}")
    problems = [r.value for r in verdict_.reasons]
    if any(r.source == "blank" for r in results):
        problems.append(ReasonCode.SCAN_BLANK_PAGE.value)

    letter_sha = hashlib.sha256(letter_bytes).hexdigest()
    stem = Path(manifest.get("filename") or "skanning").stem or "skanning"
    if manifest.get("documents", 1) > 1:
        stem = f"{stem}-brev{manifest['document']}"
    attachment = Attachment(filename=f"{stem}.{'jpg' if fmt == 'jpeg' else fmt}",
                            content_type=CONTENT_TYPES[fmt], size=len(letter_bytes),
                            sha256=letter_sha)
    record = {
        "schema": RECORD_SCHEMA,
        "custody": {k: manifest.get(k) for k in (
            "batch_sha256", "batch_size", "filename", "format", "document", "documents",
            "pages", "page_sha256", "expected_pages", "found_pages", "batch_pages",
            "operator", "scanner")},
        "letter_sha256": letter_sha,
        "pages": [r.to_dict(n) for n, r in enumerate(results, 1)],
        "furniture_removed": removed,
        "fields": fields.to_dict(),
        "gate": {"min_page_mean_conf": gate.min_page_mean_conf,
                 "low_word_conf": gate.low_word_conf,
                 "max_low_conf_share": gate.max_low_conf_share,
                 "hold": verdict_.hold, "reasons": problems, "details": verdict_.details},
    }
    record_bytes = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
    record_sha = hashlib.sha256(record_bytes).hexdigest()
    ocr_pages = [r for r in results if r.source == "ocr" and r.quality and r.quality.words]
    headers = {
        "x-scan-record": record_sha,
        "x-scan-batch": str(manifest.get("batch_sha256")),
        "x-scan-pages": str(len(results)),
        "x-scan-sources": ",".join(r.source for r in results),
    }
    if ocr_pages:
        headers["x-scan-mean-conf"] = (
            f"{min(r.quality.mean_conf or 0 for r in ocr_pages if r.quality):.1f}")
    for key, values in (("x-scan-personnummer", fields.personnummer),
                        ("x-scan-samordningsnummer", fields.samordningsnummer),
                        ("x-scan-diarienummer", fields.diarienummer),
                        ("x-scan-arende-refs", fields.arende_refs)):
        if values:
            headers[key] = ",".join(values)
    if fields.fax:
        headers["x-scan-fax-number"] = fields.fax.number or ""
        headers["x-scan-fax-pages"] = str(fields.fax.pages or "")
    sent_at = (fields.fax.sent_at.replace(tzinfo=STOCKHOLM)
               if fields.fax and fields.fax.sent_at else None)
    message = NormalisedMessage(
        subject=_subject(fields, body, meta.channel.value),
        body=body,
        full_text=full_text,
        sender=Sender(email=fields.email, phone=fields.phone, name=fields.name,
                      postal_address=fields.postal_address),
        sent_at=sent_at,
        attachments=(attachment,),
        headers=headers,
        problems=tuple(dict.fromkeys(problems)),
    )
    blobs_out = {letter_sha: letter_bytes, record_sha: record_bytes}
    log.info("scan.normalised", pages=len(results), ocr_pages=len(ocr_pages),
             hold=verdict_.hold, reasons=problems)
    hold = (verdict_.reasons[0], "; ".join(verdict_.details)) if verdict_.hold else None
    return message, record, blobs_out, hold
