"""The printable acknowledgement letter: an A4 PDF for a window envelope.

fpdf2 lays out the paragraphs of ``letter.txt.j2`` with HarfBuzz text shaping
(uharfbuzz), so Arabic and Persian letters are joined and ordered right to
left by the Unicode bidi algorithm, and right-aligned. Fonts come from
Debian's ``fonts-noto-core`` (Noto Sans for Latin/Cyrillic, Noto Naskh Arabic
as fallback for Arabic script), else ``fonts-dejavu-core``.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date

from ingest.ack.deadlines import babel_locale
from ingest.errors import ConfigError

_FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/truetype/dejavu"))
_FONT_CANDIDATES = {
    "main": ("NotoSans-Regular.ttf", "DejaVuSans.ttf"),
    "bold": ("NotoSans-Bold.ttf", "DejaVuSans-Bold.ttf"),
    "arabic": ("NotoNaskhArabic-Regular.ttf", "NotoSansArabic-Regular.ttf", "DejaVuSans.ttf"),
}


@lru_cache(maxsize=1)
def fonts() -> dict[str, Path]:
    """The font files used, found once; a clear error names the Debian package."""
    found: dict[str, Path] = {}
    for role, names in _FONT_CANDIDATES.items():
        for name in names:
            hit = next((d / name for d in _FONT_DIRS if (d / name).exists()), None)
            if hit is not None:
                found[role] = hit
                break
        else:
            raise ConfigError(f"no font for {role} letters ({', '.join(names)}): install "
                              "Debian's fonts-noto-core (or fonts-dejavu-core)", key="ack")
    return found


def is_rtl(paragraph: str) -> bool:
    """Whether the first strong character is right-to-left (Arabic, Persian, Hebrew)."""
    for ch in paragraph:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def render_letter(*, text: str, recipient: str, language: str, sender_block: str,
                  today: date, arende: str) -> bytes:
    """The letter as PDF bytes: sender block, recipient window, date, paragraphs."""
    from fpdf import FPDF  # 15 MB and 0.3 s that a worker which writes no letter never pays

    paths = fonts()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(f"{arende}")
    pdf.set_author(sender_block.splitlines()[0] if sender_block else "")
    pdf.set_creator("KCS intake")
    pdf.add_font("Main", "", str(paths["main"]))
    pdf.add_font("Main", "B", str(paths["bold"]))
    pdf.add_font("Arabic", "", str(paths["arabic"]))
    pdf.set_fallback_fonts(["Arabic"], exact_match=False)
    pdf.set_text_shaping(use_shaping_engine=True)
    pdf.set_margins(25, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Main", size=9)
    pdf.multi_cell(80, 4.5, sender_block, new_x="LMARGIN", new_y="NEXT")
    # The recipient sits where a C5/E65 window envelope shows it (SS-EN ISO 269).
    pdf.set_xy(25, 50)
    pdf.set_font("Main", size=11)
    pdf.multi_cell(85, 5.5, recipient, new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(125, 50)
    pdf.set_font("Main", size=10)
    pdf.cell(60, 5.5, format_date(today, format="long", locale=babel_locale(language)),
             align="R")
    pdf.set_xy(25, 90)
    first = True
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        align = "R" if is_rtl(paragraph) else "L"
        if first:
            pdf.set_font("Main", "B", size=14)
        else:
            pdf.set_font("Main", size=11)
        pdf.multi_cell(0, 7 if first else 5.8, paragraph, align=align, new_x="LMARGIN",
                       new_y="NEXT")
        pdf.ln(3)
        first = False
    return bytes(pdf.output())
