"""normalise_email on Swedish sample mails, hostile input and limits.

Each test reads like a check a registrator would make on the result:
who wrote, what they wrote, what was attached, and what went wrong.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.normalise import EmailLimits, ParsedEmail, decode_text, normalise_email
from ingest.errors import InputRejected
from ingest.model import NormalisedMessage
from ingest.reasons import ReasonCode

R = ReasonCode


def rejected(raw: bytes, **limits: int) -> ReasonCode:
    with pytest.raises(InputRejected) as info:
        normalise_email(raw, EmailLimits(**limits))
    return info.value.reason


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize("raw", [b"", b"   ", b"\r\n\r\n\t \n"])
def test_empty_or_whitespace_input_is_rejected_as_empty(raw: bytes) -> None:
    assert rejected(raw) is R.EMPTY_INPUT


def test_random_bytes_are_not_a_message() -> None:
    raw = random.Random(20260303).randbytes(8192)
    assert rejected(raw) is R.NOT_A_MESSAGE


def test_png_passed_as_mail_is_not_a_message(cpython_email_data) -> None:
    png = (cpython_email_data / "python.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert rejected(png) is R.NOT_A_MESSAGE


def test_plain_text_without_headers_is_not_a_message() -> None:
    assert rejected("Hej, jag undrar över min faktura.\n".encode()) is R.NOT_A_MESSAGE


def test_parser_recursion_is_rejected_as_nesting_too_deep() -> None:
    body = b"hej\n"
    for i in range(3000):
        body = (b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) + body
                + b"\n--b%d--\n" % i)
    assert rejected(b"From: a@example.se\nSubject: djup\nMIME-Version: 1.0\n" + body) in {
        R.NESTING_TOO_DEEP, R.MIME_UNPARSEABLE}


def test_non_bytes_input_is_rejected_not_crashing() -> None:
    with pytest.raises(InputRejected):
        normalise_email("From: a@b.se\n\nhej")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- replies


def test_outlook_sv_reply_keeps_new_text_and_sign_off_drops_quote(sample) -> None:
    msg = normalise_email(sample("outlook_sv_reply.eml")).message
    assert msg.subject == "SV: Ang. bygglov Dnr SBK 2026-01234"
    assert "Vi skickar in de kompletterande ritningarna senast på fredag." in msg.body
    assert "Med vänliga hälsningar\nKarin Lindqvist" in msg.body
    assert "Tallvägen 12" in msg.body
    assert "Stadsbyggnadskontoret" not in msg.body
    assert "saknar fasadritningar" not in msg.body
    assert "saknar fasadritningar" in msg.full_text  # staff still see the history
    assert R.HTML_ONLY not in msg.problems  # text/plain alternative preferred


def test_outlook_sv_reply_html_only_gives_the_same_body(sample) -> None:
    plain = normalise_email(sample("outlook_sv_reply.eml")).message
    html = normalise_email(sample("outlook_sv_reply_html_only.eml")).message
    assert html.body == plain.body
    assert R.HTML_ONLY in html.problems


def test_gmail_sv_wrapped_attribution_and_quote_removed(sample) -> None:
    msg = normalise_email(sample("gmail_sv_reply.eml")).message
    assert msg.body.startswith("Hej igen!")
    assert msg.body.endswith("/Ahmed")
    assert "skrev Kundservice Avfall" not in msg.body
    assert "Tack för din felanmälan" not in msg.body
    assert msg.subject == "Re: Felanmälan soptömning"


def test_iphone_sv_tagline_and_quote_removed_flowed_lines_joined(sample) -> None:
    msg = normalise_email(sample("iphone_sv_reply.eml")).message
    assert msg.body == ("Hej! Min mamma har fått en faktura för hemtjänst för februari men hon "
                        "var på sjukhus hela månaden. Kan någon ringa mig?\nMvh Sara Nilsson")
    assert "Skickat från min iPhone" in msg.full_text


def test_outlook_android_original_message_and_get_outlook_removed(sample) -> None:
    msg = normalise_email(sample("outlook_android_ursprungligt.eml")).message
    assert msg.body.endswith("Hälsningar\nBengt")
    assert "Hämta Outlook" not in msg.body
    assert "Ursprungligt meddelande" not in msg.body
    assert "Tack för din ansökan" not in msg.body


# --------------------------------------------------------------------------- charsets


def test_latin1_declared_as_utf8_is_decoded_and_flagged(sample) -> None:
    msg = normalise_email(sample("latin1_declared_utf8.eml")).message
    assert "Vår granne spelar hög musik" in msg.body
    assert "\ufffd" not in msg.full_text
    assert R.CHARSET_GUESSED in msg.problems
    assert msg.sender.name == "Åsa Öberg"


def test_latin1_without_charset_is_decoded_and_flagged(sample) -> None:
    msg = normalise_email(sample("latin1_no_charset.eml")).message
    assert "när förskolan på Ängsvägen öppnar efter påsklovet" in msg.body
    assert R.CHARSET_GUESSED in msg.problems


def test_encoded_word_subject_and_sender(sample) -> None:
    msg = normalise_email(sample("encoded_word_subject.eml")).message
    assert msg.subject == "Ansökan om färdtjänst för min far"
    assert msg.sender.name == "Göran Åström"
    assert msg.sender.email == "Goran.Astrom@exempel.se"  # domain lower-cased, local part kept
    assert "Hur ansöker vi?" in msg.body


def test_raw_8bit_latin1_headers_are_decoded(sample) -> None:
    msg = normalise_email(sample("eightbit_headers.eml")).message
    assert msg.subject == "Fråga om förskoleplats åt min dotter"
    assert msg.sender.name == "Örjan Ärlig"
    assert R.CHARSET_GUESSED in msg.problems


@pytest.mark.parametrize(("data", "declared", "expected", "problem"), [
    ("Hej på dig".encode(), "utf-8", "Hej på dig", None),
    ("Hej på dig".encode("latin-1"), "utf-8", "Hej på dig", R.CHARSET_GUESSED),
    ("Hej på dig".encode(), "iso-8859-1", "Hej på dig", R.CHARSET_GUESSED),
    ("Hej på dig – tack".encode("cp1252"), "iso-8859-1", "Hej på dig – tack", None),
    ("Hej på dig".encode("latin-1"), "x-bogus-charset", "Hej på dig", R.CHARSET_UNKNOWN),
    ("Здравствуйте, у меня вопрос о детском саде".encode("cp1251"), "windows-1251",
     "Здравствуйте, у меня вопрос о детском саде", None),
    ("Здравствуйте, у меня вопрос о детском саде".encode("koi8-r"), "koi8-r",
     "Здравствуйте, у меня вопрос о детском саде", None),
])
def test_decode_text_charset_rules(data, declared, expected, problem) -> None:
    text, problems = decode_text(data, declared)
    assert text == expected
    if problem is None:
        assert problems == ()
    else:
        assert problem in problems


def test_one_broken_byte_in_long_utf8_text_is_not_a_charset_change() -> None:
    text = "Профессионалы — ведущая деловая сеть России " * 20
    data = text.encode().replace("о".encode(), b"\xd1f", 1)  # one broken sequence
    decoded, problems = decode_text(data, "utf-8")
    assert decoded.count("\ufffd") == 1
    assert "ведущая деловая сеть" in decoded
    assert problems == ()


# --------------------------------------------------------------------------- HTML


def test_html_only_mail_is_text_without_scripts_styles_or_hidden_text(sample) -> None:
    msg = normalise_email(sample("html_only_script.eml")).message
    assert R.HTML_ONLY in msg.problems
    assert "Jag vill anmäla klotter på lekplatsen i Vasaparken" in msg.body
    for leaked in ("document.cookie", "evil.example", "alert", "font-family", "color: red",
                   "Dold förhandstext", "Iframe-text", "<", "Felanmälan"):
        assert leaked not in msg.full_text
    assert msg.subject == "Klotter på lekplats"


# --------------------------------------------------------------------------- headers


def test_header_injection_is_stripped_and_recorded(sample) -> None:
    msg = normalise_email(sample("header_injection.eml")).message
    assert R.HEADER_INJECTION in msg.problems
    assert msg.subject == "Fråga Bcc: everyone@stockholm.se"
    assert not any(ch in msg.subject for ch in "\r\n\x00")
    assert msg.sender.email == "anna@example.se"  # not the smuggled Bcc address


def test_no_reply_sender_uses_reply_to_as_contact(sample) -> None:
    msg = normalise_email(sample("noreply_webform.eml")).message
    assert msg.sender.email == "Anna.Andersson@example.com"
    assert msg.sender.name == "Anna Andersson"
    assert msg.headers["auto-submitted"] == "auto-generated"


def test_sender_falls_back_to_sender_then_reply_to() -> None:
    raw = b"Sender: Kansliet <kansli@Example.se>\nReply-To: x@example.se\nSubject: s\n\nhej\n"
    assert normalise_email(raw).message.sender.email == "kansli@example.se"
    raw = b"From: undisclosed-recipients:;\nReply-To: Bo <bo@Example.se>\nSubject: s\n\nhej\n"
    sender = normalise_email(raw).message.sender
    assert (sender.email, sender.name) == ("bo@example.se", "Bo")
    assert normalise_email(b"Subject: anonym\n\nhej\n").message.sender.anonymous


def test_ids_references_and_date(sample) -> None:
    msg = normalise_email(sample("outlook_sv_reply.eml")).message
    assert msg.message_id == (
        "<AM6PR05MB6071D2A1F0B9C3E3A7C4D5E6F7A8@AM6PR05MB6071.eurprd05.prod.outlook.com>")
    assert msg.in_reply_to == "<sbk.2026-01234.1@stockholm.se>"
    assert msg.references == ("<sbk.2026-01234.1@stockholm.se>",)
    assert msg.sent_at == datetime(2026, 3, 3, 13, 5, 29, tzinfo=UTC)


def test_references_list_and_odd_dates() -> None:
    raw = (b"From: a@example.se\nSubject: s\nMessage-ID: bare-id@example.se\n"
           b"In-Reply-To: <b@x.se> (Anna's message of today)\n"
           b"References: <a@x.se>\n <b@x.se>\t<a@x.se>\n"
           b"Date: 3 Mar 2026 10:12 +0100\n\nhej\n")
    msg = normalise_email(raw).message
    assert msg.message_id == "<bare-id@example.se>"
    assert msg.in_reply_to == "<b@x.se>"
    assert msg.references == ("<a@x.se>", "<b@x.se>")
    assert msg.sent_at == datetime(2026, 3, 3, 10, 12, tzinfo=timezone(timedelta(hours=1)))
    assert normalise_email(raw.replace(b"3 Mar 2026 10:12 +0100", b"i morgon")
                           ).message.sent_at is None
    utc = normalise_email(raw.replace(b"+0100", b"-0000")).message.sent_at
    assert utc is not None and utc.tzinfo is not None and utc.utcoffset() == timedelta(0)


def test_loop_and_bounce_headers_are_kept() -> None:
    raw = (b"From: Semester <anna@example.se>\nSubject: Autosvar\nAuto-Submitted: auto-replied\n"
           b"X-Autoreply: yes\nPrecedence: bulk\nList-Id: <nyheter.stockholm.se>\n"
           b"X-Zimbra-Autoreply: yes\nReturn-Path: <>\nX-Spam-Score: 0\n\nJag har semester.\n")
    headers = normalise_email(raw).message.headers
    assert headers["auto-submitted"] == "auto-replied"
    assert headers["x-autoreply"] == "yes"
    assert headers["precedence"] == "bulk"
    assert headers["list-id"] == "<nyheter.stockholm.se>"
    assert headers["x-zimbra-autoreply"] == "yes"
    assert headers["return-path"] == "<>"
    assert headers["content-type"] == "text/plain"
    assert "x-spam-score" not in headers


def test_subject_whitespace_collapsed_and_crlf_free() -> None:
    raw = b"From: a@example.se\nSubject:   Hej\n \t  d\xc3\xa4r   \n\nx\n"
    assert normalise_email(raw).message.subject == "Hej där"


# --------------------------------------------------------------------------- structure


def test_bare_lf_and_crlf_give_the_same_message(sample) -> None:
    lf = sample("gmail_sv_reply.eml").replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    a, b = normalise_email(lf).message, normalise_email(crlf).message
    assert (a.subject, a.body, a.sender, a.sent_at) == (b.subject, b.body, b.sender, b.sent_at)


def test_headers_with_empty_body_are_fine(sample) -> None:
    parsed = normalise_email(sample("fax_gateway_empty_body.eml"))
    assert parsed.message.subject == "Fax from +46 8 508 000 00 (2 pages)"
    assert parsed.message.body == ""
    assert parsed.message.attachments == ()
    assert parsed.blobs == {}


def test_attached_eml_and_rfc822_are_read_as_forwarded_messages(sample) -> None:
    parsed = normalise_email(sample("forwarded_eml_attachment.eml"))
    msg = parsed.message
    assert msg.body == "Hej, jag vill överklaga beslutet nedan. Hur gör jag?\nMaria"
    names = [a.filename for a in msg.attachments]
    assert names == ["Beslut om skolskjuts.eml", "min-ansokan.eml"]
    assert all(a.content_type == "message/rfc822" for a in msg.attachments)
    assert "[Bifogat meddelande: Beslut om skolskjuts.eml]" in msg.full_text
    assert "Ansökan om skolskjuts för Elias Svensson avslås." in msg.full_text
    assert "vägen till skolan saknar trottoar" in msg.full_text
    for attachment in msg.attachments:
        assert parsed.blobs[attachment.sha256].startswith(b"From: ")


def _nested(levels: int) -> bytes:
    inner = EmailMessage()
    inner["From"] = "nivå@example.se"
    inner["Subject"] = f"Nivå {levels}"
    inner.set_content(f"Text på nivå {levels}")
    for level in range(levels - 1, -1, -1):
        outer = EmailMessage()
        outer["From"] = "a@example.se"
        outer["Subject"] = f"Nivå {level}"
        outer.set_content(f"Text på nivå {level}")
        outer.add_attachment(inner)
        inner = outer
    return inner.as_bytes()


def test_message_nested_ten_levels_stops_at_max_depth() -> None:
    parsed = normalise_email(_nested(10))
    msg = parsed.message
    assert msg.body == "Text på nivå 0"
    assert R.NESTING_TOO_DEEP in msg.problems
    assert len(msg.attachments) == 6  # levels 1..5 read, level 6 kept unopened
    assert [a.problems for a in msg.attachments[:5]] == [()] * 5
    assert R.NESTING_TOO_DEEP in msg.attachments[5].problems
    for level in range(6):
        assert f"Text på nivå {level}" in msg.full_text
    assert "Text på nivå 7" not in msg.full_text
    assert b"Text p=C3=A5 niv=C3=A5 10" in parsed.blobs[msg.attachments[5].sha256] or (
        "Text på nivå 10".encode() in parsed.blobs[msg.attachments[5].sha256])


def test_too_many_parts_processes_the_first_ones(make_mail) -> None:
    raw = make_mail("Fem bilagor", attachments=[
        (f"bild{i}.txt", "text/plain", f"bilaga {i}".encode()) for i in range(5)])
    msg = normalise_email(raw, EmailLimits(max_parts=3)).message
    assert R.TOO_MANY_PARTS in msg.problems
    assert msg.body == "Fem bilagor"
    assert [a.filename for a in msg.attachments] == ["bild0.txt", "bild1.txt"]


def test_long_text_is_truncated_and_recorded() -> None:
    raw = b"From: a@example.se\nSubject: lang\n\n" + b"Mycket text. " * 1000
    msg = normalise_email(raw, EmailLimits(max_text_chars=1000)).message
    assert len(msg.body) == 1000 and len(msg.full_text) == 1000
    assert R.TEXT_TRUNCATED in msg.problems


def test_defects_recorded_once_and_processing_continues() -> None:
    raw = (b"From: a@example.se\nSubject: trasig\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=\"finns-inte\"\n\n"
           b"--annan\nContent-Type: text/plain\n\nHej trots allt\n--annan--\n")
    msg = normalise_email(raw).message
    assert msg.problems.count(R.DEFECTIVE_MIME) == 1
    assert "Hej trots allt" in msg.body


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        EmailLimits(max_parts=0)


def test_result_round_trips_through_the_model_dict(sample) -> None:
    msg = normalise_email(sample("forwarded_eml_attachment.eml")).message
    assert NormalisedMessage.from_dict(msg.to_dict()) == msg


# --------------------------------------------------------------------------- speed


# --------------------------------------------------------------------------- fuzzing


def _outcome(raw: bytes) -> None:
    try:
        result = normalise_email(raw)
    except InputRejected as exc:
        assert isinstance(exc.reason, ReasonCode)
        return
    assert isinstance(result, ParsedEmail)
    assert {a.sha256 for a in result.message.attachments} >= set(result.blobs)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise_anything_but_input_rejected(raw: bytes) -> None:
    _outcome(raw)


_CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "gb2312", "utf-7", "x-bogus",
             "", "utf-16", "iso-2022-jp", "us-ascii", "unknown-8bit", "\x00", "utf-8\"; x=\""]
_HEADER_NAMES = ["Subject", "From", "To", "Reply-To", "Sender", "Date", "Message-ID",
                 "References", "In-Reply-To", "Content-Type", "Content-Disposition",
                 "Content-Transfer-Encoding", "Auto-Submitted", "X-Loop", "List-Id"]
_header_value = st.one_of(
    st.text(max_size=120),
    st.builds(lambda cs, enc, s: f"=?{cs}?{enc}?{s}?=", st.sampled_from(_CHARSETS),
              st.sampled_from(["q", "b", "Q", "B", "x"]),
              st.text(alphabet="=0123456789ABCDEF_abc/+?:\r\n\x00", max_size=40)),
    st.builds(lambda cs, name: f"text/plain; charset=\"{cs}\"; name*=utf-8''{name}",
              st.sampled_from(_CHARSETS), st.text(max_size=30)),
    st.sampled_from(["multipart/mixed; boundary=x", "message/rfc822", "text/html",
                     "multipart/alternative; boundary=\"\"", "base64", "quoted-printable",
                     "application/pdf; name=\"../../a.pdf\"", "attachment; filename=\"\x00\""]),
)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(headers=st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), _header_value), max_size=10),
       body=st.binary(max_size=2048), charset=st.sampled_from(_CHARSETS),
       newline=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_arbitrary_headers_and_charsets_never_raise(headers, body, charset, newline) -> None:
    lines = [f"{name}: {value}".encode("utf-8", "surrogatepass") for name, value in headers]
    lines.append(f"Content-Type: text/plain; charset={charset}".encode("utf-8", "surrogatepass"))
    raw = newline.join(lines) + newline + newline + body
    _outcome(raw)
    _outcome(b"Content-Type: multipart/mixed; boundary=b" + newline + newline + b"--b"
             + newline + raw + newline + b"--b--" + newline)


def _seed_mails() -> list[bytes]:
    import test

    samples = Path(__file__).resolve().parents[2] / "samples" / "email"
    cpython = Path(test.__file__).resolve().parent / "test_email" / "data"
    paths = sorted(samples.glob("*.eml")) + sorted(cpython.glob("msg_*.txt"))
    assert len(paths) > 50
    return [p.read_bytes() for p in paths]


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(_seed_mails()),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=8)), max_size=8),
       cut=st.integers(0, 10**6))
def test_mutated_real_mails_never_raise_anything_but_input_rejected(seed, edits, cut) -> None:
    raw = bytearray(seed)
    for position, replacement in edits:
        position %= len(raw) + 1
        raw[position:position + len(replacement)] = replacement
    if cut % 4 == 0:
        raw = raw[: cut % (len(raw) + 1)]
    _outcome(bytes(raw))
