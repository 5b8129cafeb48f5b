"""Real Tesseract on real scans and on Swedish letters: CER, orientation, skew, confidences.

Character error rates are printed as a table at the end of the module (and
written to ``test-output/scan-ocr-cer.md``), so the figures for degraded
pages are reported, not only bounded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from channels.scan import evaluation
from channels.scan.formats import ScanLimits, open_document
from channels.scan.ocr import OcrEngine, OcrSettings
from channels.scan.quality import GateSettings, assess_ocr_page

pytestmark = pytest.mark.slow
LIMITS = ScanLimits()
REPORT: list[tuple[str, float, float, str]] = []
REPO = Path(__file__).resolve().parents[3]


def loader(data: bytes, index: int = 0):
    def load() -> tuple[Image.Image, float, bool]:
        doc = open_document(data, LIMITS)
        rendered = doc.render(index, 300)
        return rendered.image, rendered.dpi, doc.format == "jpeg"
    return load


def report(name: str, page, error: float) -> None:
    REPORT.append((name, error, page.mean_conf, f"rot {page.rotation}, skew {page.skew_deg}"))


@pytest.fixture(scope="module", autouse=True)
def cer_table(request):
    yield
    if not REPORT:
        return
    lines = ["| page | CER | mean word confidence | prepared |", "|---|---|---|---|"]
    lines += [f"| {n} | {e:.2%} | {c:.1f} | {p} |" for n, e, c, p in REPORT]
    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    (out / "scan-ocr-cer.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("\n\nScan OCR character error rates\n" + "\n".join(lines))


@pytest.mark.parametrize("n", [0, 1])
def test_clean_300_dpi_swedish_letters_have_cer_below_2_percent(letters, ocr_once,
                                                                 n: int) -> None:
    letter = letters[n]
    page = ocr_once(f"clean-{n}", lambda: (letter.image, 300, False))
    error = evaluation.cer(letter.text, page.text())
    report(f"clean Swedish letter {n} (300 dpi)", page, error)
    assert error < 0.02
    assert page.rotation == 0 and page.skew_deg == 0.0
    assert assess_ocr_page(page.mean_conf, page.low_conf_share(50), len(page.words), None,
                           GateSettings()).passed
    assert "å" in page.text() and "ö" in page.text()


def fax_loader(data: bytes):
    """Read a fax as the normaliser does: at its own resolution, not upscaled."""
    def load() -> tuple[Image.Image, float, bool]:
        doc = open_document(data, LIMITS)
        rendered = doc.render(0, OcrEngine().dpi_for(doc.native_dpi(0)))
        return rendered.image, rendered.dpi, False
    return load


@pytest.mark.parametrize(("name", "fine", "compression", "skew"), [
    ("fax 200x100 dpi, CCITT G4, 2.5° skew", False, "group4", 2.5),
    ("fax 200x200 dpi, CCITT G3, 1.2° skew", True, "group3", 1.2),
])
def test_degraded_fax_pages(letters, ocr_once, name: str, fine: bool, compression: str,
                            skew: float) -> None:
    letter = letters[2 if fine else 3]
    image, dpi = evaluation.fax(letter.image, 300, fine=fine, skew_deg=skew, seed=7)
    data = evaluation.tiff_pages([(image, dpi)], compression=compression)
    page = ocr_once(name, fax_loader(data))
    error = evaluation.cer(letter.text, page.text())
    report(name, page, error)
    assert page.dpi == 200  # read at the fax's own resolution
    if skew >= OcrSettings().min_deskew_deg:
        assert abs(page.skew_deg + skew) <= 0.3  # straightened before OCR
    else:
        assert page.skew_deg == 0.0  # small skew is left to Tesseract
    assert error < (0.03 if fine else 0.10)


def test_upside_down_fax_is_turned(letters, ocr_once) -> None:
    letter = letters[1]
    image, dpi = evaluation.fax(letter.image.rotate(180), 300, fine=True, skew_deg=0.5)
    page = ocr_once("fax upside down", fax_loader(evaluation.tiff_pages([(image, dpi)])))
    error = evaluation.cer(letter.text, page.text())
    report("fax 200x200 fed upside down", page, error)
    assert page.rotation == 180
    assert error < 0.03


def test_phone_photo_of_a_letter(letters, ocr_once) -> None:
    letter = letters[0]
    page = ocr_once("photo", loader(evaluation.photo(letter.image)))
    error = evaluation.cer(letter.text, page.text())
    report("phone photo (shadow, blur, JPEG q60, 2° tilt)", page, error)
    assert error < 0.05


@pytest.mark.parametrize(("name", "index", "rotation"), [
    ("ccitt.pdf", 0, 0), ("rotated_skew.pdf", 0, 0), ("cardinal.pdf", 2, 180),
    ("linn.png", 0, 0)])
def test_real_scans_from_ocrmypdf_match_their_ground_truth(ocr_corpus, linn_truth, ocr_once,
                                                           name: str, index: int,
                                                           rotation: int) -> None:
    page = ocr_once(f"real {name}:{index}",
                    loader((ocr_corpus / name).read_bytes(), index))
    error = evaluation.cer(linn_truth, page.text())
    report(f"ocrmypdf {name} page {index + 1}", page, error)
    assert page.rotation == rotation
    if name == "rotated_skew.pdf":
        assert abs(page.skew_deg) >= 1.0
    assert error < 0.02


def test_words_carry_confidences_and_boxes(ocr_corpus, ocr_once) -> None:
    page = ocr_once("real ccitt.pdf:0", loader((ocr_corpus / "ccitt.pdf").read_bytes()))
    assert len(page.words) > 300
    for word in page.words:
        assert 0 <= word.conf <= 100 and word.text
        assert word.left >= 0 and word.left + word.width <= page.width
        assert word.top >= 0 and word.top + word.height <= page.height
    marked = page.text(mark_below=96)
    assert "⟦" in marked and marked.replace("⟦", "").replace("⟧", "") == page.text()


def test_text_poor_page_without_osd_answer_is_still_read(ocr_corpus, engine) -> None:
    doc = open_document((ocr_corpus / "aspect.pdf").read_bytes(), LIMITS)
    page = engine.read_page(doc.render(0, 300).image, 300)
    # One line of text: OSD refuses or is unsure; either way the page stays as it is.
    assert page.error is None and page.rotation == 0
    assert page.osd_confidence is None or page.osd_confidence < 5
    assert "perfect circle" in page.text()


def test_ocr_timeout_and_missing_language_are_recorded_not_raised(letters) -> None:
    small = letters[0].image.resize((620, 877))
    slow = OcrEngine(OcrSettings(timeout_s=0.01, osd=False, deskew=False))
    assert (slow.read_page(small, 75).error or "").startswith("timeout")
    missing = OcrEngine(OcrSettings(languages=("xxx",), osd=False, deskew=False))
    page = missing.read_page(small, 75)
    assert page.error is not None and page.words == []
    verdict = assess_ocr_page(0, 1, 0, page.error, GateSettings())
    assert not verdict.passed and verdict.reason.value == "ocr_failed"
