"""Helpers for fault and multi-process tests: the product as separate `kcs` processes.

A fault test starts the parts a deployment runs (``kcs smtp``, ``kcs worker``,
``kcs relay``) as real processes on private servers, sends mail over real
SMTP the way a sending MTA does (a 4xx reply means "try again later"), breaks
something, and then counts: every message that got a 250 must reach a
downstream queue exactly once, and nothing else may.
"""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_support import downstream_everywhere
from tests_support import free_port, wait_until

from ingest.config import Settings
from ingest.stages import TERMINAL_STATES
from ingest.store import Store


def product_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a `kcs` process of this deployment gets."""
    env = {**os.environ, "KCS_VAR_DIR": str(settings.var_dir),
           "KCS_CONFIG_DIR": str(settings.config_dir),
           "REDIS_URL": settings.effective_redis_url(), "DATABASE_URL": settings.database_url}
    if settings.broker_url:
        env["BROKER_URL"] = settings.broker_url
    env.update(extra)
    return env


@dataclass
class Processes:
    """`kcs` subcommands started as their own process groups, logs under ``log_dir``."""

    settings: Settings
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start ``kcs <args>`` as part ``name`` (its own session, so kill -9 hits all)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", *args],
                                    env=product_env(self.settings, **env),
                                    start_new_session=True, stdout=log, stderr=log)
        self.procs[name] = proc
        return proc

    def smtp(self, name: str = "smtp", port: int | None = None, **env: str) -> int:
        """Start an SMTP front-end; returns its port once it accepts connections."""
        port = port or free_port()
        self.start(name, "smtp", "--port", str(port), "--processes", "1", **env)

        def ready() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                return sock.recv(100).startswith(b"220")

        wait_until(ready, 60, f"{name} on port {port}")
        return port

    def alive(self) -> list[str]:
        """Names of the parts still running."""
        return sorted(name for name, proc in self.procs.items() if proc.poll() is None)

    def kill9(self, name: str) -> None:
        """SIGKILL a part and everything it forked."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        """SIGTERM every part still running, then wait (SIGKILL after 30 s)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def log(self, name: str) -> str:
        """A part's output, for failure messages."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def mail(tag: str, n: int, *, body: str = "Gatlyktan utanför porten är trasig.",
         padding: int = 0) -> bytes:
    """One citizen e-mail with its own Message-ID (``padding`` bytes make it big)."""
    extra = ("\r\n" + "Bilaga: " + "x" * 70) * (padding // 80) if padding else ""
    msgid = f"<{tag}-{n}-{uuid.uuid4().hex}@example.se>"
    return (f"From: Invånare {n} <invanare{n}@example.se>\r\nTo: kontaktcenter@stockholm.se\r\n"
            f"Subject: Ärende {tag} {n}\r\nMessage-ID: {msgid}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body} ({n}){extra}\r\n"
            ).encode()


@dataclass
class Delivery:
    """What one message experienced: every SMTP reply, and the intake id if accepted."""

    raw: bytes
    replies: list[int] = field(default_factory=list)
    intake_id: str | None = None


def send_once(port: int, raw: bytes, timeout: float = 30.0) -> tuple[int, str]:
    """One SMTP transaction; (code, text) of the reply to DATA (or the refusal before)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
            client.ehlo("mx.example.se")
            code, text = client.mail("avsandare@example.se")
            if code != 250:
                return code, text.decode()
            code, text = client.rcpt("kontaktcenter@stockholm.se")
            if code != 250:
                return code, text.decode()
            code, text = client.data(raw)
            return code, text.decode()
    except (smtplib.SMTPException, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


def deliver(port: int | list[int], raws: list[bytes], *, retry_for_s: float = 120.0,
            pause_s: float = 0.5, until: Any = None) -> list[Delivery]:
    """Send each message like an MTA: retry on 4xx or a lost connection, stop at 250/5xx.

    With several ports the messages are spread over them round-robin (two
    front-ends behind one MX name). ``until`` (a callable) may stop retrying early.
    """
    ports = port if isinstance(port, list) else [port]
    deliveries = [Delivery(raw) for raw in raws]
    for i, d in enumerate(deliveries):
        deadline = time.monotonic() + retry_for_s
        attempt = 0
        while True:
            code, text = send_once(ports[(i + attempt) % len(ports)], d.raw)
            attempt += 1
            d.replies.append(code)
            if code == 250:
                d.intake_id = text.rsplit(" ", 1)[-1]
                break
            if 500 <= code < 600 or time.monotonic() > deadline or (until and until()):
                break
            time.sleep(pause_s)
    return deliveries


def wait_all_terminal(store: Store, intake_ids: list[str], timeout: float) -> dict[str, str]:
    """Wait until every item is in a terminal state; returns id → state."""
    deadline = time.monotonic() + timeout
    while True:
        states = {i: (row.state if (row := store.get_intake(i)) else "missing")
                  for i in intake_ids}
        if all(s in TERMINAL_STATES for s in states.values()):
            return states
        if time.monotonic() > deadline:
            stuck = Counter(s for s in states.values() if s not in TERMINAL_STATES)
            raise AssertionError(f"items not finished after {timeout}s: {dict(stuck)}")
        time.sleep(0.2)


def assert_exactly_once(settings: Settings, store: Store, accepted: list[str], *,
                        timeout: float = 120.0, settle_s: float = 2.0) -> Counter[str]:
    """Every accepted item done and processed exactly once downstream; nothing else.

    Delivery to the downstream queues is at least once (the contract says so):
    a process killed after the broker took a message but before its outbox row
    was marked sent leaves the relay to send that row again. Dramatiq's Redis
    broker files each send under a fresh internal id, so such a copy is a second
    entry on the queue, with the same ``idempotency_key``, which consumers drop
    (``examples/consumer.py``). What must hold is what a consumer sees: one
    publication (one idempotency key) per item, and every item there.

    Returns how many publications each item has downstream (all 1 when this passes).
    """
    states = wait_all_terminal(store, accepted, timeout)
    assert Counter(states.values()) == {"done": len(accepted)}, Counter(states.values())
    time.sleep(settle_s)  # late redeliveries of killed or retried messages run now
    items = downstream_everywhere(settings)
    publications = Counter(item_id for item_id, _key in
                           {(i["item_id"], i["idempotency_key"]) for i in items})
    assert set(publications) == set(accepted), (
        f"lost {set(accepted) - set(publications)}, "
        f"unexpected {set(publications) - set(accepted)}")
    assert all(n == 1 for n in publications.values()), {
        k: n for k, n in publications.items() if n > 1}
    assert store.count_by_state().get(("email", "done"), 0) >= len(accepted)
    return publications


def acknowledgements(settings: Settings) -> Counter[str]:
    """Acknowledgement e-mails written to the outbox directory, per In-Reply-To."""
    import email

    found: Counter[str] = Counter()
    for path in sorted(settings.outbox_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes())
        found[str(msg.get("In-Reply-To", "")).strip()] += 1
    return found
