"""Shared fixtures: private real servers on loopback, never the machine's shared ones.

Redis and PostgreSQL are started per test session under a temp directory on
free ports, so tests neither depend on nor disturb services already running.
A missing server binary skips locally and fails under CI (``CI`` set).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import tests_support
from hostile_support import ClamdServer
from tests_support import free_port

from ingest.config import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"

pytest_plugins = ["fixtures_dovecot"]

# One trained classifier for every test and every `kcs run` the tests start:
# the model file is keyed by a fingerprint of config and corpus, so a stale
# one is retrained, never used.
os.environ.setdefault("KCS_MODEL_DIR", str(CACHE / "models"))


def require_binary(name: str, package: str) -> str:
    """Path of a server binary; fail in CI, skip locally, naming the Debian package."""
    path = shutil.which(name) or next(
        (str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")), None)
    if path:
        return path
    message = f"{name} not found: install the Debian package {package} (make test does, as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class RedisServer:
    """A private redis-server; tests may stop and start it to simulate outages."""

    binary: str
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
             str(self.directory), "--save", "", "--appendonly", "yes", "--appendfsync",
             "always", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("private redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop it (data survives in its AOF)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        """A plain client."""
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private Redis for the whole session."""
    server = RedisServer(require_binary("redis-server", "redis-server"),
                         tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The private Redis, emptied before each test."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis_server.client().flushall()
    yield redis_server.url


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings on a private var dir; keyword overrides for env values."""

    def make(**env: str) -> Settings:
        base = {"KCS_VAR_DIR": str(tmp_path / "var"), "KCS_CONFIG_DIR": str(REPO / "config")}
        base.update(env)
        return load_settings(base)

    return make


@pytest.fixture
def settings(make_settings, redis_url: str) -> Settings:
    """Default settings: SQLite in a temp dir, the private Redis."""
    return make_settings(REDIS_URL=redis_url)


@pytest.fixture(scope="session")
def trained_classifier():
    """The product's classifier, trained once per model fingerprint (cached in .cache)."""
    return tests_support.trained_classifier()


@dataclass
class PostgresServer:
    """A private PostgreSQL cluster in a temp dir (initdb + postgres on a free port)."""

    bindir: Path
    directory: Path
    port: int
    as_user: list[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Superuser URL of the default database."""
        return f"postgresql://kcs@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [*self.as_user, str(self.bindir / "postgres"), "-D", str(self.directory / "data"),
             "-p", str(self.port), "-k", str(self.directory), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=on"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("private postgres did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Fast shutdown."""
        if self.process and self.process.poll() is None:
            subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "stop", "-D",
                            str(self.directory / "data"), "-m", "fast", "-w"],
                           check=False, stdout=subprocess.DEVNULL)
            self.process.wait(timeout=30)

    def create_database(self, name: str) -> str:
        """A fresh database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A private PostgreSQL for the session (never the machine's shared one)."""
    initdb = Path(require_binary("initdb", "postgresql"))
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="kcs-test-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, "postgres")
    directory.chmod(0o700)
    subprocess.run([*as_user, str(initdb), "-D", str(directory / "data"), "-A", "trust", "-U",
                    "kcs", "-E", "UTF8", "--no-instructions"], check=True,
                   stdout=subprocess.DEVNULL)
    server = PostgresServer(initdb.parent, directory, free_port(), as_user)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdServer]:
    """A private clamd on a free loopback port (``hostile_support.ClamdServer``)."""
    server = ClamdServer.create(require_binary("clamd", "clamav-daemon"),
                                tmp_path_factory.mktemp("clamd"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clamd(clamd_server: ClamdServer) -> ClamdServer:
    """The private clamd, running (a test may have stopped it)."""
    if clamd_server.process is None or clamd_server.process.poll() is not None:
        clamd_server.start()
    return clamd_server


@pytest.fixture
def web_server():
    """Serve ``create_app(runtime)`` with uvicorn in a thread on loopback; stopped after.

    ``start(runtime, port=None) -> base URL``; a free port unless one is given.
    """
    import threading

    import uvicorn

    from ingest.web import create_app

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(runtime: object, port: int | None = None) -> str:
        port = port or free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1",
                                               port=port, log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "web app did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(5)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Everything the product logs during the test, as JSON lines (for privacy checks)."""
    from ingest.logs import configure

    buf = io.StringIO()
    configure(level="DEBUG", process="test", stream=buf, force=True)
    yield buf
    configure(level="WARNING", process="test", force=True)
