"""Scans through the whole pipeline on a real Redis: batches, faxes, text-layer PDFs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from pipeline_support import downstream, running_pipeline, wait_for_state

from channels.scan import evaluation
from channels.scan.intake import BatchSource, accept_batch, parse_manifest
from channels.scan.watcher import HotFolder
from ingest.app import Runtime
from ingest.contract import validator

pytestmark = pytest.mark.slow
QUEUE = "kcs.triage"  # the placeholder classifier is always unsure


def published(settings) -> dict[str, dict]:
    return {i["item_id"]: i for i in downstream(settings.effective_redis_url(), QUEUE)}


def scan_record(rt: Runtime, intake_id: str) -> dict:
    headers = rt.store.get_item(intake_id).normalised["headers"]
    return json.loads(rt.blobs.get(headers["x-scan-record"]))


def merge_pdfs(*parts: bytes) -> bytes:
    import io

    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    for part in parts:
        out.import_pages(pdfium.PdfDocument(part))
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def test_a_scanner_batch_becomes_one_item_per_letter(settings, letters, make_separator,
                                                     make_text_pdf) -> None:
    """GIVEN a batch: scanned letter, blank sheet, scanned letter, QR separator, born-digital
    letter WHEN it is taken in THEN three items, each published with its sender."""
    blank = Image.new("L", letters[0].image.size, 255)
    scanned = evaluation.pdf_of_images(
        [letters[0].image, blank, letters[1].image, make_separator(letters[0].image.size)], 300)
    born_digital = make_text_pdf(["Per Persson\nStorgatan 1\n111 22 Stockholm\n"
                                  "E-post: per.persson@example.se\n\nAngående: Lekplatsen\n\n"
                                  "Gungorna på lekplatsen i Vasaparken är trasiga sedan i maj."])
    batch = merge_pdfs(scanned, born_digital)
    rt = Runtime.build(settings)
    receipt = accept_batch(rt, batch, BatchSource("skanning-0042.pdf", "cli", operator="op7",
                                                  scanner="Kodak i2620"))
    assert receipt.letters == [[0], [2], [4]] and receipt.page_count == 5
    again = accept_batch(rt, batch, BatchSource("skanning-0042.pdf", "cli"))
    assert again.intake_ids == receipt.intake_ids and all(r.duplicate for r in again.receipts)
    assert rt.blobs.path(receipt.batch_sha256).exists()  # the original, as a fsync'd file

    with running_pipeline(rt):
        for intake_id in receipt.intake_ids:
            assert wait_for_state(rt, intake_id, timeout=120) == "done"
    items = published(settings)
    first, second, third = (items[i] for i in receipt.intake_ids)
    for item in (first, second, third):
        assert list(validator().iter_errors(item)) == []
        assert item["channel"]["type"] == "letter" and item["channel"]["transport"] == "cli"
        assert item["channel"]["detail"]["batch_sha256"] == receipt.batch_sha256
        assert [a["content_type"] for a in item["attachments"]] == ["application/pdf"]
    assert first["sender"]["name"] == letters[0].name
    assert first["sender"]["email"] == letters[0].email
    assert first["sender"]["postal_address"] == (f"{letters[0].street}, "
                                                 f"{letters[0].postcode_city}")
    assert first["acknowledgement"]["to"] == letters[0].email
    assert second["sender"]["name"] == letters[1].name
    assert "Vasaparken" in third["body"] and third["subject"] == "Lekplatsen"
    assert third["sender"]["email"] == "per.persson@example.se"

    record = scan_record(rt, receipt.intake_ids[0])
    custody = record["custody"]
    assert [p["kind"] for p in custody["batch_pages"]] == ["content", "blank", "content",
                                                           "separator", "content"]
    assert (custody["operator"], custody["scanner"], custody["found_pages"]) == (
        "op7", "Kodak i2620", 5)
    assert evaluation.cer(letters[0].text, record["pages"][0]["text"]) < 0.02
    assert record["fields"]["arende_refs"] == [letters[0].arende]
    third_record = scan_record(rt, receipt.intake_ids[2])
    assert third_record["pages"][0]["source"] == "text-layer"  # never OCR'd
    assert "words" not in third_record["pages"][0]
    manifest = parse_manifest(rt.blobs.get(rt.store.get_intake(receipt.intake_ids[1])
                                           .raw_sha256))
    assert manifest["pages"] == [2] and manifest["document"] == 2


def fax_page(lines: list[str], number: int, pages: int) -> tuple[Image.Image, tuple[int, int]]:
    header = (f"23/11/2026 10:{14 + number:02d} FAX 08 612 34 56 "
              f"AVS: MARTA ANGSTROM S. {number:02d}/{pages:02d}")
    image = evaluation.render_lines([header, "", *lines], top_in=0.4)
    return evaluation.fax(image, 300, fine=True, skew_deg=0.8, seed=number)


def test_a_two_page_fax_with_header_lines(settings, letters) -> None:
    """A fax's header lines give the sender's fax number, time and page count, and are
    removed from the body as page furniture."""
    lines, facts = evaluation.letter_lines(2)
    half = len(lines) // 2
    data = evaluation.tiff_pages([fax_page(lines[:half], 1, 2), fax_page(lines[half:], 2, 2)])
    rt = Runtime.build(settings)
    receipt = accept_batch(rt, data, BatchSource("fax-20261123-1014.tif", "scan-folder"))
    [intake_id] = receipt.intake_ids
    assert rt.store.get_intake(intake_id).channel == "fax"  # CCITT TIFF
    with running_pipeline(rt):
        assert wait_for_state(rt, intake_id, timeout=120) == "done"
    item = published(settings)[intake_id]
    assert item["channel"]["type"] == "fax"
    assert "FAX 08 612" not in item["body"] and "S. 01/02" not in item["body"]
    assert item["sender"]["name"] == facts["name"]
    headers = rt.store.get_item(intake_id).normalised["headers"]
    assert headers["x-scan-fax-number"] == "+4686123456"
    assert headers["x-scan-fax-pages"] == "2"
    normalised = rt.store.get_item(intake_id).normalised
    assert normalised["sent_at"].startswith("2026-11-23T10:15")
    record = scan_record(rt, intake_id)
    assert len(record["furniture_removed"]) == 2
    assert record["gate"]["hold"] is False


BAD = {"tom.pdf": "zero", "enorm.png": "huge_png", "bomb.pdf": "flate_bomb",
       "sidträd.pdf": "page_tree_bomb", "krypterad.pdf": "encrypted",
       "rapport.pdf": "docx_as_pdf", "trasig.jpg": "truncated_jpeg"}
REASONS = {"tom.pdf": "empty_input", "enorm.png": "image_too_large",
           "bomb.pdf": "decompression_bomb", "sidträd.pdf": "scan_too_many_pages",
           "krypterad.pdf": "pdf_encrypted", "rapport.pdf": "scan_unsupported_format",
           "trasig.jpg": "image_unreadable"}


def test_bad_files_in_the_hot_folder_are_kept_rejected_and_visible(scan_settings, hostile,
                                                                   tmp_path: Path) -> None:
    """GIVEN hostile files in the hot folder WHEN the watcher runs THEN each becomes an item
    rejected with its reason code, its bytes kept, and the watcher goes on."""
    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    settings = scan_settings(watch_dir=str(inbox), stability_s=0)
    rt = Runtime.build(settings)
    for name, key in BAD.items():
        (inbox / name).write_bytes(hostile[key])
    folder = HotFolder(rt)
    taken = folder.poll()
    assert sorted(p.name for p in taken) == sorted(BAD)
    assert sorted(p.name for p in (inbox / "processed").rglob("*")
                  if p.is_file()) == sorted(BAD)
    ids = {}
    with running_pipeline(rt):
        for row in rt.store.list_intake(("accepted", "processing", "rejected"), 50):
            ids[row.meta["detail"]["filename"]] = row.id
        for intake_id in ids.values():
            assert wait_for_state(rt, intake_id, timeout=60) == "rejected"
    rows = {r.id: r for r in rt.store.list_intake(("rejected",))}
    assert {name: rows[i].reason_code for name, i in ids.items()} == REASONS
    for name, intake_id in ids.items():  # the original is kept, byte for byte
        manifest = parse_manifest(rt.blobs.get(rows[intake_id].raw_sha256))
        assert rt.blobs.get(manifest["batch_sha256"]) == hostile[BAD[name]]
    (inbox / "ny.pdf").write_bytes(hostile["zero"] + b"%PDF-1.4\n")  # still watching
    assert [p.name for p in folder.poll()] == ["ny.pdf"]
