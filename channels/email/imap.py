"""IMAP puller: takes mail from existing departmental mailboxes into durable intake.

Some departments keep their own mailbox (``bygglov@…``) on an IMAP server we
do not run, so we cannot hand their mail to our SMTP listener. The puller logs
in, fetches what is new, hands each raw message to ``accept`` (the intake core,
injected so this module never imports the store) and only then marks it
``\\Seen`` or moves it away. Everything it knows about progress is a per-folder
``Checkpoint(uidvalidity, last_uid)`` in an injected ``CheckpointStore``.

Guarantees:

* A message is marked or moved only after ``accept`` returned, so a message we
  did not durably store stays where it was and is fetched again.
* The checkpoint advances per message after accept and mark, so a crash
  re-fetches at most the messages after the last save; intake is idempotent on
  ``source_keys`` (``imap:<account>/<folder>/<uidvalidity>/<uid>``), so those
  repeats are harmless.
* A new UIDVALIDITY (the folder was recreated) does not re-import what was
  already taken: see ``ImapPuller._rescan_uids``.
* Logs carry the account name, folder and UIDs, never bodies or addresses.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ingest.errors import IntakeUnavailable
from ingest.model import Channel, ChannelMeta

AfterIntake = Literal["seen", "move", "none"]
AcceptFn = Callable[[bytes, ChannelMeta], Any]

TRANSPORT = "imap"
SEEN = b"\\Seen"
DELETED = b"\\Deleted"
FETCH_BATCH = 50
"""UIDs per FETCH round trip."""
FETCH_BATCH_BYTES = 32 * 1024 * 1024
"""Bodies held in memory at once; a batch is cut short before it grows past this."""
READ_TIMEOUT_S = 120.0
"""Socket read timeout: finds half-open connections, also at the end of an IDLE."""
LOGOUT_TIMEOUT_S = 5.0
IDLE_SLICE_S = 1.0
"""IDLE is checked in slices this long so ``run`` notices its stop event promptly."""
PAUSE_SLICE_S = 0.5
"""Sleeps (poll interval, backoff) are cut into slices this long for the same reason."""
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 300.0
MAX_IDLE_RENEW_S = 29 * 60
"""RFC 2177: re-issue IDLE at least every 29 minutes or the server may log us out."""


@dataclass(frozen=True)
class ImapAccount:
    """One mailbox to pull from, parsed once from config and passed in (never read globally).

    ``after_intake`` says what happens to a message once intake holds it:
    ``seen`` flags it (staff still see it in their client), ``move`` moves it to
    ``move_to`` (created if missing), ``none`` leaves it alone and relies on the
    checkpoint only.
    """

    name: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    ssl: bool = True
    starttls: bool = False
    folders: tuple[str, ...] = ("INBOX",)
    after_intake: AfterIntake = "seen"
    move_to: str | None = "Registrerat"
    idle: bool = True
    poll_interval_s: float = 60
    idle_renew_s: float = 25 * 60
    connect_timeout_s: float = 30

    def __post_init__(self) -> None:
        def bad(key: str, value: object, fix: str) -> ValueError:
            return ValueError(f"imap account {self.name!r}: {key}={value!r}: {fix}")

        if not self.name or "/" in self.name:
            raise bad("name", self.name, "give a non-empty name without '/' (used in source keys)")
        if not 0 < self.port < 65536:
            raise bad("port", self.port, "use 993 for IMAPS or 143 for STARTTLS")
        if self.ssl and self.starttls:
            raise bad("starttls", self.starttls, "choose either ssl (IMAPS) or starttls")
        if not self.folders:
            raise bad("folders", self.folders, "list at least one folder, e.g. INBOX")
        if self.after_intake not in ("seen", "move", "none"):
            raise bad("after_intake", self.after_intake, "use seen, move or none")
        if self.after_intake == "move" and (not self.move_to or self.move_to in self.folders):
            raise bad("move_to", self.move_to, "name a target folder that is not pulled from")
        if self.poll_interval_s <= 0:
            raise bad("poll_interval_s", self.poll_interval_s, "use a positive number")
        if not 0 < self.idle_renew_s <= MAX_IDLE_RENEW_S:
            raise bad("idle_renew_s", self.idle_renew_s, f"use 1..{MAX_IDLE_RENEW_S} (RFC 2177)")
        if self.connect_timeout_s <= 0:
            raise bad("connect_timeout_s", self.connect_timeout_s, "use a positive number")


@dataclass(frozen=True)
class Checkpoint:
    """How far a folder has been taken: UIDs are only comparable within one UIDVALIDITY."""

    uidvalidity: int
    last_uid: int


class CheckpointStore(Protocol):
    """Durable per-(account, folder) progress; the intake store provides the real one."""

    def load(self, account: str, folder: str) -> Checkpoint | None:
        """The last saved checkpoint, or None if the folder was never pulled."""
        ...

    def save(self, account: str, folder: str, checkpoint: Checkpoint) -> None:
        """Persist before returning: the puller marks progress only through this."""
        ...


def source_key(account: str, folder: str, uidvalidity: int, uid: int) -> str:
    """The exact-duplicate key intake dedupes on; stable for one message in one folder."""
    return f"imap:{account}/{folder}/{uidvalidity}/{uid}"


class _Log:
    """Takes structlog-style calls and also serves a stdlib ``logging.Logger``."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger
        self._stdlib = isinstance(logger, logging.Logger | logging.LoggerAdapter)

    def __call__(self, level: str, event: str, **fields: Any) -> None:
        method = getattr(self._logger, level)
        if self._stdlib:
            method("%s", " ".join([event, *(f"{k}={v}" for k, v in fields.items())]))
        else:
            method(event, **fields)


