"""Blank pages, separator sheets, skew: the cheap image work before intake and OCR."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from channels.scan import evaluation, imaging
from channels.scan.formats import ScanLimits, open_document
from channels.scan.split import PageFacts, cut, plan_batch, read_codes

RATIO = 0.0005


def noisy_blank(size: tuple[int, int] = (1240, 1754), seed: int = 3) -> Image.Image:
    """A blank sheet as a scanner delivers it: specks, a dark edge, faint bleed-through."""
    rng = random.Random(seed)
    page = Image.new("L", size, 250)
    pixels = page.load()
    for _ in range(400):
        pixels[rng.randrange(size[0]), rng.randrange(size[1])] = 0
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 12, size[1]), fill=30)  # scanner edge shadow
    draw.text((300, 800), "genomlyst text från baksidan", fill=215)
    return page


def test_real_blank_pdf_and_a_noisy_blank_sheet_are_blank(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "blank.pdf").read_bytes(), ScanLimits())
    rendered = doc.render(0, 150)
    assert imaging.is_blank(rendered.image, rendered.dpi, RATIO)
    assert imaging.is_blank(noisy_blank(), 150, RATIO)


def test_a_page_with_one_short_line_is_not_blank() -> None:
    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    draw.text((200, 300), "Se baksidan", fill=0, font=evaluation._font(33))
    assert not imaging.is_blank(page, 150, RATIO)


def test_skew_is_measured_on_a_rendered_letter(letters) -> None:
    page = letters[0].image.resize((1240, 1754))
    for angle in (-3.0, 1.5, 0.0):
        tilted = page.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
        assert abs(imaging.estimate_skew(tilted) + angle) <= 0.25


def test_real_skewed_scan(ocr_corpus: Path) -> None:
    doc = open_document((ocr_corpus / "skew.pdf").read_bytes(), ScanLimits())
    assert 1.0 <= abs(imaging.estimate_skew(doc.render(0, 150).image)) <= 3.0


def test_separator_qr_code_is_read(make_separator) -> None:
    assert read_codes(make_separator((1240, 1754))) == ["PATCHT"]
    assert read_codes(noisy_blank()) == []


def kinds(*letters_: str) -> list[PageFacts]:
    names = {"c": "content", "b": "blank", "s": "separator"}
    return [PageFacts(i, f"h{i}", names[k]) for i, k in enumerate(letters_)]


def test_cutting_rules() -> None:
    assert cut(kinds(*"ccbcsccbbc"), "single") == [[0, 1], [3], [5, 6], [9]]
    # Duplex: a single blank back side stays in its letter; a blank sheet separates.
    assert cut(kinds(*"cbcbbbcb"), "double") == [[0, 1, 2], [6]]
    assert cut(kinds(*"cbcsc"), "off") == [[0, 1, 2], [4]]
    # Nothing readable at all: one letter of everything, so nothing is dropped.
    assert cut(kinds(*"bb"), "single") == [[0, 1]]
    assert cut(kinds(*"scs"), "single") == [[1]]


def test_a_scanner_batch_is_planned_into_letters(letters, make_separator) -> None:
    a, b, c = (letter.image.resize((1240, 1754)) for letter in letters[:3])
    batch = evaluation.pdf_of_images([a, noisy_blank(), b, make_separator((1240, 1754)), c],
                                     150)
    doc = open_document(batch, ScanLimits())
    plan = plan_batch(doc, blank_max_ink_ratio=RATIO, separator_codes=("PATCHT",),
                      split_on_blank="single")
    assert [p.kind for p in plan.pages] == ["content", "blank", "content", "separator",
                                            "content"]
    assert plan.letters == [[0], [2], [4]]
    assert plan.pages[3].code == "PATCHT"
    assert len({p.sha256 for p in plan.pages}) == 5
