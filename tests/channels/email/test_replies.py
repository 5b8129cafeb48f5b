"""split_reply and the HTML quote removal: what counts as the citizen's own words.

The asserts are the ones a registrator would make: the new text is there,
the quoted history is not, and nothing the citizen wrote was lost.
"""

from __future__ import annotations

import pytest

from channels.email.html import html_to_text, html_to_texts
from channels.email.replies import split_reply


def body(text: str) -> str:
    return split_reply(text).body


# --------------------------------------------------------------------------- Swedish clients


def test_outlook_sv_header_block() -> None:
    text = ("Hej,\nJag bifogar intyget.\n\nMvh\nPer\n\n"
            "________________________________\n"
            "Från: Kontaktcenter Stockholm <kontaktcenter@stockholm.se>\n"
            "Skickat: den 2 mars 2026 15:40\n"
            "Till: Per Ek <per.ek@example.se>\n"
            "Kopia: Registrator\n"
            "Ämne: Komplettering\n\n"
            "Hej Per, vi behöver ett intyg.\n")
    split = split_reply(text)
    assert split.body == "Hej,\nJag bifogar intyget.\n\nMvh\nPer"
    assert split.quote_removed


def test_outlook_sv_header_block_with_wrapped_recipients_and_bold_markers() -> None:
    text = ("Tack!\n\n*Från:* Miljöförvaltningen <miljo@stockholm.se>\n"
            "*Skickat:* den 1 mars 2026 09:00\n*Till:* Anna <anna@x.se>; Bo <bo@x.se>;\n"
            "Cecilia <c@x.se>\n*Ämne:* Buller\n\nCiterad text\n")
    assert body(text) == "Tack!"


def test_ursprungligt_meddelande_separator() -> None:
    text = ("Ja, det stämmer.\n\n-----Ursprungligt meddelande-----\n"
            "Från: Handläggare\nÄmne: Fråga\n\nStämmer adressen?\n")
    assert body(text) == "Ja, det stämmer."


@pytest.mark.parametrize("attribution", [
    "Den 3 mars 2026 kl. 10:12 skrev Anna Andersson <anna@x.se>:",
    "Den tis 3 mars 2026 kl 10:12 skrev Anna Andersson <anna@x.se>:",
    "tis 3 mars 2026 kl. 10:12 skrev Anna Andersson <anna@x.se>:",
    "3 mars 2026 kl. 10:12 skrev Anna Andersson <anna@x.se>:",
    "Den 2026-03-03 kl. 10:12, skrev Anna Andersson:",
    "Den tis 3 mars 2026 kl 10:12 skrev Kundservice Avfall <\nkundservice.avfall@stockholm.se>:",
    "On Tue, Mar 3, 2026 at 10:12 AM Anna Andersson <anna@x.se> wrote:",
    "On 3 Mar 2026, at 10:12, Anna Andersson <anna@x.se> wrote:",
    "Am 03.03.2026 um 10:12 schrieb Anna Andersson <anna@x.se>:",
    "Le mar. 3 mars 2026 à 10:12, Anna Andersson <anna@x.se> a écrit :",
    "El mar, 3 mar 2026 a las 10:12, Anna Andersson (<anna@x.se>) escribió:",
    "03.03.2026 10:12, Anna Andersson пишет:",
])
def test_attribution_then_quote_is_removed(attribution: str) -> None:
    text = f"Jag kommer på tisdag.\n\n{attribution}\n\n> Passar tisdag kl 10?\n> /Anna\n"
    split = split_reply(text)
    assert split.body == "Jag kommer på tisdag."
    assert split.quote_removed


def test_attribution_without_markers_after_new_text_cuts_the_rest() -> None:
    # HTML mail rendered to text loses the ">" markers of the quote.
    text = ("Tack, då vet jag.\n\nDen 3 mars 2026 kl. 10:12 skrev Äldre direkt "
            "<aldredirekt@stockholm.se>:\nHej, hemtjänsten kommer kl 9.\n")
    assert body(text) == "Tack, då vet jag."


def test_iphone_tagline_removed_but_sign_off_kept() -> None:
    text = ("Vi ses där.\nMvh Sara\n\nSkickat från min iPhone\n\n"
            "> 2 mars 2026 kl. 09:30 skrev Äldre direkt <aldredirekt@stockholm.se>:\n> Hej\n")
    split = split_reply(text)
    assert split.body == "Vi ses där.\nMvh Sara"
    assert split.signature_removed


@pytest.mark.parametrize("tagline", [
    "Skickat från min iPhone", "Skickat från min Samsung Galaxy-smarttelefon.",
    "Skickat från Outlook för Android", "Hämta Outlook för Android", "Hämta Outlook för iOS",
    "Skickat från Outlook för iOS<https://aka.ms/o0ukef>", "Sent from my iPhone",
    "Get Outlook for Android", "Skickat från E-post för Windows",
])
def test_client_taglines_are_removed(tagline: str) -> None:
    assert body(f"Hej, adressen är Ringvägen 3.\n\n{tagline}\n") == "Hej, adressen är Ringvägen 3."


