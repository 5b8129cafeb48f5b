"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
CORPORA = CACHE / "corpora"


@functools.cache
def trained_classifier() -> object:
    """The product's classifier, trained once per model fingerprint (cached in .cache).

    ``kcs run`` trains one itself when none is stored; doing it here first keeps
    that minute out of the start-up a test waits for.
    """
    from ingest.classify import load_classifier
    from ingest.config import load_settings

    return load_classifier(load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                                          "KCS_VAR_DIR": str(CACHE / "var")}))


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is truthy; connection errors count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class KcsRun:
    """A running `kcs run` on private state and free ports."""

    proc: subprocess.Popen[bytes]
    smtp_port: int
    web_port: int
    var: Path

    @property
    def base_url(self) -> str:
        """Where the web app answers."""
        return f"http://127.0.0.1:{self.web_port}"


@contextmanager
def kcs_run(tmp_path: Path, drop_env: tuple[str, ...] = (), **env: str) -> Iterator[KcsRun]:
    """`kcs run` as a user starts it, with only the ports moved off the fixed ones.

    REDIS_URL and DATABASE_URL are removed so that it uses its embedded
    defaults (a private redis-server, SQLite in the var dir).
    """
    trained_classifier()
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    smtp_port, web_port = free_port(), free_port()
    text = (config / "kcs.yaml").read_text()
    (config / "kcs.yaml").write_text(text.replace("  port: 2525", f"  port: {smtp_port}")
                                     .replace("  port: 8025", f"  port: {web_port}"))
    dropped = {"REDIS_URL", "DATABASE_URL", *drop_env}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    full_env.update(KCS_CONFIG_DIR=str(config), KCS_VAR_DIR=str(tmp_path / "var"), **env)
    proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "run"], cwd=tmp_path,
                            env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = KcsRun(proc, smtp_port, web_port, tmp_path / "var")
    try:
        wait_until(lambda: urllib.request.urlopen(f"{run.base_url}/health",
                                                  timeout=1).status == 200, 180, "web health")
        yield run
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def sdist(project: str, version: str) -> Path:
    """Download an sdist from PyPI once into ``.cache/corpora`` and unpack it; returns the
    unpacked directory (test corpora shipped in other projects' source distributions)."""
    CORPORA.mkdir(parents=True, exist_ok=True)
    stem = f"{project.replace('-', '_')}-{version}"
    for candidate in (CORPORA / stem, CORPORA / f"{project}-{version}"):
        if candidate.is_dir():
            return candidate
    with tempfile.TemporaryDirectory(dir=CORPORA) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--disable-pip-version-check", "-q", f"{project}=={version}", "-d", tmp],
            check=True, timeout=600, env={**os.environ, "PIP_NO_INPUT": "1"},
        )
        tarballs = list(Path(tmp).glob("*.tar.gz"))
        assert len(tarballs) == 1, f"expected one sdist for {project}=={version}, got {tarballs}"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(tmp, filter="data")
        unpacked = [p for p in Path(tmp).iterdir() if p.is_dir()]
        assert len(unpacked) == 1, unpacked
        target = CORPORA / unpacked[0].name
        if not target.exists():  # another worker may have won the race
            shutil.move(str(unpacked[0]), target)
        return target


def pdf_file(objects: list[bytes], trailer_extra: bytes = b"", version: bytes = b"1.4") -> bytes:
    """Numbered objects, a cross-reference table and a trailer: a PDF file written by hand,
    so tests can build exactly the (broken, hostile or minimal) PDF they need."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, trailer_extra, xref))
    return bytes(out)
