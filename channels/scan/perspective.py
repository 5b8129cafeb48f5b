"""Perspective correction of phone photos: find the sheet of paper, warp it flat.

A letter photographed on a table at an angle is a bright quadrilateral on a
darker background, not a rectangle: lines converge, and Tesseract reads
the far end of the page at a smaller size and a different slant from the
near end. Rotation and deskew cannot fix that; a projective warp can.

``find_page`` works on a small copy (about ``WORK_PX`` on the long side):

1. Otsu threshold of a blurred copy: paper is the bright class;
2. holes (the text) filled, the largest bright component kept;
3. its convex hull simplified to four corners (Visvalingam: repeatedly drop
   the hull vertex whose triangle with its neighbours is smallest), then
   each corner moved to where lines fitted to the middle of its two sides
   meet (blur and shadow round a corner off; the sides stay straight);
4. accepted only if it looks like a sheet seen at an angle: a convex
   quadrilateral covering between ``MIN_AREA`` and ``MAX_AREA`` of the frame
   with no corner angle far from 90° and at most one corner on the frame's
   edge. A flat scan (the page fills the frame), a sheet cut off by the
   frame or a picture without a page gives None, and nothing is changed.

The sheet's true proportions cannot be measured from one photo (the far
half is foreshortened); an estimate close to A4 is taken as A4, the paper
nearly every letter is written on. ``warp`` maps the quadrilateral onto an
upright rectangle with Pillow's perspective transform (the eight
coefficients solved with NumPy). Corners are kept as fractions of the image
size, so the review API can apply the same warp to a rendering at any
resolution. No OpenCV: NumPy and SciPy are already dependencies, and the
search costs a few hundred milliseconds next to seconds of Tesseract.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

WORK_PX = 640          # long side of the working copy
MIN_AREA = 0.15        # the sheet covers at least this share of the photo ...
MAX_AREA = 0.93        # ... and leaves some background visible (else: a flat scan)
MAX_CORNER_DEV_DEG = 40.0  # a corner angle further from 90° is not a sheet
MIN_CONTRAST = 25      # grey levels between paper and background
BORDER = 0.01          # a corner this close to the frame's edge is on it
A4_RATIO = 2 ** -0.5   # short / long side of A4 (and nearly of US Letter)
A4_SNAP = 0.12         # an estimated ratio this close to A4 is taken as A4

Corners = tuple[tuple[float, float], ...]  # TL, TR, BR, BL as fractions of width/height


def _otsu(values: np.ndarray) -> tuple[int, float, float]:
    """Otsu threshold of 8-bit values, with the two class means."""
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    w_b = np.cumsum(hist)
    s_b = np.cumsum(hist * levels)
    w_f = total - w_b
    with np.errstate(divide="ignore", invalid="ignore"):
        m_b = s_b / w_b
        m_f = (s_b[-1] - s_b) / w_f
        between = w_b * w_f * (m_b - m_f) ** 2
    between[~np.isfinite(between)] = -1
    t = int(np.argmax(between))
    return t, float(m_b[t]), float(m_f[t])


def _simplify(points: np.ndarray, keep: int = 4) -> np.ndarray:
    """Drop the vertex with the smallest triangle area until ``keep`` remain (Visvalingam)."""
    pts = [tuple(p) for p in points]
    while len(pts) > keep:
        areas = []
        for i in range(len(pts)):
            (ax, ay), (bx, by), (cx, cy) = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
            areas.append(abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)))
        del pts[int(np.argmin(areas))]
    return np.array(pts, dtype=np.float64)


def _order(quad: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    ring = quad[np.argsort(angles)]  # clockwise on screen (y down), from the left
    start = int(np.argmin(ring.sum(axis=1)))  # top-left: smallest x + y
    return np.roll(ring, -start, axis=0)


def _refine(quad: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Corners as intersections of lines fitted to the middle of each side.

    The simplified hull's corners sit where the outline turned, and a corner
    rounded by blur or shadow turns early; the sides themselves are straight
    and long, so lines through their middle parts meet where the paper's
    corner really is.
    """
    lines = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        direction = b - a
        length = float(np.linalg.norm(direction))
        if length < 10:
            return quad
        unit = direction / length
        rel = points - a
        t = rel @ unit / length
        dist = np.abs(rel @ np.array([-unit[1], unit[0]]))
        side = points[(t > 0.15) & (t < 0.85) & (dist < max(3.0, 0.02 * length))]
        if len(side) < 10:
            return quad
        centre = side.mean(axis=0)
        _, _, vt = np.linalg.svd(side - centre)
        lines.append((centre, vt[0]))
    out = []
    for i in range(4):
        (p1, d1), (p2, d2) = lines[i - 1], lines[i]
        matrix = np.column_stack([d1, -d2])
        if abs(np.linalg.det(matrix)) < 1e-6:
            return quad
        s1, _ = np.linalg.solve(matrix, p2 - p1)
        out.append(p1 + s1 * d1)
    refined = np.array(out)
    # A refinement that moves a corner far is a fit gone wrong: keep the hull's.
    if np.max(np.linalg.norm(refined - quad, axis=1)) > 0.1 * max(np.ptp(quad, axis=0)):
        return quad
    return refined


