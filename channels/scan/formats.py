"""Opening scanned files: PDF (text layer or image), multi-page TIFF faxes, JPEG/PNG photos.

``open_document`` sniffs the bytes (never the file name: a ``.docx`` renamed
``.pdf`` is a zip) and returns a ``ScanDocument`` whose pages can be read as
a text layer or rendered to a grey image at a chosen resolution. Everything a
hostile or broken file can do is caught here and turned into
``InputRejected`` with a reason code, *before* any decoder allocates memory
for it:

- a PDF whose Flate streams inflate beyond the pixel budget (a "PDF bomb"),
  or that declares more pages or larger images than the limits allow;
- a raster image whose header declares more pixels than ``max_image_pixels``
  (checked from the header, before decoding);
- encrypted PDFs (``pdf_encrypted``), unparseable PDFs (``pdf_unreadable``),
  truncated images (``image_unreadable``), unknown formats.

PDFium (pypdfium2) is not thread-safe, so every call into it holds
``PDFIUM_LOCK``; OCR of rendered pages runs in parallel outside the lock.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
import warnings
import zlib
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ingest.errors import InputRejected
from ingest.reasons import ReasonCode

PDFIUM_LOCK = threading.RLock()
A4_LONG_SIDE_IN = 11.69
_MIN_RENDER_DPI = 30.0
_MAX_PAPER_IN = 17.0  # A3 is 16.5 in: anything larger is not a letter page


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Limits against bombs and broken scanners (from ``scan.*`` in config/kcs.yaml)."""

    max_file_bytes: int = 200 * 2**20
    max_pages: int = 200
    max_image_pixels: int = 100_000_000
    max_render_pixels: int = 40_000_000
    min_text_layer_chars: int = 20

    @classmethod
    def from_config(cls, cfg: object) -> ScanLimits:
        """The limits of a ``ScanConfig``."""
        return cls(**{name: getattr(cfg, name) for name in cls.__dataclass_fields__})


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}


def heif_available() -> bool:
    """Whether HEIC/HEIF photos (iPhone's default) can be decoded: pillow-heif installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()  # idempotent; Pillow then opens HEIC like any image
    return True


def sniff(data: bytes) -> str | None:
    """``pdf``, ``tiff``, ``jpeg``, ``png``, ``heic`` from magic bytes, else None."""
    head = data[:1024]
    if head.startswith(b"%PDF-") or b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


CONTENT_TYPES = {"pdf": "application/pdf", "tiff": "image/tiff", "jpeg": "image/jpeg",
                 "png": "image/png", "heic": "image/heic"}
PHOTO_FORMATS = frozenset({"jpeg", "heic"})  # camera formats: lighting and perspective fixed


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page as a grey image with square pixels at ``dpi``."""

    image: Image.Image
    dpi: float


class ScanDocument(Protocol):
    """What the scan channel needs from a file, whatever its format."""

    format: str
    page_count: int

    def page_sha256(self, index: int) -> str:
        """Hash of the page's original image data (chain of custody)."""

    def text_layer(self, index: int) -> str | None:
        """The page's own text when it has a usable text layer (PDF), else None."""

    def native_dpi(self, index: int) -> float | None:
        """The resolution the page was scanned at, if it is a scan (None: vector/text)."""

    def render(self, index: int, dpi: float) -> Rendered:
        """The page as a grey ('L') image at about ``dpi`` (capped by the pixel budget)."""

    def subset(self, indices: list[int]) -> bytes:
        """A file of the same format holding only these pages (for one letter of a batch)."""

    def close(self) -> None:
        """Release decoder resources."""


def open_document(data: bytes, limits: ScanLimits) -> ScanDocument:
    """Sniff and open; ``InputRejected`` with a reason code for anything unreadable."""
    if not data:
        raise InputRejected(ReasonCode.EMPTY_INPUT, "zero-byte file")
    if len(data) > limits.max_file_bytes:
        raise InputRejected(ReasonCode.SCAN_FILE_TOO_LARGE,
                            f"{len(data)} bytes > {limits.max_file_bytes}")
    kind = sniff(data)
    if kind == "pdf":
        return PdfScan(data, limits)
    if kind in {"tiff", "jpeg", "png"} or (kind == "heic" and heif_available()):
        return RasterScan(data, kind, limits)
    what = "zip container (e.g. .docx)" if data.startswith(b"PK\x03\x04") else "unknown bytes"
    raise InputRejected(ReasonCode.SCAN_UNSUPPORTED_FORMAT, what)


