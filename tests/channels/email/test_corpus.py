"""Real corpora: CPython's e-mail test data, talon's reply fixtures, mail-parser's mails.

Every file must end as a ``ParsedEmail`` or an ``InputRejected`` with a reason
code; no other exception is acceptable. On top of that, facts a person can
check by opening the file are asserted for a few of them.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.email.normalise import ParsedEmail, normalise_email
from channels.email.replies import split_reply
from ingest.errors import InputRejected
from ingest.reasons import ReasonCode

R = ReasonCode


def outcome(raw: bytes) -> ParsedEmail | ReasonCode:
    try:
        return normalise_email(raw)
    except InputRejected as exc:
        assert isinstance(exc.reason, ReasonCode)
        return exc.reason


def cpython(path: Path, name: str) -> ParsedEmail:
    result = outcome((path / name).read_bytes())
    assert isinstance(result, ParsedEmail), result
    return result


# --------------------------------------------------------------------------- CPython


def test_every_cpython_file_parses_or_is_rejected_with_a_reason(cpython_email_data) -> None:
    files = sorted(p for p in cpython_email_data.iterdir() if p.is_file())
    assert len(files) >= 60
    results = {p.name: outcome(p.read_bytes()) for p in files}
    messages = [n for n, r in results.items() if n.startswith("msg_")]
    assert all(isinstance(results[n], ParsedEmail) for n in messages if n != "msg_19.txt")
    assert results["msg_19.txt"] is R.NOT_A_MESSAGE  # a digest fragment without headers
    images_and_sounds = [r for n, r in results.items() if not n.startswith("msg_")]
    assert images_and_sounds and all(r is R.NOT_A_MESSAGE for r in images_and_sounds)


def test_cpython_msg_01_plain(cpython_email_data) -> None:
    msg = cpython(cpython_email_data, "msg_01.txt").message
    assert msg.subject == "This is a test message"
    assert msg.sender.email == "bbb@ddd.com"
    assert msg.body == "Hi,\n\nDo you like this message?\n\n-Me"
    assert msg.message_id == "<15090.61304.110929.45684@aaa.zzz.org>"


def test_cpython_msg_07_attachment(cpython_email_data) -> None:
    parsed = cpython(cpython_email_data, "msg_07.txt")
    msg = parsed.message
    assert msg.body == "Hi there,\n\nThis is the dingus fish."
    assert [(a.filename, a.content_type) for a in msg.attachments] == [("dingusfish.gif",
                                                                         "image/gif")]
    assert parsed.blobs[msg.attachments[0].sha256].startswith(b"GIF8")


def test_cpython_msg_02_digest_of_five_messages(cpython_email_data) -> None:
    msg = cpython(cpython_email_data, "msg_02.txt").message
    assert len(msg.attachments) == 5
    assert {a.content_type for a in msg.attachments} == {"message/rfc822"}
    assert msg.full_text.count("[Bifogat meddelande: ") == 5


@pytest.mark.parametrize("name", ["msg_05.txt", "msg_16.txt", "msg_25.txt", "msg_43.txt"])
def test_cpython_bounces_are_recognisable(cpython_email_data, name: str) -> None:
    msg = cpython(cpython_email_data, name).message
    assert msg.headers["content-type"].startswith("multipart/report")


def test_cpython_msg_16_dsn_parts(cpython_email_data) -> None:
    msg = cpython(cpython_email_data, "msg_16.txt").message
    assert msg.headers["return-path"] == "<>"
    kinds = [a.content_type for a in msg.attachments]
    assert kinds == ["message/delivery-status", "message/rfc822"]
    assert "Original-envelope-id: 0GK500B4HD0888@cougar.noc.ucla.edu" in msg.attachments[0].text


def test_cpython_msg_06_top_level_forward(cpython_email_data) -> None:
    msg = cpython(cpython_email_data, "msg_06.txt").message
    assert msg.body == ""
    assert msg.attachments[0].content_type == "message/rfc822"
    assert "Ämne: testing" in msg.full_text


def test_cpython_msg_45_signed(cpython_email_data) -> None:
    msg = cpython(cpython_email_data, "msg_45.txt").message
    assert msg.body == "This is the signed contents."
    assert [a.filename for a in msg.attachments] == ["signature.asc"]


# --------------------------------------------------------------------------- talon

STANDARD_REPLIES = ["android.eml", "aol.eml", "apple_mail.eml", "apple_mail_2.eml",
                    "comcast.eml", "gmail.eml", "hotmail.eml", "iphone.eml", "outlook.eml",
                    "sparrow.eml", "thunderbird.eml", "yahoo.eml"]


@pytest.mark.parametrize("name", STANDARD_REPLIES)
def test_talon_standard_reply_is_split_from_its_quote(talon_fixtures, name: str) -> None:
    raw = (talon_fixtures / "standard_replies" / name).read_bytes()
    msg = normalise_email(raw).message
    assert msg.body == "Hello"
    quoted = {"outlook.eml": "The manager has commented on your Loop"}.get(name, "Hi")
    assert quoted not in msg.body
    assert quoted in msg.full_text


@pytest.mark.parametrize("name", ["gmail.html", "hotmail.html", "mail_ru.html",
                                  "ms_outlook_2003.html", "ms_outlook_2007.html",
                                  "ms_outlook_2010.html", "thunderbird.html",
                                  "windows_mail.html", "yandex_ru.html"])
def test_talon_html_reply_is_split_from_its_quote(talon_fixtures, name: str) -> None:
    html = (talon_fixtures / "html_replies" / name).read_bytes()
    raw = (b"From: a@example.com\nSubject: Re: Test message\nMIME-Version: 1.0\n"
           b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + html)
    msg = normalise_email(raw).message
    assert msg.body.split() == ["Hi.", "I", "am", "fine.", "Thanks,", "Alex"]
    assert "How are you" not in msg.body
    assert "How are you" in msg.full_text


def test_talon_share_block_reply(talon_fixtures) -> None:
    msg = normalise_email((talon_fixtures / "reply-quotations-share-block.eml").read_bytes()
                          ).message
    assert msg.body.startswith("Hi Katharine.")
    assert "You've got a new booking inquiry" not in split_reply(msg.body).body


# --------------------------------------------------------------------------- mail-parser


def test_every_mail_parser_mail_parses_or_is_rejected(mail_parser_mails) -> None:
    files = sorted(p for p in mail_parser_mails.iterdir() if p.is_file())
    assert len(files) >= 20
    results = {p.name: outcome(p.read_bytes()) for p in files}
    assert results["mail_outlook_1"] is R.NOT_A_MESSAGE  # an Outlook .msg, not RFC 5322
    parsed = {n: r for n, r in results.items() if isinstance(r, ParsedEmail)}
    assert len(parsed) == len(files) - 1


def test_mail_parser_facts(mail_parser_mails) -> None:
    def read(name: str):
        return normalise_email((mail_parser_mails / name).read_bytes()).message

    russian = read("mail_test_6")  # UTF-8 with one broken byte, must not become Chinese
    assert "Профессионалы.ru" in russian.body
    chinese = read("mail_test_12")  # declared GB2312, really UTF-8
    assert chinese.subject == "代开各地增值税发票" and "增值税发票" in chinese.body
    assert R.CHARSET_GUESSED in chinese.problems
    nested_zip = read("mail_test_1")
    assert nested_zip.attachments[0].problems == (R.DECOMPRESSION_BOMB,)
    fake_pdf = read("mail_test_11")  # octet-stream named .pdf, really a zip
    assert R.CONTENT_TYPE_MISMATCH in fake_pdf.attachments[0].problems
    gtube = read("mail_test_16")
    assert gtube.headers["precedence"] == "junk"
    comma = read("mail_test_18")
    assert (comma.sender.name, comma.sender.email) == ("LastßlName, FirstName",
                                                       "comma.name@example.com")
    wrong_boundary = read("mail_malformed_3")  # declared boundary never used
    assert "CLICK AQUI" in wrong_boundary.body
    assert R.DEFECTIVE_MIME in wrong_boundary.problems


def test_outlook_msg_attachment_is_read_with_extract_msg(mail_parser_mails) -> None:
    data = (mail_parser_mails / "mail_outlook_1").read_bytes()
    mail = EmailMessage()
    mail["From"] = "Vidarebefordrare <v@example.se>"
    mail["Subject"] = "Fwd: nyhetsbrev"
    mail.set_content("Se bifogat meddelande.")
    mail.add_attachment(data, maintype="application", subtype="vnd.ms-outlook",
                        filename="nyhetsbrev.msg")
    parsed = normalise_email(mail.as_bytes())
    attachment = parsed.message.attachments[0]
    assert attachment.problems == ()
    assert attachment.text.startswith("Från: <NueblingV@w-vwa.de>")
    assert "Ämne: Newsletter Prüfung Personalwesen / Prüfung Eröffnungsbilanz" in attachment.text
    assert "[Bilaga: nyhetsbrev.msg]" in parsed.message.full_text
    assert parsed.blobs[attachment.sha256] == data
