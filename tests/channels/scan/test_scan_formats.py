"""Opening scanned files: every format, real scans, and every kind of bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from channels.scan import evaluation
from channels.scan.formats import RasterScan, ScanLimits, open_document, sniff
from ingest.errors import InputRejected
from ingest.reasons import ReasonCode

R = ReasonCode
LIMITS = ScanLimits()


def rejected(data: bytes, limits: ScanLimits = LIMITS) -> ReasonCode:
    with pytest.raises(InputRejected) as info:
        open_document(data, limits)
    return info.value.reason


@pytest.mark.parametrize(("name", "reason"), [
    ("zero", R.EMPTY_INPUT),
    ("huge_png", R.IMAGE_TOO_LARGE),
    ("flate_bomb", R.DECOMPRESSION_BOMB),
    ("page_tree_bomb", R.SCAN_TOO_MANY_PAGES),
    ("encrypted", R.PDF_ENCRYPTED),
    ("docx_as_pdf", R.SCAN_UNSUPPORTED_FORMAT),
    ("truncated_jpeg", R.IMAGE_UNREADABLE),
])
def test_bad_input_is_refused_with_its_reason(hostile, name: str, reason: ReasonCode) -> None:
    """GIVEN a hostile or broken file WHEN it is opened THEN a reason code, no crash."""
    assert rejected(hostile[name]) is reason


def test_real_bad_pdfs_from_ocrmypdf(ocr_corpus: Path) -> None:
    assert rejected((ocr_corpus / "invalid.pdf").read_bytes()) is R.PDF_UNREADABLE
    # 35000×35000 JBIG2 image: refused from its declaration, before anything decodes it.
    assert rejected((ocr_corpus / "hugemono.pdf").read_bytes()) is R.IMAGE_TOO_LARGE


def test_file_size_and_page_limits(ocr_corpus: Path) -> None:
    data = (ocr_corpus / "cardinal.pdf").read_bytes()
    assert rejected(data, ScanLimits(max_pages=3)) is R.SCAN_TOO_MANY_PAGES
    assert rejected(data, ScanLimits(max_file_bytes=1024)) is R.SCAN_FILE_TOO_LARGE


def test_sniff_ignores_the_file_name() -> None:
    assert sniff(b"%PDF-1.4\n...") == "pdf"
    assert sniff(b"II*\x00....") == "tiff" and sniff(b"MM\x00*....") == "tiff"
    assert sniff(b"\xff\xd8\xff\xe0") == "jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n") == "png"
    assert sniff(b"PK\x03\x04") is None


def test_scanned_pdfs_have_no_text_layer_and_render_at_300_dpi(ocr_corpus: Path) -> None:
    for name in ("ccitt.pdf", "skew.pdf", "epson.pdf", "kcs.pdf", "jbig2.pdf"):
        doc = open_document((ocr_corpus / name).read_bytes(), LIMITS)
        assert doc.text_layer(0) is None, name
        rendered = doc.render(0, 300)
        assert rendered.image.mode == "L" and rendered.dpi == 300
        doc.close()


def test_rotated_pdf_page_is_rendered_as_displayed(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "rotated_skew.pdf").read_bytes(), LIMITS)
    image = doc.render(0, 72).image
    assert image.height > image.width  # /Rotate 90 applied by PDFium


def test_aspect_200x100_dpi_image_is_drawn_with_square_pixels(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "aspect.pdf").read_bytes(), LIMITS)
    image = doc.render(0, 300).image
    assert image.size == (1500, 1200)  # the 5×4 inch page, not the 1000×400 image


def test_enormous_page_is_rendered_within_the_pixel_budget(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "enormous.pdf").read_bytes(), LIMITS)
    rendered = doc.render(0, 300)
    # A 30-inch page is no letter: it is read as if it were A4, within the pixel budget.
    assert rendered.image.width * rendered.image.height <= LIMITS.max_render_pixels
    assert max(rendered.image.size) == 3507 and rendered.dpi == 300
    tiny = open_document((ocr_corpus / "enormous.pdf").read_bytes(),
                         ScanLimits(max_render_pixels=4_000_000)).render(0, 300)
    assert tiny.image.width * tiny.image.height <= 4_000_000 and tiny.dpi < 300


def test_text_layer_pdf_is_read_without_rendering(make_text_pdf) -> None:
    doc = open_document(make_text_pdf(["Hej! Jag undrar över min faktura för hämtning.",
                                       "Sida två av brevet med åäö ÅÄÖ."]), LIMITS)
    assert doc.text_layer(0) == "Hej! Jag undrar över min faktura för hämtning."
    assert "åäö ÅÄÖ" in (doc.text_layer(1) or "")


def test_mixed_pdf_tells_text_pages_from_scanned_pages(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "toc.pdf").read_bytes(), LIMITS)
    assert doc.text_layer(0) is not None  # real text
    assert doc.text_layer(1) is None      # no text: a page to look at
    tagged = open_document((ocr_corpus / "tagged.pdf").read_bytes(), LIMITS)
    assert all(tagged.text_layer(i) for i in range(tagged.page_count))


def test_page_hashes_identify_the_original_image(ocr_corpus: Path) -> None:
    linn = open_document((ocr_corpus / "linn.pdf").read_bytes(), LIMITS)
    ccitt = open_document((ocr_corpus / "ccitt.pdf").read_bytes(), LIMITS)
    assert linn.page_sha256(0) != ccitt.page_sha256(0)  # same picture, other encoding
    cardinal = open_document((ocr_corpus / "cardinal.pdf").read_bytes(), LIMITS)
    hashes = [cardinal.page_sha256(i) for i in range(4)]
    assert hashes[0] != hashes[1] and len(hashes[0]) == 64


def test_multipage_fax_tiff_g4_200x100_is_resampled_square(letters) -> None:
    pages = [evaluation.fax(letter.image, 300, fine=False, seed=n)
             for n, letter in enumerate(letters[:2])]
    data = evaluation.tiff_pages(pages, compression="group4")
    doc = open_document(data, LIMITS)
    assert isinstance(doc, RasterScan) and doc.page_count == 2
    assert doc.compression == "group4"
    rendered = doc.render(1, 300)
    width, height = rendered.image.size  # 1653×1169 fax lines back to A4 at 300 dpi
    assert abs(width - 2480) <= 2 and abs(height - 3508) <= 3 and rendered.dpi == 300
    assert doc.page_sha256(0) != doc.page_sha256(1)
    subset = open_document(doc.subset([1]), LIMITS)
    assert subset.page_count == 1 and subset.page_sha256(0) == doc.page_sha256(1)


def test_fax_tiff_g3_200x200(letters) -> None:
    data = evaluation.tiff_pages([evaluation.fax(letters[0].image, 300, fine=True)],
                                 compression="group3")
    doc = open_document(data, LIMITS)
    assert doc.compression == "group3"
    width, height = doc.render(0, 300).image.size
    assert abs(width - 2480) <= 2 and abs(height - 3508) <= 3


def test_fax_tiff_without_resolution_tags_is_assumed_fax_standard() -> None:
    fax = Image.new("1", (1728, 1145), 1)  # 1728 dots wide, 98 lines per inch
    buf = io.BytesIO()
    fax.save(buf, format="TIFF", compression="group4")
    doc = open_document(buf.getvalue(), LIMITS)
    width, height = doc.render(0, 300).image.size
    assert abs(width - 2541) < 5 and abs(height - 3505) < 10


def test_phone_photo_jpeg_gets_its_dpi_estimated_and_exif_rotation_applied(letters) -> None:
    jpeg = evaluation.photo(letters[0].image)
    doc = open_document(jpeg, LIMITS)
    rendered = doc.render(0, 300)
    assert rendered.image.mode == "L" and 280 <= rendered.dpi <= 300
    # The same photo stored sideways with an EXIF orientation tag comes out upright.
    sideways = Image.open(io.BytesIO(jpeg)).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° clockwise to view
    buf = io.BytesIO()
    sideways.save(buf, format="JPEG", exif=exif)
    upright = open_document(buf.getvalue(), LIMITS).render(0, 100).image
    assert upright.height > upright.width


def test_png_with_alpha_is_flattened_on_white(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "baiona_alpha.png").read_bytes(), LIMITS)
    image = doc.render(0, 150).image
    assert image.mode == "L" and image.getextrema()[1] == 255


def test_pdf_subset_keeps_only_the_letters_pages(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "cardinal.pdf").read_bytes(), LIMITS)
    part = open_document(doc.subset([1, 2]), LIMITS)
    assert part.page_count == 2
    assert part.page_sha256(0) == doc.page_sha256(1)
