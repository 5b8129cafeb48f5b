"""Taking a scanned file in: one durable batch original, one intake item per letter.

The hot folder, the upload endpoint and ``kcs ingest`` all call
``accept_batch``. It

1. writes the file as it arrived to the blob store (``blobs.put``: an
   fsync'd file, kept for good: it is the allmän handling);
2. reads the batch cheaply (page hashes, blank and separator pages; no
   OCR) and cuts it into letters (``split``);
3. accepts one intake item per letter whose raw original is a small JSON
   manifest (``kcs.scan-doc/1``) naming the batch blob and the pages, with
   the batch's chain of custody (every page's sha256 and kind, pages found
   vs expected, operator, scanner).

Only when every ``Intake.accept`` has returned may the caller move or
delete the file. A crash half-way is harmless: the manifests and their
source keys (batch sha256 + page range, and the page hashes) are
deterministic, so the next attempt finds the letters already accepted and
gets the same item ids back.

A file that cannot be read at all (zero bytes, a .docx renamed .pdf, an
encrypted PDF …) is still accepted, as one item whose manifest carries the
reason; the normaliser then rejects it with that reason code, so
registratur sees it in ``kcs dead-letters list`` with the file kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from channels.scan.formats import RasterScan, ScanLimits, open_document, sniff
from channels.scan.split import BatchPlan, plan_batch
from ingest.errors import InputRejected, IntakeUnavailable
from ingest.intake import Receipt
from ingest.logs import get_logger
from ingest.model import Channel, ChannelMeta

log = get_logger("scan.intake")

MANIFEST_SCHEMA = "kcs.scan-doc/1"


@dataclass(frozen=True)
class BatchSource:
    """Where a batch came from and what the operator told us about it."""

    filename: str
    transport: str                      # scan-folder | upload | cli
    channel: Channel | None = None      # None: fax if it is a CCITT TIFF, else letter
    operator: str | None = None
    scanner: str | None = None
    expected_pages: int | None = None


@dataclass
class BatchReceipt:
    """What intake did with one file."""

    batch_sha256: str
    page_count: int
    receipts: list[Receipt] = field(default_factory=list)
    letters: list[list[int]] = field(default_factory=list)
    problem: str | None = None

    @property
    def intake_ids(self) -> list[str]:
        """The items, one per letter, in batch order."""
        return [r.intake_id for r in self.receipts]


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """Canonical JSON: the same batch and pages always give the same bytes (and sha256)."""
    return json.dumps(manifest, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode()


def parse_manifest(raw: bytes) -> dict[str, Any] | None:
    """The manifest if ``raw`` is one, else None (then ``raw`` is the scanned file itself)."""
    if not raw.startswith(b"{"):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("schema") == MANIFEST_SCHEMA else None


def _channel(data: bytes, document: Any, source: BatchSource) -> Channel:
    if source.channel is not None:
        return source.channel
    if isinstance(document, RasterScan) and document.compression in {"group3", "group4"}:
        return Channel.FAX
    return Channel.LETTER


def plan(data: bytes, cfg: Any) -> tuple[BatchPlan | None, Any, InputRejected | None]:
    """Open and cut the batch; (plan, document, None) or (None, None, the rejection)."""
    try:
        document = open_document(data, ScanLimits.from_config(cfg))
    except InputRejected as exc:
        return None, None, exc
    try:
        batch = plan_batch(document, blank_max_ink_ratio=cfg.blank_max_ink_ratio,
                           separator_codes=tuple(cfg.separator_codes),
                           split_on_blank=cfg.split_on_blank)
    except InputRejected as exc:
        document.close()
        return None, None, exc
    return batch, document, None


def accept_batch(runtime: Any, data: bytes, source: BatchSource) -> BatchReceipt:
    """Store the file, cut it into letters, accept one item per letter (see module doc).

    Raises ``IntakeUnavailable`` when the file or an item could not be made
    durable; then the caller keeps the file and tries again later.
    """
    cfg = runtime.settings.kcs.scan
    try:
        batch_sha = runtime.blobs.put(data)  # always the file tier: fsync'd before we go on
    except OSError as exc:
        raise IntakeUnavailable(f"blob store: {exc.strerror or exc}") from exc
    batch, document, rejection = plan(data, cfg)
    channel = Channel.LETTER
    if document is not None:
        channel = _channel(data, document, source)
        document.close()
    elif source.channel is not None:
        channel = source.channel
    base: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA, "batch_sha256": batch_sha, "batch_size": len(data),
        "filename": source.filename, "format": sniff(data),
        "operator": source.operator, "scanner": source.scanner,
        "expected_pages": source.expected_pages,
    }
    result = BatchReceipt(batch_sha, 0)
    if batch is None:
        assert rejection is not None
        manifests = [{**base, "document": 1, "documents": 1, "pages": [], "page_sha256": [],
                      "found_pages": None, "batch_pages": [],
                      "problem": rejection.reason.value, "problem_detail": rejection.detail}]
        result.problem = rejection.reason.value
        keys = [[f"scan-doc:{batch_sha}:unreadable"]]
    else:
        by_index = {p.index: p for p in batch.pages}
        result.page_count = len(batch.pages)
        result.letters = batch.letters
        manifests, keys = [], []
        for number, pages in enumerate(batch.letters, 1):
            hashes = [by_index[i].sha256 for i in pages]
            manifests.append({
                **base, "document": number, "documents": len(batch.letters),
                "pages": pages, "page_sha256": hashes, "found_pages": len(batch.pages),
                "batch_pages": [p.to_dict() for p in batch.pages],
                "problem": None, "problem_detail": None})
            # Scoped to the batch file: blank or re-wrapped pages recur across files,
            # and a second file must never vanish into an earlier item.
            pages_key = hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:32]
            keys.append([f"scan-doc:{batch_sha}:{pages[0] + 1}-{pages[-1] + 1}:{pages_key}"])
    for manifest, source_keys in zip(manifests, keys, strict=True):
        detail = {k: str(v) for k, v in {
            "filename": source.filename, "batch_sha256": batch_sha,
            "document": f"{manifest['document']}/{manifest['documents']}",
            "pages": ",".join(str(i + 1) for i in manifest["pages"]),
            "operator": source.operator, "scanner": source.scanner}.items() if v}
        meta = ChannelMeta(channel=channel, transport=source.transport,
                           source_keys=tuple(source_keys), detail=detail)
        result.receipts.append(runtime.intake.accept(manifest_bytes(manifest), meta))
    log.info("scan.batch_accepted", batch_sha256=batch_sha, transport=source.transport,
             pages=result.page_count, letters=len(result.receipts), problem=result.problem)
    return result
