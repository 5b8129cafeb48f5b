"""Rendering: the channel templates and per-language texts of ``config/templates/ack/``.

Everything renders with ``StrictUndefined``: a text or template that names a
key the context lacks is an error at render time (and in the tests, which
render every language × channel × kind), never a blank in a citizen's mail.
HTML is autoescaped; the texts themselves are ours, but a banner typed by an
operator is not trusted to be HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_skeleton
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from ingest.ack import texts as text_files
from ingest.ack.config import RTL_LANGUAGES, AckConfig
from ingest.ack.deadlines import babel_locale, format_deadline

CHANNEL_TEMPLATES = {"email_text": "email.txt.j2", "email_html": "email.html.j2",
                     "sms": "sms.txt.j2", "letter": "letter.txt.j2"}


@dataclass(frozen=True)
class Rendered:
    """What a channel needs: subject (e-mail), plain text, HTML (e-mail only)."""

    language: str
    subject: str
    text: str
    html: str | None = None


def templates_dir(config_dir: Path, cfg: AckConfig) -> Path:
    """``ack.templates_dir``, else ``<config dir>/templates/ack``."""
    return Path(cfg.templates_dir) if cfg.templates_dir else config_dir / "templates" / "ack"


@lru_cache(maxsize=8)
def _environment(directory: str) -> Environment:
    return Environment(loader=FileSystemLoader(directory), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html", "html.j2"],
                                                    default_for_string=False),
                       keep_trailing_newline=True, trim_blocks=False)


@lru_cache(maxsize=1)
def _text_environment() -> Environment:
    """For the sentences: plain text, escaped later by the HTML template if needed."""
    return Environment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=8192)
def _sentence(text: str) -> Template:
    """A sentence compiled once (compiling costs far more than rendering)."""
    return _text_environment().from_string(text)


def direction(language: str) -> str:
    """``rtl`` for Arabic and Persian, else ``ltr``."""
    return "rtl" if language in RTL_LANGUAGES else "ltr"


def _block(language: str, directory: str, values: Mapping[str, Any],
           case_key: str | None) -> dict[str, Any]:
    raw = text_files.load_texts(directory, language)
    deadline_day: date = values["deadline_date"]
    local = {**values, "deadline": format_deadline(deadline_day, language),
             "deadline_short": format_skeleton("MMMMd", deadline_day,
                                               locale=babel_locale(language))}
    local.pop("deadline_date")

    def render(text: str) -> str:
        return _sentence(text).render(**local).strip()

    t = {k: render(str(v)) for k, v in raw.items() if k not in text_files.BY_CASE_KEYS}
    return {"lang": language, "dir": direction(language), "t": t,
            "next_steps": render(text_files.for_case(raw, "next_steps", case_key)),
            "referral": render(text_files.for_case(raw, "referral", case_key))}


def context(directory: str, *, languages: list[str], arende: str, deadline_day: date,
            kind: str, case_key: str | None, cfg: AckConfig, from_name: str,
            crisis: list[tuple[str, str]], show_deadline: bool = True) -> dict[str, Any]:
    """The template context: one block of rendered texts per language, plus the banner."""
    values = {"arende": arende, "deadline_date": deadline_day, "phone": cfg.contact_phone,
              "emergency": cfg.emergency_number, "web": cfg.contact_web}
    blocks = [_block(lang, directory, values, case_key) for lang in languages]
    banner = []
    for lang, text in crisis:
        heading = text_files.load_texts(directory, lang)["crisis_heading"] if (
            Path(directory) / "texts" / f"{lang}.yaml").exists() else "Viktigt meddelande"
        banner.append({"lang": lang, "dir": direction(lang), "heading": heading,
                       "text": text.strip()})
    subject = " / ".join(dict.fromkeys(b["t"]["subject"] for b in blocks))
    return {"arende": arende, "blocks": blocks, "primary": blocks[0], "kind": kind,
            "crisis": banner, "from_name": from_name, "subject": subject,
            "show_deadline": show_deadline}


def render(directory: str, channel: str, ctx: Mapping[str, Any]) -> str:
    """One channel template; a ``<language>/`` override wins over the shared one."""
    env = _environment(directory)
    name = CHANNEL_TEMPLATES[channel]
    language = ctx["primary"]["lang"]
    template = env.get_or_select_template([f"{language}/{name}", name])
    text = template.render(**ctx)
    if channel != "email_html":
        text = "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"
    return text
