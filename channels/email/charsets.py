"""Bytes of a text part to text, without trusting the declared charset.

Mail lies about its charset more often than any other header: Windows clients
label Windows-1252 as ISO-8859-1 or US-ASCII, Latin-1 mail arrives labelled
UTF-8 and the other way round, and some mail declares nothing or a charset no
one knows. ``decode_text`` decodes anyway and says, with a reason code, when
it had to guess. ``without_controls`` makes decoded text safe to keep.
"""

from __future__ import annotations

import codecs
import re

from ingest.reasons import ReasonCode

DETECTION_SAMPLE_BYTES = 64 * 1024

# Control characters nobody writes on purpose: C0 except tab/LF/CR (and NUL,
# handled on its own), DEL, C1 except NEL, and the two non-characters.
CONTROL_CHARS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")

# Charsets as mail really uses them: ISO-8859-1 and US-ASCII are written by
# Windows clients that put Windows-1252 bytes in (WHATWG does the same).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254", "tis-620": "cp874", "gb2312": "gb18030", "gbk": "gb18030",
    "x-gbk": "gb18030", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "shift_jis": "cp932",
    "x-sjis": "cp932", "iso-8859-8-i": "iso-8859-8", "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "", "unknown-8bit": "", "x-user-defined": "", "unknown": "",
    "utf8": "utf-8", "utf-8": "utf-8",
}
# What Swedish (and Nordic, German, French) text looks like when decoded as
# Windows-1252; Cyrillic or Arabic bytes decoded the same way land elsewhere.
_WESTERN_CHARS = frozenset("åäöÅÄÖéÉèÈüÜæøÆØßàáâçêëíîïñóôúûÀÁÂÇÊÍÓÔÚ"
                           "–—‘’‚“”„…•€°§½¼¾«»´¨×·¤£±²³©®™\u00a0")


def decode_text(data: bytes, declared: str | None) -> tuple[str, tuple[str, ...]]:
    """Decode a text part; returns the text and ``CHARSET_GUESSED``/``CHARSET_UNKNOWN``.

    Order: the declared charset (strict), then UTF-8, then Windows-1252 if the
    result looks like Western text, then charset-normalizer, then Windows-1252
    or Latin-1 as a last resort. charset-normalizer comes after the Western
    check because on short Swedish Latin-1 mail it answers hp_roman8 or
    cp1250 ("pĺ" for "på"). A declared charset on bytes that are valid UTF-8
    (with non-ASCII in them) is overruled: that is the most common mislabel.
    """
    problems: list[str] = []
    name = _codec_name(declared)
    if declared and name is None:
        problems.append(ReasonCode.CHARSET_UNKNOWN.value)
    if data.isascii():
        return data.decode("ascii"), tuple(problems)
    if name and name != "utf-8":
        try:
            text = data.decode(name)
        except (UnicodeDecodeError, LookupError):
            pass
        else:
            # Valid multi-byte UTF-8 under another label is a mislabel, not a coincidence.
            if name.startswith("utf-") or not _is_utf8(data):
                return text, tuple(problems)
    guessed = ReasonCode.CHARSET_GUESSED.value
    utf8 = _mostly_utf8(data)
    if utf8 is not None:
        return utf8, tuple(problems if name == "utf-8" else [*problems, guessed])
    western = decode_single_byte(data)
    if _looks_western(western):
        return western, (*problems, guessed)
    detected = _detect(data)
    if detected is not None:
        return detected, (*problems, guessed)
    if ReasonCode.CHARSET_UNKNOWN.value not in problems:
        problems.append(ReasonCode.CHARSET_UNKNOWN.value)
    return western, tuple(problems)


def decode_single_byte(data: bytes) -> str:
    """Windows-1252, or Latin-1 where cp1252 leaves a byte unassigned; never fails."""
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # five bytes are unassigned in cp1252
        return data.decode("latin-1")


def fix_surrogates(value: str) -> tuple[str, bool]:
    """Raw 8-bit header bytes (kept by the parser as surrogates) → text; True if guessed."""
    if not _SURROGATES.search(value):
        return value, False
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return decode_single_byte(data), True


def without_controls(text: str) -> str:
    """Line ends as ``\\n``; NUL and other control characters dropped (tab and newline kept)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return CONTROL_CHARS.sub("", text)


def _codec_name(declared: str | None) -> str | None:
    if not declared:
        return None
    label = declared.strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8, tolerating a stray broken byte in a long text (one bad byte is not Latin-1)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return text if good >= 8 and bad * 50 <= good else None


def _looks_western(text: str) -> bool:
    high = [ch for ch in text if ord(ch) > 127]
    if not high:
        return True
    western = sum(1 for ch in high if ch in _WESTERN_CHARS)
    return western >= 0.95 * len(high)


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:DETECTION_SAMPLE_BYTES]).best()
    if best is None:
        return None
    try:
        return data.decode(best.encoding, errors="replace")
    except LookupError:
        return None
