"""Scan OCR: pages/minute and character error rate, KCS vs ``ocrmypdf --sidecar``, same run.

The page set (9 pages, all with known text) is one scanner-style PDF:
ocrmypdf's own real scans (CCITT fax page, skewed, rotated+skewed, upside
down; ground truth ``linn.txt``) and Swedish letters rendered here (two
clean 300-dpi scans, a 200×100 and a 200×200 dpi CCITT G4 fax, a phone
photo). Both engines get the same file, the same languages (swe+eng), page
rotation and deskew, and both use both cores (ocrmypdf ``--jobs 2``, KCS
two OCR workers), with ``OMP_THREAD_LIMIT=1``. ocrmypdf is the engine
paperless-ngx uses; its figures are the anchor, and the ratio is what counts
on this noisy machine. Rounds alternate engines.

Text-layer PDFs are never OCR'd by KCS: their pages/second are reported
(with ``ocrmypdf --skip-text`` beside them).

Run: ``.venv/bin/python benchmarks/bench_ocr.py [--rounds N]`` (needs the
dev extra: ``pip install -e '.[dev]'`` brings ocrmypdf 17.13.0).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import REPO

from channels.scan import evaluation

LANGS = "swe+eng"


def _pdf_merge(parts: list[bytes]) -> bytes:
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    for part in parts:
        out.import_pages(pdfium.PdfDocument(part))
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _subset(data: bytes, index: int) -> bytes:
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    out.import_pages(pdfium.PdfDocument(data), [index])
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def page_set() -> tuple[bytes, list[tuple[str, str]]]:
    """(one PDF, [(page name, ground truth)]) in page order."""
    import img2pdf

    resources = evaluation.ocrmypdf_corpus(REPO / ".cache" / "corpora")
    linn = (resources / "linn.txt").read_text(encoding="utf-8")
    parts: list[bytes] = []
    truths: list[tuple[str, str]] = []
    for name, index in (("ccitt.pdf", 0), ("skew.pdf", 0), ("rotated_skew.pdf", 0),
                        ("cardinal.pdf", 2)):
        parts.append(_subset((resources / name).read_bytes(), index))
        truths.append((f"ocrmypdf {name} p{index + 1}", linn))
    letters = [evaluation.render_letter(n) for n in range(4)]
    for n in (0, 1):
        buf = io.BytesIO()
        letters[n].image.save(buf, format="PNG", dpi=(300, 300))
        parts.append(img2pdf.convert(buf.getvalue()))
        truths.append((f"Swedish letter {n}, clean 300 dpi", letters[n].text))
    for n, fine in ((2, False), (3, True)):
        image, dpi = evaluation.fax(letters[n].image, 300, fine=fine, seed=n)
        parts.append(img2pdf.convert(evaluation.tiff_pages([(image, dpi)])))
        truths.append((f"Swedish fax {'200x200' if fine else '200x100'} G4", letters[n].text))
    parts.append(img2pdf.convert(evaluation.photo(letters[0].image)))
    truths.append(("Swedish letter, phone photo", letters[0].text))
    return _pdf_merge(parts), truths


def run_kcs(pdf: bytes, settings) -> tuple[float, list[str]]:
    """Seconds and per-page text through the scan normaliser (OSD, deskew, OCR, fields)."""
    from channels.scan.normalise import normalise_scan
    from ingest.errors import NeedsReview
    from ingest.model import Channel, ChannelMeta

    started = time.perf_counter()
    try:
        message, blobs = normalise_scan(pdf, ChannelMeta(Channel.LETTER, "bench"), settings)
    except NeedsReview as hold:
        message, blobs = hold.result, hold.blobs
    seconds = time.perf_counter() - started
    record = json.loads(blobs[message.headers["x-scan-record"]])
    return seconds, [p["text"] for p in record["pages"]]


def run_ocrmypdf(pdf: bytes, *, skip_text: bool = False) -> tuple[float, list[str]]:
    """Seconds and per-page sidecar text of one ocrmypdf run."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out, side = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf", Path(tmp) / "out.txt"
        src.write_bytes(pdf)
        args = [str(Path(sys.executable).parent / "ocrmypdf"), "--sidecar", str(side),
                "--output-type", "pdf", "-l", LANGS, "--jobs", "2", "-q"]
        args += ["--skip-text"] if skip_text else ["--rotate-pages", "--deskew"]
        started = time.perf_counter()
        subprocess.run([*args, str(src), str(out)], check=True)
        seconds = time.perf_counter() - started
        return seconds, side.read_text(encoding="utf-8").split("\f")


