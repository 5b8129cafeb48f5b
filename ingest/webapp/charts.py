"""Server-rendered SVG charts: no JavaScript, readable by screen readers.

Each chart is a ``<figure>`` with an SVG (``role="img"``, a title and a
description) and the same numbers as a table under ``<details>``, so the
figures are there for anyone who cannot see the bars. Colours meet the 3:1
contrast WCAG asks of graphics; labels are text, not colour.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#1f5fa8"
TEXT = "#1a1a1a"
GRID = "#767676"
_ids = itertools.count(1)


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u00a0") if float(value).is_integer() else (
        f"{value:.1f}".replace(".", ","))


def _table(title: str, rows: Sequence[tuple[str, float]], head: tuple[str, str]) -> Markup:
    body = Markup("").join(Markup("<tr><th scope='row'>%s</th><td>%s</td></tr>")
                           % (label, _fmt(value)) for label, value in rows)
    return Markup("<details><summary>Visa %s som tabell</summary><table><thead><tr>"
                  "<th scope='col'>%s</th><th scope='col'>%s</th></tr></thead><tbody>"
                  ) % (title.lower(), head[0], head[1]) + body + Markup(
                      "</tbody></table></details>")


def bar_chart(title: str, rows: Sequence[tuple[str, float]], *, unit: str = "st",
              head: tuple[str, str] = ("Grupp", "Antal")) -> Markup:
    """Horizontal bars, one per row, largest first as given."""
    n = next(_ids)
    if not rows:
        return Markup("<figure class='chart'><figcaption>%s</figcaption><p>Inga uppgifter "
                      "för perioden.</p></figure>") % title
    label_w, bar_w, row_h = 230, 380, 26
    height = row_h * len(rows) + 10
    top = max(v for _, v in rows) or 1
    parts = [Markup("<svg xmlns='http://www.w3.org/2000/svg' role='img' "
                    "aria-labelledby='chart-%d-t chart-%d-d' viewBox='0 0 %d %d' "
                    "width='100%%' preserveAspectRatio='xMinYMin meet'>") % (
        n, n, label_w + bar_w + 70, height),
        Markup("<title id='chart-%d-t'>%s</title><desc id='chart-%d-d'>%s</desc>") % (
            n, title, n, "; ".join(f"{label}: {_fmt(v)} {unit}" for label, v in rows))]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * row_h
        w = max(1.0, bar_w * value / top) if value else 0
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(Markup(
            "<text x='%d' y='%d' text-anchor='end' fill='%s' font-size='13'>%s</text>"
            "<rect x='%d' y='%d' width='%.1f' height='%d' fill='%s'/>"
            "<text x='%.1f' y='%d' fill='%s' font-size='13'>%s</text>") % (
            label_w - 8, y + 17, TEXT, short, label_w, y + 4, w, row_h - 8, BAR,
            label_w + w + 6, y + 17, TEXT, _fmt(value)))
    parts.append(Markup("</svg>"))
    return (Markup("<figure class='chart'><figcaption>%s</figcaption>") % title
            + Markup("").join(parts) + _table(title, rows, head) + Markup("</figure>"))


def column_chart(title: str, rows: Sequence[tuple[str, float]], *, unit: str = "st",
                 head: tuple[str, str] = ("Tid", "Antal"), every: int = 1) -> Markup:
    """Vertical columns in the given order (days, hours); every ``every``-th label shown."""
    n = next(_ids)
    if not rows:
        return Markup("<figure class='chart'><figcaption>%s</figcaption><p>Inga uppgifter "
                      "för perioden.</p></figure>") % title
    width, height, base = 680, 220, 190
    col = (width - 40) / len(rows)
    top = max(v for _, v in rows) or 1
    parts = [Markup("<svg xmlns='http://www.w3.org/2000/svg' role='img' "
                    "aria-labelledby='chart-%d-t chart-%d-d' viewBox='0 0 %d %d' "
                    "width='100%%' preserveAspectRatio='xMinYMin meet'>") % (n, n, width, height),
             Markup("<title id='chart-%d-t'>%s</title><desc id='chart-%d-d'>%s</desc>") % (
                 n, title, n, "; ".join(f"{label}: {_fmt(v)} {unit}" for label, v in rows)),
             Markup("<line x1='30' y1='%d' x2='%d' y2='%d' stroke='%s'/>") % (
                 base, width - 10, base, GRID),
             Markup("<text x='2' y='14' fill='%s' font-size='12'>%s</text>") % (TEXT, _fmt(top))]
    for i, (label, value) in enumerate(rows):
        h = (base - 20) * value / top
        x = 34 + i * col
        parts.append(Markup("<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'>"
                            "<title>%s: %s</title></rect>") % (
            x, base - h, max(1.0, col - 3), h, BAR, label, _fmt(value)))
        if i % every == 0:
            parts.append(Markup("<text x='%.1f' y='%d' fill='%s' font-size='11' "
                                "text-anchor='middle'>%s</text>") % (
                x + col / 2, base + 16, TEXT, label))
    parts.append(Markup("</svg>"))
    return (Markup("<figure class='chart'><figcaption>%s</figcaption>") % escape(title)
            + Markup("").join(parts) + _table(title, rows, head) + Markup("</figure>"))
