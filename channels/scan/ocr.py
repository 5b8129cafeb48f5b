"""OCR with Tesseract (pytesseract): orientation, deskew, words with confidences and boxes.

One page goes through ``OcrEngine.read_page``:

0. A phone photo taken at an angle is warped flat first (``perspective``).
1. OSD (``image_to_osd``) on a copy at ``osd_dpi`` finds a page fed upside
   down or sideways; text-poor pages make Tesseract refuse ("too few
   characters"), which means "leave it as it is", never a failure.
2. Deskew by projection profile (``imaging.estimate_skew``).
3. ``image_to_data`` on the upright page: every word with its confidence
   and box, in the coordinates of that prepared image (``OcrPage.width`` ×
   ``OcrPage.height``), which the review API can render again.

Pages are written to Tesseract as uncompressed PGM files: PNG encoding and
decoding of a 300-dpi page costs a fifth of the OCR time and buys nothing.
Tesseract runs one process per page with ``OMP_THREAD_LIMIT=1`` (its own
threading is slower on a busy machine than one process per core); pages of
a document run in parallel on a thread pool (the threads only wait for the
subprocesses).

An engine may carry a ``deadline`` (``time.monotonic()`` value) shared by
all its pages: every Tesseract call is given at most the time left, and a
page that would start after it is not read (``OcrPage.error`` is
``"deadline"``). So a message's total OCR time is bounded, not only each page's.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from channels.scan import imaging
from channels.scan import perspective as sheet

# Tesseract's OpenMP threads fight each other when pages run in parallel.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@dataclass(frozen=True, slots=True)
class OcrSettings:
    """How pages are read (from ``scan.*`` in config/kcs.yaml)."""

    languages: tuple[str, ...] = ("swe", "eng")
    dpi: int = 300
    osd_dpi: int = 150
    timeout_s: float = 120.0
    osd: bool = True
    osd_min_confidence: float = 5.0
    deskew: bool = True
    max_deskew_deg: float = 10.0
    min_deskew_deg: float = 1.5
    min_dpi: int = 200
    workers: int = 0
    perspective: bool = True

    @classmethod
    def from_config(cls, cfg: Any) -> OcrSettings:
        """From a ``ScanConfig``."""
        return cls(languages=tuple(cfg.languages), dpi=cfg.ocr_dpi, osd_dpi=cfg.osd_dpi,
                   timeout_s=cfg.ocr_timeout_s, osd=cfg.osd,
                   osd_min_confidence=cfg.osd_min_confidence, deskew=cfg.deskew,
                   max_deskew_deg=cfg.max_deskew_deg, min_deskew_deg=cfg.min_deskew_deg,
                   min_dpi=cfg.min_ocr_dpi, workers=cfg.ocr_workers,
                   perspective=cfg.perspective_correction)

    @property
    def lang(self) -> str:
        """Tesseract's ``-l`` argument."""
        return "+".join(self.languages)

    @property
    def pool_size(self) -> int:
        """Parallel pages: configured, else one per core."""
        return self.workers or os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word: text, confidence 0–100, box, and its line."""

    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]  # (block, paragraph, line)

    def to_list(self) -> list[Any]:
        """Compact JSON form: [text, conf, left, top, width, height, block, par, line]."""
        return [self.text, round(self.conf, 1), self.left, self.top, self.width, self.height,
                *self.line]

    @classmethod
    def from_list(cls, data: list[Any]) -> Word:
        """Inverse of ``to_list``."""
        return cls(str(data[0]), float(data[1]), int(data[2]), int(data[3]), int(data[4]),
                   int(data[5]), (int(data[6]), int(data[7]), int(data[8])))


@dataclass(slots=True)
class OcrPage:
    """What OCR made of one page, and how the page was prepared for it."""

    words: list[Word] = field(default_factory=list)
    width: int = 0
    height: int = 0
    dpi: float = 0.0
    rotation: int = 0          # degrees clockwise the page was turned to be upright
    skew_deg: float = 0.0      # degrees counter-clockwise it was then straightened
    osd_confidence: float | None = None
    seconds: float = 0.0
    error: str | None = None
    # A photo's sheet corners (TL, TR, BR, BL as fractions of the image) if it was
    # warped flat before turning and straightening.
    perspective: sheet.Corners | None = None

    def lines(self) -> list[list[Word]]:
        """Words grouped into lines, in Tesseract's reading order."""
        out: list[list[Word]] = []
        current: tuple[int, int, int] | None = None
        for word in self.words:
            if word.line != current:
                out.append([])
                current = word.line
            out[-1].append(word)
        return out

    def text(self, mark_below: float | None = None) -> str:
        """Plain text; paragraphs apart. ``mark_below``: wrap unsure words in ⟦ ⟧."""
        parts: list[str] = []
        previous: tuple[int, int] | None = None
        for line in self.lines():
            block_par = line[0].line[:2]
            if previous is not None and block_par != previous:
                parts.append("")
            previous = block_par
            parts.append(" ".join(
                f"⟦{w.text}⟧" if mark_below is not None and w.conf < mark_below else w.text
                for w in line))
        return "\n".join(parts)

    @property
    def mean_conf(self) -> float:
        """Mean word confidence (0 when nothing was read)."""
        return sum(w.conf for w in self.words) / len(self.words) if self.words else 0.0

    def low_conf_share(self, below: float) -> float:
        """Share of words under ``below``."""
        return (sum(1 for w in self.words if w.conf < below) / len(self.words)
                if self.words else 1.0)


