"""Attachments: safe names, lying types, PDFs, archive bombs, size limits, .msg files."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import quopri
import zipfile

import pytest

from channels.email.attachments import safe_filename, sniff
from channels.email.normalise import EmailLimits, normalise_email
from ingest.reasons import ReasonCode

R = ReasonCode
PE_HEADER = (b"MZ\x90\x00" + b"\x00" * 56 + (64).to_bytes(4, "little") + b"PE\x00\x00"
             + b"\x00" * 200)


def only_attachment(raw: bytes, limits: EmailLimits | None = None):
    parsed = normalise_email(raw, limits or EmailLimits())
    assert len(parsed.message.attachments) == 1, parsed.message.attachments
    return parsed, parsed.message.attachments[0]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(("original", "expected", "unsafe"), [
    ("../../etc/passwd", "passwd", True),
    ("..\\..\\Windows\\System32\\drivers\\etc\\hosts", "hosts", True),
    ("C:\\Users\\anna\\Skrivbord\\ansökan.pdf", "ansökan.pdf", True),
    ("C:faktura.pdf", "faktura.pdf", True),
    ("faktura\u202efdp.exe", "fakturafdp.exe", True),
    ("rapport\x00.pdf\x07", "rapport.pdf", True),
    (".htaccess", "htaccess", True),
    ("...", "bilaga-3.pdf", True),
    ("CON", "_CON", True),
    ("con.txt", "_con.txt", True),
    ("LPT1.tar.gz", "_LPT1.tar.gz", True),
    ('a<b>c:"d|e?f*.txt', "a_b_c__d_e_f_.txt", True),
    ("Beslut om bygglov.pdf", "Beslut om bygglov.pdf", False),
    ("  Beslut   om\tbygglov.pdf ", "Beslut om bygglov.pdf", False),
    ("Ansöka\u0308n.pdf", "Ansökän.pdf", False),  # NFC is a trivial change
    (None, "bilaga-3.pdf", False),
    ("", "bilaga-3.pdf", False),
])
def test_safe_filename(original, expected, unsafe) -> None:
    assert safe_filename(original, 3, "application/pdf") == (expected, unsafe)


def test_long_name_is_cut_to_120_keeping_the_extension() -> None:
    name, unsafe = safe_filename("a" * 300 + ".pdf", 1, "application/pdf")
    assert len(name) == 120 and name.endswith(".pdf") and unsafe


def test_unnamed_parts_get_numbered_names_from_their_type(make_mail) -> None:
    raw = make_mail("Se bilagor", attachments=[(None, "application/pdf", b"%PDF-1.4\n"),
                                               (None, "image/png", b"\x89PNG\r\n\x1a\n")])
    names = [a.filename for a in normalise_email(raw).message.attachments]
    assert names == ["bilaga-1.pdf", "bilaga-2.png"]


def test_path_traversal_sample(sample) -> None:
    parsed = normalise_email(sample("path_traversal_attachment.eml"))
    by_name = {a.filename: a for a in parsed.message.attachments}
    assert set(by_name) == {"passwd", "_con.txt", "fakturafdp.exe", "htaccess"}
    assert by_name["passwd"].original_filename == "../../etc/passwd"
    assert all(R.UNSAFE_ATTACHMENT_NAME in a.problems for a in by_name.values())
    assert R.UNSAFE_ATTACHMENT_NAME in parsed.message.problems
    exe = by_name["fakturafdp.exe"]
    assert exe.content_type == "application/pdf"  # the declared type is kept ...
    assert R.CONTENT_TYPE_MISMATCH in exe.problems  # ... and the lie recorded
    assert parsed.blobs[exe.sha256].startswith(b"MZ")
    assert "[Bilaga: passwd]\nroot:x:0:0" in parsed.message.full_text


# --------------------------------------------------------------------------- types


def test_exe_declared_as_pdf_is_recorded(make_mail) -> None:
    _, attachment = only_attachment(make_mail(attachments=[
        ("faktura.pdf", "application/pdf", PE_HEADER)]))
    assert attachment.content_type == "application/pdf"
    assert R.CONTENT_TYPE_MISMATCH in attachment.problems


def test_octet_stream_gets_the_sniffed_type_without_complaint(make_mail, make_pdf) -> None:
    _, attachment = only_attachment(make_mail(attachments=[
        ("scan", "application/octet-stream", make_pdf(["Hej"]))]))
    assert attachment.content_type == "application/pdf"
    assert attachment.problems == ()
    assert attachment.text == "Hej"


def test_docx_sent_as_octet_stream_keeps_its_office_type(make_mail) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    _, attachment = only_attachment(make_mail(attachments=[
        ("intyg.docx", "application/octet-stream", buffer.getvalue())]))
    assert attachment.content_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert attachment.problems == ()


@pytest.mark.parametrize(("data", "expected"), [
    (b"%PDF-1.7\n", "application/pdf"), (b"\x89PNG\r\n\x1a\n....", "image/png"),
    (b"\xff\xd8\xff\xe0", "image/jpeg"), (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b\x08", "application/gzip"),
    (PE_HEADER, "application/vnd.microsoft.portable-executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"<!DOCTYPE html><p>", "text/html"), (b"Hej hej", None), (b"", None),
])
def test_sniff_table(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


# --------------------------------------------------------------------------- PDF


def test_pdf_text_layer_is_read(make_mail, make_pdf) -> None:
    pdf = make_pdf(["Ansökan om bygglov för Tallvägen 12", "Sida två: fasadritning"])
    parsed, attachment = only_attachment(make_mail("Se bilaga", attachments=[
        ("ansokan.pdf", "application/pdf", pdf)]))
    assert attachment.text == "Ansökan om bygglov för Tallvägen 12\n\nSida två: fasadritning"
    assert attachment.problems == ()
    assert "[Bilaga: ansokan.pdf]\nAnsökan om bygglov för Tallvägen 12" in parsed.message.full_text
    assert parsed.blobs[attachment.sha256] == pdf
    assert attachment.sha256 == hashlib.sha256(pdf).hexdigest() and attachment.size == len(pdf)


def test_pdf_pages_are_capped(make_mail, make_pdf) -> None:
    pdf = make_pdf(["Sida ett", "Sida två", "Sida tre"])
    _, attachment = only_attachment(make_mail(attachments=[("a.pdf", "application/pdf", pdf)]),
                                    EmailLimits(max_pdf_pages=2))
    assert attachment.text == "Sida ett\n\nSida två"


def test_pdf_without_text_layer(make_mail, make_pdf) -> None:
    parsed, attachment = only_attachment(make_mail(attachments=[
        ("skannad.pdf", "application/pdf", make_pdf(["", ""]))]))
    assert attachment.text is None
    assert attachment.problems == (R.PDF_NO_TEXT_LAYER,)
    assert attachment.sha256 in parsed.blobs


def test_encrypted_pdf_is_kept_and_marked(make_mail, make_pdf) -> None:
    pdf = make_pdf(["Hemlig text"], encrypt=True)
    parsed, attachment = only_attachment(make_mail(attachments=[
        ("lasad.pdf", "application/pdf", pdf)]))
    assert attachment.problems == (R.PDF_ENCRYPTED,)
    assert attachment.text is None
    assert parsed.blobs[attachment.sha256] == pdf
    assert "Hemlig" not in parsed.message.full_text


@pytest.mark.parametrize("garbage", [
    b"%PDF-1.7\n" + bytes(range(256)) * 40,
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>",
    b"%PDF-",
])
def test_broken_pdf_is_kept_and_marked_unreadable(make_mail, garbage: bytes) -> None:
    parsed, attachment = only_attachment(make_mail(attachments=[
        ("trasig.pdf", "application/pdf", garbage)]))
    assert attachment.problems == (R.PDF_UNREADABLE,)
    assert parsed.blobs[attachment.sha256] == garbage


# --------------------------------------------------------------------------- archives


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def zeros_zip() -> bytes:
    """50 MB of zeros in about 50 KB: a ratio of roughly 1000:1."""
    return _zip({"lonespec.txt": bytes(50 * 2**20)})


def test_zip_bomb_by_ratio_is_marked_not_extracted(make_mail, zeros_zip) -> None:
    parsed, attachment = only_attachment(make_mail(attachments=[
        ("underlag.zip", "application/zip", zeros_zip)]))
    assert len(zeros_zip) < 200_000
    assert attachment.problems == (R.DECOMPRESSION_BOMB,)
    assert parsed.blobs[attachment.sha256] == zeros_zip  # kept, as evidence
    assert R.DECOMPRESSION_BOMB in parsed.message.problems


def test_zip_total_size_limit(make_mail) -> None:
    data = _zip({"a.txt": bytes(range(256)) * 400})  # ~100 KB, barely compressible
    limits = EmailLimits(max_archive_total_bytes=50_000)
    _, attachment = only_attachment(make_mail(attachments=[("a.zip", "application/zip", data)]),
                                    limits)
    assert attachment.problems == (R.DECOMPRESSION_BOMB,)


def test_nested_archive_is_marked(make_mail) -> None:
    inner = _zip({"x.txt": b"hej"})
    _, attachment = only_attachment(make_mail(attachments=[
        ("yttre.zip", "application/zip", _zip({"inre.zip": inner}))]))
    assert attachment.problems == (R.DECOMPRESSION_BOMB,)


def test_ordinary_zip_is_listed_not_marked(make_mail) -> None:
    data = _zip({"intyg.pdf": b"%PDF-1.4 ...", "bild.jpg": b"\xff\xd8\xff..."})
    _, attachment = only_attachment(make_mail(attachments=[("papper.zip", "application/zip",
                                                            data)]))
    assert attachment.problems == ()
    assert attachment.text == "Arkivinnehåll:\nintyg.pdf\nbild.jpg"


def test_gzip_bomb_by_trailer_and_by_bounded_inflate(make_mail) -> None:
    data = gzip.compress(bytes(30 * 2**20))
    _, attachment = only_attachment(make_mail(attachments=[("logg.gz", "application/gzip",
                                                            data)]))
    assert attachment.problems == (R.DECOMPRESSION_BOMB,)
    forged = data[:-4] + (100).to_bytes(4, "little")  # trailer claims 100 bytes
    _, attachment = only_attachment(make_mail(attachments=[("logg.gz", "application/gzip",
                                                            forged)]))
    assert attachment.problems == (R.DECOMPRESSION_BOMB,)
    _, attachment = only_attachment(make_mail(attachments=[
        ("liten.gz", "application/gzip", gzip.compress(b"Hej hej hej" * 10))]))
    assert attachment.problems == ()


# --------------------------------------------------------------------------- size limits


def test_attachment_over_limit_is_hashed_not_kept_base64(make_mail) -> None:
    data = bytes(range(256)) * 40  # 10 KiB
    limits = EmailLimits(max_attachment_bytes=4096)
    parsed, attachment = only_attachment(make_mail(attachments=[
        ("stor.bin", "application/octet-stream", data)]), limits)
    assert attachment.problems == (R.ATTACHMENT_TOO_LARGE,)
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert parsed.blobs == {}


def test_attachment_over_limit_quoted_printable() -> None:
    text = ("Rad med åäö och = tecken som måste kodas.\n" * 300).encode()
    raw = (b"From: a@example.se\nSubject: qp\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhej\n"
           b"--B\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Disposition: attachment; filename=lang.txt\n"
           b"Content-Transfer-Encoding: quoted-printable\n\n"
           + quopri.encodestring(text) + b"\n--B--\n")
    parsed, attachment = only_attachment(raw, EmailLimits(max_attachment_bytes=2048))
    assert attachment.problems == (R.ATTACHMENT_TOO_LARGE,)
    assert attachment.sha256 == hashlib.sha256(text).hexdigest()
    assert parsed.blobs == {}


def test_chunked_base64_decoding_matches_the_stdlib() -> None:
    data = bytes(range(256)) * 5000 + b"xy"  # not a multiple of 3: padding at the end
    encoded = base64.encodebytes(data)
    raw = (b"From: a@example.se\nSubject: b64\nMIME-Version: 1.0\n"
           b"Content-Type: application/octet-stream; name=x.bin\n"
           b"Content-Transfer-Encoding: base64\n\n" + encoded)
    big = normalise_email(raw, EmailLimits(max_attachment_bytes=10_000)).message.attachments[0]
    small = normalise_email(raw).message.attachments[0]
    assert big.sha256 == small.sha256 == hashlib.sha256(data).hexdigest()
    assert big.size == small.size == len(data)


# --------------------------------------------------------------------------- other kinds


def test_text_and_html_attachments_are_read(make_mail) -> None:
    parsed = normalise_email(make_mail("Se bilagor", attachments=[
        ("anteckning.txt", "text/plain", "Mätarställning 4711".encode()),
        ("sida.html", "text/html", b"<p>Hej <script>x()</script>v\xc3\xa4rlden</p>")]))
    texts = {a.filename: a.text for a in parsed.message.attachments}
    assert texts == {"anteckning.txt": "Mätarställning 4711", "sida.html": "Hej världen"}
    assert "[Bilaga: sida.html]\nHej världen" in parsed.message.full_text


def test_broken_outlook_msg_is_kept_and_marked(make_mail) -> None:
    fake_ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000)
    for data in (fake_ole, b"not an ole file at all"):
        parsed, attachment = only_attachment(make_mail(attachments=[
            ("vidarebefordrat.msg", "application/vnd.ms-outlook", data)]))
        assert attachment.problems == (R.ATTACHED_MESSAGE_UNREADABLE,)
        assert parsed.blobs[attachment.sha256] == data


def test_inline_image_is_an_attachment() -> None:
    raw = (b"From: a@example.se\nSubject: bild\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/related; boundary=R\n\n--R\n"
           b"Content-Type: text/html; charset=utf-8\n\n"
           b"<p>Se h\xc3\xa4r: <img src=\"cid:bild1\"></p>\n"
           b"--R\nContent-Type: image/png\nContent-ID: <bild1>\nContent-Disposition: inline\n"
           b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(b"\x89PNG\r\n\x1a\nxx")
           + b"--R--\n")
    msg = normalise_email(raw).message
    assert msg.body == "Se här:"
    assert [(a.filename, a.content_type) for a in msg.attachments] == [("bilaga-1.png",
                                                                         "image/png")]


def test_base64_attached_message_keeps_its_last_bytes() -> None:
    """A message/rfc822 part sent base64-encoded with padding loses nothing."""
    import base64
    import hashlib

    inner = b"From: b@example.se\nSubject: inner\n\nSista raden: RA"
    for cut in range(3):  # vary the length so every padding shape occurs
        body = inner + b"!" * cut
        raw = (b"From: a@example.se\nSubject: fwd\nMIME-Version: 1.0\n"
               b"Content-Type: multipart/mixed; boundary=B\n\n--B\n"
               b"Content-Type: text/plain\n\nSe bifogat.\n--B\n"
               b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
               + base64.encodebytes(body) + b"--B--\n")
        parsed = normalise_email(raw)
        kept = [a for a in parsed.message.attachments if a.sha256 in parsed.blobs]
        assert any(parsed.blobs[a.sha256] == body for a in kept), cut
        assert hashlib.sha256(body).hexdigest() in parsed.blobs
