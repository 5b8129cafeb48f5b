"""The body of one message: its inline text parts, decoded, in order.

Each inline text/plain or text/html part adds two texts: the full text (for
search and the classifier) and the reply source (HTML with the quote
containers removed) that ``split_reply`` later cuts down to the sender's own
words. Of a multipart/alternative only one branch is read: text/plain,
unless it is empty or only says "read the HTML version".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message

from channels.email.charsets import decode_text, without_controls
from channels.email.html import MARKUP_FACTOR, html_to_texts
from channels.email.parts import charset, first_leaf, param, raw_payload
from channels.email.payloads import decoded_payload, payload
from ingest.reasons import ReasonCode

MAX_PLACEHOLDER_CHARS = 300

_HTML_PLACEHOLDER = re.compile(
    r"html|HTML-(?:format|version)|does not support|stöder inte|kan inte visa|cannot display",
    re.IGNORECASE,
)


@dataclass
class Body:
    """Text parts that make up one message's body, in order."""

    texts: list[str] = field(default_factory=list)
    reply_sources: list[str] = field(default_factory=list)
    html_only: bool = True
    any_part: bool = False

    def full(self) -> str:
        """Every part's full text, blank parts left out."""
        return "\n\n".join(t for t in self.texts if t.strip())

    def reply_source(self) -> str:
        """Every part's text with HTML quote containers removed, for ``split_reply``."""
        return "\n\n".join(t for t in self.reply_sources if t.strip())

    def add(self, part: Message, ctype: str, *, max_bytes: int, max_chars: int,
            note: Callable[[ReasonCode | str], None]) -> bool:
        """Add an inline text/plain or text/html part; False if it must be an attachment."""
        decoded = payload(part, max_bytes)
        if decoded.data is None:
            return False  # far too big to be typed text: keep it as an attachment
        text, problems = decode_text(decoded.data, charset(part))
        for problem in problems:
            note(problem)
        text = without_controls(text)
        if ctype == "text/html":
            full, reply = html_to_texts(text, max_chars=max_chars)
            truncated = len(full) >= max_chars or len(text) > MARKUP_FACTOR * max_chars
        else:
            if param(part, "format") == "flowed":
                text = unflow(text, delsp=param(part, "delsp") == "yes")
            full = reply = text[:max_chars]
            truncated = len(text) > max_chars
            self.html_only = False
        if truncated:
            note(ReasonCode.TEXT_TRUNCATED)
        self.any_part = True
        self.texts.append(full)
        self.reply_sources.append(reply)
        return True


def choose_alternative(children: list[Message], max_bytes: int) -> Message | None:
    """text/plain unless it is empty or only says "read the HTML"; else HTML; else last."""
    for wanted in ("text/plain", "text/html"):
        for child in children:
            leaf = first_leaf(child, wanted)
            if leaf is None:
                continue
            if wanted == "text/plain":
                text = _leaf_text(leaf, max_bytes)
                if text is None or _looks_like_placeholder(text):
                    continue
            return child
    return children[-1] if children else None


def unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks (quote depth respected)."""
    out: list[str] = []
    current: str | None = None
    current_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append(">" * current_depth + (" " if current_depth else "") + current)
            current, current_depth = content, depth
        if content.endswith(" ") and content != "-- ":
            if delsp:
                current = current[:-1]
            continue
        out.append(">" * depth + (" " if depth else "") + current)
        current, current_depth = None, -1
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)


def _leaf_text(part: Message, max_bytes: int) -> str | None:
    encoded = raw_payload(part)
    if not isinstance(encoded, str) or len(encoded) > max_bytes:
        return None
    text, _ = decode_text(decoded_payload(part, encoded), charset(part))
    return text


def _looks_like_placeholder(text: str) -> bool:
    """A text/plain alternative that only says "view this in HTML"."""
    stripped = text.strip()
    return not stripped or (len(stripped) < MAX_PLACEHOLDER_CHARS
                            and bool(_HTML_PLACEHOLDER.search(stripped)))
