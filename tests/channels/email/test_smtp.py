"""The SMTP receiver over real loopback sessions with smtplib."""

from __future__ import annotations

import dataclasses
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from channels.email.smtp import IntakeHandler, make_controller
from ingest.app import Runtime
from ingest.config import Settings, SmtpAuthUser, TlsConfig
from ingest.db import Intake as IntakeRow

MAIL = (b"From: Anna Andersson <anna@example.se>\r\nTo: kontaktcenter@stockholm.se\r\n"
        b"Subject: =?utf-8?q?Fr=C3=A5ga_om_hemtj=C3=A4nst?=\r\n"
        b"Message-ID: <smtp-1@example.se>\r\n\r\nHej! Min mamma har inte fatt mat idag.\r\n")


def with_smtp(settings: Settings, **changes: object) -> Settings:
    smtp = settings.kcs.smtp.model_copy(update=changes)
    return dataclasses.replace(settings, kcs=settings.kcs.model_copy(update={"smtp": smtp}))


@pytest.fixture
def serve(make_settings) -> Iterator:
    """Start a receiver for given settings; stopped after the test."""
    from tests_support import free_port

    started: list = []

    def start(settings: Settings, runtime: Runtime | None = None):
        rt = runtime or Runtime.build(settings)
        handler = IntakeHandler(rt.intake, settings.kcs.smtp)
        controller = make_controller(handler, settings.kcs.smtp, port=free_port())
        controller.start()
        started.append((controller, handler))
        return rt, controller

    yield start
    for controller, handler in started:
        controller.stop()
        handler.close()


def test_250_only_after_the_message_is_stored(make_settings, serve) -> None:
    rt, ctl = serve(make_settings())
    with smtplib.SMTP(ctl.hostname, ctl.port) as client:
        code, reply = client.docmd("EHLO", "mta.example.se")
        client.mail("anna@example.se")
        client.rcpt("kontaktcenter@stockholm.se")
        code, reply = client.data(MAIL)
    assert code == 250
    intake_id = reply.decode().rsplit(" ", 1)[-1]
    row = rt.store.get_intake(intake_id)  # stored before the client heard 250
    assert row is not None and row.state == "accepted"
    assert rt.blobs.get(row.raw_sha256) == MAIL
    assert row.meta["envelope_from"] == "anna@example.se"
    assert row.meta["envelope_to"] == ["kontaktcenter@stockholm.se"]
    assert row.meta["detail"]["helo"] == "mta.example.se"
    assert row.meta["source_keys"] == ["msgid:anna@example.se|<smtp-1@example.se>"]


def test_same_message_twice_is_one_item(make_settings, serve) -> None:
    rt, ctl = serve(make_settings())
    for _ in range(2):
        with smtplib.SMTP(ctl.hostname, ctl.port) as client:
            client.sendmail("anna@example.se", ["kontaktcenter@stockholm.se"], MAIL)
    assert rt.store.count_by_state() == {("email", "accepted"): 1}


def test_never_an_open_relay(make_settings, serve) -> None:
    rt, ctl = serve(make_settings())
    with smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.ehlo()
        client.mail("spammer@example.com")
        code, reply = client.rcpt("victim@gmail.com")
        assert code == 550 and b"Relaying denied" in reply
        code, _ = client.rcpt("someone@kcs.localhost")  # a served domain
        assert code == 250
    with pytest.raises(smtplib.SMTPRecipientsRefused), \
            smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.sendmail("x@example.com", ["victim@gmail.com"], MAIL)
    assert rt.store.count_by_state() == {}


def test_oversize_gets_552_and_nothing_is_stored(make_settings, serve) -> None:
    rt, ctl = serve(with_smtp(make_settings(), max_message_bytes=4096))
    big = MAIL + (b"x" * 70 + b"\r\n") * 150
    # A client that declares SIZE is refused before it sends anything ...
    with pytest.raises(smtplib.SMTPSenderRefused) as err, \
            smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.sendmail("anna@example.se", ["kontaktcenter@stockholm.se"], big)
    assert err.value.smtp_code == 552
    # ... and one that does not is refused after DATA.
    with smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.ehlo()
        client.mail("anna@example.se")
        client.rcpt("kontaktcenter@stockholm.se")
        code, _ = client.data(big)
    assert code == 552
    assert rt.store.count_by_state() == {}


def test_451_when_the_store_is_down(make_settings, serve) -> None:
    from tests_support import free_port

    settings = make_settings(DATABASE_URL=f"postgresql://x@127.0.0.1:{free_port()}/none")
    _, ctl = serve(settings, Runtime.build(settings, migrate=False))
    with pytest.raises(smtplib.SMTPDataError) as err, \
            smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.sendmail("anna@example.se", ["kontaktcenter@stockholm.se"], MAIL)
    assert err.value.smtp_code == 451


def test_starttls_and_auth(make_settings, serve, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    monkeypatch.setenv("KCS_TEST_FAXGW_PASSWORD", "hemligt")
    settings = with_smtp(
        make_settings(),
        tls=TlsConfig(cert_file=str(tmp_path / "server.pem"),
                      key_file=str(tmp_path / "server.pem"), require_starttls=True),
        auth_required=True,
        auth_users=(SmtpAuthUser(username="faxgw", password_env="KCS_TEST_FAXGW_PASSWORD"),))
    rt, ctl = serve(settings)
    with smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.ehlo()
        code, _ = client.mail("anna@example.se")
        assert code == 530  # STARTTLS first
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.starttls(context=client_ctx)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("faxgw", "fel")
    with smtplib.SMTP(ctl.hostname, ctl.port) as client:
        client.starttls(context=client_ctx)
        client.login("faxgw", "hemligt")
        client.sendmail("anna@example.se", ["kontaktcenter@stockholm.se"], MAIL)
    with rt.store.transaction() as session:
        row = session.query(IntakeRow).one()
    assert row.meta["detail"]["tls"] == "True"
    assert row.meta["detail"]["authenticated"] == "True"
