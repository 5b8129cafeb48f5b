"""Separate the sender's own new text from quoted history and client boilerplate.

Citizens reply with every client there is, in Swedish and many other
languages. The rules, in order of confidence:

1. An Outlook-style header block ("Från: / Skickat: / Till: / Ämne:", or the
   English, German, Danish ... equivalent, with a date on the sent line) or an
   "original/forwarded message" separator starts the history: everything from
   there on is quoted, since those clients never interleave.
2. Lines starting with ``>`` are quoted. Unquoted lines between or after them
   are kept: that is an inline or bottom-posted answer.
3. An attribution line ("Den 3 mars 2026 kl. 10:12 skrev Anna <anna@x.se>:",
   "On ... wrote:", "Am ... schrieb ...:", possibly wrapped over two or three
   lines) is dropped. If no ``>`` lines follow it and the sender already wrote
   something above it, everything after it is history too (HTML mail whose
   quote was rendered without markers). Attributions need a time or an
   address on the line, so "Den 3 mars skrev jag till er om detta:" is text.
4. Client taglines ("Skickat från min iPhone", "Hämta Outlook för Android",
   "Sent from my ...") are dropped, as is a short ``-- `` signature block and a
   trailing confidentiality disclaimer. Sign-offs ("Mvh", "Med vänliga
   hälsningar") and the name under them are kept: they are the sender's words
   and often the only name we get.

When the rules would leave nothing (a bare forward, a text that only looks
like a header block), the whole text is returned: losing the citizen's words
is worse than keeping a quote. mail-parser-reply supplies the attribution
patterns for languages beyond those written out here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailparser_reply.constants import MAIL_LANGUAGES

MAX_ATTRIBUTION_CHARS = 400
MAX_SIGNATURE_LINES = 12
ATTRIBUTION_TAIL_CHARS = 240

_QUOTE_PREFIX = re.compile(r"^\s*>")
_QUOTE_LEVELS = re.compile(r"^(?:\s*>)+\s?")
_QUOTE_MARKER = re.compile(r"^\s*>(?:[\s>]|$)")  # "> text", ">> text", ">"
_TIME_OR_ADDRESS = re.compile(r"\d{1,2}[:.]\d{2}|@")
_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
_ATTRIBUTION_VERB = (
    r"(?:skrev|wrote|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto|schreef|"
    r"napisał(?:\(a\))?|napsal(?:\(a\))?|kirjoitti|yazdı|написал(?:\(а\))?|пишет|"
    r"كتب|نوشت|skrifaði)"
)
# The verb is followed by at most a name and address before the final colon.
_ATTRIBUTION_END = re.compile(rf"{_ATTRIBUTION_VERB}([^:\n]{{0,160}}):\s*$", re.IGNORECASE)
# "skrev jag till er:" / "I wrote to you:" is the sender talking, not a client header.
_FIRST_PERSON = re.compile(r"\b(?:jag|vi|till|er|dig|mig|oss|om|I|we|to|you|me|us|about)\b",
                           re.IGNORECASE)
_WEEKDAY = r"(?:mån|tis|ons|tor|fre|lör|sön|mon|tue|wed|thu|fri|sat|sun)\w*\.?,?\s+\d"
_ATTRIBUTION_START = re.compile(
    rf"^(?:Den|On|Am|Le|El|Em|Op|Il|Dne|Dnia|W\s+dniu)\s|^{_WEEKDAY}|^\d{{1,4}}[-./ \u00a0]",
    re.IGNORECASE,
)
# "... Anna <anna@x.se> wrote:", "anna@x.se skrev:", "skrev Anna <anna@x.se>:"
_ADDRESS_ATTRIBUTION = re.compile(
    rf"@\S+>\)?\s*(?:{_ATTRIBUTION_VERB})?\s*:\s*$|@\S+\s+{_ATTRIBUTION_VERB}\s*:\s*$",
    re.IGNORECASE,
)
# Other languages' "X wrote:" headers from mail-parser-reply (sv/en/da are written above).
# Their patterns backtrack a lot, so they only run on lines holding one of their verbs.
_EXTRA_ATTRIBUTIONS = tuple(
    re.compile(spec["wrote_header"], re.IGNORECASE)
    for lang, spec in MAIL_LANGUAGES.items()
    if lang not in {"sv", "en", "da"} and spec.get("wrote_header")
)
_EXTRA_HINT = re.compile(r"schrieb|écrit|escribió|scritto|schreef|napisa|napsal|nadesłał|"
                         r"님이|写道|年", re.IGNORECASE)

_FIELD_FROM = (
    r"From|Från|Fra|Von|De|Van|Od|Da|Lähettäjä|Kimden|От|Від|Feladó|Expéditeur|"
    r"Remitente|Mittente|Afzender|Nadawca|Frá|من|از"
)
_FIELD_SENT = (
    r"Sent|Skickat|Date|Datum|Sendt|Gesendet|Envoyé|Enviado|Inviato|Verzonden|Wysłano|"
    r"Lähetetty|Päivämäärä|Tarih|Gönderildi|Отправлено|Дата|Date d'envoi|Fecha|Data|"
    r"Odesláno|Dato|Sendt|Skickades|التاريخ|تاريخ الإرسال|تاریخ"
)
_FIELD_OTHER = (
    r"To|Till|Til|An|À|A|Para|Aan|Do|Komu|Vastaanottaja|Kime|Кому|Címzett|"
    r"Subject|Ämne|Emne|Betreff|Objet|Oggetto|Asunto|Assunto|Onderwerp|Temat|Předmět|Aihe|"
    r"Konu|Тема|Tárgy|Cc|Kopia|Kopi|Kopie|Bcc|Hemlig kopia|Reply-To|Svara till|Svar till|"
    r"إلى|الموضوع|به|موضوع"
)
_HEADER_FROM = re.compile(rf"^[*\s]*(?:{_FIELD_FROM})\s*:[*\s]*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(rf"^[*\s]*(?:{_FIELD_SENT})\s*:[*\s]*.*\d", re.IGNORECASE)
_HEADER_ANY = re.compile(rf"^[*\s]*(?:{_FIELD_SENT}|{_FIELD_OTHER})\s*:", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}|_{2,}|=+)\s*(?:Ursprungligt meddelande|Originalmeddelande|Original Message|"
    r"Ursprungligt brev|Vidarebefordrat meddelande|Vidarebefordrat brev|Forwarded message|"
    r"Ursprüngliche Nachricht|Original-Nachricht|Weitergeleitete Nachricht|Message d'origine|"
    r"Message transféré|Mensaje original|Mensaje reenviado|Messaggio originale|"
    r"Messaggio inoltrato|Oorspronkelijk bericht|Doorgestuurd bericht|Opprinnelig melding|"
    r"Videresendt melding|Oprindelig meddelelse|Videresendt meddelelse|Alkuperäinen viesti|"
    r"Välitetty viesti|Wiadomość oryginalna|Przekazana wiadomość|Orijinal Mesaj|"
    r"Исходное сообщение|Пересылаемое сообщение|Original Message processed by .*)\s*"
    r"(?:-{2,}|_{2,}|=+)?\s*$"
    r"|^\s*(?:Början på vidarebefordrat brev|Början av vidarebefordrat meddelande|"
    r"Vidarebefordrat brev|Begin forwarded message|Anfang der weitergeleiteten Nachricht|"
    r"Début du message réexpédié|Inizio messaggio inoltrato|"
    r"Comienzo del mensaje reenviado)\s*:\s*$",
    re.IGNORECASE,
)
_RULE_LINE = re.compile(r"^\s*(?:_{10,}|-{10,}|={10,})\s*$")

_TAGLINE = re.compile(
    r"^\s*(?:"
    r"Skickat från (?:min|mitt|Outlook|Mail|E-post|Yahoo|Gmail|AOL|Samsung|Telia|"
    r"Microsoft|Windows)\b.{0,60}"
    r"|Skickades från .{1,60}"
    r"|Hämta Outlook för (?:Android|iOS|iPhone|Windows)\b.{0,40}"
    r"|Skaffa Outlook för (?:Android|iOS)\b.{0,40}"
    r"|Sent from (?:my|Outlook|Mail|Yahoo|Gmail|AOL|Samsung|Windows)\b.{0,60}"
    r"|Sent with .{1,60}"
    r"|Get Outlook for (?:Android|iOS|Windows)\b.{0,40}"
    r"|Sendt fra min .{1,40}|Sendt fra Outlook.{0,40}|Hent Outlook til .{1,40}"
    r"|Gesendet von meinem .{1,40}|Gesendet mit .{1,40}|Von meinem .{1,40} gesendet"
    r"|Envoyé de mon .{1,40}|Envoyé depuis mon .{1,40}"
    r"|Enviado desde mi .{1,40}|Enviado do meu .{1,40}|Inviato da .{1,40}"
    r"|Verzonden (?:vanaf|met) (?:mijn )?.{1,40}|Wysłano z .{1,40}"
    r"|Lähetetty (?:iPhonesta|Androidista|Outlookista|laitteesta).{0,40}"
    r"|Отправлено с .{1,40}"
    r")\s*$",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^\s*(?:Detta (?:e-?post-?meddelande|e-?brev|meddelande) (?:kan innehålla|är avsett|"
    r"och eventuella bilagor)|Denna e-?post (?:kan innehålla|är avsedd)|"
    r"Informationen i detta (?:e-?post)?meddelande|"
    r"När du skickar e-post till .{0,60}(?:behandlar|hanterar) vi|"
    r"This (?:e-?mail|message)(?: and any (?:files|attachments)| is intended| may contain| "
    r"contains confidential)|CONFIDENTIALITY NOTICE|Confidentiality Notice|"
    r"DISCLAIMER:|IMPORTANT: The contents of this email)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ReplySplit:
    """The sender's new text, and what was taken away from it."""

    body: str
    quote_removed: bool = False
    signature_removed: bool = False


