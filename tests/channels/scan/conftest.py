"""Fixtures for the scan channel: real scans, rendered Swedish letters, hostile files.

The ocrmypdf source distribution's ``tests/resources`` (real scans: a CCITT
fax page, skewed and rotated pages, a scanner's PDF, ground truth
``linn.txt``) is downloaded once with pip into ``.cache/corpora/``. A failed
download fails the tests that need it: real scans are the proof.

OCR is the expensive part (seconds a page), so pages are rendered and read
once per session (``ocr_once``) and shared by the tests that look at them.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests_support import pdf_file

from channels.scan import evaluation
from channels.scan.ocr import OcrEngine, OcrPage, OcrSettings
from ingest.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPORA = REPO_ROOT / ".cache" / "corpora"


@pytest.fixture(scope="session")
def ocr_corpus() -> Path:
    """ocrmypdf 17.13.0 ``tests/resources``: real scans with ground truth."""
    path = evaluation.ocrmypdf_corpus(CORPORA)
    assert (path / "ccitt.pdf").exists() and (path / "linn.txt").exists(), path
    return path


@pytest.fixture(scope="session")
def linn_truth(ocr_corpus: Path) -> str:
    """The ground truth text of every page made from linn.png."""
    return (ocr_corpus / "linn.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def letters() -> list[evaluation.Letter]:
    """Four rendered Swedish test letters (300 dpi) with their exact text and facts."""
    return [evaluation.render_letter(n) for n in range(4)]


@pytest.fixture(scope="session")
def engine() -> OcrEngine:
    """The OCR engine with the shipped defaults (swe+eng, OSD, deskew)."""
    return OcrEngine(OcrSettings())


@pytest.fixture(scope="session")
def ocr_once(engine: OcrEngine) -> Callable[[str, Callable[[], tuple[Image.Image, float, bool]]],
                                            OcrPage]:
    """Read a page once per session under a name; later calls return the same result."""
    cache: dict[str, OcrPage] = {}
    lock = threading.Lock()

    def read(name: str, load: Callable[[], tuple[Image.Image, float, bool]]) -> OcrPage:
        with lock:
            if name not in cache:
                image, dpi, photo = load()
                cache[name] = engine.read_page(image, dpi, photo=photo)
            return cache[name]

    return read


def with_scan(settings: Settings, **changes: Any) -> Settings:
    """Settings with some ``scan.*`` values replaced."""
    scan = settings.kcs.scan.model_copy(update=changes)
    return dataclasses.replace(settings, kcs=settings.kcs.model_copy(update={"scan": scan}))


@pytest.fixture
def scan_settings(settings: Settings) -> Callable[..., Settings]:
    """``with_scan`` on the default test settings (private Redis, temp var dir)."""
    return lambda **changes: with_scan(settings, **changes)


# --------------------------------------------------------------------------- hostile files


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid, all-white 1-bit PNG of ``width``×``height`` pixels (a few dozen KiB)."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row) for _ in range(height)]
    idat = b"".join(chunks) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _pdf(objects: list[bytes]) -> bytes:
    return pdf_file(objects, version=b"1.7")


def flate_bomb_pdf(inflated_bytes: int = 640 * 2**20) -> bytes:
    """A one-page PDF whose content stream is two layers of Flate over 640 MiB of spaces."""
    inner = zlib.compressobj(9)
    chunk = b" " * 2**20
    layer1 = b"".join(inner.compress(chunk) for _ in range(inflated_bytes // len(chunk)))
    layer1 += inner.flush()
    layer2 = zlib.compress(layer1, 9)
    stream = (b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % len(layer2)
              + layer2 + b"\nendstream")
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
                 stream])


def page_tree_bomb_pdf(levels: int = 10, fanout: int = 10) -> bytes:
    """A tiny PDF whose page tree shares nodes, so it claims fanout**levels pages."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    # Object 2 is the root; each level's node lists the next level's node fanout times.
    for level in range(levels):
        number = 2 + level
        kids = b" ".join(b"%d 0 R" % (number + 1) for _ in range(fanout))
        count = fanout ** (levels - level)
        objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>"
                   % (1 + levels))
    return _pdf(objects)


def text_pdf(pages: list[str]) -> bytes:
    """A born-digital PDF: one or more lines of Helvetica text per page (a real text layer)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               ("<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * i} 0 R"
                                                     for i in range(len(pages)))
                + f"] /Count {len(pages)} >>").encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>"]
    for i, text in enumerate(pages):
        ops = b"BT /F1 11 Tf 72 760 Td 14 TL "
        for line in text.splitlines():
            escaped = (line.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(")
                       .replace(b")", b"\\)"))
            ops += b"(" + escaped + b") Tj T* "
        ops += b"ET"
        objects.append((f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                        f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
                        ).encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream")
    return _pdf(objects)


def encrypted_pdf(source: bytes, password: str = "hemligt") -> bytes:
    """``source`` re-saved with AES-256 and a user password (pikepdf, from ocrmypdf's deps)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(source)) as pdf:
        buf = io.BytesIO()
        pdf.save(buf, encryption=pikepdf.Encryption(user=password, owner=password + "!",
                                                    R=6))
        return buf.getvalue()


def docx_bytes() -> bytes:
    """A minimal .docx (a zip with Word's content types), to be renamed .pdf."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas'
                    '.openxmlformats.org/package/2006/content-types"/>')
        zf.writestr("word/document.xml", "<w:document>Hej</w:document>")
    return buf.getvalue()


def qr_separator(size: tuple[int, int], code: str = "PATCHT") -> Image.Image:
    """A separator sheet: a QR code with ``code`` in the middle of a white page."""
    import zxingcpp

    barcode = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.QRCode)
    image = barcode.to_image(scale=12)
    qr = Image.frombytes("L", (image.shape[1], image.shape[0]), memoryview(image).tobytes())
    page = Image.new("L", size, 255)
    page.paste(qr, ((size[0] - qr.width) // 2, (size[1] - qr.height) // 3))
    return page


@pytest.fixture(scope="session")
def hostile() -> dict[str, bytes]:
    """Bad input every path must survive, by name."""
    blank = Image.new("L", (200, 200), 255)
    buf = io.BytesIO()
    blank.save(buf, format="JPEG")
    return {"zero": b"", "huge_png": huge_png(), "flate_bomb": flate_bomb_pdf(),
            "page_tree_bomb": page_tree_bomb_pdf(),
            "encrypted": encrypted_pdf(text_pdf(["Hemligt brev"])),
            "docx_as_pdf": docx_bytes(), "truncated_jpeg": buf.getvalue()[:300]}


# --------------------------------------------------------------------------- web


@pytest.fixture
def serve_app(web_server: Callable[..., str]) -> Callable[..., str]:
    """Serve ``create_app(runtime)`` on a free loopback port (the shared fixture)."""
    return web_server


@pytest.fixture(scope="session")
def make_text_pdf() -> Callable[[list[str]], bytes]:
    """``text_pdf`` as a fixture (test modules cannot import conftest)."""
    return text_pdf


@pytest.fixture(scope="session")
def make_separator() -> Callable[..., Image.Image]:
    """``qr_separator`` as a fixture."""
    return qr_separator


@pytest.fixture(scope="session")
def make_encrypted() -> Callable[..., bytes]:
    """``encrypted_pdf`` as a fixture."""
    return encrypted_pdf
