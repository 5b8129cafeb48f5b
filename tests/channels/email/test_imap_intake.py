"""The IMAP puller wired to the real store: items, checkpoints and SMTP/IMAP dedupe."""

from __future__ import annotations

import smtplib
import uuid

from tests_support import free_port

from channels.email.imap import ImapAccount
from channels.email.smtp import IntakeHandler, make_controller
from ingest.app import Runtime
from ingest.imap import make_puller


def mail(n: int) -> bytes:
    return (f"From: Erik <erik@example.se>\r\nTo: miljo@stockholm.se\r\n"
            f"Subject: Buller {n}\r\nMessage-ID: <imap-{n}-{uuid.uuid4().hex}@example.se>\r\n"
            f"\r\nDet bullrar från bygget varje natt.\r\n").encode()


def test_pulled_mail_becomes_items_with_a_stored_checkpoint(dovecot, make_settings) -> None:
    folder = f"kcs-{uuid.uuid4().hex[:8]}"
    with dovecot.client() as imap:
        imap.create_folder(folder)
    rt = Runtime.build(make_settings())
    raws = [mail(1), mail(2)]
    for raw in raws:
        dovecot.append(folder, raw)
    account = ImapAccount(name="miljo", host=dovecot.host, port=dovecot.port,
                          username=dovecot.user, password=dovecot.password, ssl=False,
                          folders=(folder,))

    puller = make_puller(rt, account)
    try:
        assert puller.poll_once() == 2
        assert puller.poll_once() == 0
    finally:
        puller.close()
    rows = rt.store.list_intake(("accepted",))
    assert sorted(rt.blobs.get(r.raw_sha256) for r in rows) == sorted(raws)
    keys = {k for r in rows for k in r.meta["source_keys"]}
    assert any(k.startswith(f"imap:miljo/{folder}/") for k in keys)
    assert any(k.startswith("msgid:erik@example.se|<imap-1-") for k in keys)
    uidvalidity, last_uid = rt.store.load_checkpoint("miljo", folder)
    assert uidvalidity > 0 and last_uid == 2
    with dovecot.client() as imap:
        imap.select_folder(folder)
        assert sorted(imap.search(["SEEN"])) == [1, 2]

    # A new puller (a restart) with the same database imports nothing again.
    again = make_puller(rt, account)
    try:
        assert again.poll_once() == 0
    finally:
        again.close()


def test_the_same_mail_by_smtp_and_by_imap_is_one_item(dovecot, make_settings) -> None:
    folder = f"kcs-{uuid.uuid4().hex[:8]}"
    with dovecot.client() as imap:
        imap.create_folder(folder)
    rt = Runtime.build(make_settings())
    raw = mail(3)
    handler = IntakeHandler(rt.intake, rt.settings.kcs.smtp)
    controller = make_controller(handler, rt.settings.kcs.smtp, port=free_port())
    controller.start()
    try:
        with smtplib.SMTP(controller.hostname, controller.port) as client:
            client.sendmail("erik@example.se", ["kontaktcenter@stockholm.se"], raw)
    finally:
        controller.stop()
        handler.close()
    # The copy in the department's mailbox has a Received: header more: other bytes.
    dovecot.append(folder, b"Received: from mx.example.se; Mon, 23 Nov 2026\r\n" + raw)
    puller = make_puller(rt, ImapAccount(name="miljo", host=dovecot.host, port=dovecot.port,
                                         username=dovecot.user, password=dovecot.password,
                                         ssl=False, folders=(folder,)))
    try:
        assert puller.poll_once() == 1  # taken (and marked), but ...
    finally:
        puller.close()
    assert rt.store.count_by_state() == {("email", "accepted"): 1}  # ... one item
