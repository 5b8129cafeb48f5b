"""What an e-mail attachment is called and what it really is.

Everything here works on bytes in memory and returns answers, never raises,
because one bad attachment must never cost the citizen the rest of the
message. Reading text out of attachments is ``extraction``'s job; archive
bomb checks are in ``archives``, PDF text in ``pdftext``.

- ``safe_filename``: a name staff can save without surprises (no directories,
  control or bidi characters, Windows device names, hidden-file dots).
- ``sniff`` / ``declared_type_lies``: magic bytes, because declared types lie
  (an ``.exe`` sent as ``application/pdf``).
- ``Extracted``: what every reader of attachment content returns.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import unicodedata
from dataclasses import dataclass

MAX_FILENAME_CHARS = 120
MAX_EXTENSION_CHARS = 16
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)
# Characters Windows refuses in names, plus path separators.
_ILLEGAL_CHARS = re.compile(r'[<>:"/\\|?*]')
_WHITESPACE_RUN = re.compile(r"\s+")
_EXTENSION = re.compile(rf"\.[A-Za-z0-9]{{1,{MAX_EXTENSION_CHARS}}}$")

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


def is_unwanted_char(ch: str) -> bool:
    """Whether a character must not appear in a name shown to staff."""
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
    name = "".join(ch for ch in name if not is_unwanted_char(ch))
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
