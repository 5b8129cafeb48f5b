"""``kcs run``: the whole product on one machine, from embedded defaults.

Starts a private ``redis-server`` (AOF on, data in ``var/redis``) unless
``REDIS_URL`` is set, migrates the database, then runs the parts as child
processes (SMTP, relay, worker, web, and IMAP when accounts are configured),
restarting any that dies. Ctrl-C stops them in reverse order, then Redis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from ingest.app import Runtime
from ingest.classify import load_classifier
from ingest.logs import get_logger

log = get_logger("supervisor")


def free_port() -> int:
    """A port that was free a moment ago on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateRedis:
    """A redis-server owned by ``kcs run``, persisted with AOF under ``var/redis``."""

    data_dir: Path
    run_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Reuse a running private server or start one; returns its URL."""
        url_file, pid_file = self.run_dir / "redis.url", self.run_dir / "redis.pid"
        if url_file.exists() and pid_file.exists():
            try:
                redis.Redis.from_url(url_file.read_text().strip(), socket_timeout=1).ping()
                log.info("redis.reused", url=url_file.read_text().strip())
                return url_file.read_text().strip()
            except redis.RedisError:
                pass
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: run `make run` (it installs "
                             "Debian's redis-server as root) or set REDIS_URL")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
             str(self.data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", "", "--protected-mode", "yes", "--logfile", str(self.data_dir / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        else:
            raise SystemExit(f"redis-server did not start; see {self.data_dir / 'log'}")
        url_file.write_text(self.url)
        pid_file.write_text(str(self.process.pid))
        log.info("redis.started", url=self.url)
        return self.url

    def stop(self) -> None:
        """Shut the server down (AOF is flushed by SHUTDOWN)."""
        if self.process is None:
            return
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url, socket_timeout=2).shutdown(nosave=False)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for name in ("redis.url", "redis.pid"):
            (self.run_dir / name).unlink(missing_ok=True)


@dataclass
class Child:
    """A supervised part of the product."""

    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)

    def start(self, env: dict[str, str]) -> None:
        """Start (or restart) the process."""
        self.process = subprocess.Popen([sys.executable, "-m", "ingest.cli", *self.args],
                                        env=env)
        self.started_at = time.monotonic()


def run_all() -> None:
    """Start everything and supervise it until SIGINT/SIGTERM."""
    rt = Runtime.build()  # validates config and migrates before anything listens
    settings = rt.settings
    print("Preparing the classifier (the first start trains it, about 20 s) …",
          file=sys.stderr, flush=True)
    load_classifier(settings)  # trained once here, so workers only load it
    env = dict(os.environ)
    env["KCS_VAR_DIR"] = str(settings.var_dir)
    env["KCS_CONFIG_DIR"] = str(settings.config_dir)
    private = None
    if not settings.redis_url:
        private = PrivateRedis(settings.var_dir / "redis", settings.run_dir)
        env["REDIS_URL"] = private.start()
    # One single-threaded worker process per core (ingest.cli.default_worker_threads),
    # two at most here: the embedded setup is one box, and each process holds a model.
    workers = str(min(2, os.cpu_count() or 1))
    children = [Child("worker", ["worker", "--processes", workers]), Child("relay", ["relay"]),
                Child("smtp", ["smtp"]), Child("web", ["web"])]
    if settings.kcs.imap.accounts:
        children.append(Child("imap", ["imap"]))
    if settings.kcs.scan.watch_dir:
        children.append(Child("scan-watch", ["scan-watch"]))
    if settings.kcs.governance.retention.enabled:  # gallring on its schedule
        children.append(Child("retention", ["retention", "run", "--loop"]))
    if not rt.blobs.keyring.enabled:
        log.warning("blobs.not_encrypted", hint="set KCS_BLOB_KEYS (kcs keys new k1) to "
                    "encrypt raw originals and attachments at rest")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.start(env)
    smtp, web = settings.kcs.smtp, settings.kcs.web
    print(f"KCS intake is running: SMTP {smtp.host}:{smtp.port}, web http://{web.host}:{web.port}/"
          f", data in {settings.var_dir}. Ctrl-C stops.", file=sys.stderr, flush=True)
    try:
        while not stopping:
            for child in children:
                if child.process and child.process.poll() is not None and not stopping:
                    delay = min(30.0, 2.0 ** min(child.restarts, 5))
                    log.warning("supervisor.child_exited", child=child.name,
                                code=child.process.returncode, restart_in_s=delay)
                    time.sleep(delay if time.monotonic() - child.started_at < 60 else 0)
                    child.restarts += 1
                    child.start(env)
            time.sleep(0.5)
    finally:
        for child in reversed(children):
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(children):
            if child.process:
                try:
                    child.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.process.kill()
        if private is not None:
            private.stop()
