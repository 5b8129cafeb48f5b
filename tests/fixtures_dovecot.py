"""pytest plugin: a private Dovecot IMAP server on loopback, for IMAP channel tests.

Tests of the IMAP puller talk to a real server over a real socket (STYLE §6):
a mocked IMAP library would agree with whatever our code assumes about
UIDVALIDITY, IDLE and MOVE, which is exactly what has to be checked.

All state (config, mail, logs, pid files) lives in one temp directory, so runs
never touch ``/etc/dovecot`` and parallel sessions on one machine do not meet.
Dovecot is started once per session (as root: it drops to the dovecot and
dovenull users); tests isolate themselves by using their own folders. If the
binary is missing or we are not root, the tests skip locally and fail in CI.

Register from ``tests/conftest.py`` with ``pytest_plugins = ["fixtures_dovecot"]``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from imapclient import IMAPClient

DEBIAN_PACKAGES = "dovecot-imapd dovecot-core"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = kcs-test-{port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
first_valid_uid = 100
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%n
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def _free_port() -> int:
    """A port nobody listens on now; Dovecot binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find_binary() -> str | None:
    # /usr/sbin is not on every PATH (non-login shells, CI runners).
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


@dataclass
class DovecotServer:
    """A running private Dovecot and the one mail user the tests log in as."""

    binary: str
    root: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "registrator"
    password: str = field(default="hemligt", repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def config_path(self) -> Path:
        """The generated dovecot.conf."""
        return self.root / "dovecot.conf"

    @property
    def pid_path(self) -> Path:
        """Written by the master process; removed when it has fully exited."""
        return self.root / "run" / "master.pid"

    def log_tail(self, lines: int = 30) -> str:
        """The end of Dovecot's own log, for failure messages."""
        path = self.root / "dovecot.log"
        if not path.exists():
            return "(no dovecot.log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def write_config(self) -> None:
        """Lay out the state directory: config, users file, mail home."""
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(exist_ok=True)
        # Login and internal processes refuse to run as root; mail belongs to dovecot.
        shutil.chown(self.root / "mail", "dovecot", "dovecot")
        self.config_path.write_text(_CONFIG.format(root=self.root, port=self.port))
        users = self.root / "users"
        users.write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        users.chmod(0o644)
        # Dovecot's unprivileged processes must be able to walk into the tree.
        self.root.chmod(0o755)

    def start(self) -> None:
        """Start the master and wait until the IMAP port accepts connections.

        The master runs in the foreground (``-F``) as our child in its own process
        group, so ``stop`` can end it together with every imap process it forked,
        as systemd does on a restart, and no zombie master is left behind.
        """
        with open(self.root / "dovecot.stderr", "ab") as err:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = (self.root / "dovecot.stderr").read_text(errors="replace")
                raise RuntimeError(f"Dovecot exited with {self._process.returncode}:\n"
                                   f"{stderr}\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Dovecot did not listen on port {self.port}:\n{self.log_tail()}")

    def _group_processes(self) -> Iterator[tuple[int, str]]:
        """(pid, title) of every live, non-zombie process in Dovecot's process group."""
        if self._process is None:
            return
        pgid = self._process.pid
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == pgid and state != "Z":
                yield int(entry.name), title

    def _group_alive(self) -> bool:
        return any(True for _ in self._group_processes())

    def drop_connections(self) -> int:
        """SIGKILL every imap session process: clients see EOF without a BYE, as on
        a network cut or a crashed backend. Returns how many were killed."""
        killed = 0
        for pid, title in list(self._group_processes()):
            if title.endswith("/imap"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        return killed

    def _signal_group(self, signum: int) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signum)

    def stop(self) -> None:
        """Stop master and clients, wait for ``master.pid`` to vanish (restart needs it gone)."""
        if self._process is None:
            return
        # The whole group, as systemd does: imap processes outlive a master killed
        # alone and would keep client connections open across a "restart".
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while (self._group_alive() or self.pid_path.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=STOP_TIMEOUT_S)
        self.pid_path.unlink(missing_ok=True)
        self._process = None

    def restart(self) -> None:
        """Stop, wait until fully gone, start again: every client loses its connection."""
        self.stop()
        self.start()

    def client(self) -> IMAPClient:
        """A new logged-in client; the caller logs out (use it as a context manager)."""
        imap = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def append(self, folder: str, raw: bytes, flags: Sequence[bytes | str] = ()) -> int | None:
        """APPEND a message as a mail client would (creating the folder); returns its UID."""
        with self.client() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            response = imap.append(folder, raw, flags=tuple(flags))
        match = _APPENDUID.search(response if isinstance(response, bytes) else b"")
        return int(match.group(1)) if match else None


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A private Dovecot for the session; stopped at teardown whatever happened."""
    binary = _find_binary()
    if binary is None:
        message = (f"dovecot binary not found; install the Debian packages {DEBIAN_PACKAGES} "
                   f"(apt-get install -y {DEBIAN_PACKAGES})")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        message = ("the private Dovecot must start as root (it drops to the dovecot and "
                   "dovenull users); run the tests as root, as make test does")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="kcs-dovecot-"))
    server = DovecotServer(binary=binary, root=root, port=_free_port())
    try:
        server.write_config()
        try:
            server.start()
        except RuntimeError as exc:  # carries Dovecot's stderr and log tail
            pytest.fail(f"private dovecot failed to start (KCS_KEEP_DOVECOT=1 keeps {root}): "
                        f"{exc}")
        yield server
    finally:
        server.stop()
        if not os.environ.get("KCS_KEEP_DOVECOT"):
            shutil.rmtree(root, ignore_errors=True)
