"""What an e-mail attachment is and what can safely be read from it.

Everything here works on bytes in memory: nothing is written to disk, nothing
is executed, archives are inspected through their directory only. Each
function returns reason codes instead of raising, because one bad attachment
must never cost the citizen the rest of the message.

- ``safe_filename``: a name staff can save without surprises (no directories,
  control or bidi characters, Windows device names, hidden-file dots).
- ``sniff`` / ``declared_type_lies``: magic bytes, because declared types lie
  (an ``.exe`` sent as ``application/pdf``).
- ``archive_problems``: zip/gzip bomb checks from the central directory or a
  bounded inflate; nothing is extracted.
- ``pdf_text`` / ``outlook_msg_text``: text layers of PDFs and Outlook ``.msg``
  files, with every library exception turned into a reason code.
"""

from __future__ import annotations

import io
import itertools
import mimetypes
import posixpath
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass

from ingest.reasons import ReasonCode

MAX_FILENAME_CHARS = 120
MAX_EXTENSION_CHARS = 16
MAX_ARCHIVE_ENTRIES = 10_000
ARCHIVE_LISTING_NAMES = 50
INFLATE_CHUNK_BYTES = 1 << 20

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Names that stand for an archive when they appear inside another archive.
ARCHIVE_EXTENSIONS = (".zip", ".gz", ".tgz", ".7z", ".rar", ".tar", ".bz2", ".xz",
                      ".zst", ".cab", ".arj", ".lzh", ".z", ".zipx", ".iso")

_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)
# Characters Windows refuses in names, plus path separators.
_ILLEGAL_CHARS = re.compile(r'[<>:"/\\|?*]')
_WHITESPACE_RUN = re.compile(r"\s+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,16}$")

# Preferred extensions where mimetypes would pick something odd (.jpe, .ksh ...).
_EXTENSION_FOR_TYPE = {
    "application/pdf": ".pdf",
    "application/octet-stream": ".bin",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "application/msword": ".doc",
    "application/vnd.ms-outlook": ".msg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/pgp-signature": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/tiff": ".tif",
    "image/heic": ".heic",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/rfc822-headers": ".txt",
    "text/x-vcard": ".vcf",
    "text/vcard": ".vcf",
}


@dataclass(frozen=True, slots=True)
class Extracted:
    """Text read from an attachment (None: nothing readable) and what went wrong."""

    text: str | None = None
    problems: tuple[str, ...] = ()


# --------------------------------------------------------------------------- names


def extension_for(content_type: str) -> str:
    """A file extension (with dot) for a MIME type; ``.bin`` when unknown."""
    if content_type in _EXTENSION_FOR_TYPE:
        return _EXTENSION_FOR_TYPE[content_type]
    guessed = mimetypes.guess_extension(content_type, strict=False)
    return guessed or ".bin"


def type_from_filename(filename: str | None) -> str | None:
    """The MIME type a file name suggests (``None`` when the extension says nothing)."""
    if not filename:
        return None
    lowered = filename.lower()
    if lowered.endswith(".msg"):
        return "application/vnd.ms-outlook"
    if lowered.endswith(".eml"):
        return "message/rfc822"
    guessed, _ = mimetypes.guess_type(lowered, strict=False)
    return guessed


def _is_unwanted_char(ch: str) -> bool:
    # Cc: control characters; Cf: format characters such as U+202E RIGHT-TO-LEFT
    # OVERRIDE ("faktura\u202efdp.exe" displays as "fakturaexe.pdf"); Cs/Co/Cn:
    # surrogates left over from undecodable bytes, private use, unassigned.
    return unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}


def safe_filename(original: str | None, index: int, content_type: str) -> tuple[str, bool]:
    """A safe file name for an attachment, and whether anything non-trivial was changed.

    Directories and path traversal are dropped (``../../etc/passwd`` becomes
    ``passwd``), as are control, format (bidi override) and illegal characters,
    leading dots and trailing dots/spaces; Windows device names get a ``_``
    prefix; the name is cut to 120 characters keeping its extension. Trivial
    changes (Unicode NFC, whitespace runs) do not count as a change. Without a
    usable name the result is ``bilaga-<index>.<ext>`` from the content type,
    which does not count as a change either.
    """
    fallback = f"bilaga-{index}{extension_for(content_type)}"
    if original is None:
        return fallback, False
    trivial = _WHITESPACE_RUN.sub(" ", unicodedata.normalize("NFC", original)).strip()
    if not trivial:
        return fallback, False

    name = trivial.replace("\\", "/")
    name = posixpath.basename(name.rstrip("/")) or ""
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():  # "C:faktura.pdf"
        name = name[2:]
    name = "".join(ch for ch in name if not _is_unwanted_char(ch))
    name = _ILLEGAL_CHARS.sub("_", name)
    name = _WHITESPACE_RUN.sub(" ", name).strip(" .").lstrip(".-")
    if name.split(".")[0].strip().upper() in _WINDOWS_RESERVED:  # "con.txt" is CON too
        name = "_" + name
    if len(name) > MAX_FILENAME_CHARS:
        match = _EXTENSION.search(name)
        keep = match.group(0) if match else ""
        name = name[: MAX_FILENAME_CHARS - len(keep)].rstrip(" .") + keep
    if not name or name.strip("_") == "":
        return fallback, True
    return name, name != trivial


