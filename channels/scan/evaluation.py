"""Measuring OCR: character error rate, Swedish test letters with known text, real corpora.

Used by the tests and ``benchmarks/bench_ocr.py``, and useful on a new
installation to check that Tesseract and its Swedish model read as expected.

- ``cer``: Levenshtein distance / reference length, on text with whitespace
  collapsed (OCR line breaks are layout, not content).
- ``render_letter``: a Swedish letter (å/ä/ö, names, addresses,
  personnummer, an ärende number) drawn at 300 dpi, with its exact text.
- ``fax``, ``photo``: the same page degraded like a fax (200×100 or 200×200
  dpi, skew, noise, 1-bit) or a phone photo (shadow, blur, JPEG);
  ``phone_photo``: taken at an angle on a table (perspective, rotation, noise).
- ``ocrmypdf_corpus``: the ocrmypdf source distribution's real scans,
  downloaded once with pip into a cache directory.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OCRMYPDF_VERSION = "17.13.0"
A4_300 = (2480, 3508)
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
          "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def normalise_text(text: str) -> str:
    """Whitespace collapsed, typographic dashes and quotes made plain."""
    table = str.maketrans({"—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"',
                           "\u00a0": " "})
    return " ".join(text.translate(table).split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (rapidfuzz when installed, else a plain dynamic programme)."""
    try:
        from rapidfuzz.distance import Levenshtein

        return int(Levenshtein.distance(a, b))
    except ImportError:
        previous = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            current = [i]
            for j, cb in enumerate(b, 1):
                current.append(min(previous[j] + 1, current[j - 1] + 1,
                                   previous[j - 1] + (ca != cb)))
            previous = current
        return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of ``hypothesis`` against ``reference`` (0.0 is perfect)."""
    ref, hyp = normalise_text(reference), normalise_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)


# --------------------------------------------------------------------------- letters


def luhn_digit(digits: str) -> int:
    """The Luhn check digit for a string of digits."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def personnummer(year: int, month: int, day: int, serial: int, *,
                 coordination: bool = False) -> str:
    """A valid YYMMDD-NNNN number (samordningsnummer: day + 60)."""
    core = f"{year % 100:02d}{month:02d}{day + (60 if coordination else 0):02d}{serial:03d}"
    return f"{core[:6]}-{core[6:]}{luhn_digit(core)}"


@dataclass(frozen=True)
class Letter:
    """A rendered test letter and what a reader should find in it."""

    text: str
    image: Image.Image
    dpi: int
    name: str
    street: str
    postcode_city: str
    email: str | None
    phone: str | None
    personnummer: str | None
    arende: str | None
    diarienummer: str | None
    subject: str


_PEOPLE = [
    ("Åsa Öberg", "Söderlångsgatan 14 B", "118 27 Stockholm", "asa.oberg@example.se",
     "070-123 45 67"),
    ("Göran Björklund", "Västmannagatan 3", "113 25 Stockholm", "goran.bjorklund@example.com",
     "08-612 34 56"),
    ("Märta Ängström", "Hässelby strand 88", "165 70 Hässelby", None, "073-987 65 43"),
    ("Jörgen Åkesson", "Skärholmsvägen 7", "127 48 Skärholmen", "jorgen.akesson@example.org",
     None),
]

_BODIES = [
    ("Hemtjänsten till min mamma",
     "Jag skriver angående hemtjänsten till min mamma, Elsa Öberg, som bor på "
     "Ringvägen 45 i Södermalm. Under de senaste två veckorna har personalen "
     "kommit för sent flera gånger och vid två tillfällen inte alls. Hon är 91 år "
     "och behöver hjälp med måltider och medicin varje morgon.",
     "Jag vill att någon från stadsdelsförvaltningen kontaktar mig så snart som "
     "möjligt. Ni når mig på telefon eller e-post. Tack på förhand för er hjälp."),
    ("Buller från byggarbetsplatsen",
     "Sedan början av månaden pågår arbeten på tomten bredvid vårt hus från klockan "
     "sex på morgonen till sent på kvällen, även på lördagar. Det är omöjligt att "
     "sova och barnen får inte någon ro för läxorna.",
     "Jag undrar vilka tider som gäller för byggbuller i bostadsområden och om "
     "miljöförvaltningen kan göra en kontroll. Bifogar gärna fler uppgifter vid behov."),
    ("Ansökan om parkeringstillstånd",
     "Jag har en rörelsenedsättning efter en höftoperation och kan bara gå korta "
     "sträckor. Jag ansöker därför om parkeringstillstånd för rörelsehindrade. "
     "Läkarintyg skickas separat från vårdcentralen i Hässelby.",
     "Hur lång är handläggningstiden och behöver ni något mer från mig? "
     "Vänligen skicka beslutet till min hemadress."),
    ("Fråga om faktura för avfallshämtning",
     "På fakturan för hämtning av hushållsavfall står det att vi har tömning varje "
     "vecka, men vi har sedan i våras ett abonnemang med tömning varannan vecka. "
     "Beloppet blir därför för högt för hela perioden.",
     "Jag ber er rätta fakturan och skicka en ny. Jag har betalat det belopp som "
     "motsvarar vårt abonnemang."),
]


