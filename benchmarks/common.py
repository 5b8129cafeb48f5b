"""Shared pieces of the benchmarks: private servers, process RSS, percentiles."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    """Block until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, MiB; children not included."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants (dramatiq forks worker processes)."""
    out = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            out += tree_pids(int(child))
    return out


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]


class PrivateRedis:
    """A throwaway redis-server for one benchmark."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kcs-bench-redis-"))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port",
             str(self.port), "--dir", str(self.dir), "--save", "", "--appendonly", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    @property
    def url(self) -> str:
        """Client URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain client."""
        return redis.Redis.from_url(self.url)

    def close(self) -> None:
        """Stop and remove."""
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


MODEL_DIR = REPO / ".cache" / "models"


def kcs_env(var: Path, config: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for a kcs child process on private state.

    The classifier model is shared (``.cache/models``, the tests' copy) and trained
    here once if missing, so no benchmark clock ever includes training.
    """
    _trained(config)
    return {**os.environ, "KCS_VAR_DIR": str(var), "KCS_CONFIG_DIR": str(config),
            "REDIS_URL": redis_url, "KCS_MODEL_DIR": str(MODEL_DIR), **extra}


@functools.cache
def _trained(config: Path) -> None:
    from classifier import Classifier

    Classifier.load_or_train(MODEL_DIR, config, REPO / "corpus")


def finished(store: object) -> int:
    """Items in ``store`` that are done, rejected or dead."""
    counts = store.count_by_state()  # type: ignore[attr-defined]
    return sum(v for (_, state), v in counts.items() if state in {"done", "rejected", "dead"})


def wait_until_done(store: object, ids: list[str], timeout: float) -> None:
    """Poll a fresh store until as many items as ``ids`` are finished."""
    deadline = time.monotonic() + timeout
    while (done := finished(store)) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done}/{len(ids)} finished after {timeout:.0f} s")
        time.sleep(0.1)


def config_copy(target: Path, replacements: dict[str, str]) -> Path:
    """A copy of config/ with lines of kcs.yaml replaced (each must be there)."""
    shutil.copytree(REPO / "config", target)
    text = (target / "kcs.yaml").read_text()
    for old, new in replacements.items():
        if old not in text:
            raise ValueError(f"config/kcs.yaml has no {old!r} to replace")
        text = text.replace(old, new)
    (target / "kcs.yaml").write_text(text)
    return target


def config_with_ports(target: Path, smtp_port: int, web_port: int) -> Path:
    """A copy of config/ with the listening ports moved."""
    return config_copy(target, {"  port: 2525": f"  port: {smtp_port}",
                                "  port: 8025": f"  port: {web_port}"})


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used so far (its threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_memory_broker() -> object:
    """Dramatiq's StubBroker, declaring a queue when first sent to (as Redis does)."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    class AutoStub(StubBroker):
        def enqueue(self, message, *, delay=None):  # type: ignore[no-untyped-def]
            if message.queue_name not in self.queues:
                self.declare_queue(message.queue_name)
            return super().enqueue(message, delay=delay)

    broker = AutoStub()
    dramatiq.set_broker(broker)
    return broker


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port."""

    def __init__(self) -> None:
        bindir = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1]).parent
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="kcs-bench-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        subprocess.run([*self.as_user, str(bindir / "initdb"), "-D", str(self.dir / "data"),
                        "-A", "trust", "-U", "kcs"], check=True, stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*self.as_user, str(bindir / "postgres"), "-D", str(self.dir / "data"), "-p",
             str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             "-c", "maintenance_work_mem=512MB", "-c", "shared_buffers=512MB"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def url(self, db: str) -> str:
        """URL of database ``db`` as the cluster's superuser ``kcs``."""
        return f"postgresql://kcs@127.0.0.1:{self.port}/{db}"

    def create(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        """Stop the server and remove its files."""
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "stop", "-D",
                        str(self.dir / "data"), "-m", "fast", "-w"], check=False,
                       stdout=subprocess.DEVNULL)
        self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)
