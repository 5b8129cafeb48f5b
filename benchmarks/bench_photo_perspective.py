"""Phone photos of letters taken at an angle: OCR CER with and without perspective correction.

Each rendered Swedish test letter (``channels.scan.evaluation``, exact text
known) is "photographed" lying on a table at an angle
(``evaluation.phone_photo``: the far edge narrower, turned a few degrees,
uneven light, sensor noise, slight blur, JPEG) and read through the scan
channel's OCR path as a JPEG (``read_pages``: illumination flattening, OSD,
deskew, Tesseract swe+eng), once with ``scan.perspective_correction`` on
and once off. Reported per photo: CER and mean word confidence both ways,
and whether the sheet was found; then the means.

Run: ``.venv/bin/python benchmarks/bench_photo_perspective.py [--letters N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.scan import evaluation
from channels.scan.formats import ScanLimits, open_document
from channels.scan.normalise import read_pages
from channels.scan.ocr import OcrEngine, OcrSettings
from channels.scan.quality import GateSettings

# (tilt: far edge narrower by this share, rotation in degrees, camera frame in pixels):
# a full-resolution photo taken nearly from above, then steeper angles in the
# smaller frames messengers and mail apps send.
ANGLES = [(0.12, 2.0, (2268, 3024)), (0.22, 4.0, (2268, 3024)), (0.30, 5.0, (1200, 1600)),
          (0.40, -7.0, (1512, 2016))]


def read(jpeg: bytes, *, correct: bool) -> tuple[str, float, bool, float]:
    """(text, mean confidence, sheet found, seconds) of one photo."""
    engine = OcrEngine(OcrSettings(perspective=correct, workers=1))
    document = open_document(jpeg, ScanLimits())
    started = time.perf_counter()
    try:
        [page] = read_pages(document, [0], {0: "content"}, {}, engine, GateSettings(), 0.0005)
    finally:
        document.close()
    assert page.ocr is not None
    return (page.text, page.ocr.mean_conf, page.ocr.perspective is not None,
            time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=4)
    args = parser.parse_args()
    rows = []
    print("| photo | frame | tilt | turn | sheet found | CER off | CER on | conf off | conf on |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in range(args.letters):
        letter = evaluation.render_letter(n)
        tilt, turn, frame = ANGLES[n % len(ANGLES)]
        jpeg, _corners = evaluation.phone_photo(letter.image, seed=n + 1, tilt=tilt,
                                                rotate_deg=turn, frame=frame, noise_sigma=10,
                                                quality=70)
        off_text, off_conf, _, off_s = read(jpeg, correct=False)
        on_text, on_conf, found, on_s = read(jpeg, correct=True)
        off, on = evaluation.cer(letter.text, off_text), evaluation.cer(letter.text, on_text)
        rows.append((off, on, off_s, on_s))
        print(f"| letter {n} | {frame[0]}×{frame[1]} | {tilt:.2f} | {turn:+.1f}° | "
              f"{'yes' if found else 'no'} | {off:.2%} | {on:.2%} | {off_conf:.1f} | "
              f"{on_conf:.1f} |", flush=True)
    print(f"\nMean CER without correction {statistics.mean(r[0] for r in rows):.2%}, with "
          f"{statistics.mean(r[1] for r in rows):.2%}; seconds per photo "
          f"{statistics.mean(r[2] for r in rows):.1f} without, "
          f"{statistics.mean(r[3] for r in rows):.1f} with.")


if __name__ == "__main__":
    main()
