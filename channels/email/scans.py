"""Photos and scans attached to e-mail, and faxes delivered by fax-to-mail gateways.

Runs after ``normalise_email`` (which is pure and fast) on its result, with
the scan channel's one OCR path (``channels.scan.attachment_text``):

- **Which attachments.** Images by their bytes (JPEG, PNG, TIFF, HEIC when
  pillow-heif can read it), not smaller than ``min_image_side_px`` on a side
  (logos, icons), and PDFs whose text reading found no text layer.
- **Citizen's mail with a photo of a letter.** The attachment's OCR text
  becomes its ``Attachment.text``, so it joins the text the classifier and
  linker read (``NormalisedMessage.analysis_text``, marked "[Bilaga: …]")
  and ``full_text``. A photo with fewer than ``min_document_words`` words in
  a mail that has its own text is a picture (a pothole, a broken lamp): no
  text, never held. Document pages go through the scan channel's quality
  gate; low confidence holds the item for registratur review with the same
  reason codes and the same scan record (``x-scan-record``) as a scanned
  letter. The sender stays the From address: fields found in the scan are
  recorded (``x-scan-*`` headers, the scan record), not used as the sender.
- **Fax-to-mail gateways** (``email_scans.fax_gateways``: sender patterns and
  subjects). The message *is* the fax: its pages are read like a scanned fax
  (``channels.scan.normalise.assemble``: furniture and fax header lines
  removed, fields, gate). Channel ``fax`` (``NormalisedMessage.channel``),
  the gateway kept as transport detail, the body and subject from the fax,
  and the sender is the contact found in the fax: never the gateway, whose
  address is removed even if the fax quotes it. The gateway's own robot
  headers (Auto-Submitted …) are dropped: they describe the gateway, and
  the acknowledgement goes to the fax's contact, never to the gateway.
- **Limits** (per message): pages OCR'd, pixels per image, and one OCR
  deadline for all pages. Past one, the item is held for review with
  ``ocr_page_limit``, ``image_too_large`` / ``decompression_bomb`` or
  ``ocr_time_limit``: a worker is never blocked longer than the deadline.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from channels.email.scanconfig import EmailScansConfig, FaxGatewayConfig
from channels.scan import fields as fieldlib
from channels.scan.attachment_text import (
    RASTER_FORMATS,
    AttachmentReader,
    ScannedFile,
    image_size,
)
from channels.scan.formats import CONTENT_TYPES, sniff
from channels.scan.normalise import PageResult, assemble
from channels.scan.quality import GateSettings
from ingest.errors import NeedsReview
from ingest.model import Attachment, Channel, ChannelMeta, NormalisedMessage
from ingest.reasons import ReasonCode

# Problems that mean "a limit was reached": the item goes to review.
LIMIT_PROBLEMS = frozenset({ReasonCode.IMAGE_TOO_LARGE, ReasonCode.DECOMPRESSION_BOMB,
                            ReasonCode.SCAN_TOO_MANY_PAGES, ReasonCode.SCAN_FILE_TOO_LARGE})
# Headers by which the gateway (not the person who faxed) marks itself as a robot.
_GATEWAY_ROBOT_HEADERS = ("auto-submitted", "precedence", "x-auto-response-suppress",
                          "x-autoreply", "x-autorespond", "x-loop")


@dataclasses.dataclass
class _Hold:
    reason: ReasonCode
    detail: str


def read_scans(message: NormalisedMessage, blobs: dict[str, bytes], meta: ChannelMeta,
               settings: Any) -> tuple[NormalisedMessage, dict[str, bytes]]:
    """The e-mail with its scanned attachments read (see the module docstring).

    Raises ``NeedsReview`` (with the finished message) when OCR was unsure or
    a limit was reached.
    """
    cfg: EmailScansConfig = settings.kcs.email_scans
    gateway = cfg.gateway_for([message.sender.email or "", meta.envelope_from or ""],
                              message.subject)
    if not cfg.enabled and gateway is None:
        return message, blobs
    candidates = _candidates(message, blobs, cfg, fax=gateway is not None)
    if not candidates and gateway is None:
        return message, blobs
    reader = AttachmentReader(settings, max_pages=cfg.max_pages,
                              max_image_pixels=cfg.max_image_pixels,
                              max_seconds=cfg.max_ocr_seconds)
    scanned = {i: reader.read(blobs[message.attachments[i].sha256],
                              message.attachments[i].sha256, message.attachments[i].filename)
               for i in candidates}
    blobs = dict(blobs)
    if gateway is not None:
        result, hold = _as_fax(message, blobs, scanned, gateway, meta, settings)
    else:
        result, hold = _with_attachment_text(message, blobs, scanned, cfg, meta, settings)
    if hold is not None:
        raise NeedsReview(hold.reason, result, blobs, hold.detail)
    return result, blobs


def _candidates(message: NormalisedMessage, blobs: dict[str, bytes], cfg: EmailScansConfig,
                *, fax: bool) -> list[int]:
    """Indexes of the attachments to read as scans, in document order."""
    out = []
    for i, attachment in enumerate(message.attachments):
        data = blobs.get(attachment.sha256)
        if data is None or attachment.text:
            continue  # too large to keep, or already has text (a PDF text layer)
        fmt = sniff(data)
        if fmt == "pdf":
            if ReasonCode.PDF_NO_TEXT_LAYER.value in attachment.problems:
                out.append(i)
        elif fmt in RASTER_FORMATS:
            size = image_size(data)
            if fax or size is None or min(size) >= cfg.min_image_side_px:
                out.append(i)  # an unreadable header is the reader's to report
    return out


def _file_hold(files: list[ScannedFile]) -> _Hold | None:
    """The first limit reached by any file, if one was."""
    for f in files:
        if f.problem in LIMIT_PROBLEMS:
            return _Hold(f.problem, f"{f.filename}: {f.detail}")
    for f in files:
        if f.ran_out_of_time:
            return _Hold(ReasonCode.OCR_TIME_LIMIT, f"{f.filename}: OCR time for the message "
                                                    "used up")
    skipped = sum(f.skipped_pages for f in files)
    if skipped:
        return _Hold(ReasonCode.OCR_PAGE_LIMIT, f"{skipped} pages beyond the limit not read")
    return None


def _manifest(files: list[ScannedFile], results: list[PageResult]) -> dict[str, Any]:
    """Chain of custody for pages that came as e-mail attachments (no batch, no operator)."""
    first = files[0] if files else None
    return {"schema": None, "batch_sha256": first.sha256 if first else None,
            "filename": first.filename if first else None,
            "format": first.format if first else None, "pages": None,
            "page_sha256": [r.sha256 for r in results], "batch_pages": [],
            "expected_pages": None, "found_pages": len(results), "operator": None,
            "scanner": None, "document": 1, "documents": 1}


def _assemble(files: list[ScannedFile], blobs: dict[str, bytes], meta: ChannelMeta,
              settings: Any) -> tuple[NormalisedMessage, dict[str, Any], dict[str, bytes],
                                      tuple[ReasonCode, str] | None]:
    """The scan channel's assembly over the pages of several attachments."""
    cfg = settings.kcs.scan
    results = [r for f in files for r in f.results]
    first = files[0] if files else None
    fmt = first.format if first is not None and first.format in CONTENT_TYPES else "pdf"
    data = blobs.get(first.sha256, b"") if first is not None else b""
    return assemble(_manifest(files, results), results, data, fmt, meta,
                    fieldlib.Letterhead.from_config(cfg.city_letterhead),
                    GateSettings.from_config(cfg))


