"""Fixtures for fault-injection tests: the product as separate processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fault_support import Processes
from tests_support import free_port

from ingest.config import Settings


@pytest.fixture
def product(tmp_path: Path, trained_classifier) -> Iterator[Callable[[Settings], Processes]]:
    """``product(settings)``: a process set on those settings, all stopped after the test.

    ``trained_classifier`` makes sure the model the workers load exists first.
    """
    started: list[Processes] = []

    def make(settings: Settings) -> Processes:
        procs = Processes(settings, tmp_path / f"logs{len(started)}")
        started.append(procs)
        return procs

    yield make
    for procs in started:
        procs.stop_all()


@dataclass
class RabbitNode:
    """A private RabbitMQ node: own node name, ports, epmd, data and logs in a temp dir.

    The machine's own rabbitmq-server (standard ports, epmd on 4369) is never
    touched: the node gets its own ``RABBITMQ_NODENAME``, AMQP port,
    distribution port and an epmd of its own on a free port (``ERL_EPMD_PORT``).
    Debian's ``rabbitmq-server`` wrapper drops root to the rabbitmq user, so the
    directory belongs to that user.
    """

    root: Path
    port: int
    dist_port: int
    epmd_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The AMQP URL (guest is allowed because loopback_users = none on this node)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        """The environment that makes rabbitmq-server and epmd private."""
        return {**os.environ, "HOME": str(self.root),
                "RABBITMQ_NODENAME": f"kcstest{self.port}@localhost",
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port), "ERL_EPMD_PORT": str(self.epmd_port),
                "ERL_EPMD_ADDRESS": "127.0.0.1", "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.root / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid")}

    def start(self) -> None:
        """Start and wait (up to 90 s: Erlang boots slowly on a busy machine)."""
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "rabbitmq", "rabbitmq")
            for path in self.root.iterdir():
                shutil.chown(path, "rabbitmq", "rabbitmq")
        with open(self.root / "server.out", "ab") as out:
            self.process = subprocess.Popen([self.binary()], env=self.env(), cwd=self.root,
                                            stdout=out, stderr=out, start_new_session=True)
        import pika

        deadline = time.monotonic() + 90
        while True:
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return
            except pika.exceptions.AMQPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "server.out").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"private RabbitMQ did not start:\n{tail}") from None
                time.sleep(0.5)

    @staticmethod
    def binary() -> str:
        """rabbitmq-server (Debian puts it in /usr/sbin)."""
        found = shutil.which("rabbitmq-server", path="/usr/sbin:/usr/lib/rabbitmq/bin:"
                             + os.environ.get("PATH", ""))
        if found is None:
            message = "rabbitmq-server not found: install the Debian package rabbitmq-server"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return found

    def stop(self) -> None:
        """Stop the node (its beam process by pid file), then its private epmd."""
        pid_file = self.root / "rabbit.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        subprocess.run([epmd, "-kill"], env=self.env(), check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def drain(self, queue: str) -> list[dict[str, Any]]:
        """Take every message off ``queue`` (Dramatiq JSON), leaving it empty."""
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            channel = conn.channel()
            out = []
            while True:
                method, _props, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return out
                out.append(json.loads(body))
        finally:
            conn.close()


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitNode]:
    """A private RabbitMQ node for the session."""
    root = Path(tempfile.mkdtemp(prefix="kcs-rabbitmq-"))
    root.chmod(0o755)
    node = RabbitNode(root, free_port(), free_port(), free_port())
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