def _polygon_area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _corner_angles(quad: np.ndarray) -> list[float]:
    out = []
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        v1, v2 = a - b, c - b
        cos = float(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) or 1.0))
        out.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    return out


def find_page(image: Image.Image) -> Corners | None:
    """The sheet's corners (fractions of width and height), or None: leave the photo as is."""
    from scipy import ndimage
    from scipy.spatial import ConvexHull, QhullError

    grey = image if image.mode == "L" else image.convert("L")
    scale = min(1.0, WORK_PX / max(grey.size))
    small = grey.resize((max(8, round(grey.width * scale)), max(8, round(grey.height * scale))),
                        Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(2))
    values = np.asarray(small, dtype=np.uint8)
    threshold, dark, bright = _otsu(values)
    if bright - dark < MIN_CONTRAST:
        return None
    mask = ndimage.binary_opening(values > threshold, iterations=2)
    mask = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(mask)
    if count == 0:
        return None
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    page = labels == int(np.argmax(sizes)) + 1
    if int(page.sum()) < 100:
        return None
    # The component's boundary pixels are enough for its convex hull.
    edge = page & ~ndimage.binary_erosion(page)
    ey, ex = np.nonzero(edge)
    points = np.column_stack([ex, ey]).astype(np.float64)
    try:
        hull = ConvexHull(points)
    except QhullError:
        return None
    quad = _refine(_order(_simplify(points[hull.vertices])), points)
    h, w = values.shape
    share = _polygon_area(quad) / (w * h)
    if not MIN_AREA <= share <= MAX_AREA:
        return None
    if any(abs(a - 90.0) > MAX_CORNER_DEV_DEG for a in _corner_angles(quad)):
        return None
    on_edge = sum(1 for x, y in quad if min(x, y, w - 1 - x, h - 1 - y) <= BORDER * max(w, h))
    if on_edge > 1:
        return None  # a bright area running off the frame, not a sheet lying in it
    # Pixel centres: the hull runs through the outermost pixels' centres.
    return tuple((float((x + 0.5) / w), float((y + 0.5) / h)) for x, y in quad)


def _coefficients(target: list[tuple[float, float]], source: list[tuple[float, float]]
                  ) -> list[float]:
    """Pillow's PERSPECTIVE data: maps output (target) points to input (source) points."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return [float(c) for c in np.linalg.solve(np.array(rows), np.array(rhs))]


def output_size(image: Image.Image, corners: Corners) -> tuple[int, int]:
    """Width and height of the flattened sheet: its longest opposite edges, in pixels."""
    pts = np.array([(x * image.width, y * image.height) for x, y in corners])
    width = max(np.linalg.norm(pts[1] - pts[0]), np.linalg.norm(pts[2] - pts[3]))
    height = max(np.linalg.norm(pts[3] - pts[0]), np.linalg.norm(pts[2] - pts[1]))
    short, long = sorted((width, height))
    if abs(short / long - A4_RATIO) <= A4_SNAP * A4_RATIO:
        short = long * A4_RATIO  # foreshortening made it look squatter: it is A4
        width, height = (short, long) if width <= height else (long, short)
    return max(1, round(width)), max(1, round(height))


def warp(image: Image.Image, corners: Corners, size: tuple[int, int] | None = None
         ) -> Image.Image:
    """The sheet inside ``corners`` as an upright rectangle (``size``: default its own)."""
    w, h = size or output_size(image, corners)
    source = [(x * image.width, y * image.height) for x, y in corners]
    target = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    return image.transform((w, h), Image.Transform.PERSPECTIVE,
                           _coefficients(target, source), resample=Image.Resampling.BICUBIC,
                           fillcolor=255)


def flatten(image: Image.Image, corners: Corners) -> Image.Image:
    """The sheet warped flat at the photo's scale: its long side as long as the photo's,
    since the photo's resolution was estimated as an A4 page filling the frame."""
    w, h = output_size(image, corners)
    scale = max(image.size) / max(w, h)
    return warp(image, corners, (max(1, round(w * scale)), max(1, round(h * scale))))
