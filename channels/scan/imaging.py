"""Image preparation before OCR: blank pages, skew, uneven lighting.

Pillow only (no NumPy, no OpenCV): every measure works on a downscaled copy
of the page, so it costs milliseconds next to the seconds Tesseract takes.

- ``ink_ratio`` / ``is_blank``: share of "ink" cells on a 50-dpi grid with
  the page border cut off (scanner shadows, punch holes). Averaging 3×3
  blocks first removes isolated specks (fax noise, dust) but keeps strokes.
- ``estimate_skew``: the projection-profile method. Rotate a small binarised
  copy through candidate angles; text lines are sharpest (row sums vary
  most) at the true angle. Coarse 0.5° steps, then 0.1° around the best.
- ``flatten_illumination``: divide by a heavily blurred copy, so a phone
  photo with a shadow across it binarises like a flat scan.
"""

from __future__ import annotations

import itertools

from PIL import Image, ImageChops, ImageFilter, ImageOps

_GRID_DPI = 50.0
_INK_LEVEL = 200          # a 3×3-averaged cell darker than this holds ink
_BORDER = 0.04            # share of width/height ignored on each side
_SKEW_WIDTH_PX = 900      # working width for skew estimation


def ink_ratio(image: Image.Image, dpi: float) -> float:
    """Share of 1/50-inch cells with ink, border excluded (0.0 for an empty page)."""
    grey = image if image.mode == "L" else image.convert("L")
    scale = _GRID_DPI / dpi
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    cells = grey.resize(size, Image.Resampling.BOX)
    bx, by = round(size[0] * _BORDER), round(size[1] * _BORDER)
    inner = cells.crop((bx, by, size[0] - bx, size[1] - by)) if size[0] > 2 * bx + 1 else cells
    histogram = inner.histogram()
    total = sum(histogram) or 1
    return sum(histogram[:_INK_LEVEL]) / total


def is_blank(image: Image.Image, dpi: float, max_ink_ratio: float) -> bool:
    """Whether a page holds nothing worth reading (a separator, an empty back side)."""
    return ink_ratio(image, dpi) <= max_ink_ratio


def _binary_small(image: Image.Image) -> Image.Image:
    """A small copy where ink is 255 and paper 0 (for rotation with black fill)."""
    grey = image if image.mode == "L" else image.convert("L")
    scale = min(1.0, _SKEW_WIDTH_PX / grey.width)
    small = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                        Image.Resampling.BOX)
    threshold = _otsu(small)
    return small.point(lambda v: 255 if v < threshold else 0)


def _otsu(image: Image.Image) -> int:
    """Otsu's threshold from the histogram (grey pages vary: fax, photo, scan)."""
    hist = image.histogram()[:256]
    total = sum(hist)
    sum_all = sum(i * h for i, h in enumerate(hist))
    best, best_var, w_b, sum_b = 128, -1.0, 0, 0.0
    for t, h in enumerate(hist):
        w_b += h
        if w_b == 0:
            continue
        w_f = total - w_b
        if w_f == 0:
            break
        sum_b += t * h
        m_b, m_f = sum_b / w_b, (sum_all - sum_b) / w_f
        var = w_b * w_f * (m_b - m_f) ** 2
        if var > best_var:
            best, best_var = t, var
    return best


def _sharpness(binary: Image.Image, angle: float) -> float:
    """Sum of squared differences of adjacent row sums after rotating by ``angle``."""
    rotated = binary.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0)
    rows = rotated.resize((1, rotated.height), Image.Resampling.BOX).tobytes()
    return float(sum((a - b) ** 2 for a, b in itertools.pairwise(rows)))


def estimate_skew(image: Image.Image, max_degrees: float = 10.0) -> float:
    """Angle in degrees (counter-clockwise) that makes text lines horizontal; 0 if unsure."""
    if max_degrees <= 0:
        return 0.0
    binary = _binary_small(image)
    if binary.getbbox() is None:
        return 0.0
    steps = int(max_degrees / 0.5)
    coarse = {a * 0.5: _sharpness(binary, a * 0.5) for a in range(-steps, steps + 1)}
    best = max(coarse, key=coarse.__getitem__)
    fine = {round(best + d / 10, 2): _sharpness(binary, best + d / 10)
            for d in range(-5, 6) if abs(best + d / 10) <= max_degrees}
    angle = max(fine, key=fine.__getitem__)
    baseline = coarse.get(0.0, 0.0)
    # A flat profile (pictures, no lines) gives noise: only trust a clear winner.
    if baseline and fine[angle] < baseline * 1.02:
        return 0.0
    return angle


def rotate(image: Image.Image, degrees: float, *, smooth: bool = False) -> Image.Image:
    """Rotate counter-clockwise, growing the canvas and filling with paper white.

    For OCR the rotation is nearest-neighbour: interpolation softens stroke
    edges and costs Tesseract more than the jagged edges do (measured on
    faxes and photos); ``smooth`` is for pictures people look at.
    """
    if not degrees:
        return image
    if degrees % 90 == 0:
        return image.rotate(degrees, expand=True)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    return image.rotate(degrees, resample=resample, expand=True, fillcolor=255)


def flatten_illumination(image: Image.Image) -> Image.Image:
    """Even out shadows and gradients (phone photos): page / blurred page, stretched."""
    grey = image if image.mode == "L" else image.convert("L")
    small = grey.resize((max(1, grey.width // 16), max(1, grey.height // 16)),
                        Image.Resampling.BOX)
    background = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.GaussianBlur(4))
    background = background.resize(grey.size, Image.Resampling.BILINEAR)
    # ink / background in 0..255: invert both, subtract, invert back.
    flat = ImageChops.invert(ImageChops.subtract(ImageChops.invert(grey),
                                                 ImageChops.invert(background)))
    return ImageOps.autocontrast(flat, cutoff=1)