def _is_quoted(line: str) -> bool:
    return bool(_QUOTE_PREFIX.match(line))


def _unquote(line: str) -> str:
    return _QUOTE_LEVELS.sub("", line)


def _attribution_span(lines: list[str], i: int) -> int:
    """Number of lines (1-3) forming an attribution starting at line ``i``; 0 if none."""
    first = _unquote(lines[i]).strip()
    if not first or len(first) > MAX_ATTRIBUTION_CHARS:
        return 0
    joined = first
    for span in range(1, 4):
        if span > 1:
            if i + span - 1 >= len(lines):
                return 0
            nxt = _unquote(lines[i + span - 1]).strip()
            if not nxt:
                return 0
            joined = f"{joined} {nxt}"
            if len(joined) > MAX_ATTRIBUTION_CHARS:
                return 0
        ends_with_colon = joined.endswith((":", "："))
        if ends_with_colon and _looks_like_attribution(joined):
            return span
        if ends_with_colon or (span == 1 and not (_ATTRIBUTION_START.match(first)
                                                  or "@" in first)):
            return 0  # a finished line, or no recognisable start to continue from
    return 0


def _looks_like_attribution(text: str) -> bool:
    if not _TIME_OR_ADDRESS.search(text):
        return False  # real attributions carry a time or an address
    start = _ATTRIBUTION_START.match(text)
    tail = text[-ATTRIBUTION_TAIL_CHARS:]  # verb, name and address sit at the end
    address = _ADDRESS_ATTRIBUTION.search(tail)
    end = _ATTRIBUTION_END.search(tail)
    if end and not _FIRST_PERSON.search(end.group(1)) and (start or address):
        return True
    if start and address and _TIME.search(text):
        return True  # "26.06.2014, 14:41, "Anna" <anna@x.se>:" (Yandex, Mail.ru)
    return bool(_EXTRA_HINT.search(text)) and any(p.match(text) for p in _EXTRA_ATTRIBUTIONS)