def text_pdf(pages: int) -> bytes:
    """A born-digital letter PDF (Helvetica text layer), ``pages`` pages."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    pdf.add_font("DejaVu", fname=str(font)) if font.exists() else None
    for n in range(pages):
        pdf.add_page()
        pdf.set_font("DejaVu" if font.exists() else "Helvetica", size=11)
        lines, _ = evaluation.letter_lines(n)
        for line in lines:
            pdf.cell(0, 6, line if font.exists() else line.encode("latin-1", "replace")
                     .decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("ocrmypdf", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit("ocrmypdf is not installed: pip install -e '.[dev]' (ocrmypdf==17.13.0)")
    from ingest.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="kcs-bench-ocr-"))
    settings = load_settings({"KCS_VAR_DIR": str(tmp), "KCS_CONFIG_DIR": str(REPO / "config")})
    scan = settings.kcs.scan.model_copy(update={"ocr_workers": 2})
    import dataclasses

    settings = dataclasses.replace(settings, kcs=settings.kcs.model_copy(update={"scan": scan}))
    pdf, truths = page_set()
    n = len(truths)
    times: dict[str, list[float]] = {"kcs": [], "ocrmypdf": []}
    texts: dict[str, list[str]] = {}
    for _ in range(args.rounds):
        for engine in ("ocrmypdf", "kcs"):
            seconds, pages = (run_ocrmypdf(pdf) if engine == "ocrmypdf"
                              else run_kcs(pdf, settings))
            times[engine].append(seconds)
            texts[engine] = pages
    cers = {e: [evaluation.cer(t, texts[e][i] if i < len(texts[e]) else "")
                for i, (_, t) in enumerate(truths)] for e in times}
    ppm = {e: n / min(times[e]) * 60 for e in times}
    mean = {e: sum(cers[e]) / n for e in times}
    print(f"{n} scanned pages (one PDF), best of {args.rounds} rounds, swe+eng, rotate + deskew,"
          f" 2 parallel pages, OMP_THREAD_LIMIT=1\n")
    print("| engine | pages/min | mean CER | worst CER |")
    print("|---|---|---|---|")
    for e in ("kcs", "ocrmypdf"):
        print(f"| {'KCS scan channel' if e == 'kcs' else 'ocrmypdf 17.13 --sidecar'} | "
              f"{ppm[e]:.1f} | {mean[e]:.2%} | {max(cers[e]):.2%} |")
    print(f"| **ratio KCS / ocrmypdf** | **{ppm['kcs'] / ppm['ocrmypdf']:.2f}×** | "
          f"{mean['kcs'] / mean['ocrmypdf']:.2f}× | |\n")
    print("| page | KCS CER | ocrmypdf CER |")
    print("|---|---|---|")
    for i, (name, _) in enumerate(truths):
        print(f"| {name} | {cers['kcs'][i]:.2%} | {cers['ocrmypdf'][i]:.2%} |")

    pages = 20
    born = text_pdf(pages)
    kcs_text = min(run_kcs(born, settings)[0] for _ in range(3))
    skip = min(run_ocrmypdf(born, skip_text=True)[0] for _ in range(2))
    from channels.scan.formats import ScanLimits, open_document

    doc = open_document(born, ScanLimits())
    assert all(doc.text_layer(i) for i in range(pages)), "text-layer pages must not be OCR'd"
    print(f"\nText-layer PDF ({pages} pages, never OCR'd): KCS {pages / kcs_text:.0f} pages/s; "
          f"ocrmypdf --skip-text {pages / skip:.1f} pages/s.")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