def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONTS:
        if os.path.exists(path):
            return ImageFont.truetype(path, size_px)
    return ImageFont.load_default(size=size_px)


def letter_lines(n: int) -> tuple[list[str], dict[str, str | None]]:
    """The lines of test letter ``n`` (deterministic) and its facts."""
    name, street, city, email, phone = _PEOPLE[n % len(_PEOPLE)]
    subject, first, second = _BODIES[n % len(_BODIES)]
    pnr = personnummer(1940 + n * 7, 1 + n % 12, 3 + n * 5 % 25, 100 + n * 37,
                       coordination=n % 4 == 3)
    from dedupe.arende_number import format_number

    arende = format_number(2026, 4711 + n * 123) if n % 2 == 0 else None
    dnr = f"{100 + n:03d}-{1139 + n}/2026" if n % 2 == 1 else None
    lines = [name, street, city]
    if phone:
        lines.append(f"Tel: {phone}")
    if email:
        lines.append(f"E-post: {email}")
    lines += ["", "Stockholms stad", "Kontaktcenter Stockholm", "Box 8314",
              "104 20 Stockholm", "", f"Stockholm den {12 + n} november 2026", "",
              f"Angående: {subject}"]
    refs = []
    if arende:
        refs.append(f"Ert ärendenummer: {arende}")
    if dnr:
        refs.append(f"Dnr {dnr}")
    refs.append(f"Personnummer: {pnr}")
    lines += [*refs, ""]
    lines += ["Hej!", ""]
    lines += [*textwrap.wrap(first, 78), "", *textwrap.wrap(second, 78)]
    lines += ["", "Med vänliga hälsningar", "", name]
    facts = {"name": name, "street": street, "postcode_city": city, "email": email,
             "phone": phone, "personnummer": pnr, "arende": arende, "diarienummer": dnr,
             "subject": subject}
    return lines, facts


def render_lines(lines: list[str], *, dpi: int = 300, font_pt: float = 11.5,
                 page: tuple[int, int] = A4_300, top_in: float = 1.0,
                 left_in: float = 1.0) -> Image.Image:
    """Draw lines of text on a white page (grey image)."""
    scale = dpi / 300
    size = (round(page[0] * scale), round(page[1] * scale))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = _font(round(font_pt / 72 * dpi))
    y = top_in * dpi
    step = font_pt / 72 * dpi * 1.45
    for line in lines:
        if line:
            draw.text((left_in * dpi, y), line, fill=0, font=font)
        y += step
    return image


def render_letter(n: int, *, dpi: int = 300) -> Letter:
    """Test letter ``n`` as a clean page at ``dpi``."""
    lines, facts = letter_lines(n)
    image = render_lines(lines, dpi=dpi)
    return Letter(text="\n".join(lines), image=image, dpi=dpi, **facts)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- degrading


def fax(image: Image.Image, dpi: int, *, fine: bool = False, skew_deg: float = 1.2,
        noise: float = 0.002, seed: int = 1) -> tuple[Image.Image, tuple[int, int]]:
    """Like a fax: 200×100 (normal) or 200×200 (fine) dpi, skewed, specks, 1-bit.

    Returns the 1-bit image and its (x, y) resolution for the TIFF tags.
    """
    rng = random.Random(seed)
    target = (200, 200 if fine else 100)
    rotated = image.rotate(skew_deg, resample=Image.Resampling.BILINEAR, expand=False,
                           fillcolor=255)
    size = (round(image.width * target[0] / dpi), round(image.height * target[1] / dpi))
    small = rotated.resize(size, Image.Resampling.LANCZOS)
    pixels = small.load()
    assert pixels is not None
    for _ in range(int(size[0] * size[1] * noise)):
        pixels[rng.randrange(size[0]), rng.randrange(size[1])] = rng.choice((0, 255))
    return small.point(lambda v: 255 if v > 150 else 0).convert("1"), target