def parse_data(data: dict[str, list[Any]]) -> list[Word]:
    """Words from ``image_to_data`` output (level 5 rows with text and a confidence)."""
    words: list[Word] = []
    for i, text in enumerate(data.get("text", ())):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        words.append(Word(text, conf, int(data["left"][i]), int(data["top"][i]),
                          int(data["width"][i]), int(data["height"][i]),
                          (int(data["block_num"][i]), int(data["par_num"][i]),
                           int(data["line_num"][i]))))
    return words


DEADLINE = "deadline"


class OcrDeadline(RuntimeError):
    """The engine's shared deadline passed before this call could start."""


class OcrEngine:
    """Reads prepared pages with Tesseract; stateless apart from its settings and deadline."""

    def __init__(self, settings: OcrSettings | None = None, *,
                 deadline: float | None = None) -> None:
        self.settings = settings or OcrSettings()
        self.deadline = deadline

    def _timeout(self, cap: float) -> float:
        """Seconds a Tesseract call may take: ``cap``, but never past the deadline."""
        if self.deadline is None:
            return cap
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise OcrDeadline(DEADLINE)
        return min(cap, left)

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline - 0.1

    def orientation(self, image: Image.Image, dpi: float) -> tuple[int, float | None]:
        """(clockwise degrees to turn the page upright, OSD confidence); (0, None) if unsure."""
        import pytesseract

        s = self.settings
        scale = min(1.0, s.osd_dpi / dpi)
        small = image.resize((max(1, round(image.width * scale)),
                              max(1, round(image.height * scale))), Image.Resampling.BOX)
        try:
            with _pgm(small) as path:
                osd = pytesseract.image_to_osd(
                    path, config=f"--psm 0 --dpi {round(dpi * scale)}",
                    output_type=pytesseract.Output.DICT,
                    timeout=self._timeout(min(30.0, s.timeout_s)))
        except OcrDeadline:
            raise
        except (pytesseract.TesseractError, RuntimeError):
            return 0, None  # too few characters, or a picture: leave the page as it is
        confidence = float(osd.get("orientation_conf", 0.0))
        rotate = int(osd.get("rotate", 0)) % 360
        if rotate and confidence < s.osd_min_confidence:
            return 0, confidence
        return rotate, confidence

    def flatten_photo(self, grey: Image.Image, dpi: float
                      ) -> tuple[Image.Image, sheet.Corners | None]:
        """A photo's sheet warped flat and scaled to A4 at ``dpi`` (as the photo's dpi
        estimate assumed), or the photo unchanged when no sheet is found."""
        if not self.settings.perspective:
            return grey, None
        corners = sheet.find_page(grey)
        if corners is None:
            return grey, None
        return sheet.flatten(grey, corners), corners

    def prepare(self, image: Image.Image, dpi: float, *, photo: bool = False
                ) -> tuple[Image.Image, int, float, float | None]:
        """Upright, straight, grey page: (image, rotation, skew, osd confidence)."""
        return self.prepare_page(image, dpi, photo=photo)[:4]

    def prepare_page(self, image: Image.Image, dpi: float, *, photo: bool = False
                     ) -> tuple[Image.Image, int, float, float | None,
                                sheet.Corners | None]:
        """``prepare`` plus the sheet corners a photo was warped from (None: not warped)."""
        s = self.settings
        grey = image if image.mode == "L" else image.convert("L")
        corners = None
        if photo:
            grey, corners = self.flatten_photo(grey, dpi)
            grey = imaging.flatten_illumination(grey)
        rotation, confidence = self.orientation(grey, dpi) if s.osd else (0, None)
        if rotation:
            grey = imaging.rotate(grey, -rotation)
        skew = imaging.estimate_skew(grey, s.max_deskew_deg) if s.deskew else 0.0
        if abs(skew) >= max(0.1, s.min_deskew_deg):
            grey = imaging.rotate(grey, skew)
        else:
            skew = 0.0  # Tesseract reads small skew better than our rotated copy
        return grey, rotation, skew, confidence, corners

    def recognise(self, image: Image.Image, dpi: float) -> list[Word]:
        """``image_to_data`` on an already prepared page."""
        import pytesseract

        with _pgm(image) as path:
            data = pytesseract.image_to_data(
                path, lang=self.settings.lang, config=f"--psm 3 --dpi {round(dpi)}",
                output_type=pytesseract.Output.DICT,
                timeout=self._timeout(self.settings.timeout_s))
        return parse_data(data)

    def dpi_for(self, native_dpi: float | None) -> float:
        """Resolution to read a page at: ``dpi``, but never upscale a coarser scan beyond
        its own resolution (a 200-dpi fax upscaled to 300 dpi reads worse), nor go below
        ``min_dpi``."""
        if native_dpi is None:
            return float(self.settings.dpi)
        return float(min(self.settings.dpi, max(self.settings.min_dpi, round(native_dpi))))

    def read_page(self, image: Image.Image, dpi: float, *, photo: bool = False) -> OcrPage:
        """Prepare and read one page; an OCR failure is recorded on the page, not raised."""
        import pytesseract

        started = time.perf_counter()
        page = OcrPage(dpi=dpi)
        try:
            self._timeout(self.settings.timeout_s)  # past the deadline: do not start
            (prepared, page.rotation, page.skew_deg, page.osd_confidence,
             page.perspective) = self.prepare_page(image, dpi, photo=photo)
            page.width, page.height = prepared.size
            page.words = self.recognise(prepared, dpi)
        except OcrDeadline:
            page.error = DEADLINE
        except RuntimeError as exc:  # pytesseract's timeout
            page.error = DEADLINE if self._past_deadline() else f"timeout: {exc}"[:200]
        except (pytesseract.TesseractError, OSError) as exc:
            page.error = f"{type(exc).__name__}: {exc}"[:200]
        page.seconds = time.perf_counter() - started
        return page

    def read_pages(self, jobs: Iterable[Callable[[], tuple[Image.Image, float, bool]]]
                   ) -> list[OcrPage]:
        """Read pages in parallel; each job loads its own page (bounded memory)."""

        def run(job: Callable[[], tuple[Image.Image, float, bool]]) -> OcrPage:
            if self._past_deadline():  # do not even render the page
                return OcrPage(error=DEADLINE)
            image, dpi, photo = job()
            return self.read_page(image, dpi, photo=photo)

        jobs = list(jobs)
        if len(jobs) <= 1 or self.settings.pool_size == 1:
            return [run(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=min(self.settings.pool_size, len(jobs)),
                                thread_name_prefix="ocr") as pool:
            return list(pool.map(run, jobs))


class _pgm:
    """A temporary uncompressed PGM of ``image``, removed afterwards."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.path = ""

    def __enter__(self) -> str:
        fd, self.path = tempfile.mkstemp(prefix="kcs-ocr-", suffix=".pgm")
        with os.fdopen(fd, "wb") as handle:
            self.image.save(handle, format="PPM")
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.path:
            os.unlink(self.path)