def _with_attachment_text(message: NormalisedMessage, blobs: dict[str, bytes],
                          scanned: dict[int, ScannedFile], cfg: EmailScansConfig,
                          meta: ChannelMeta, settings: Any
                          ) -> tuple[NormalisedMessage, _Hold | None]:
    """A citizen's mail: OCR text on the attachments, the gate over document pages."""
    # Text of its own: the body, or an attachment read without OCR (a PDF text layer).
    has_own_text = bool(message.body.strip()) or any(
        a.text for i, a in enumerate(message.attachments) if i not in scanned)
    attachments = list(message.attachments)
    documents: list[ScannedFile] = []
    blocks: list[str] = []
    for i, f in scanned.items():
        attachment = attachments[i]
        if f.problem is not None:
            attachments[i] = _with_problem(attachment, f.problem)
            continue
        picture = f.format in RASTER_FORMATS and f.words < cfg.min_document_words
        if picture and has_own_text:
            continue  # a photo of a thing, not of a letter
        documents.append(f)
        if f.text:
            attachments[i] = dataclasses.replace(attachment, text=f.text)
            blocks.append(f"[Bilaga: {attachment.filename}]\n{f.text}")
    hold = _file_hold(list(scanned.values()))
    headers = dict(message.headers)
    problems = list(message.problems)
    for a in attachments:
        problems.extend(a.problems)
    if documents:
        scan_message, _record, scan_blobs, gate_hold = _assemble(documents, blobs, meta,
                                                                 settings)
        blobs.update(scan_blobs)
        headers.update(scan_message.headers)
        problems.extend(scan_message.problems)
        if hold is None and gate_hold is not None:
            hold = _Hold(*gate_hold)
    full_text = "\n\n".join(t for t in (message.full_text, *blocks) if t)
    result = dataclasses.replace(message, attachments=tuple(attachments), full_text=full_text,
                                 headers=headers, problems=tuple(dict.fromkeys(problems)))
    return result, hold


