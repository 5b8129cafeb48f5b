"""Perspective correction: the sheet in a phone photo is found and warped flat.

No OCR here (the CER with and without correction is in
benchmarks/bench_photo_perspective.py, and the SMTP test reads such a photo).
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from channels.scan import evaluation, imaging, perspective


@pytest.mark.parametrize(("tilt", "turn", "frame"), [
    (0.12, 2.0, (2268, 3024)), (0.30, 5.0, (1200, 1600)), (0.40, -7.0, (1512, 2016)),
])
def test_the_sheet_is_found_within_a_few_pixels(letters, tilt: float, turn: float,
                                                frame: tuple[int, int]) -> None:
    jpeg, truth = evaluation.phone_photo(letters[0].image, tilt=tilt, rotate_deg=turn,
                                         frame=frame)
    photo = Image.open(io.BytesIO(jpeg)).convert("L")
    found = perspective.find_page(photo)
    assert found is not None
    for (x, y), (tx, ty) in zip(found, truth, strict=True):
        # within 1 % of the frame: a few pixels of the 640-pixel working copy
        assert abs(x - tx) * frame[0] < 0.01 * max(frame)
        assert abs(y - ty) * frame[1] < 0.01 * max(frame)


def test_the_flattened_sheet_is_upright_and_straight(letters) -> None:
    jpeg, _ = evaluation.phone_photo(letters[1].image, tilt=0.3, rotate_deg=6.0)
    photo = Image.open(io.BytesIO(jpeg)).convert("L")
    flat = perspective.flatten(photo, perspective.find_page(photo))
    assert abs(flat.width / flat.height - letters[1].image.width / letters[1].image.height) < 0.02
    assert max(flat.size) == max(photo.size)  # the photo's dpi estimate still holds
    assert abs(imaging.estimate_skew(flat)) < 0.6


def test_flat_scans_and_pictures_are_left_alone(letters) -> None:
    assert perspective.find_page(letters[2].image) is None  # the page fills the frame
    assert perspective.find_page(Image.linear_gradient("L").resize((800, 600))) is None
    assert perspective.find_page(Image.new("L", (800, 600), 128)) is None