def _target_size(width: int, height: int, dpi_x: float, dpi_y: float, dpi: float,
                 max_pixels: int) -> tuple[tuple[int, int], float]:
    """Square-pixel size at ``dpi``, lowered until it fits ``max_pixels``."""
    w_in, h_in = width / dpi_x, height / dpi_y
    if w_in * h_in * dpi * dpi > max_pixels:
        dpi = math.sqrt(max_pixels / (w_in * h_in)) * 0.999  # rounding must not overshoot
    return (max(1, round(w_in * dpi)), max(1, round(h_in * dpi))), dpi


# --------------------------------------------------------------------------- PDF

_STREAM = re.compile(rb"stream\r?\n")
_FLATE = re.compile(rb"/FlateDecode|/Fl\b")
_DECLARED_SIZE = re.compile(rb"/Width\s+(\d{1,9})[^>]{0,400}?/Height\s+(\d{1,9})"
                            rb"|/Height\s+(\d{1,9})[^>]{0,400}?/Width\s+(\d{1,9})", re.S)
_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]{0,2000}?/Count\s+(\d{1,12})"
                    rb"|/Count\s+(\d{1,12})[^>]{0,2000}?/Type\s*/Pages\b", re.S)


def _inflated_size(data: bytes, start: int, cap: int) -> int:
    """How many bytes the zlib stream at ``start`` inflates to, counting at most ``cap``+1.

    Decompression is streamed in bounded chunks, so a bomb costs time in
    proportion to ``cap``, never memory in proportion to its claim. When the
    output is itself a zlib stream (chained ``/FlateDecode`` filters, the
    classic two-layer PDF bomb) that second layer is inflated and counted
    on the fly as well.
    """
    outer = zlib.decompressobj()
    inner = None
    produced = inner_produced = 0
    first = True
    pos = start
    while pos < len(data) and max(produced, inner_produced) <= cap and not outer.eof:
        chunk = data[pos:pos + 65536]
        pos += len(chunk)
        pending = chunk
        while max(produced, inner_produced) <= cap:
            try:
                out = outer.decompress(pending, 1 << 20)
            except zlib.error:
                return max(produced, inner_produced)
            produced += len(out)
            if first and out:
                first = False
                if len(out) > 1 and out[0] & 0x0F == 8 and (out[0] << 8 | out[1]) % 31 == 0:
                    inner = zlib.decompressobj()  # zlib header: a second layer
            if inner is not None and out and not inner.eof:
                try:
                    buf = out
                    while buf and inner_produced <= cap:
                        inner_produced += len(inner.decompress(buf, 1 << 20))
                        buf = inner.unconsumed_tail
                except zlib.error:
                    inner = None
            pending = outer.unconsumed_tail
            if not pending or outer.eof:
                break
    return max(produced, inner_produced)


def pdf_preflight(data: bytes, limits: ScanLimits) -> None:
    """Cheap checks on the raw bytes before a PDF parser touches them.

    - every Flate stream (and a second Flate layer inside it) must inflate to
      at most the raw size of the largest allowed page image;
    - no image may declare more than ``max_image_pixels``, and no page tree
      more than ``max_pages`` pages, including declarations hidden in
      compressed object streams.
    """
    cap = limits.max_image_pixels * 4
    _check_declarations(data, limits)
    for match in _STREAM.finditer(data):
        dict_start = data.rfind(b"<<", max(0, match.start() - 4096), match.start())
        header = data[dict_start:match.start()] if dict_start >= 0 else b""
        if not _FLATE.search(header):
            continue
        size = _inflated_size(data, match.end(), cap)
        if size > cap:
            raise InputRejected(ReasonCode.DECOMPRESSION_BOMB,
                                f"a Flate stream inflates beyond {cap} bytes")
        if b"/ObjStm" in header and size <= 16 * 2**20:
            with suppress(zlib.error):
                _check_declarations(zlib.decompressobj().decompress(data[match.end():]),
                                    limits)