# --------------------------------------------------------------------------- sniffing

_GENERIC_TYPES = frozenset({
    "application/octet-stream", "binary/octet-stream", "application/unknown",
    "application/x-unknown", "application/force-download", "application/x-download",
    "application/download", "application/binary", "application/x-binary",
    "application/x-octet-stream", "unknown/unknown",
})

# Families of declared types that a sniffed type is compatible with.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "application/pdf": ("application/pdf", "application/x-pdf", "application/acrobat",
                        "application/vnd.pdf", "text/pdf"),
    "application/zip": ("application/zip", "application/x-zip", "application/x-zip-compressed",
                        "application/vnd.openxmlformats-", "application/vnd.oasis.opendocument.",
                        "application/vnd.ms-", "application/msword", "application/epub+zip",
                        "application/java-archive", "application/x-java-archive",
                        "application/vnd.android.package-archive", "application/vnd.apple.",
                        "application/x-compressed", "application/oxps", "model/"),
    "application/x-ole-storage": ("application/x-ole-storage", "application/msword",
                                  "application/vnd.ms-", "application/vnd.visio",
                                  "application/x-msg", "application/x-msi",
                                  "application/x-ms-installer", "application/vnd.openxmlformats-",
                                  "application/x-tika-msoffice"),
    "application/gzip": ("application/gzip", "application/x-gzip", "application/x-gtar",
                         "application/x-tar", "application/x-compressed",
                         "application/x-compressed-tar", "application/tgz", "application/x-tgz"),
    "application/x-7z-compressed": ("application/x-7z-compressed",),
    "application/vnd.rar": ("application/vnd.rar", "application/x-rar-compressed",
                            "application/x-rar"),
    "application/x-bzip2": ("application/x-bzip2", "application/x-bzip"),
    "application/x-xz": ("application/x-xz",),
    "application/rtf": ("application/rtf", "text/rtf", "application/msword", "text/richtext",
                        "application/x-rtf"),
    "application/vnd.microsoft.portable-executable": (
        "application/vnd.microsoft.portable-executable", "application/x-msdownload",
        "application/x-msdos-program", "application/x-dosexec", "application/x-ms-dos-executable",
        "application/exe", "application/x-exe", "application/x-winexe",
        "application/x-executable", "application/vnd.microsoft.portable-executable"),
    "application/x-executable": ("application/x-executable", "application/x-elf",
                                 "application/x-sharedlib"),
    "text/html": ("text/", "application/xhtml+xml"),
    "video/mp4": ("video/", "audio/"),
}

# Declared types whose content always starts with known magic bytes.
_MAGIC_REQUIRED = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/gif", "application/zip",
    "application/gzip", "application/x-gzip", "application/x-7z-compressed",
    "application/vnd.rar", "application/x-rar-compressed",
})


