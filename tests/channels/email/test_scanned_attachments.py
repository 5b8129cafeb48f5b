"""Faxes and photographed letters that arrive as e-mail attachments, over real SMTP.

GIVEN the SMTP receiver, the pipeline on a real Redis and the trained
classifier, WHEN a citizen mails a CCITT fax PDF (ocrmypdf's ``ccitt.pdf``)
or a phone photo of a letter taken at an angle, or a fax-to-mail gateway
delivers a fax with an empty body, THEN each item is classified from its
OCR text, published with the right channel and sender contact, and the
gateway is never the sender nor the recipient of the acknowledgement.
"""

from __future__ import annotations

import dataclasses
import json
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from pipeline_support import downstream_everywhere, running_pipeline, wait_for_state

from channels.email.scanconfig import FaxGatewayConfig
from channels.email.smtp import IntakeHandler, make_controller
from channels.scan import evaluation
from channels.scan.fields import fold
from ingest.app import Runtime
from ingest.config import Settings
from ingest.contract import validator

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPORA = REPO_ROOT / ".cache" / "corpora"
GATEWAY = FaxGatewayConfig(name="stadens faxtjänst", senders=("fax@fax.stockholm.se",),
                           subjects=(r"^fax (from|från)",))


def with_scans(settings: Settings, **changes: object) -> Settings:
    """Settings with some ``email_scans.*`` values replaced."""
    scans = settings.kcs.email_scans.model_copy(update=changes)
    return dataclasses.replace(settings,
                               kcs=settings.kcs.model_copy(update={"email_scans": scans}))


@pytest.fixture(scope="module")
def ocr_corpus() -> Path:
    """ocrmypdf 17.13.0 ``tests/resources`` (the scan channel's fetcher, one cache)."""
    return evaluation.ocrmypdf_corpus(CORPORA)


@pytest.fixture
def smtp_intake() -> Iterator:
    """The real SMTP receiver on a free loopback port, feeding ``rt.intake``."""
    from tests_support import free_port

    started: list = []

    def start(rt: Runtime) -> tuple[str, int]:
        handler = IntakeHandler(rt.intake, rt.settings.kcs.smtp)
        controller = make_controller(handler, rt.settings.kcs.smtp, port=free_port())
        controller.start()
        started.append((controller, handler))
        return controller.hostname, controller.port

    yield start
    for controller, handler in started:
        controller.stop()
        handler.close()


def send(server: tuple[str, int], msg: EmailMessage, envelope_from: str) -> str:
    """Send over SMTP; the intake id from the 250 reply."""
    with smtplib.SMTP(*server) as client:
        client.ehlo("mta.example.se")
        client.mail(envelope_from)
        client.rcpt("kontaktcenter@stockholm.se")
        code, reply = client.data(msg.as_bytes())
    assert code == 250, reply
    return reply.decode().rsplit(" ", 1)[-1]