def _check_declarations(data: bytes, limits: ScanLimits) -> None:
    for m in _DECLARED_SIZE.finditer(data):
        w, h = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(4)),
                                                                          int(m.group(3)))
        if w * h > limits.max_image_pixels:
            raise InputRejected(ReasonCode.IMAGE_TOO_LARGE,
                                f"an image declares {w}x{h} pixels")
    for m in _COUNT.finditer(data):
        count = int(m.group(1) or m.group(2))
        if count > limits.max_pages:
            raise InputRejected(ReasonCode.SCAN_TOO_MANY_PAGES,
                                f"the page tree claims {count} pages > {limits.max_pages}")


class PdfScan:
    """A PDF, read through PDFium (pypdfium2): text layers, image hashes, rendering."""

    format = "pdf"

    def __init__(self, data: bytes, limits: ScanLimits) -> None:
        import pypdfium2 as pdfium

        self.data = data
        self.limits = limits
        pdf_preflight(data, limits)
        with PDFIUM_LOCK:
            try:
                self._pdfium = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                code = getattr(exc, "err_code", None)
                if code in (4, 5):  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY
                    raise InputRejected(ReasonCode.PDF_ENCRYPTED,
                                        "password-protected PDF") from None
                raise InputRejected(ReasonCode.PDF_UNREADABLE,
                                    f"PDFium: {exc}"[:200]) from None
            self.page_count = len(self._pdfium)
            sizes = [self._pdfium[i].get_size() for i in range(
                min(self.page_count, limits.max_pages))]
        if self.page_count == 0:
            raise InputRejected(ReasonCode.PDF_UNREADABLE, "no pages")
        if self.page_count > limits.max_pages:
            raise InputRejected(ReasonCode.SCAN_TOO_MANY_PAGES,
                                f"{self.page_count} pages > {limits.max_pages}")
        self._sizes_pt = sizes
        self._texts: dict[int, str | None] = {}
        self._native: dict[int, float | None] = {}

    def _images(self, page: object) -> list[object]:
        import pypdfium2.raw as pdfium_c

        return list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4))

    def text_layer(self, index: int) -> str | None:
        """Text of the page if it is a real text layer, not a stamp on a scanned image.

        PDFium's text extraction, not pdfminer's: C++ speed, and a content
        stream of millions of text operators cannot stall the worker.
        """
        if index in self._texts:
            return self._texts[index]
        text: str | None = None
        with PDFIUM_LOCK:
            page = self._pdfium[index]
            try:
                textpage = page.get_textpage()
                raw = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
                textpage.close()
                chars = sum(1 for c in raw if not c.isspace())
                if chars >= self.limits.min_text_layer_chars:
                    w, h = page.get_size()
                    covered = 0.0
                    for image in self._images(page):
                        left, bottom, right, top = image.get_bounds()
                        covered = max(covered, (right - left) * (top - bottom) / (w * h or 1))
                    # A full-page scan with a short text stamp is still a scan.
                    if not (covered > 0.7 and chars < 100):
                        text = raw
            except Exception:  # PDFium refuses odd pages: OCR them instead
                text = None
            finally:
                page.close()
        self._texts[index] = text
        return text

    def _paper_scale(self, index: int) -> float:
        """Inches of paper per inch of PDF page: 1, except for pages larger than any
        letter paper (a phone photo wrapped at 72 or 96 dpi), which are taken as A4."""
        long_in = max(self._sizes_pt[index]) / 72
        return A4_LONG_SIDE_IN / long_in if long_in > _MAX_PAPER_IN else 1.0

    def native_dpi(self, index: int) -> float | None:
        """Resolution of the largest image on the page, per inch of paper (a fax image
        placed at 200×100 dpi is 200)."""
        if index in self._native:
            return self._native[index]
        self._native[index] = self._measure_native_dpi(index)
        return self._native[index]

    def _measure_native_dpi(self, index: int) -> float | None:
        best: tuple[float, float] | None = None
        with PDFIUM_LOCK:
            page = self._pdfium[index]
            try:
                for image in self._images(page):
                    m = image.get_matrix()
                    width_pt, height_pt = math.hypot(m.a, m.b), math.hypot(m.c, m.d)
                    px_w, px_h = image.get_px_size()
                    if width_pt <= 0 or height_pt <= 0:
                        continue
                    dpi = max(px_w / (width_pt / 72), px_h / (height_pt / 72))
                    if best is None or width_pt * height_pt > best[0]:
                        best = (width_pt * height_pt, dpi)
            except Exception:
                best = None
            finally:
                page.close()
        return best[1] / self._paper_scale(index) if best else None

    def page_sha256(self, index: int) -> str:
        """sha256 over the page's images as stored in the file (and its text and size).

        For a scanned page that is the scanner's own encoded image (CCITT,
        JPEG …), so the hash identifies the original image, not our rendering.
        """
        digest = hashlib.sha256(repr(self._sizes_pt[index]).encode())
        with PDFIUM_LOCK:
            page = self._pdfium[index]
            try:
                for image in self._images(page):
                    try:
                        digest.update(bytes(image.get_data(decode_simple=False)))
                    except Exception:
                        digest.update(repr(image.get_px_size()).encode())
                textpage = page.get_textpage()
                digest.update(textpage.get_text_range().encode("utf-8", "replace"))
                textpage.close()
            finally:
                page.close()
        return digest.hexdigest()

    def render(self, index: int, dpi: float) -> Rendered:
        """Render with PDFium (honours /Rotate), grey, capped at ``max_render_pixels``.

        ``dpi`` is per inch of paper: a page larger than any letter paper is
        taken to be A4 (``_paper_scale``), so a photo wrapped in a PDF is not
        blown up to poster size.
        """
        w_pt, h_pt = self._sizes_pt[index]
        paper = self._paper_scale(index)
        native = self.native_dpi(index)
        (_, _), dpi = _target_size(round(w_pt * paper), round(h_pt * paper), 72, 72, dpi,
                                   self.limits.max_render_pixels)
        if dpi < _MIN_RENDER_DPI:
            raise InputRejected(ReasonCode.IMAGE_TOO_LARGE,
                                f"page {index + 1} is {w_pt:.0f}x{h_pt:.0f} pt")
        with PDFIUM_LOCK:
            page = self._pdfium[index]
            try:
                # At (or above) the scan's own resolution, smoothing only blurs: PDFium
                # would interpolate a 2480-pixel image onto 2480.0001 pixels.
                sharp = native is not None and dpi >= 0.95 * native
                bitmap = page.render(scale=dpi * paper / 72, grayscale=True,
                                     no_smoothimage=sharp)
                image = bitmap.to_pil().convert("L")
            finally:
                page.close()
        return Rendered(image, dpi)

    def subset(self, indices: list[int]) -> bytes:
        """A new PDF with these pages, copied as they are (no re-encoding)."""
        import pypdfium2 as pdfium

        with PDFIUM_LOCK:
            out = pdfium.PdfDocument.new()
            out.import_pages(self._pdfium, list(indices))
            buf = io.BytesIO()
            out.save(buf)
            out.close()
        return buf.getvalue()

    def close(self) -> None:
        """Close both parsers."""
        with PDFIUM_LOCK:
            self._pdfium.close()


