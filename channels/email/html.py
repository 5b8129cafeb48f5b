"""HTML mail bodies to plain text, without ever keeping active content.

The HTML is parsed with lxml (no network, no entities from outside), then
everything that is not shown to a reader is dropped before inscriptis lays
out the text: scripts, styles, the head, comments, embedded objects, SVG and
elements hidden with inline CSS (the "preheader" trick). Nothing from the
HTML is executed or kept as markup.

``html_to_texts`` renders twice from one parse: the full text, and the reply
text with the quote containers mail clients write (Gmail, Apple Mail,
Thunderbird, Outlook on the web, Yahoo, Zimbra) removed, because in HTML the
quote is marked by elements, not by ``>`` at the start of lines.
"""

from __future__ import annotations

import html as stdlib_html
import re

from inscriptis import Inscriptis
from inscriptis.model.config import ParserConfig
from lxml import etree
from lxml.html import HtmlElement, document_fromstring

# Elements whose content is never shown as text in a mail client.
_INVISIBLE_TAGS = ("script", "style", "head", "title", "meta", "link", "noscript", "template",
                   "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
                   "canvas", "audio", "video", "select", "button", "xml")
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all|"
    r"(?<![-\w])font-size\s*:\s*0(?:px|pt|em)?\s*(?:;|$|!)|max-height\s*:\s*0(?:px)?\s*(?:;|$|!)",
    re.IGNORECASE,
)
# Characters lxml refuses: NUL, C0 controls other than tab/newline/CR, and lone surrogates.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")

# Containers that hold the quoted history, as the clients write them.
_QUOTE_XPATH = (
    "//blockquote[@type='cite' or contains(@class, 'quote') or contains(@style, 'border-left')"
    " or contains(@id, 'quote')]"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' gmail_quote ')]"
    " | //div[contains(@class, 'gmail_quote_container')]"
    " | //div[contains(@class, 'moz-cite-prefix')]"
    " | //div[contains(@class, 'yahoo_quoted')]"
    " | //div[contains(@class, 'protonmail_quote')]"
    " | //div[contains(@class, 'OutlookMessageHeader')]"
)
# Markers after which everything at the same level is history (Outlook web, Zimbra).
_QUOTE_START_XPATH = (
    "//div[@id='divRplyFwdMsg'] | //div[@id='appendonsend'] | //hr[@id='zwchr']"
    " | //div[@id='mail-editor-reference-message-container']"
)

_CONFIG = ParserConfig(display_links=False, display_images=False)
MARKUP_FACTOR = 4  # read at most this many characters of HTML per character of text wanted


def _prepare(html: str, max_chars: int) -> HtmlElement | None:
    html = _XML_UNSAFE.sub("", html[: max_chars * MARKUP_FACTOR])
    html = _XML_DECLARATION.sub("", html)
    if not html.strip():
        return None
    try:
        tree = document_fromstring(html)
    except (etree.LxmlError, ValueError):  # empty document, undecodable input
        return None
    etree.strip_elements(tree, etree.Comment, etree.ProcessingInstruction, *_INVISIBLE_TAGS,
                         with_tail=False)
    for element in tree.xpath("//*[@hidden] | //*[@style]"):
        if element.get("hidden") is not None or _HIDDEN_STYLE.search(element.get("style", "")):
            _drop(element)
    return tree


def _drop(element: HtmlElement) -> None:
    parent = element.getparent()
    if parent is not None:
        element.drop_tree()  # keeps the tail text, which belongs to the parent


def _render(tree: HtmlElement, max_chars: int) -> str:
    try:
        text = Inscriptis(tree, _CONFIG).get_text()
    except Exception:  # e.g. RecursionError on absurd nesting: the bare text nodes will do
        text = "\n".join(part.strip() for part in tree.itertext() if part.strip())
    return _tidy(text)[:max_chars]


def _tidy(text: str) -> str:
    # Layout indentation from nested divs and tables carries no meaning in a mail body.
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    blank = 0
    for line in lines:
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            out.append(line)
    return "\n".join(out).strip()


def _fallback_text(html: str, max_chars: int) -> str:
    """When lxml cannot parse at all: strip tags and unescape, nothing more."""
    return _tidy(stdlib_html.unescape(_TAG.sub(" ", _XML_UNSAFE.sub("", html))))[:max_chars]


def html_to_text(html: str, *, max_chars: int = 1_000_000) -> str:
    """Readable plain text of an HTML document or fragment; never raises for bad HTML."""
    tree = _prepare(html, max_chars)
    if tree is None:
        return _fallback_text(html, max_chars)
    return _render(tree, max_chars)


def html_to_texts(html: str, *, max_chars: int = 1_000_000) -> tuple[str, str]:
    """``(full_text, reply_text)``: everything readable, and the same without quote containers."""
    tree = _prepare(html, max_chars)
    if tree is None:
        text = _fallback_text(html, max_chars)
        return text, text
    full = _render(tree, max_chars)
    removed = False
    for marker in tree.xpath(_QUOTE_START_XPATH):
        parent = marker.getparent()
        if parent is None:
            continue
        for sibling in list(marker.itersiblings()):
            parent.remove(sibling)
        _drop(marker)
        removed = True
    for container in tree.xpath(_QUOTE_XPATH):
        if container.getparent() is not None:
            _drop(container)
            removed = True
    reply = _render(tree, max_chars) if removed else full
    return full, reply