def mail(sender: str, subject: str, body: str, attachments: list[tuple[str, str, bytes]],
         **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, "kontaktcenter@stockholm.se", subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def fax_tiff(n: int) -> tuple[bytes, dict]:
    """Test letter ``n`` as a one-page 200×200 dpi CCITT G4 fax with a header line."""
    lines, facts = evaluation.letter_lines(n)
    header = "23/11/2026 10:14 FAX 08 612 34 56 AVS: G BJORKLUND S. 01/01"
    page = evaluation.render_lines([header, "", *lines], top_in=0.4)
    return evaluation.tiff_pages([evaluation.fax(page, 300, fine=True, skew_deg=0.6)]), facts


def scan_record(rt: Runtime, intake_id: str) -> dict:
    headers = rt.store.get_item(intake_id).normalised["headers"]
    return json.loads(rt.blobs.get(headers["x-scan-record"]))


def test_fax_pdf_photo_and_gateway_fax_are_classified_from_ocr_text(
        settings, trained_classifier, smtp_intake, ocr_corpus) -> None:
    settings = with_scans(settings, fax_gateways=(GATEWAY,))
    rt = Runtime.build(settings)
    server = smtp_intake(rt)

    # (a) A citizen forwards the CCITT G4 fax PDF; the mail itself says almost nothing.
    ccitt = (ocr_corpus / "ccitt.pdf").read_bytes()
    a_id = send(server, mail("Karin Lind <karin.lind@example.se>", "Vidarebefordrad fax",
                             "Hej, se bifogad fil.", [("fax.pdf", "application/pdf", ccitt)]),
                "karin.lind@example.se")

    # (b) A phone photo of a Swedish letter, taken at an angle on a table.
    letter = evaluation.render_letter(0)
    photo, _corners = evaluation.phone_photo(letter.image, seed=7, tilt=0.3, rotate_deg=-4.0,
                                             frame=(1512, 2016), noise_sigma=9, quality=75)
    b_id = send(server, mail("Åsa Öberg <asa.oberg@example.se>", "Mitt brev",
                             "Hej, jag skickar mitt brev som foto.",
                             [("IMG_2041.jpg", "image/jpeg", photo)]),
                "asa.oberg@example.se")

    # (c) A fax-to-mail gateway: empty body, robot headers, the fax as a TIFF.
    fax, facts = fax_tiff(1)
    c_id = send(server, mail("Fax Gateway <fax@fax.stockholm.se>",
                             "Fax from +46 8 612 34 56 (1 pages)", "",
                             [("fax-20261123-1014.tif", "image/tiff", fax)],
                             Auto_Submitted="auto-generated"),
                "fax@fax.stockholm.se")

    with running_pipeline(rt, trained_classifier):
        for intake_id in (a_id, b_id, c_id):
            assert wait_for_state(rt, intake_id, timeout=240) == "done"
    items = {i["item_id"]: i for i in downstream_everywhere(settings)}
    a, b, c = items[a_id], items[b_id], items[c_id]
    for item in (a, b, c):
        assert list(validator().iter_errors(item)) == []

    # (a) The fax's text was read (and is the attachment's, marked as such) ...
    a_msg = rt.store.get_item(a_id).normalised
    [pdf] = a_msg["attachments"]
    truth = (ocr_corpus / "linn.txt").read_text(encoding="utf-8")
    assert evaluation.cer(truth, pdf["text"]) < 0.02
    assert "[Bilaga: fax.pdf]" in a_msg["full_text"] and a["attachments"][0]["text_extracted"]
    # ... and decided the classification: an English brochure for a MIDI sequencer is no
    # city matter (the mail's own Swedish line alone would not be read as English).
    assert a["language"] == "en"
    assert a["classification"]["huvudkategori"] is None
    assert a["classification"]["needs_triage"] is True
    assert a["channel"]["type"] == "email" and a["channel"]["transport"] == "smtp"
    assert a["sender"]["email"] == "karin.lind@example.se"
    assert a["acknowledgement"]["to"] == "karin.lind@example.se"

    # (b) The photo was warped flat and read; its text decides the category.
    b_msg = rt.store.get_item(b_id).normalised
    [jpg] = b_msg["attachments"]
    assert evaluation.cer(letter.text, jpg["text"]) < 0.05
    [page] = scan_record(rt, b_id)["pages"]
    assert page["perspective"] is not None and page["file_sha256"] == jpg["sha256"]
    assert b["classification"]["huvudkategori"] == "aldreomsorg"
    assert b["channel"]["type"] == "email"
    assert b["sender"]["email"] == "asa.oberg@example.se"
    assert b["acknowledgement"]["to"] == "asa.oberg@example.se"

    # (c) A fax, not an e-mail from the gateway: channel, contact and acknowledgement.
    assert c["channel"]["type"] == "fax" and c["channel"]["transport"] == "smtp"
    detail = c["channel"]["detail"]
    assert detail["fax_gateway"] == "stadens faxtjänst"
    assert detail["fax_gateway_from"] == "fax@fax.stockholm.se"
    assert detail["received_as"] == "email"
    assert detail["fax_number"] == "+4686123456" and detail["fax_pages"] == "1"
    assert c["channel"]["envelope_from"] == "fax@fax.stockholm.se"  # transport detail kept
    assert c["classification"]["huvudkategori"] == "miljo"
    assert c["sender"]["email"] == facts["email"]
    # A 200-dpi fax may lose å/ä/ö; the name is the one in the fax all the same.
    assert fold(c["sender"]["name"]) == fold(facts["name"])
    plan = c["acknowledgement"]
    assert (plan["planned"], plan["channel"], plan["to"]) == (True, "email", facts["email"])
    assert "FAX 08 612" not in c["body"] and "byggarbetsplatsen" in c["body"].lower()
    assert fold(c["subject"]) == fold(facts["subject"])
    ack = rt.store.get_item(c_id).acknowledgement
    assert ack["to_domain"] == "example.com"
    sent = [p.read_text() for p in settings.outbox_dir.glob("*.eml")]
    assert not any("fax.stockholm.se" in s.split("\n\n", 1)[0] for s in sent)