def photo(image: Image.Image, *, skew_deg: float = -2.0, quality: int = 60) -> bytes:
    """Like a phone photo of the page: uneven light, slight blur, rotation, JPEG."""
    w, h = image.size
    shade = Image.linear_gradient("L").resize((w, h)).point(lambda v: 255 - v // 3)
    lit = Image.composite(image, Image.new("L", (w, h), 0),
                          shade).filter(ImageFilter.GaussianBlur(1.2))
    tilted = lit.rotate(skew_deg, resample=Image.Resampling.BILINEAR, expand=True,
                        fillcolor=90)
    buf = io.BytesIO()
    tilted.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def phone_photo(image: Image.Image, *, seed: int = 1, tilt: float = 0.16,
                rotate_deg: float = 3.0, noise_sigma: float = 7.0, quality: int = 82,
                frame: tuple[int, int] = (2268, 3024)) -> tuple[bytes, tuple[tuple[float, float],
                                                                                ...]]:
    """Like a phone photo of the page lying on a table, taken at an angle.

    The page becomes a quadrilateral (the far edge ``tilt`` narrower than the
    near one, turned ``rotate_deg``) on a darker, unevenly lit background,
    with sensor noise, a slight blur and JPEG compression. Returns the JPEG
    and the page corners (TL, TR, BR, BL as fractions of the frame).
    """
    import math

    import numpy as np

    from channels.scan.perspective import _coefficients

    rng = np.random.default_rng(seed)
    fw, fh = frame
    page_h = fh * 0.80
    page_w = page_h * image.width / image.height
    cx, cy = fw / 2, fh / 2 + fh * 0.01
    top_half = page_w * (1 - tilt) / 2
    bottom_half = page_w / 2
    raw = [(-top_half, -page_h / 2 * (1 - tilt / 3)), (top_half, -page_h / 2 * (1 - tilt / 3)),
           (bottom_half, page_h / 2), (-bottom_half, page_h / 2)]
    angle = math.radians(rotate_deg)
    corners = [(cx + x * math.cos(angle) - y * math.sin(angle),
                cy + x * math.sin(angle) + y * math.cos(angle)) for x, y in raw]
    source = [(0.0, 0.0), (float(image.width), 0.0), (float(image.width), float(image.height)),
              (0.0, float(image.height))]
    coeffs = _coefficients(corners, source)
    grey = image if image.mode == "L" else image.convert("L")
    sheet = grey.transform(frame, Image.Transform.PERSPECTIVE, coeffs,
                           resample=Image.Resampling.BICUBIC, fillcolor=0)
    mask = Image.new("L", grey.size, 255).transform(frame, Image.Transform.PERSPECTIVE, coeffs,
                                                    resample=Image.Resampling.BILINEAR,
                                                    fillcolor=0)
    table = Image.linear_gradient("L").resize(frame).point(lambda v: 70 + v // 4)
    shot = Image.composite(sheet, table, mask)
    light = Image.radial_gradient("L").resize(frame).point(lambda v: 255 - v // 4)
    shot = Image.composite(shot, Image.new("L", frame, 0), light)
    pixels = np.asarray(shot.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float64)
    pixels = np.clip(pixels + rng.normal(0, noise_sigma, pixels.shape), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "L").convert("RGB").save(buf, format="JPEG",
                                                                      quality=quality)
    return buf.getvalue(), tuple((x / fw, y / fh) for x, y in corners)


def tiff_pages(pages: list[tuple[Image.Image, tuple[int, int]]], *,
               compression: str = "group4") -> bytes:
    """A multi-page fax TIFF (CCITT ``group3`` or ``group4``)."""
    buf = io.BytesIO()
    first, dpi = pages[0]
    first.save(buf, format="TIFF", save_all=True, compression=compression, dpi=dpi,
               append_images=[p for p, _ in pages[1:]])
    return buf.getvalue()


def pdf_of_images(images: list[Image.Image], dpi: int) -> bytes:
    """A scanner-style PDF: one image per page, no text layer."""
    buf = io.BytesIO()
    rgb = [im.convert("L") for im in images]
    rgb[0].save(buf, format="PDF", save_all=True, append_images=rgb[1:], resolution=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------- corpora


def ocrmypdf_corpus(cache_dir: Path, version: str = OCRMYPDF_VERSION) -> Path:
    """``tests/resources`` of the ocrmypdf sdist, downloaded once with pip.

    Raises ``subprocess.CalledProcessError`` if pip cannot fetch it: callers
    that depend on real scans must fail, not skip.
    """
    target = cache_dir / f"ocrmypdf-{version}"
    resources = target / "tests" / "resources"
    if (resources / "linn.txt").exists():
        return resources
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--disable-pip-version-check", "-q", f"ocrmypdf=={version}", "-d", tmp],
            check=True, timeout=600, env={**os.environ, "PIP_NO_INPUT": "1"})
        [tarball] = list(Path(tmp).glob("*.tar.gz"))
        with tarfile.open(tarball) as archive:
            archive.extractall(tmp, filter="data")
        unpacked = Path(tmp) / f"ocrmypdf-{version}"
        if not target.exists():
            shutil.move(str(unpacked), target)
    return resources


def sha256(data: bytes) -> str:
    """Hex sha256."""
    return hashlib.sha256(data).hexdigest()
