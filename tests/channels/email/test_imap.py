"""The IMAP puller against a real Dovecot (fixture ``dovecot``) over real sockets.

Only the two injected collaborators are doubles: ``accept`` records what it was
given (or plays an intake outage) and the checkpoint store is a dict. Each test
works in its own folder, so tests share one Dovecot without meeting.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from imapclient import IMAPClient

from channels.email.imap import Checkpoint, ImapAccount, ImapPuller
from ingest.errors import IntakeUnavailable
from ingest.model import Channel, ChannelMeta

ACCOUNT = "bygglov"
SEEN = b"\\Seen"


@dataclass(frozen=True)
class FakeReceipt:
    """Shape of ``ingest.intake.Receipt``; the puller only logs ``duplicate``."""

    intake_id: str
    duplicate: bool


class RecordingIntake:
    """``accept`` double: records (raw, meta); raises IntakeUnavailable while ``failures`` > 0."""

    def __init__(self) -> None:
        self.taken: list[tuple[bytes, ChannelMeta]] = []
        self.failures = 0
        self.refused = 0
        self.bug: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self, raw: bytes, meta: ChannelMeta) -> FakeReceipt:
        with self._lock:
            if self.bug is not None:
                raise self.bug
            if self.failures:
                self.failures -= 1
                self.refused += 1
                raise IntakeUnavailable("blob store not writable")
            self.taken.append((raw, meta))
            return FakeReceipt(intake_id=f"in-{len(self.taken)}", duplicate=False)

    @property
    def keys(self) -> list[str]:
        with self._lock:
            return [key for _, meta in self.taken for key in meta.source_keys]

    @property
    def subjects(self) -> list[str]:
        with self._lock:
            found = (re.search(rb"^Subject: (.*)\r$", raw, re.M) for raw, _ in self.taken)
            return [m.group(1).decode() for m in found if m]


class MemoryCheckpoints:
    """``CheckpointStore`` double backed by a dict; survives pullers, like the real store."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], Checkpoint] = {}

    def load(self, account: str, folder: str) -> Checkpoint | None:
        return self.saved.get((account, folder))

    def save(self, account: str, folder: str, checkpoint: Checkpoint) -> None:
        self.saved[(account, folder)] = checkpoint


def message(subject: str) -> bytes:
    """A small citizen e-mail; the body text is checked to be absent from logs."""
    return (f"From: Anna Andersson <anna.andersson@example.org>\r\n"
            f"To: bygglov@stad.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@example.org>\r\n\r\nHemlig brödtext om {subject}.\r\n"
            ).encode()


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Bounded wait for something another thread does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def uidvalidity(imap: IMAPClient, folder: str) -> int:
    return int(imap.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])


def flags(dovecot: Any, folder: str) -> dict[int, tuple[bytes, ...]]:
    with dovecot.client() as imap:
        imap.select_folder(folder, readonly=True)
        return dict(imap.get_flags(imap.search(["ALL"])))


@pytest.fixture
def folder(request: pytest.FixtureRequest, dovecot: Any) -> str:
    """A fresh folder named after the test (so the Dovecot log is readable)."""
    name = "T" + re.sub(r"[^A-Za-z0-9]", "", request.node.name)[:40]
    with dovecot.client() as imap:
        for existing in (f"{name}-reg", name):
            if imap.folder_exists(existing):
                imap.delete_folder(existing)
        imap.create_folder(name)
    return name


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
def checkpoints() -> MemoryCheckpoints:
    return MemoryCheckpoints()


@pytest.fixture
def make_puller(dovecot: Any, folder: str, intake: RecordingIntake,
                checkpoints: MemoryCheckpoints) -> Iterator[Callable[..., ImapPuller]]:
    """Builds pullers on the test's folder; closes every one at teardown."""
    made: list[ImapPuller] = []

    def make(puller_class: type[ImapPuller] = ImapPuller, **options: Any) -> ImapPuller:
        settings: dict[str, Any] = {
            "name": ACCOUNT, "host": dovecot.host, "port": dovecot.port,
            "username": dovecot.user, "password": dovecot.password, "ssl": False,
            "folders": (folder,), "move_to": f"{folder}-reg", **options,
        }
        account = ImapAccount(**settings)
        puller = puller_class(account, intake, checkpoints,
                              log=logging.getLogger("test.imap"))
        made.append(puller)
        return puller

    yield make
    for puller in made:
        puller.close()


