"""OCR of e-mail attachments: limits, review holds, gateway rules, pictures, HEIC, config.

Real Tesseract throughout; the e-mail normaliser is called as the pipeline
calls it (``ingest.normalisers.normalise``), and one test runs the pipeline
to show a held item in the registratur review queue like a scanned letter.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from PIL import Image
from pipeline_support import running_pipeline, wait_for_state

from channels.email.scanconfig import FaxGatewayConfig
from channels.scan import evaluation, review
from ingest.ack import service as ack_service
from ingest.app import Runtime
from ingest.config import Settings, load_settings
from ingest.errors import ConfigError, NeedsReview
from ingest.model import Channel, ChannelMeta, NormalisedMessage, effective_meta
from ingest.normalisers import normalise
from ingest.reasons import ReasonCode

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
GATEWAY = FaxGatewayConfig(name="faxtjänsten", senders=("*@fax.stockholm.se",),
                           subjects=(r"^fax",))


def with_sections(settings: Settings, *, scans: dict | None = None,
                  scan: dict | None = None) -> Settings:
    """Settings with some ``email_scans.*`` / ``scan.*`` values replaced."""
    kcs = settings.kcs
    update = {}
    if scans:
        update["email_scans"] = kcs.email_scans.model_copy(update=scans)
    if scan:
        update["scan"] = kcs.scan.model_copy(update=scan)
    return dataclasses.replace(settings, kcs=kcs.model_copy(update=update))


def raw_mail(attachments: list[tuple[str, str, bytes]], *, body: str = "Hej!",
             sender: str = "per@example.se", subject: str = "Brev") -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, "kontaktcenter@stockholm.se", subject
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


META = ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from="per@example.se")


def letter_jpeg(n: int = 0, scale: float = 0.5) -> bytes:
    image = evaluation.render_letter(n).image
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def two_page_fax() -> bytes:
    lines, _ = evaluation.letter_lines(3)
    half = len(lines) // 2
    pages = [evaluation.fax(evaluation.render_lines(part), 300, fine=True, skew_deg=0.3, seed=i)
             for i, part in enumerate((lines[:half], lines[half:]))]
    return evaluation.tiff_pages(pages)


def test_a_photo_of_a_letter_gives_attachment_text_and_keeps_the_mail_sender(settings) -> None:
    raw = raw_mail([("brev.jpg", "image/jpeg", letter_jpeg(1))], body="Se bifogat brev.")
    message, blobs = normalise(raw, META, settings)
    [attachment] = message.attachments
    lines, facts = evaluation.letter_lines(1)
    assert evaluation.cer("\n".join(lines), attachment.text) < 0.03
    assert message.sender.email == "per@example.se"  # the mail's sender, not the letter's
    assert "[Bilaga: brev.jpg]" in message.analysis_text()
    assert facts["diarienummer"] in message.headers["x-scan-diarienummer"]
    assert message.headers["x-scan-record"] in blobs
    assert message.channel is None  # an e-mail stays an e-mail


def test_pictures_logos_and_heic(settings) -> None:
    """A photo of a thing (no text) in a mail with text is a picture: no text, no hold;
    a small logo is not read at all; an iPhone HEIC photo of a letter is read."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    street = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    buf = io.BytesIO()
    street.save(buf, format="JPEG")
    logo = io.BytesIO()
    Image.new("RGB", (120, 40), "navy").save(logo, format="PNG")
    heic = io.BytesIO()
    page = evaluation.render_letter(2).image
    page.resize((page.width // 2, page.height // 2)).convert("RGB").save(heic, format="HEIF",
                                                                         quality=90)
    raw = raw_mail([("lyktan.jpg", "image/jpeg", buf.getvalue()),
                    ("logo.png", "image/png", logo.getvalue()),
                    ("IMG_0001.HEIC", "image/heic", heic.getvalue())],
                   body="Gatlyktan är trasig, se foto. Jag bifogar även mitt brev.")
    message, _ = normalise(raw, META, settings)
    picture, small, letter = message.attachments
    assert picture.text is None and small.text is None
    lines, _ = evaluation.letter_lines(2)
    assert evaluation.cer("\n".join(lines), letter.text) < 0.03


def test_limits_send_the_item_to_review_with_a_reason(settings) -> None:
    fax = two_page_fax()
    pages = with_sections(settings, scans={"max_pages": 1})
    with pytest.raises(NeedsReview) as held:
        normalise(raw_mail([("fax.tif", "image/tiff", fax)]), META, pages)
    assert held.value.reason is ReasonCode.OCR_PAGE_LIMIT
    assert held.value.result.attachments[0].text  # the first page was read

    big = io.BytesIO()
    Image.new("L", (1600, 1200), 255).save(big, format="PNG")
    pixels = with_sections(settings, scans={"max_image_pixels": 1_000_000})
    with pytest.raises(NeedsReview) as held:
        normalise(raw_mail([("skanning.png", "image/png", big.getvalue())]), META, pixels)
    assert held.value.reason is ReasonCode.IMAGE_TOO_LARGE
    assert ReasonCode.IMAGE_TOO_LARGE.value in held.value.result.attachments[0].problems

    quick = with_sections(settings, scans={"max_ocr_seconds": 0.5})
    with pytest.raises(NeedsReview) as held:
        normalise(raw_mail([("fax.tif", "image/tiff", fax)]), META, quick)
    assert held.value.reason is ReasonCode.OCR_TIME_LIMIT


def test_gateway_rules_and_the_gateway_is_never_the_contact(settings) -> None:
    """Only mail from a gateway address *and* with a fax subject is a fax; a fax that
    quotes the gateway's address has no e-mail contact, and nothing answers the gateway."""
    lines = ["Olle Ek", "Storgatan 1", "111 22 Stockholm",
             "Svara till: fax@fax.stockholm.se", "", "Angående: Parkeringstillstånd", "",
             "Jag ansöker om parkeringstillstånd för rörelsehindrade och behöver "
             "blanketten skickad hem till mig."]
    page = evaluation.fax(evaluation.render_lines(lines), 300, fine=True, skew_deg=0.2)
    fax = evaluation.tiff_pages([page])
    cfg = with_sections(settings, scans={"fax_gateways": (GATEWAY,)})
    gw_meta = dataclasses.replace(META, envelope_from="noreply@fax.stockholm.se")
    mail = raw_mail([("fax.tif", "image/tiff", fax)], body="", sender="noreply@fax.stockholm.se",
                    subject="Fax från 08-123 45 67")
    message, _ = normalise(mail, gw_meta, cfg)
    assert message.channel is Channel.FAX
    assert message.sender.email is None and message.sender.name == "Olle Ek"
    assert message.sender.postal_address == "Storgatan 1, 111 22 Stockholm"
    assert message.channel_detail["fax_gateway_from"] == "noreply@fax.stockholm.se"
    assert NormalisedMessage.from_dict(message.to_dict()) == message  # as stored
    seen = effective_meta(gw_meta, message.to_dict())
    assert (seen.channel, seen.transport, seen.envelope_from) == (
        Channel.FAX, "smtp", "noreply@fax.stockholm.se")
    assert seen.detail["received_as"] == "email" and seen.detail["fax_gateway"] == "faxtjänsten"
    plan = ack_service.plan_for(cfg, message, seen, flags={}, classification={},
                                received_at=datetime.now(UTC), is_opted_out=lambda _: False)
    # The fax names only a postal address: a printed letter, never a mail to the gateway.
    assert (plan["planned"], plan["channel"]) == (True, "letter")
    assert "fax.stockholm.se" not in json.dumps(plan)

    not_a_fax = raw_mail([("fax.tif", "image/tiff", fax)], body="", subject="Veckorapport",
                         sender="noreply@fax.stockholm.se")
    message, _ = normalise(not_a_fax, gw_meta, cfg)
    assert message.channel is None and message.sender.email == "noreply@fax.stockholm.se"


def test_low_confidence_holds_the_mail_for_review_like_a_scanned_letter(settings) -> None:
    """GIVEN a gate no page can pass WHEN a mail with a scanned letter arrives THEN the
    item waits in registratur review with the page image and can be released."""
    strict = with_sections(settings, scan={"min_page_mean_conf": 99.9})
    rt = Runtime.build(strict)
    receipt = rt.intake.accept(raw_mail([("brev.jpg", "image/jpeg", letter_jpeg(0))]), META)
    with running_pipeline(rt):
        assert wait_for_state(rt, receipt.intake_id, frozenset({"review"}), timeout=120)
        row = rt.store.get_intake(receipt.intake_id)
        assert row.reason_code == ReasonCode.OCR_LOW_CONFIDENCE.value
        shown = review.show(rt, receipt.intake_id)
        [page] = shown["pages"]
        assert page["quality"]["reason"] == "ocr_low_confidence"
        assert "Åsa Öberg" in page["text_marked"] and shown["sender"]["email"] == "per@example.se"
        png = review.page_png(rt, receipt.intake_id, 1, dpi=100)
        assert Image.open(io.BytesIO(png)).width > 500
        review.release(rt, receipt.intake_id, {"reviewer": "reg1"})
        assert wait_for_state(rt, receipt.intake_id, timeout=60) == "done"


def load(tmp_path: Path, yaml: str) -> Settings:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    (target / "kcs.yaml").write_text(yaml, encoding="utf-8")
    return load_settings({"KCS_CONFIG_DIR": str(target), "KCS_VAR_DIR": str(tmp_path)})


@pytest.mark.parametrize(("yaml", "key", "line"), [
    ("email_scans:\n  fax_gateways:\n    - name: gw\n      senders: [fax@gw.example]\n"
     "      subjects: ['fax (from']\n", "email_scans.fax_gateways.0.subjects", 5),
    ("email_scans:\n  fax_gateways:\n    - name: gw\n      senders: [gw.example]\n",
     "email_scans.fax_gateways.0.senders", 4),
    ("email_scans:\n  max_pages: 0\n", "email_scans.max_pages", 2),
    ("email_scans:\n  max_ocr_secs: 10\n", "email_scans.max_ocr_secs", 2),
])
def test_config_errors_name_file_line_and_key(tmp_path: Path, yaml: str, key: str,
                                              line: int) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, yaml)
    assert (err.value.key, err.value.line) == (key, line)
    assert str(err.value).startswith(str(tmp_path / "config" / "kcs.yaml"))


def test_shipped_config(tmp_path: Path) -> None:
    cfg = load(tmp_path, (REPO / "config" / "kcs.yaml").read_text()).kcs.email_scans
    assert cfg.enabled and cfg.max_pages == 20 and cfg.fax_gateways == ()
    assert cfg.max_ocr_seconds * 1000 < load(tmp_path / "x", (REPO / "config" / "kcs.yaml")
                                             .read_text()).kcs.pipeline.stage_time_limit_ms
