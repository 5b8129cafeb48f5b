"""Outbound e-mail: the loop-stopping headers, and the relay with STARTTLS, AUTH and retries."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import pytest
import trustme
from ack_smtp import RecordingHandler, start_server

from ingest.ack import delivery, service
from ingest.ack.delivery import DeliveryDeferred
from ingest.config import RelayConfig, Settings
from ingest.model import NormalisedMessage, Sender

ARENDE = "KC-2026-004711-J"
PLAN = {"planned": True, "channel": "email", "to": "anna@example.se", "language": "sv",
        "languages": ["sv"], "deadline": "2026-11-24", "kind": "standard",
        "case_key": "aldreomsorg/hemtjanst", "recipients": ["anna@example.se"]}


def _with(settings: Settings, relay: RelayConfig | None, **ack: object) -> Settings:
    outbound = settings.kcs.outbound.model_copy(update={"relay": relay})
    ack_cfg = settings.kcs.ack.model_copy(update={"smtp_backoff_s": 0.0, **ack})
    return dataclasses.replace(settings, kcs=settings.kcs.model_copy(
        update={"outbound": outbound, "ack": ack_cfg}))


def _message() -> NormalisedMessage:
    return NormalisedMessage(subject="Hemtjänst 19850101-1234", body="Min mamma ...",
                             sender=Sender(email="anna@example.se"),
                             message_id="<m1@example.se>", references=("<m0@example.se>",))


@pytest.fixture
def tls_relay(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))   # how the sender finds our test CA
    monkeypatch.setenv("KCS_RELAY_PASSWORD", "s3cret")
    handler = RecordingHandler()
    controller = start_server(handler, tls=server_ctx, users={"kcs": "s3cret"})
    yield handler, controller.port
    controller.stop()


def test_acknowledgement_through_a_starttls_relay_with_auth(settings, tls_relay) -> None:
    handler, port = tls_relay
    relayed = _with(settings, RelayConfig(host="127.0.0.1", port=port, starttls=True,
                                          username="kcs", password_env="KCS_RELAY_PASSWORD"))
    result = service.acknowledge(relayed, None, intake_id="01ABC", arende_id=ARENDE,  # type: ignore[arg-type]
                                 message=_message(), plan=PLAN)
    assert result["state"] == "sent" and result["attempts"] == 1
    (got,) = handler.received
    assert got.tls and got.authenticated
    assert got.mail_from == "<>"                   # null reverse-path (RFC 3834 §3.3)
    assert got.rcpt_tos == ["anna@example.se"]
    msg = got.message
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["In-Reply-To"] == "<m1@example.se>"
    assert msg["References"] == "<m0@example.se> <m1@example.se>"
    assert msg["Message-ID"] == f"<ack.{ARENDE}.01abc@kcs.stockholm.se>"
    body = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert ARENDE in body and ARENDE in html and "tisdag 24 november 2026" in body
    # Nothing from the citizen's message is echoed: no subject, no personnummer.
    for text in (str(msg["Subject"]), body, html):
        assert "1234" not in text and "Hemtjänst 1985" not in text and "mamma" not in text
    assert list((relayed.outbox_dir / "sent").glob("*.eml"))
    assert not list((relayed.outbox_dir / "queue").glob("*.eml"))


def test_a_relay_that_fails_keeps_the_mail_queued_until_it_recovers(settings) -> None:
    handler = RecordingHandler(fail_next=5)
    controller = start_server(handler)
    try:
        relayed = _with(settings, RelayConfig(host="127.0.0.1", port=controller.port,
                                              starttls=False), smtp_attempts=2)
        with pytest.raises(DeliveryDeferred):
            service.acknowledge(relayed, None, intake_id="01ABC", arende_id=ARENDE,  # type: ignore[arg-type]
                                message=_message(), plan=PLAN)
        (queued,) = (relayed.outbox_dir / "queue").glob("*.eml")    # visible, durable
        assert handler.received == []
        # The stage is retried (Dramatiq) or an operator runs `kcs ack flush`.
        assert delivery.flush_queue(relayed)[0]["state"] == "queued"
        handler.fail_next = 0
        (result,) = delivery.flush_queue(relayed)
        assert result["state"] == "sent" and len(handler.received) == 1
        assert not queued.exists()
        handler.permanent = True
        again = service.acknowledge(relayed, None, intake_id="01ABD", arende_id="KC-2026-000002-B",  # type: ignore[arg-type]
                                    message=_message(), plan={**PLAN, "recipients": ["x@y.se"]})
        assert again["state"] == "failed" and "554" in again["error"]
        assert list((relayed.outbox_dir / "failed").glob("*.eml"))
    finally:
        controller.stop()


def test_an_arabic_acknowledgement_to_a_named_sender_goes_out_7_bit_and_reads_back_exactly(
        settings) -> None:
    """Subject and display name outside ASCII become encoded words and the bodies
    quoted-printable: every relay takes the bytes (no 8BITMIME needed) and a mail
    client shows exactly what was rendered, Arabic and all."""
    from email import message_from_bytes, policy

    from ingest.ack.templates import Rendered

    rendered = Rendered("ar", f"استلمنا رسالتك – {ARENDE}", "مرحبا،\nاستلمنا رسالتك.\n" * 40,
                        "<html dir=\"rtl\"><body><p>مرحبا</p></body></html>")
    msg = delivery.compose_email(to="Åsa Öberg <asa@example.se>", rendered=rendered,
                                 arende_id=ARENDE, in_reply_to=None, references=(),
                                 message_id="<ack.1@kcs.stockholm.se>",
                                 outbound=settings.kcs.outbound)
    wire = msg.as_bytes(policy=delivery.SMTP_POLICY)
    assert wire.isascii() and b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78
    back = message_from_bytes(wire, policy=policy.default)
    assert back["Subject"] == rendered.subject
    assert back["To"].addresses[0].display_name == "Åsa Öberg"
    assert back["To"].addresses[0].addr_spec == "asa@example.se"
    assert back["Content-Language"] == "ar" and back["Auto-Submitted"] == "auto-replied"
    assert "In-Reply-To" not in back
    assert back.get_body(("plain",)).get_content().replace("\r\n", "\n") == rendered.text
    assert back.get_body(("html",)).get_content().strip() == rendered.html
