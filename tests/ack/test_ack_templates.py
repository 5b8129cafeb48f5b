"""Every template in every language and channel renders, fits, parses and says what it must."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pdfplumber
import pytest
import yaml

from channels.sms import segments
from ingest.ack import crisis, service
from ingest.ack.config import SUPPORTED_LANGUAGES
from ingest.ack.texts import BY_CASE_KEYS, REQUIRED_KEYS
from ingest.errors import ConfigError

ARENDE = "KC-2026-004711-J"
KINDS = [("standard", "aldreomsorg/hemtjanst"), ("standard", "trafik/felanmalan_gata"),
         ("standard", "skola/skolval"), ("standard", None), ("akut", "aldreomsorg/hemtjanst"),
         ("referral", "socialtjanst/barn_och_familj"),
         ("referral", "funktionsnedsattning/lss_insats"), ("referral", "ovrigt/annan_myndighet")]
VOID = {"meta", "br", "hr", "img", "link", "input"}


def _plan(language: str, kind: str, case_key: str | None, languages: list[str] | None = None
          ) -> dict[str, object]:
    return {"planned": True, "language": language, "languages": languages or [language],
            "deadline": "2026-11-24", "kind": kind, "case_key": case_key,
            "to": "Fatima Ali\nStorgatan 1\n123 45 Stockholm"}


class StrictHtml(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.attrs: dict[str, list[dict[str, str | None]]] = {}
        self.decl: str | None = None
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.decl = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.setdefault(tag, []).append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_language_has_every_text(make_settings) -> None:
    directory = Path(make_settings().config_dir) / "templates" / "ack" / "texts"
    sv = yaml.safe_load((directory / "sv.yaml").read_text(encoding="utf-8"))
    for language in SUPPORTED_LANGUAGES:
        texts = yaml.safe_load((directory / f"{language}.yaml").read_text(encoding="utf-8"))
        assert set(texts) == set(sv) >= set(REQUIRED_KEYS), language
        for key in BY_CASE_KEYS:
            assert set(texts[key]) == set(sv[key]), (language, key)
        if not language.startswith("sv"):  # a Swedish sentence left untranslated
            plain = {v for v in texts.values() if isinstance(v, str)}
            assert not plain & {v for v in sv.values() if isinstance(v, str)}, language


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_email_renders_in_every_language_and_kind(make_settings, language: str) -> None:
    settings = make_settings()
    for kind, case_key in KINDS:
        rendered, _ = service.render_for(settings, _plan(language, kind, case_key),
                                         arende_id=ARENDE, channel="email")
        assert ARENDE in rendered.subject and ARENDE in rendered.text
        assert "{{" not in rendered.text and "}}" not in rendered.text
        assert "112" in rendered.text                      # where to turn if urgent
        assert settings.kcs.ack.contact_phone in rendered.text
        if case_key != "ovrigt/annan_myndighet":            # another authority sets its own
            assert any(d in rendered.text for d in ("24", "٢٤")), "deadline missing"
        parser = StrictHtml()
        parser.feed(rendered.html or "")
        parser.close()
        assert parser.decl and parser.decl.lower() == "doctype html"
        assert parser.stack == []
        (html,) = parser.attrs["html"]
        assert html["lang"] == language and html["dir"] == (
            "rtl" if language in ("ar", "fa") else "ltr")
        assert any(a.get("charset") == "utf-8" for a in parser.attrs["meta"])
        assert ARENDE in "".join(parser.text)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_sms_fits_the_segment_budget_without_cutting(make_settings, language: str) -> None:
    settings = make_settings()
    budget = settings.kcs.sms.max_segments
    for kind, case_key in KINDS:
        rendered, _ = service.render_for(settings, _plan(language, kind, case_key),
                                         arende_id=ARENDE, channel="sms")
        cost = segments.count(rendered.text)
        assert cost.segments <= budget, (language, kind, cost)
        assert segments.fit(rendered.text, budget, keep=ARENDE) == rendered.text
        assert ARENDE in rendered.text and "112" in rendered.text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_letter_pdf_opens_and_carries_the_arende_number(make_settings, language: str) -> None:
    settings = make_settings()
    kinds = [KINDS[0], KINDS[4], KINDS[5]] if language in ("ar", "sv") else [KINDS[0]]
    for kind, case_key in kinds:
        plan = _plan(language, kind, case_key)
        rendered, _ = service.render_for(settings, plan, arende_id=ARENDE, channel="letter")
        pdf = service.letter_pdf(settings, plan, rendered, ARENDE)
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            text = "\n".join(page.extract_text() or "" for page in doc.pages)
            assert len(doc.pages) == 1
        assert ARENDE in text and "Storgatan 1" in text and "112" in text


def test_right_to_left_letters_are_right_aligned(make_settings) -> None:
    settings = make_settings()
    plan = _plan("ar", "standard", None)
    rendered, _ = service.render_for(settings, plan, arende_id=ARENDE, channel="letter")
    with pdfplumber.open(io.BytesIO(service.letter_pdf(settings, plan, rendered, ARENDE))) as doc:
        page = doc.pages[0]
        body = [w for w in page.extract_words() if w["top"] > 250]
        width = page.width
    arabic = [w for w in body if re.search("[\u0600-\u06ff]", w["text"])]
    assert arabic, "no Arabic glyphs in the letter"
    # Paragraphs end at the right margin (20 mm) and not at the left one.
    assert max(w["x1"] for w in arabic) > width - 20 * 72 / 25.4 - 5
    assert min(w["x0"] for w in arabic) > 25 * 72 / 25.4 - 1


def test_unsupported_language_gets_swedish_and_english(make_settings) -> None:
    from ingest.ack.plan import choose_language

    settings = make_settings()
    assert choose_language("de", None, settings.kcs) == ("sv", ["sv", "en"])
    assert choose_language("und", None, settings.kcs) == ("sv", ["sv", "en"])
    assert choose_language("sv", "funktionsnedsattning", settings.kcs) == (
        "sv-lattlast", ["sv-lattlast"])
    rendered, _ = service.render_for(settings, _plan("sv", "standard", None, ["sv", "en"]),
                                     arende_id=ARENDE, channel="email")
    assert "Ditt ärendenummer är" in rendered.text and "Your case number is" in rendered.text
    assert rendered.html is not None and 'lang="en"' in rendered.html


def test_crisis_banner_reaches_every_channel_and_goes_away(make_settings) -> None:
    settings = make_settings()
    crisis.switch_on(settings.var_dir, {"sv": "Stormen Ivar: svaren kan dröja.",
                                        "en": "Storm Ivar: replies may be delayed."})
    for channel in ("email", "sms", "letter"):
        rendered, extra = service.render_for(settings, _plan("sv", "standard", None),
                                             arende_id=ARENDE, channel=channel)
        assert extra["crisis_banner"] is True
        assert "Stormen Ivar" in rendered.text, channel
    rendered, _ = service.render_for(settings, _plan("ar", "standard", None),
                                     arende_id=ARENDE, channel="email")
    assert "Stormen Ivar" in rendered.text and "Storm Ivar" in rendered.text
    assert rendered.html is not None and 'role="alert"' in rendered.html
    # An operator's text is not trusted as HTML.
    crisis.switch_on(settings.var_dir, {"sv": "<script>x</script> Stängt"})
    rendered, _ = service.render_for(settings, _plan("sv", "standard", None),
                                     arende_id=ARENDE, channel="email")
    assert rendered.html is not None and "<script>" not in rendered.html
    assert crisis.switch_off(settings.var_dir) is True
    rendered, extra = service.render_for(settings, _plan("sv", "standard", None),
                                         arende_id=ARENDE, channel="email")
    assert extra["crisis_banner"] is False and "Stängt" not in rendered.text
    with pytest.raises(ValueError):
        crisis.switch_on(settings.var_dir, {"en": "English only"})


def test_a_missing_text_key_is_an_error_not_a_blank(make_settings, tmp_path: Path) -> None:
    import shutil

    settings = make_settings()
    copy = tmp_path / "ack"
    shutil.copytree(settings.config_dir / "templates" / "ack", copy)
    texts = copy / "texts" / "fi.yaml"
    texts.write_text(texts.read_text(encoding="utf-8").replace("urgent:", "urgentt:"),
                     encoding="utf-8")
    cfg = settings.kcs.ack.model_copy(update={"templates_dir": str(copy)})
    broken = type(settings)(**{**settings.__dict__,
                               "kcs": settings.kcs.model_copy(update={"ack": cfg})})
    with pytest.raises(ConfigError, match="urgent"):
        service.render_for(broken, _plan("fi", "standard", None), arende_id=ARENDE,
                           channel="email")
    (copy / "sms.txt.j2").write_text("{{ primary.t.nonexistent }}", encoding="utf-8")
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        service.render_for(broken, _plan("sv", "standard", None), arende_id=ARENDE,
                           channel="sms")


def test_a_plan_stored_before_templates_still_renders(make_settings) -> None:
    old_plan = {"planned": True, "channel": "email", "to": "anna@example.se", "reason": None}
    rendered, _ = service.render_for(make_settings(), old_plan, arende_id=ARENDE,
                                     channel="email")
    assert ARENDE in rendered.text and "Your case number is" in rendered.text