def test_short_dash_dash_signature_removed() -> None:
    text = "Se bilaga.\n\n-- \nBo Ek\nEk Bygg AB\n08-123 456\n"
    assert body(text) == "Se bilaga."


def test_long_block_after_dashes_is_kept() -> None:
    text = "Punkt ett\n--\n" + "\n".join(f"rad {i}" for i in range(30))
    assert "rad 29" in body(text)


def test_trailing_disclaimer_removed() -> None:
    text = ("Vi godkänner offerten.\n\nMvh Lisa\n\nDetta e-postmeddelande kan innehålla "
            "konfidentiell information.\nOm du fått det av misstag, radera det.\n")
    assert body(text) == "Vi godkänner offerten.\n\nMvh Lisa"


# --------------------------------------------------------------------------- keep the words


def test_inline_answers_between_quotes_are_kept() -> None:
    text = ("Se mina svar nedan.\n\nDen 3 mars 2026 kl. 10:12 skrev Handläggare <h@stockholm.se>:\n"
            "> Vilken dag passar?\nTisdag.\n> Vilken tid?\nKlockan tio.\n")
    assert body(text) == "Se mina svar nedan.\n\nTisdag.\n\nKlockan tio."


def test_bottom_posting_is_kept() -> None:
    text = ("On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\n\nHello, here is my answer.\n")
    assert body(text) == "Hello, here is my answer."


def test_first_person_sentences_with_skrev_are_text() -> None:
    text = ("Hej!\nDen 3 mars kl 10:00 skrev jag till er om detta:\n"
            "Min granne eldar sopor varje helg.\nJag skrev till info@stockholm.se:\n"
            "ingen svarade.\n")
    assert body(text) == text.strip()


def test_a_lone_greater_than_sign_is_text() -> None:
    assert body("Det var >50 personer i kön.\nMvh Kim") == "Det var >50 personer i kön.\nMvh Kim"


def test_form_like_text_is_not_taken_for_a_header_block() -> None:
    text = "Från: Anna Andersson\nTill: Miljöförvaltningen\nÄmne: Buller\n\nDet låter hela natten."
    assert body(text) == text


def test_pure_forward_keeps_the_forwarded_text() -> None:
    text = ("---------- Forwarded message ---------\nFrån: Skatteverket <no-reply@skv.se>\n"
            "Date: mån 2 mars 2026 kl 08:00\nSubject: Beslut\nTo: <a@x.se>\n\n"
            "Ditt beslut finns i appen.\n")
    split = split_reply(text)
    assert "Ditt beslut finns i appen." in split.body
    assert not split.quote_removed


def test_empty_and_whitespace() -> None:
    assert body("") == ""
    assert body(" \n\n ") == ""


# --------------------------------------------------------------------------- HTML


def test_html_gmail_quote_container_removed_in_reply_kept_in_full() -> None:
    html = ('<div dir="ltr">Tack, det löser sig.</div><div class="gmail_quote">'
            '<div class="gmail_attr">Den tis 3 mars 2026 kl 10:12 skrev X &lt;x@y.se&gt;:</div>'
            '<blockquote class="gmail_quote" style="border-left:1px solid #ccc">Citat</blockquote>'
            '</div>')
    full, reply = html_to_texts(html)
    assert reply == "Tack, det löser sig."
    assert "Citat" in full


def test_html_apple_cite_and_outlook_web_reply_marker() -> None:
    apple = '<div>Ja.</div><blockquote type="cite"><div>Kommer du?</div></blockquote>'
    assert html_to_texts(apple)[1] == "Ja."
    owa = ('<div>Nej tack.</div><hr><div id="divRplyFwdMsg"><b>Från:</b> X</div>'
           '<div>Gammal text</div>')
    assert html_to_texts(owa)[1] == "Nej tack."


def test_indentation_blockquote_without_quote_markers_is_kept() -> None:
    html = '<div>Punkter:</div><blockquote style="margin:0 0 0 40px">Viktig text</blockquote>'
    assert "Viktig text" in html_to_texts(html)[1]


@pytest.mark.parametrize("html", [
    "", "<", "<html>", "\x00\x01<p>hej\x00</p>", "<?xml version='1.0' encoding='utf-8'?><p>x</p>",
    "<div>" * 5000 + "djupt" + "</div>" * 5000, "<p>\ud800</p>", "&#0;&#xd800;<p>x</p>",
])
def test_hostile_html_never_raises(html: str) -> None:
    text = html_to_text(html)
    assert isinstance(text, str)
    assert "<script" not in text


def test_script_and_style_are_dropped() -> None:
    html = ("<style>p{color:red}</style><script>alert(1)</script><p onclick='x()'>Hej</p>"
            "<noscript>ns</noscript><svg><text>svg</text></svg>")
    assert html_to_text(html) == "Hej"