def sniff(data: bytes) -> str | None:
    """The content type magic bytes say (``None``: no opinion). A small table, on purpose."""
    head = data[:16]
    if b"%PDF-" in data[:1024]:
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in {b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heim", b"heis"}:
            return "image/heic"
        return "video/mp4"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "application/x-7z-compressed"
    if head.startswith(b"Rar!\x1a\x07"):
        return "application/vnd.rar"
    if head.startswith(b"BZh") and data[3:4].isdigit():
        return "application/x-bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "application/x-xz"
    if head.startswith(OLE_MAGIC):
        return "application/x-ole-storage"
    if head.startswith(b"{\\rtf"):
        return "application/rtf"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head.startswith(b"MZ") and _is_portable_executable(data):
        return "application/vnd.microsoft.portable-executable"
    if head.startswith(b"BM") and int.from_bytes(data[2:6], "little") == len(data) > 26:
        return "image/bmp"
    lowered = data[:512].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    return None


def _is_portable_executable(data: bytes) -> bool:
    if len(data) < 64:
        return False
    offset = int.from_bytes(data[0x3C:0x40], "little")
    return data[offset:offset + 4] == b"PE\x00\x00"


def is_generic_type(content_type: str) -> bool:
    """Declared types that say nothing about the content (octet-stream and friends)."""
    return content_type in _GENERIC_TYPES or not content_type


def compatible(claimed: str, sniffed: str) -> bool:
    """Whether content sniffed as ``sniffed`` may honestly be declared ``claimed``."""
    if claimed == sniffed:
        return True
    family = _FAMILIES.get(sniffed)
    if family is not None:
        return claimed.startswith(family)
    # Images: a PNG declared as image/jpeg is sloppy, not a lie.
    return claimed.split("/")[0] == sniffed.split("/")[0] == "image"


def declared_type_lies(declared: str, filename: str | None, data: bytes,
                       sniffed: str | None) -> bool:
    """Whether the declared type or the file name's extension contradicts the content.

    Generic declarations (octet-stream) never lie; a specific one lies when the
    magic bytes show another family, or when the type always has magic bytes
    and they are missing.
    """
    claims = [declared] if not is_generic_type(declared) else []
    by_name = type_from_filename(filename)
    if by_name and not is_generic_type(by_name):
        claims.append(by_name)
    for claim in claims:
        if sniffed is None:
            if claim in _MAGIC_REQUIRED and data:
                return True
            continue
        if claim.startswith("text/") and sniffed != "text/html":
            return True  # binary magic in something that claims to be text
        if not claim.startswith("text/") and not compatible(claim, sniffed):
            return True
    return False


# --------------------------------------------------------------------------- archives


def archive_problems(data: bytes, sniffed: str | None, *, max_ratio: int,
                     max_total_bytes: int) -> Extracted:
    """Bomb checks for zip and gzip content; ``text`` lists a zip's member names.

    Zip: the central directory is read (never the members): total size over
    ``max_total_bytes``, ratio over ``max_ratio``, more than 10 000 entries,
    overlapping members (the "non-recursive" bomb) or a member that is itself
    an archive mark the attachment ``DECOMPRESSION_BOMB``. Gzip: the trailer
    size, then a bounded inflate that stops at the limit, since the trailer
    only holds the size modulo 4 GiB.
    """
    if sniffed == "application/zip":
        return _zip_problems(data, max_ratio=max_ratio, max_total_bytes=max_total_bytes)
    if sniffed == "application/gzip":
        return _gzip_problems(data, max_ratio=max_ratio, max_total_bytes=max_total_bytes)
    return Extracted()


def _clean_member_name(name: str) -> str:
    return "".join(ch for ch in name if not _is_unwanted_char(ch))[:200]


def _zip_problems(data: bytes, *, max_ratio: int, max_total_bytes: int) -> Extracted:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            NotImplementedError, IndexError, KeyError, OverflowError, UnicodeDecodeError):
        return Extracted()  # not a readable zip: nothing to extract, nothing to fear here
    bomb = len(infos) > MAX_ARCHIVE_ENTRIES
    total = sum(max(info.file_size, 0) for info in infos)
    if total > max_total_bytes or total > max_ratio * max(len(data), 1):
        bomb = True
    if any(info.filename.lower().endswith(ARCHIVE_EXTENSIONS) for info in infos):
        bomb = True
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for first, second in itertools.pairwise(ordered):
        if first.header_offset + first.compress_size > second.header_offset:
            bomb = True  # members overlap: the same deflate stream counted many times
            break
    names = [_clean_member_name(info.filename) for info in infos[:ARCHIVE_LISTING_NAMES]]
    if len(infos) > ARCHIVE_LISTING_NAMES:
        names.append(f"… ({len(infos) - ARCHIVE_LISTING_NAMES} till)")
    listing = "Arkivinnehåll:\n" + "\n".join(names) if names else None
    problems = (ReasonCode.DECOMPRESSION_BOMB.value,) if bomb else ()
    return Extracted(text=listing, problems=problems)


def _gzip_problems(data: bytes, *, max_ratio: int, max_total_bytes: int) -> Extracted:
    bomb = False
    if len(data) >= 18:
        trailer_size = int.from_bytes(data[-4:], "little")
        if trailer_size > max_total_bytes or trailer_size > max_ratio * len(data):
            bomb = True
    name = _gzip_member_name(data)
    if name and name.lower().endswith(ARCHIVE_EXTENSIONS) and not name.lower().endswith(".tar"):
        bomb = True
    if not bomb:
        cap = min(max_total_bytes, max_ratio * len(data))
        bomb = _inflates_beyond(data, cap)
    return Extracted(problems=(ReasonCode.DECOMPRESSION_BOMB.value,) if bomb else ())


