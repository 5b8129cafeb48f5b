"""PDF text in a child process: ordinary PDFs read as before, hostile ones contained.

The hostile PDFs are real ones, built here: a content stream of two million
one-character text operations (pdfminer needs about 30 µs and 2 KB per
character, so a minute and gigabytes) and a FlateDecode stream that inflates
to 400 MB of zeros. Both are small on the wire. Each test checks that the
limit that should stop it did: the clock stops the first only after
``timeout_s`` (it was still working), memory stops the second long before
its clock runs out.
"""

from __future__ import annotations

import resource
import sys
import time
import zlib

import pytest

from channels.email import pdftext
from channels.email.normalise import EmailLimits, normalise_email
from channels.email.pdftext import PdfExtractorUnavailable, PdfText, extract_pdf_text
from ingest.errors import StageError
from ingest.reasons import ReasonCode

R = ReasonCode
BOMB_MB = 400


@pytest.fixture(scope="module")
def many_text_operations(make_flate_pdf) -> bytes:
    """Two million ``(x) Tj`` operations on one page, about 20 KB compressed."""
    content = b"BT /F1 1 Tf 10 10 Td " + b"(x) Tj " * 2_000_000 + b"ET"
    return make_flate_pdf(zlib.compress(content))


@pytest.fixture(scope="module")
def zeros_bomb(make_flate_pdf) -> bytes:
    """A content stream that inflates to 400 MB of zeros; built a megabyte at a time."""
    packer = zlib.compressobj()
    zeros = bytes(2**20)
    compressed = b"".join(packer.compress(zeros) for _ in range(BOMB_MB)) + packer.flush()
    return make_flate_pdf(compressed)


def timed(data: bytes, **limits: float) -> tuple[PdfText, float]:
    start = time.monotonic()
    result = extract_pdf_text(data, **{"max_pages": 50, "timeout_s": 20, "memory_mb": 512,
                                       **limits})
    return result, time.monotonic() - start


# --------------------------------------------------------------------------- ordinary PDFs


def test_text_layer_is_read_in_the_child(make_pdf) -> None:
    result, _ = timed(make_pdf(["Ansökan om bygglov för Tallvägen 12", "Sida två"]))
    assert result == PdfText(text="Ansökan om bygglov för Tallvägen 12\n\nSida två", pages=2)


def test_pages_beyond_the_cap_are_not_read(make_pdf) -> None:
    result, _ = timed(make_pdf(["Sida ett", "Sida två", "Sida tre"]), max_pages=2)
    assert result.pages == 2
    assert result.text == "Sida ett\n\nSida två"


def test_text_is_cut_at_max_chars(make_pdf) -> None:
    result = extract_pdf_text(make_pdf(["a" * 80, "b" * 80]), max_pages=50, timeout_s=20,
                              memory_mb=512, max_chars=100)
    assert result.text == "a" * 80 + "\n\n" + "b" * 20
    assert result.problems == (R.TEXT_TRUNCATED,)


@pytest.mark.parametrize(("pages", "encrypt", "problem"), [
    (["Hemlig text"], True, R.PDF_ENCRYPTED),
    (["", ""], False, R.PDF_NO_TEXT_LAYER),
])
def test_encrypted_and_scanned_pdfs_keep_their_codes(make_pdf, pages, encrypt, problem) -> None:
    result, _ = timed(make_pdf(pages, encrypt=encrypt))
    assert result.text is None
    assert result.problems == (problem,)


def test_broken_pdf_is_unreadable() -> None:
    result, _ = timed(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    assert result.problems == (R.PDF_UNREADABLE,)


# --------------------------------------------------------------------------- hostile PDFs


def test_many_text_operations_run_into_the_time_limit(many_text_operations) -> None:
    assert len(many_text_operations) < 50_000
    result, elapsed = timed(many_text_operations, timeout_s=1, memory_mb=4096)
    assert result == PdfText(problems=(R.PDF_TOO_COMPLEX,))
    assert 1 <= elapsed < 4  # still working when the clock ran out, then stopped at once


def test_decompression_bomb_runs_into_the_memory_limit(zeros_bomb) -> None:
    assert len(zeros_bomb) < 1_000_000
    worker_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, elapsed = timed(zeros_bomb, timeout_s=60, memory_mb=512)
    assert result == PdfText(problems=(R.PDF_TOO_COMPLEX,))
    assert elapsed < 20  # memory stopped it, not the 60 s clock (pdfminer needs minutes)
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - worker_peak
    assert growth_kb < 100 * 1024  # the 400 MB were never in this process


def test_bomb_in_a_mail_is_kept_and_the_message_normalised(make_mail, zeros_bomb) -> None:
    raw = make_mail("Se bifogad ritning.", attachments=[
        ("ritning.pdf", "application/pdf", zeros_bomb)])
    parsed = normalise_email(raw)  # default limits: 20 s, 512 MB
    (attachment,) = parsed.message.attachments
    assert attachment.problems == (R.PDF_TOO_COMPLEX,)
    assert attachment.text is None
    assert parsed.blobs[attachment.sha256] == zeros_bomb  # kept for staff to open
    assert parsed.message.body == "Se bifogad ritning."
    assert R.PDF_TOO_COMPLEX in parsed.message.problems


def test_slow_pdf_stops_at_pdf_timeout_s_and_costs_no_other_attachment(
        make_mail, make_pdf, many_text_operations) -> None:
    raw = make_mail("Två bilagor.", attachments=[
        ("lang.pdf", "application/pdf", many_text_operations),
        ("ansokan.pdf", "application/pdf", make_pdf(["Ansökan om parkeringstillstånd"]))])
    start = time.monotonic()
    parsed = normalise_email(raw, EmailLimits(pdf_timeout_s=1))
    assert time.monotonic() - start < 5
    slow, normal = parsed.message.attachments
    assert slow.problems == (R.PDF_TOO_COMPLEX,)
    assert parsed.blobs[slow.sha256] == many_text_operations
    assert normal.text == "Ansökan om parkeringstillstånd"
    assert "[Bilaga: ansokan.pdf]\nAnsökan om parkeringstillstånd" in parsed.message.full_text


# --------------------------------------------------------------------------- the child process


def test_child_gets_no_secrets_from_the_worker_environment(monkeypatch) -> None:
    monkeypatch.setenv("KCS_API_TOKEN", "hemlig")
    monkeypatch.setenv("DATABASE_URL", "postgresql://kcs:hemlig@db/kcs")
    environment = pdftext._child_environment()
    assert "hemlig" not in "".join(environment.values())
    assert set(environment) <= {"PATH", "LC_ALL"}


def test_no_child_process_is_a_retry_not_a_reason_code(monkeypatch, make_mail, make_pdf) -> None:
    raw = make_mail(attachments=[("a.pdf", "application/pdf", make_pdf(["Hej"]))])
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    with pytest.raises(PdfExtractorUnavailable) as info:
        normalise_email(raw)
    assert isinstance(info.value, StageError)  # the pipeline retries StageError
