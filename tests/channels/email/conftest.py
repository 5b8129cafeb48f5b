"""Fixtures for the e-mail normaliser: samples on disk, real corpora, hand-made PDFs.

The external corpora (talon and mail-parser sdists) are downloaded once with
pip into ``.cache/corpora/`` and reused. A failed download fails the tests
that need it: these corpora are the proof that real mail works.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests_support import pdf_file
from tests_support import sdist as _sdist

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLES = REPO_ROOT / "tests" / "samples" / "email"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Hand-written Swedish sample mails (tests/samples/email)."""
    return SAMPLES


@pytest.fixture(scope="session")
def sample() -> Callable[[str], bytes]:
    """Raw bytes of one sample by file name."""
    return lambda name: (SAMPLES / name).read_bytes()


@pytest.fixture(scope="session")
def cpython_email_data() -> Path:
    """CPython's own test corpus (test/test_email/data), read in place."""
    import test

    path = Path(test.__file__).resolve().parent / "test_email" / "data"
    assert path.is_dir(), f"CPython test data missing at {path}; install python3 test package"
    return path


@pytest.fixture(scope="session")
def talon_fixtures() -> Path:
    """talon 1.4.4 ``tests/fixtures`` (reply/quote fixtures from real clients)."""
    path = _sdist("talon", "1.4.4") / "tests" / "fixtures"
    assert path.is_dir(), path
    return path


@pytest.fixture(scope="session")
def mail_parser_mails() -> Path:
    """mail-parser 4.8.0 ``tests/mails`` (real-world and malformed mail, some spam)."""
    path = _sdist("mail-parser", "4.8.0") / "tests" / "mails"
    assert path.is_dir(), path
    return path


def build_pdf(pages: list[str], *, encrypt: bool = False) -> bytes:
    """A minimal valid PDF, written by hand: one Helvetica text line per page.

    An empty string makes a page without any text (like a scan). With
    ``encrypt`` the trailer carries a Standard security handler whose user
    password is not empty, so a reader without the password cannot open it.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        ("<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
         + f"] /Count {len(pages)} >>").encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, text in enumerate(pages):
        escaped = (text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(")
                   .replace(b")", b"\\)"))
        stream = b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET" if text else b""
        objects.append(
            (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
             f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>").encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    extra = b""
    if encrypt:
        objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <" + b"5a" * 32 + b"> /U <"
                       + b"c3" * 32 + b"> /P -3904 >>")
        extra = b" /Encrypt %d 0 R /ID [<%s><%s>]" % (len(objects), b"ab" * 16, b"ab" * 16)
    return pdf_file(objects, extra)


def build_flate_pdf(compressed: bytes) -> bytes:
    """A one-page PDF whose content stream is ``compressed`` (zlib data) with /FlateDecode.

    For hostile PDFs: a stream that inflates to hundreds of megabytes, or to
    millions of text operations, while the file stays small.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(compressed) + compressed
        + b"\nendstream",
    ]
    return pdf_file(objects)


@pytest.fixture(scope="session")
def make_pdf() -> Callable[..., bytes]:
    """``build_pdf`` as a fixture (test modules cannot import conftest)."""
    return build_pdf


@pytest.fixture(scope="session")
def make_flate_pdf() -> Callable[[bytes], bytes]:
    """``build_flate_pdf`` as a fixture."""
    return build_flate_pdf


def build_mail(body: str = "Hej!", *, attachments: list[tuple[str, str, bytes]] = (),
               headers: dict[str, str] | None = None) -> bytes:
    """A multipart/mixed mail with base64 attachments ``(filename, content type, bytes)``."""
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Test Testsson <test@example.se>"
    msg["To"] = "kontaktcenter@stockholm.se"
    msg["Subject"] = "Test"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.fixture(scope="session")
def make_mail() -> Callable[..., bytes]:
    """``build_mail`` as a fixture."""
    return build_mail