def _gzip_member_name(data: bytes) -> str | None:
    if len(data) < 10 or not data[3] & 0x08:  # FNAME flag
        return None
    pos = 10
    if data[3] & 0x04:  # FEXTRA
        pos += 2 + int.from_bytes(data[10:12], "little")
    end = data.find(b"\x00", pos, pos + 1024)
    return data[pos:end].decode("latin-1") if end > pos else None


def _inflates_beyond(data: bytes, cap: int) -> bool:
    """Inflate at most ``cap + 1`` bytes, a chunk at a time, counting; True if it gets there."""
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
    produced = 0
    pending = data
    try:
        while pending and produced <= cap:
            chunk = inflater.decompress(pending, INFLATE_CHUNK_BYTES)
            produced += len(chunk)
            pending = inflater.unconsumed_tail
            if inflater.eof:
                rest = inflater.unused_data
                if not rest.startswith(b"\x1f\x8b"):
                    break
                inflater = zlib.decompressobj(wbits=47)  # next gzip member
                pending = rest
            elif not chunk and not pending:
                break
    except zlib.error:
        return False  # corrupt: nothing to decompress for anyone
    return produced > cap


# --------------------------------------------------------------------------- documents


def pdf_text(data: bytes, *, max_pages: int, max_chars: int) -> Extracted:
    """The text layer of the first ``max_pages`` pages (pdfplumber).

    Password-protected → ``PDF_ENCRYPTED``; anything pdfminer cannot read →
    ``PDF_UNREADABLE``; pages without any text → ``PDF_NO_TEXT_LAYER`` (the
    scan channel OCRs those). No pdfplumber exception escapes.
    """
    import pdfplumber  # heavy; only mails with PDFs pay for it
    from pdfminer.pdfdocument import PDFEncryptionError
    from pdfplumber.utils.exceptions import PdfminerException

    texts: list[str] = []
    used = 0
    try:
        with pdfplumber.open(io.BytesIO(data), pages=tuple(range(1, max_pages + 1))) as pdf:
            for page in pdf.pages:
                page_text = page.extract_text() or ""
                texts.append(page_text[: max_chars - used])
                used += len(texts[-1])
                if used >= max_chars:
                    break
            page_count = len(pdf.pages)
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, PDFEncryptionError):
            return Extracted(problems=(ReasonCode.PDF_ENCRYPTED.value,))
        return Extracted(problems=(ReasonCode.PDF_UNREADABLE.value,))
    except PDFEncryptionError:
        return Extracted(problems=(ReasonCode.PDF_ENCRYPTED.value,))
    except Exception:  # pdfminer raises many types on hostile input; all mean "unreadable"
        return Extracted(problems=(ReasonCode.PDF_UNREADABLE.value,))
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        problem = ReasonCode.PDF_NO_TEXT_LAYER if page_count else ReasonCode.PDF_UNREADABLE
        return Extracted(problems=(problem.value,))
    problems = (ReasonCode.TEXT_TRUNCATED.value,) if used >= max_chars else ()
    return Extracted(text=text, problems=problems)


def outlook_msg_text(data: bytes, *, max_chars: int) -> Extracted:
    """Sender, date, subject and body of an Outlook ``.msg`` (extract-msg).

    Only OLE2 data is handed to extract-msg, and only as a file object: given
    ``bytes`` that are not OLE2 it would treat them as a path on disk.
    """
    if not data.startswith(OLE_MAGIC):
        return Extracted(problems=(ReasonCode.ATTACHED_MESSAGE_UNREADABLE.value,))
    try:
        import extract_msg

        from channels.email.html import html_to_text

        msg = extract_msg.openMsg(io.BytesIO(data), delayAttachments=True)
        try:
            lines = []
            for label, value in (("Från", getattr(msg, "sender", None)),
                                 ("Datum", getattr(msg, "date", None)),
                                 ("Ämne", getattr(msg, "subject", None))):
                if value:
                    lines.append(f"{label}: {' '.join(str(value).split())}")
            body = getattr(msg, "body", None) or ""
            if not body.strip():
                html_body = getattr(msg, "htmlBody", None)
                if isinstance(html_body, bytes):
                    html_body = html_body.decode("utf-8", errors="replace")
                body = html_to_text(html_body or "", max_chars=max_chars)
        finally:
            msg.close()
    except Exception:  # extract-msg/olefile raise anything on corrupt files
        return Extracted(problems=(ReasonCode.ATTACHED_MESSAGE_UNREADABLE.value,))
    text = "\n".join(lines) + "\n\n" + body.replace("\r\n", "\n").strip()
    return Extracted(text=text[:max_chars].strip() or None)