def _is_field(line: str) -> bool:
    return bool(_HEADER_FROM.match(line) or _HEADER_ANY.match(line))


def _header_block_at(lines: list[str], i: int) -> bool:
    """A block of quoted header fields: From, a dated Sent/Date and one more, in any order.

    Outlook writes From first; Hotmail wrote Date first. Fields may wrap onto
    one continuation line (long recipient lists).
    """
    if not _is_field(lines[i]):
        return False
    fields: list[str] = []
    loose = 0
    for line in lines[i:i + 12]:
        if not line.strip():
            break
        if _is_field(line):
            fields.append(line)
        else:
            loose += 1
            if loose > 2:
                break
    return (len(fields) >= 3 and any(_HEADER_FROM.match(f) for f in fields)
            and any(_HEADER_SENT.match(f) for f in fields))


def _history_start(lines: list[str], i: int) -> int:
    """Back up from a header block over a separator rule right above it."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and (_RULE_LINE.match(lines[j]) or _SEPARATOR.match(lines[j])):
        return j
    return i


def _strip_signature(kept: list[str]) -> tuple[list[str], bool]:
    removed = False
    out = []
    for line in kept:
        if _TAGLINE.match(line):
            removed = True
            continue
        out.append(line)
    has_text = [bool(line.strip()) for line in out]
    for idx, line in enumerate(out):
        if _DISCLAIMER.match(line) and any(has_text[:idx]):
            out = out[:idx]
            removed = True
            break
    for idx in range(len(out) - 1, -1, -1):
        if out[idx] in ("-- ", "--") and any(has_text[:idx]):
            if len(out) - idx - 1 <= MAX_SIGNATURE_LINES:
                out = out[:idx]
                removed = True
            break
    return out, removed


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    blank = 0
    for line in lines:
        line = line.rstrip()
        blank = blank + 1 if not line else 0
        if blank <= 1:
            out.append(line)
    return "\n".join(out).strip()


def split_reply(text: str) -> ReplySplit:
    """Split plain text into the sender's new text; see the module docstring for the rules."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    end = len(lines)
    for i, line in enumerate(lines):
        if not line.strip() or _is_quoted(line):
            continue
        if _SEPARATOR.match(line):
            end = i
            break
        if _header_block_at(lines, i):
            end = _history_start(lines, i)
            break

    kept: list[str] = []
    quote_removed = end < len(lines)
    i = 0
    while i < end:
        line = lines[i]
        if _is_quoted(line):
            # A lone ">50 personer" is text; quoting comes in blocks or with "> ".
            neighbours = (i > 0 and _is_quoted(lines[i - 1])) or (i + 1 < end and
                                                                    _is_quoted(lines[i + 1]))
            if neighbours or _QUOTE_MARKER.match(line):
                quote_removed = True
                if kept and kept[-1].strip():
                    kept.append("")  # keep answers around a removed quote apart
                i += 1
                continue
        if len(line) < MAX_ATTRIBUTION_CHARS and line.strip():
            span = _attribution_span(lines, i)
            if span:
                quote_removed = True
                after = lines[i + span:end]
                if not any(_is_quoted(a) for a in after) and any(k.strip() for k in kept):
                    break  # HTML-rendered quote without markers: the rest is history
                i += span
                continue
        kept.append(line)
        i += 1

    kept, signature_removed = _strip_signature(kept)
    body = _tidy(kept)
    if not body:
        return ReplySplit(body=_tidy(lines))
    return ReplySplit(body=body, quote_removed=quote_removed, signature_removed=signature_removed)
