"""SMS keywords: opt-out (STOP, STOPP …), opt-in (START) and help (HELP, HJÄLP …).

Carriers and Twilio treat a message as a keyword only when it is the keyword
alone (any case, surrounding blanks and punctuation ignored); "Stoppa inte
hemtjänsten" is a citizen's message, not an opt-out. We follow the same rule
so that what we honour matches what Twilio's own opt-out handling honours.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from ingest.config import SmsConfig

_STRIP = " \t\r\n.,!?;:\"'()[]*-_"


class Keyword(StrEnum):
    """What a keyword message asks for; stored as the ``sms-keyword`` header."""

    STOP = "stop"
    START = "start"
    HELP = "help"


def keyword_of(body: str, cfg: SmsConfig) -> Keyword | None:
    """The keyword ``body`` consists of, or None for an ordinary message."""
    word = unicodedata.normalize("NFC", body).strip(_STRIP).upper()
    if not word or len(word) > 32:
        return None
    if word in cfg.opt_out_keywords:
        return Keyword.STOP
    if word in cfg.opt_in_keywords:
        return Keyword.START
    if word in cfg.help_keywords:
        return Keyword.HELP
    return None