@pytest.fixture
def run_in_thread() -> Iterator[Callable[[ImapPuller], tuple[threading.Event, threading.Thread]]]:
    """Starts ``puller.run`` in a thread; stops and joins it even when the test fails."""
    started: list[tuple[threading.Event, threading.Thread]] = []

    def start(puller: ImapPuller) -> tuple[threading.Event, threading.Thread]:
        stop = threading.Event()
        thread = threading.Thread(target=puller.run, args=(stop,), daemon=True)
        thread.start()
        started.append((stop, thread))
        return stop, thread

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(5)


def test_new_messages_are_accepted_with_source_keys_then_marked_seen(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, checkpoints: MemoryCheckpoints,
        caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN three new messages WHEN polled THEN each is accepted once, in UID order,
    with the (account, folder, UIDVALIDITY, UID) key, and flagged \\Seen afterwards."""
    caplog.set_level(logging.DEBUG, logger="test.imap")
    uids = [dovecot.append(folder, message(f"arende{i}")) for i in range(3)]
    with dovecot.client() as imap:
        validity = uidvalidity(imap, folder)
    puller = make_puller()

    assert puller.poll_once() == 3

    assert intake.keys == [f"imap:{ACCOUNT}/{folder}/{validity}/{uid}" for uid in uids]
    assert [raw for raw, _ in intake.taken] == [message(f"arende{i}") for i in range(3)]
    meta = intake.taken[0][1]
    assert (meta.channel, meta.transport, meta.peer, meta.envelope_to) == (
        Channel.EMAIL, "imap", dovecot.host, ())
    assert meta.detail["account"] == ACCOUNT
    assert meta.detail["folder"] == folder
    assert meta.detail["uidvalidity"] == str(validity)
    assert meta.detail["uid"] == str(uids[0])
    assert datetime.fromisoformat(meta.detail["internaldate"]).tzinfo is not None
    assert all(SEEN in f for f in flags(dovecot, folder).values())
    assert checkpoints.load(ACCOUNT, folder) == Checkpoint(validity, uids[-1])
    # "UID n:*" beyond the last UID still returns the last message; it must not come again.
    assert puller.poll_once() == 0
    assert len(intake.taken) == 3
    assert "Hemlig" not in caplog.text
    assert "anna.andersson" not in caplog.text
    assert "bygglov@" not in caplog.text


def test_first_pull_in_seen_mode_skips_what_staff_already_read(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake) -> None:
    """GIVEN a mailbox in use before the puller (read mail is \\Seen) WHEN first
    polled THEN only unread mail is taken; what arrives later is taken read or not."""
    dovecot.append(folder, message("redan-last"), flags=[SEEN])
    dovecot.append(folder, message("oläst"))
    puller = make_puller()

    assert puller.poll_once() == 1
    dovecot.append(folder, message("last-innan-poll"), flags=[SEEN])
    assert puller.poll_once() == 1

    assert intake.subjects == ["oläst", "last-innan-poll"]


def test_move_mode_moves_into_target_folder_created_if_missing(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake) -> None:
    """GIVEN after_intake=move and no target folder WHEN polled THEN the target is
    created and the accepted message lives there, not in the pulled folder."""
    dovecot.append(folder, message("flytta"))
    puller = make_puller(after_intake="move")

    assert puller.poll_once() == 1

    assert intake.subjects == ["flytta"]
    assert flags(dovecot, folder) == {}
    assert len(flags(dovecot, f"{folder}-reg")) == 1


class _NoMovePuller(ImapPuller):
    """Sees the server as lacking MOVE, to exercise the COPY fallback on real Dovecot."""

    def _capable(self, client: IMAPClient, name: str) -> bool:
        return name != "MOVE" and super()._capable(client, name)


def test_move_mode_without_move_extension_copies_deletes_and_expunges(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake) -> None:
    """GIVEN a server without MOVE WHEN a message is taken THEN COPY + \\Deleted +
    UID EXPUNGE gives the same result as MOVE, and a message staff deleted (not
    yet expunged) is neither taken on a first pull nor expunged by us."""
    staff_deleted = dovecot.append(folder, message("personalens"), flags=[b"\\Deleted"])
    dovecot.append(folder, message("kopiera"))
    puller = make_puller(_NoMovePuller, after_intake="move")

    assert puller.poll_once() == 1

    assert intake.subjects == ["kopiera"]
    assert len(flags(dovecot, f"{folder}-reg")) == 1
    assert list(flags(dovecot, folder)) == [staff_deleted]


def test_intake_unavailable_leaves_message_unseen_and_checkpoint_unchanged(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, checkpoints: MemoryCheckpoints) -> None:
    """GIVEN intake cannot store WHEN polled THEN nothing is marked or checkpointed,
    and a later poll (intake back) takes the same message."""
    first = dovecot.append(folder, message("forsta"))
    puller = make_puller()
    assert puller.poll_once() == 1
    before = checkpoints.load(ACCOUNT, folder)
    second = dovecot.append(folder, message("andra"))
    intake.failures = 1

    with pytest.raises(IntakeUnavailable):
        puller.poll_once()

    assert checkpoints.load(ACCOUNT, folder) == before
    assert SEEN not in flags(dovecot, folder)[second]
    assert puller.poll_once() == 1
    assert intake.subjects == ["forsta", "andra"]
    assert SEEN in flags(dovecot, folder)[second]
    assert checkpoints.load(ACCOUNT, folder) == Checkpoint(before.uidvalidity, second)
    assert first is not None and second is not None and second > first


def test_new_puller_with_same_checkpoints_does_not_reimport(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake) -> None:
    """GIVEN after_intake=none (only the checkpoint remembers) WHEN the puller is
    replaced THEN the new one takes only what arrived since."""
    dovecot.append(folder, message("gammal1"))
    dovecot.append(folder, message("gammal2"))
    first = make_puller(after_intake="none")
    assert first.poll_once() == 2
    first.close()

    second = make_puller(after_intake="none")
    assert second.poll_once() == 0
    dovecot.append(folder, message("ny"))
    assert second.poll_once() == 1

    assert intake.subjects == ["gammal1", "gammal2", "ny"]


def test_uidvalidity_change_takes_only_unseen(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, checkpoints: MemoryCheckpoints,
        caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN taken (\\Seen) messages WHEN the folder is deleted and recreated with
    them plus a new one (new UIDVALIDITY) THEN only the new one is taken, with a
    warning, and later arrivals follow the new checkpoint."""
    caplog.set_level(logging.INFO, logger="test.imap")
    dovecot.append(folder, message("tagen1"))
    dovecot.append(folder, message("tagen2"))
    puller = make_puller()
    assert puller.poll_once() == 2
    old = checkpoints.load(ACCOUNT, folder)
    assert old is not None
    puller.close()  # the folder is recreated under another session, as a migration would
    with dovecot.client() as imap:
        imap.delete_folder(folder)
        imap.create_folder(folder)
        new_validity = uidvalidity(imap, folder)
    assert new_validity != old.uidvalidity
    dovecot.append(folder, message("tagen1"), flags=[SEEN])
    dovecot.append(folder, message("tagen2"), flags=[SEEN])
    fresh = dovecot.append(folder, message("ny-efter-flytt"))

    assert puller.poll_once() == 1

    assert intake.subjects == ["tagen1", "tagen2", "ny-efter-flytt"]
    assert intake.keys[-1] == f"imap:{ACCOUNT}/{folder}/{new_validity}/{fresh}"
    assert checkpoints.load(ACCOUNT, folder) == Checkpoint(new_validity, fresh)
    assert re.search(rf"old_uidvalidity={old.uidvalidity} new_uidvalidity={new_validity}",
                     caplog.text)
    later = dovecot.append(folder, message("senare"))
    assert puller.poll_once() == 1
    assert intake.keys[-1] == f"imap:{ACCOUNT}/{folder}/{new_validity}/{later}"


def test_uidvalidity_change_in_move_mode_takes_what_is_left(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake) -> None:
    """GIVEN move mode (taken messages are gone) WHEN the folder is recreated THEN
    everything still in it is new and taken, the moved ones are not touched."""
    dovecot.append(folder, message("flyttad"))
    puller = make_puller(after_intake="move")
    assert puller.poll_once() == 1
    puller.close()
    with dovecot.client() as imap:
        imap.delete_folder(folder)
        imap.create_folder(folder)
    dovecot.append(folder, message("kvar1"), flags=[SEEN])  # read by staff, still not taken
    dovecot.append(folder, message("kvar2"))

    assert puller.poll_once() == 2

    assert intake.subjects == ["flyttad", "kvar1", "kvar2"]
    assert len(flags(dovecot, f"{folder}-reg")) == 3


def test_run_takes_mail_announced_by_idle(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, run_in_thread: Callable[..., Any]) -> None:
    """GIVEN run() idling (poll interval far too long to matter) WHEN another client
    APPENDs THEN the message is accepted within seconds."""
    dovecot.append(folder, message("fore"))
    run_in_thread(make_puller(poll_interval_s=120))
    assert wait_for(lambda: intake.subjects == ["fore"], 5)
    time.sleep(0.3)  # let it enter IDLE

    dovecot.append(folder, message("under-idle"))

    assert wait_for(lambda: intake.subjects == ["fore", "under-idle"], 5)


def test_run_reconnects_after_server_restart_during_idle(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, run_in_thread: Callable[..., Any],
        caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN run() idling WHEN Dovecot restarts THEN the puller reconnects with
    backoff and takes a message appended after the restart."""
    caplog.set_level(logging.INFO, logger="test.imap")
    dovecot.append(folder, message("fore-omstart"))
    _, thread = run_in_thread(make_puller(poll_interval_s=120))
    assert wait_for(lambda: len(intake.taken) == 1, 5)
    time.sleep(0.3)

    dovecot.restart()
    dovecot.append(folder, message("efter-omstart"))

    assert wait_for(lambda: intake.subjects == ["fore-omstart", "efter-omstart"], 20)
    assert thread.is_alive()
    assert "imap_connection_error" in caplog.text
    assert caplog.text.count("imap_connected") == 2


def test_run_reconnects_after_connection_dies_without_bye(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, run_in_thread: Callable[..., Any],
        caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN run() idling WHEN its server process dies (EOF, no BYE: a network cut)
    THEN IDLE notices, the puller reconnects and takes the next message."""
    caplog.set_level(logging.INFO, logger="test.imap")
    dovecot.append(folder, message("fore-avbrott"))
    _, thread = run_in_thread(make_puller(poll_interval_s=120))
    assert wait_for(lambda: len(intake.taken) == 1, 5)
    time.sleep(0.3)

    assert dovecot.drop_connections() >= 1
    dovecot.append(folder, message("efter-avbrott"))

    assert wait_for(lambda: intake.subjects == ["fore-avbrott", "efter-avbrott"], 10)
    assert thread.is_alive()
    assert caplog.text.count("imap_connected") == 2


def test_run_backs_off_while_intake_is_unavailable_then_takes_the_message(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, run_in_thread: Callable[..., Any]) -> None:
    """GIVEN intake refuses twice WHEN run() pulls THEN it retries after backoff and
    the message is taken exactly once."""
    uid = dovecot.append(folder, message("vanta"))
    intake.failures = 2
    run_in_thread(make_puller(poll_interval_s=120))

    assert wait_for(lambda: intake.subjects == ["vanta"], 10)
    assert intake.refused == 2
    assert wait_for(lambda: uid is not None and SEEN in flags(dovecot, folder)[uid], 2)


def test_run_survives_a_failing_accept_without_logging_the_message(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, run_in_thread: Callable[..., Any],
        caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN accept raising an unexpected error (a bug) WHEN run() pulls THEN the
    thread lives on, logs where it failed but not the exception text or body, and
    takes the message once the bug is gone."""
    caplog.set_level(logging.INFO, logger="test.imap")
    dovecot.append(folder, message("bugg"))
    intake.bug = ValueError("Hemlig brödtext om bugg")
    _, thread = run_in_thread(make_puller(poll_interval_s=120))

    assert wait_for(lambda: "imap_puller_failed" in caplog.text, 5)
    intake.bug = None
    assert wait_for(lambda: intake.subjects == ["bugg"], 5)
    assert thread.is_alive()
    assert "error=ValueError" in caplog.text
    assert "Hemlig" not in caplog.text


@pytest.mark.parametrize("reachable", [True, False], ids=["idling", "backing-off"])
def test_stop_event_ends_run_promptly(
        dovecot: Any, folder: str, make_puller: Callable[..., ImapPuller],
        intake: RecordingIntake, run_in_thread: Callable[..., Any], reachable: bool,
        unused_port: int) -> None:
    """GIVEN run() idling, or backing off from an unreachable server, WHEN stop is
    set THEN run() returns within about two seconds."""
    options: dict[str, Any] = {"poll_interval_s": 120}
    if not reachable:
        options.update(port=unused_port, connect_timeout_s=1)
    puller = make_puller(**options)
    dovecot.append(folder, message("stopp"))
    stop, thread = run_in_thread(puller)
    if reachable:
        assert wait_for(lambda: len(intake.taken) == 1, 5)
    time.sleep(1.5)  # idling, or between reconnect attempts

    started = time.monotonic()
    stop.set()
    thread.join(3)

    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