class _Backoff:
    """Exponential delays with jitter, so many pullers do not reconnect in step."""

    def __init__(self, initial: float = BACKOFF_INITIAL_S, maximum: float = BACKOFF_MAX_S) -> None:
        self._initial = initial
        self._maximum = maximum
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self._maximum, self._initial * 2 ** min(self._attempt, 30))
        self._attempt += 1
        return min(self._maximum, base * random.uniform(0.8, 1.2))


class _ConnectionLost(IMAPClientAbortError):
    """The server said BYE or the socket went quiet for good during IDLE."""


class ImapPuller:
    """Pulls one account into intake; ``run`` it in its own thread, one puller per account.

    Not thread-safe: ``poll_once`` and ``run`` must not be called concurrently.
    """

    def __init__(
        self,
        account: ImapAccount,
        accept: AcceptFn,
        checkpoints: CheckpointStore,
        *,
        log: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.account = account
        self._accept = accept
        self._checkpoints = checkpoints
        if log is None:
            from ingest.logs import get_logger

            log = get_logger("channels.email.imap")
        self._log = _Log(log)
        self._sleep = sleep
        self._ssl_context = ssl_context
        self._client: IMAPClient | None = None
        self._stop = threading.Event()  # replaced by run()'s event

    # -- public -----------------------------------------------------------------

    def poll_once(self) -> int:
        """Take everything new in every folder; returns how many messages were accepted.

        Raises ``IntakeUnavailable`` (the message stays unmarked, the checkpoint
        unchanged) and IMAP/socket errors (the connection is dropped first).
        """
        client = self._connected()
        total = 0
        try:
            for folder in self.account.folders:
                if self._stop.is_set():
                    break
                total += self._poll_folder(client, folder)
        except IntakeUnavailable:
            raise
        except Exception:
            self.close()
            raise
        return total

    def run(self, stop: threading.Event) -> None:
        """Pull until ``stop`` is set: poll, then IDLE (or sleep), reconnecting with backoff.

        Never raises: the thread survives server restarts, network loss and an
        intake outage, backing off 1 s … 5 min. It returns within about a second
        of ``stop`` being set; only a connect or command already blocked on a
        silent network can take longer, bounded by the socket timeouts.
        """
        self._stop = stop
        backoff = _Backoff()
        self._log("info", "imap_puller_started", account=self.account.name,
                  host=self.account.host, folders=list(self.account.folders))
        try:
            while not stop.is_set():
                try:
                    count = self.poll_once()
                    backoff.reset()
                    if count:
                        self._log("info", "imap_poll_done", account=self.account.name,
                                  accepted=count)
                        # Mail that arrived while we fetched and flagged was announced
                        # (EXISTS) in the replies to those commands, which imaplib
                        # swallows; IDLE would not announce it again. Look once more
                        # first: only an empty poll may be followed by IDLE.
                        continue
                    if not stop.is_set():
                        self._wait_for_news(stop)
                except IntakeUnavailable:
                    delay = backoff.next_delay()
                    self._log("warning", "imap_intake_unavailable", account=self.account.name,
                              retry_in_s=round(delay, 1))
                    self._pause(stop, delay)
                except (IMAPClientError, OSError) as exc:
                    self.close()
                    delay = backoff.next_delay()
                    self._log("warning", "imap_connection_error", account=self.account.name,
                              host=self.account.host, error=type(exc).__name__,
                              retry_in_s=round(delay, 1))
                    self._pause(stop, delay)
                except Exception as exc:
                    # A bug (ours or in accept) must not kill the thread silently or spin.
                    self.close()
                    delay = backoff.next_delay()
                    self._log("error", "imap_puller_failed", account=self.account.name,
                              error=type(exc).__name__, where=_where(exc),
                              retry_in_s=round(delay, 1))
                    self._pause(stop, delay)
        finally:
            self.close()
            self._log("info", "imap_puller_stopped", account=self.account.name)

    def close(self) -> None:
        """Log out (or just drop the socket if the server is gone); safe to call twice."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            # A half-open connection must not hold up shutdown for READ_TIMEOUT_S.
            client.socket().settimeout(LOGOUT_TIMEOUT_S)
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    # -- connection -------------------------------------------------------------

    def _connected(self) -> IMAPClient:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> IMAPClient:
        acc = self.account
        context = self._ssl_context
        if context is None and (acc.ssl or acc.starttls):
            context = ssl.create_default_context()
        client = IMAPClient(
            acc.host, acc.port, use_uid=True, ssl=acc.ssl, ssl_context=context,
            timeout=SocketTimeout(connect=acc.connect_timeout_s, read=READ_TIMEOUT_S),
        )
        try:
            # Timezone-aware INTERNALDATE; the default converts to naive local time.
            client.normalise_times = False
            if acc.starttls:
                client.starttls(context)
            client.login(acc.username, acc.password)
            if acc.after_intake == "move":
                assert acc.move_to is not None  # checked by ImapAccount
                if not client.folder_exists(acc.move_to):
                    client.create_folder(acc.move_to)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self._log("info", "imap_connected", account=acc.name, host=acc.host)
        return client

    def _capable(self, client: IMAPClient, name: str) -> bool:
        """Capability check, one seam for tests that need a server without an extension."""
        return bool(client.has_capability(name))

    # -- pulling ----------------------------------------------------------------

    def _poll_folder(self, client: IMAPClient, folder: str) -> int:
        acc = self.account
        info = client.select_folder(folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        checkpoint = self._checkpoints.load(acc.name, folder)
        if checkpoint is not None and checkpoint.uidvalidity == uidvalidity:
            # Some servers answer "n:*" with the last message even when its UID < n.
            uids = sorted(u for u in client.search(["UID", f"{checkpoint.last_uid + 1}:*"])
                          if u > checkpoint.last_uid)
            return self._take(client, folder, uidvalidity, uids, save_each=True)

        if checkpoint is None:
            self._log("info", "imap_folder_first_pull", account=acc.name, folder=folder,
                      uidvalidity=uidvalidity, mode=acc.after_intake)
        else:
            self._log("warning", "imap_uidvalidity_changed", account=acc.name, folder=folder,
                      old_uidvalidity=checkpoint.uidvalidity, new_uidvalidity=uidvalidity,
                      mode=acc.after_intake)
        high_uid = max(client.search(["ALL"]), default=0)
        uids = self._rescan_uids(client)
        count = self._take(client, folder, uidvalidity, uids, save_each=False)
        if not self._stop.is_set():
            self._checkpoints.save(acc.name, folder,
                                   Checkpoint(uidvalidity, max([high_uid, *uids])))
        return count

    def _rescan_uids(self, client: IMAPClient) -> list[int]:
        """What to take from a folder without a usable checkpoint (first pull, new UIDVALIDITY).

        Old UIDs mean nothing now, so the folder's own state tells what we already
        took: in ``seen`` mode everything not ``\\Seen``; in ``move`` mode what
        is still there and not ``\\Deleted`` (taken messages were moved away, or
        left deleted by the no-MOVE fallback on a server without UIDPLUS); in ``none`` mode
        everything, leaving exact repeats to intake's raw-sha256 dedupe. The
        checkpoint is saved only after the whole rescan, so a crash or intake
        outage half-way simply rescans, and the flags/moves already done keep
        the taken messages out.
        """
        criteria = {"seen": ["UNSEEN"], "move": ["UNDELETED"]}.get(self.account.after_intake,
                                                                   ["ALL"])
        return sorted(client.search(criteria))

    def _take(self, client: IMAPClient, folder: str, uidvalidity: int, uids: Sequence[int],
              *, save_each: bool) -> int:
        """Fetch, accept, mark/move and (if ``save_each``) checkpoint, strictly in UID order."""
        acc = self.account
        count = 0
        for batch in self._batches(client, uids):
            fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
            for uid in batch:
                if self._stop.is_set():
                    return count
                data = fetched.get(uid) or {}
                raw = data.get(b"BODY[]")
                if raw is None:
                    # Expunged between SEARCH and FETCH: nothing left to take.
                    self._log("warning", "imap_message_vanished", account=acc.name,
                              folder=folder, uidvalidity=uidvalidity, uid=uid)
                else:
                    meta = self._meta(folder, uidvalidity, uid, data.get(b"INTERNALDATE"))
                    try:
                        receipt = self._accept(bytes(raw), meta)
                    except IntakeUnavailable:
                        self._log("warning", "imap_accept_unavailable", account=acc.name,
                                  folder=folder, uidvalidity=uidvalidity, uid=uid)
                        raise
                    self._after_accept(client, uid)
                    count += 1
                    self._log("info", "imap_message_accepted", account=acc.name,
                              folder=folder, uidvalidity=uidvalidity, uid=uid, size=len(raw),
                              duplicate=getattr(receipt, "duplicate", None))
                if save_each:
                    self._checkpoints.save(acc.name, folder, Checkpoint(uidvalidity, uid))
        return count

    def _batches(self, client: IMAPClient, uids: Sequence[int]) -> Iterator[list[int]]:
        """FETCH_BATCH UIDs per batch, cut short before the bodies pass FETCH_BATCH_BYTES."""
        for start in range(0, len(uids), FETCH_BATCH):
            chunk = list(uids[start:start + FETCH_BATCH])
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
            batch: list[int] = []
            held = 0
            for uid in chunk:
                size = int((sizes.get(uid) or {}).get(b"RFC822.SIZE", 0))
                if batch and held + size > FETCH_BATCH_BYTES:
                    yield batch
                    batch, held = [], 0
                batch.append(uid)
                held += size
            if batch:
                yield batch

    def _meta(self, folder: str, uidvalidity: int, uid: int, internaldate: Any) -> ChannelMeta:
        acc = self.account
        detail = {"account": acc.name, "folder": folder, "uidvalidity": str(uidvalidity),
                  "uid": str(uid)}
        if isinstance(internaldate, datetime):
            detail["internaldate"] = internaldate.isoformat()
        return ChannelMeta(
            channel=Channel.EMAIL,
            transport=TRANSPORT,
            source_keys=(source_key(acc.name, folder, uidvalidity, uid),),
            envelope_to=(),
            peer=acc.host,
            detail=detail,
        )

    def _after_accept(self, client: IMAPClient, uid: int) -> None:
        """Record on the server that intake holds the message (never before accept returned)."""
        mode = self.account.after_intake
        if mode == "seen":
            client.add_flags([uid], [SEEN])
        elif mode == "move":
            target = self.account.move_to
            assert target is not None  # checked by ImapAccount
            if self._capable(client, "MOVE"):
                client.move([uid], target)
            else:
                client.copy([uid], target)
                client.add_flags([uid], [DELETED])
                if self._capable(client, "UIDPLUS"):
                    client.uid_expunge([uid])
                # Without UIDPLUS a plain EXPUNGE would also purge messages staff
                # deleted on purpose; the \Deleted original waits for their client.

    # -- waiting ----------------------------------------------------------------

    def _wait_for_news(self, stop: threading.Event) -> None:
        """IDLE until the server reports new mail, else sleep the poll interval."""
        acc = self.account
        client = self._connected()
        if not (acc.idle and self._capable(client, "IDLE")):
            self._pause(stop, acc.poll_interval_s)
            return
        # IDLE watches one folder; with several, renew often enough to poll the others.
        window = acc.idle_renew_s if len(acc.folders) == 1 else min(acc.idle_renew_s,
                                                                   acc.poll_interval_s)
        if len(acc.folders) > 1:
            client.select_folder(acc.folders[0])
        self._idle(client, stop, window)

    def _idle(self, client: IMAPClient, stop: threading.Event, window_s: float) -> None:
        client.idle()
        deadline = time.monotonic() + window_s
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            slice_s = min(IDLE_SLICE_S, remaining)
            started = time.monotonic()
            responses = client.idle_check(timeout=slice_s)
            if any(_is_bye(r) for r in responses):
                raise _ConnectionLost("server said BYE during IDLE")
            if any(_is_exists(r) for r in responses):
                break
            if not responses and time.monotonic() - started < slice_s / 2:
                # The socket was readable but held no line: EOF. idle_done() below
                # then fails on the dead socket and run() reconnects.
                break
        client.idle_done()

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        # Counted in slices, not by the clock, so an injected fake sleep works too.
        remaining = seconds
        while remaining > 0 and not stop.is_set():
            step = min(PAUSE_SLICE_S, remaining)
            self._sleep(step)
            remaining -= step


def _is_exists(response: Iterable[Any]) -> bool:
    items = tuple(response)
    return len(items) >= 2 and items[1] == b"EXISTS"


def _is_bye(response: Iterable[Any]) -> bool:
    items = tuple(response)
    return bool(items) and items[0] == b"BYE"


def _where(exc: BaseException, depth: int = 4) -> str:
    """Innermost frames as "file:line function", without locals or the message text.

    No ``exc_info``: dev renderers print tracebacks with local variables, and the
    locals here hold the raw message; exception texts may quote it too.
    """
    frames = traceback.extract_tb(exc.__traceback__)[-depth:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                       for f in reversed(frames))