# --------------------------------------------------------------------------- raster


def _fax_dpi(width: int, height: int) -> tuple[float, float]:
    """A fax TIFF without resolution tags: 1728 px wide is 204 dpi; fine or normal mode."""
    dpi_x = 204.0 if 1700 <= width <= 1750 else width / 8.27
    lines_per_inch = height / A4_LONG_SIDE_IN
    return dpi_x, (98.0 if lines_per_inch < 150 else 196.0)


class RasterScan:
    """TIFF (every frame a page), JPEG, PNG and HEIC (the first frame only)."""

    def __init__(self, data: bytes, kind: str, limits: ScanLimits) -> None:
        self.data = data
        self.format = kind
        self.limits = limits
        self._lock = threading.Lock()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self._image = Image.open(io.BytesIO(data))
                frames = getattr(self._image, "n_frames", 1) if kind == "tiff" else 1
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputRejected(ReasonCode.IMAGE_TOO_LARGE, "image header") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InputRejected(ReasonCode.IMAGE_UNREADABLE,
                                f"{kind}: {type(exc).__name__}") from None
        if frames > limits.max_pages:
            raise InputRejected(ReasonCode.SCAN_TOO_MANY_PAGES,
                                f"{frames} frames > {limits.max_pages}")
        self.page_count = frames
        self._frames: list[tuple[int, int, float, float]] = []
        try:
            for frame in ImageSequence.Iterator(self._image):
                if len(self._frames) >= frames:
                    break
                w, h = frame.size
                if w * h > limits.max_image_pixels:
                    raise InputRejected(ReasonCode.IMAGE_TOO_LARGE,
                                        f"page {len(self._frames) + 1} is {w}x{h} pixels")
                self._frames.append((w, h, *self._dpi(frame)))
        except InputRejected:
            raise
        except (OSError, ValueError, EOFError, SyntaxError) as exc:
            raise InputRejected(ReasonCode.IMAGE_UNREADABLE,
                                f"{kind}: {type(exc).__name__}") from None
        self.page_count = len(self._frames)
        if self.page_count == 0:
            raise InputRejected(ReasonCode.IMAGE_UNREADABLE, "no frames")

    @property
    def compression(self) -> str | None:
        """The TIFF compression of the first frame (``group3``/``group4`` for faxes)."""
        return self._image.info.get("compression") if self.format == "tiff" else None

    def _dpi(self, frame: Image.Image) -> tuple[float, float]:
        w, h = frame.size
        dpi = frame.info.get("dpi")
        if dpi and len(dpi) == 2 and all(float(d) >= 50 for d in dpi):
            dpi_x, dpi_y = float(dpi[0]), float(dpi[1])
            # A photo claiming 72 dpi for a 4000-pixel page is not a 55-inch page.
            if 2.0 <= w / dpi_x <= 30 and 2.0 <= h / dpi_y <= 30:
                return dpi_x, dpi_y
        if self.format == "tiff" and frame.mode == "1":
            return _fax_dpi(w, h)
        estimate = max(w, h) / A4_LONG_SIDE_IN  # a photo of a letter fills the frame
        return estimate, estimate

    def page_sha256(self, index: int) -> str:
        """The file's sha256 for a single image; the decoded frame's pixels for TIFF pages."""
        if self.format != "tiff":
            return hashlib.sha256(self.data).hexdigest()
        frame = self._frame(index)
        digest = hashlib.sha256(f"{frame.mode}{frame.size}".encode())
        digest.update(frame.tobytes())
        return digest.hexdigest()

    def native_dpi(self, index: int) -> float | None:
        """The frame's own resolution (the finer axis of a 200×100 fax)."""
        return max(self._frames[index][2:])

    def text_layer(self, index: int) -> str | None:
        """Images have no text layer."""
        return None

    def _frame(self, index: int) -> Image.Image:
        with self._lock:
            try:
                self._image.seek(index)
                frame = self._image.copy()
                frame.load()
            except (OSError, ValueError, EOFError, SyntaxError) as exc:
                raise InputRejected(ReasonCode.IMAGE_UNREADABLE,
                                    f"page {index + 1}: {type(exc).__name__}") from None
        if self.format != "tiff":
            frame = ImageOps.exif_transpose(frame) or frame
        return frame

    def render(self, index: int, dpi: float) -> Rendered:
        """The frame in grey, resampled to square pixels at ``dpi`` (fax 200×100 → 300×300)."""
        frame = self._frame(index)
        w, h, dpi_x, dpi_y = self._frames[index]
        if frame.size != (w, h):  # EXIF rotation swapped the axes
            dpi_x, dpi_y = dpi_y, dpi_x
            w, h = frame.size
        if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P"
                                                   and "transparency" in frame.info):
            background = Image.new("RGBA", frame.size, "white")
            frame = Image.alpha_composite(background, frame.convert("RGBA"))
        grey = frame.convert("L")
        size, dpi = _target_size(w, h, dpi_x, dpi_y, dpi, self.limits.max_render_pixels)
        if size != grey.size:
            grey = grey.resize(size, Image.Resampling.BILINEAR
                               if size[0] > w else Image.Resampling.LANCZOS)
        return Rendered(grey, dpi)

    def subset(self, indices: list[int]) -> bytes:
        """The same pages in a new TIFF, keeping fax compression; images are single pages."""
        if self.format != "tiff" or list(indices) == list(range(self.page_count)):
            return self.data
        frames = [self._frame(i) for i in indices]
        buf = io.BytesIO()
        bilevel = all(f.mode == "1" for f in frames)
        dpis = [self._frames[i][2:] for i in indices]
        frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:],
                       compression="group4" if bilevel else "tiff_lzw", dpi=dpis[0])
        return buf.getvalue()

    def close(self) -> None:
        """Close the image file."""
        self._image.close()