def _with_problem(attachment: Attachment, problem: ReasonCode) -> Attachment:
    return dataclasses.replace(attachment, problems=tuple(dict.fromkeys(
        (*attachment.problems, problem.value))))


def _as_fax(message: NormalisedMessage, blobs: dict[str, bytes],
            scanned: dict[int, ScannedFile], gateway: FaxGatewayConfig, meta: ChannelMeta,
            settings: Any) -> tuple[NormalisedMessage, _Hold | None]:
    """A fax delivered by a gateway: the fax's text, sender and pages make the message."""
    files = [f for f in scanned.values() if f.problem is None]
    attachments = list(message.attachments)
    for i, f in scanned.items():
        if f.problem is not None:
            attachments[i] = _with_problem(attachments[i], f.problem)
    fax_meta = dataclasses.replace(meta, channel=Channel.FAX)
    fax, record, scan_blobs, gate_hold = _assemble(files, blobs, fax_meta, settings)
    blobs.update(scan_blobs)
    gateway_address = message.sender.email or meta.envelope_from or ""
    sender = fax.sender
    if sender.email and (gateway.matches([sender.email], message.subject)
                         or sender.email.lower() == gateway_address.lower()):
        sender = dataclasses.replace(sender, email=None)  # the fax quotes the gateway
    headers = {k: v for k, v in message.headers.items() if k not in _GATEWAY_ROBOT_HEADERS}
    headers.update(fax.headers)
    headers["x-fax-gateway"] = gateway.name
    fields = record.get("fields") or {}
    fax_header = fields.get("fax") or {}
    pages = sum(len(f.results) for f in files)
    detail = {"fax_gateway": gateway.name, "fax_gateway_from": gateway_address,
              "fax_pages": str(pages)}
    if fax_header.get("number"):
        detail["fax_number"] = fax_header["number"]
    if fax_header.get("pages"):
        detail["fax_header_pages"] = str(fax_header["pages"])
    gateway_text = message.full_text.strip()
    full_text = fax.full_text + (f"\n\n[E-post från faxtjänsten]\n{gateway_text}"
                                 if gateway_text else "")
    problems = [*message.problems, *fax.problems]
    for a in attachments:
        problems.extend(a.problems)
    result = dataclasses.replace(
        message, subject=fax.subject, body=fax.body, full_text=full_text, sender=sender,
        sent_at=fax.sent_at or message.sent_at, attachments=tuple(attachments),
        headers=headers, problems=tuple(dict.fromkeys(problems)), channel=Channel.FAX,
        channel_detail=detail)
    hold = _file_hold(list(scanned.values()))
    if hold is None and gate_hold is not None:
        hold = _Hold(*gate_hold)
    return result, hold
