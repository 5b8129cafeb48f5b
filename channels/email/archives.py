"""Zip and gzip bomb checks, without extracting anything.

An archive attached to a mail is kept as it came (staff open it on their own
machines), so the only question here is whether opening it would hurt: a
zip's central directory is read, never its members, and a gzip stream is
inflated at most to the limit, a chunk at a time, counting. The zip's member
names are listed as the attachment's text, because they often say what the
citizen sent ("ritning.pdf", "foto_1.jpg").
"""

from __future__ import annotations

import io
import itertools
import zipfile
import zlib

from channels.email.attachments import Extracted, is_unwanted_char
from ingest.reasons import ReasonCode

MAX_ARCHIVE_ENTRIES = 10_000
ARCHIVE_LISTING_NAMES = 50
INFLATE_CHUNK_BYTES = 1 << 20

# Names that stand for an archive when they appear inside another archive.
ARCHIVE_EXTENSIONS = (".zip", ".gz", ".tgz", ".7z", ".rar", ".tar", ".bz2", ".xz",
                      ".zst", ".cab", ".arj", ".lzh", ".z", ".zipx", ".iso")


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
    return "".join(ch for ch in name if not is_unwanted_char(ch))[:200]


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
