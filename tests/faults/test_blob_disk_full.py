"""The blob disk fills up: SMTP says 452 (try later) and never loses accepted mail."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_support import assert_exactly_once, deliver, mail, send_once

from ingest.app import Runtime

DISK_BYTES = 4 * 1024 * 1024


@contextlib.contextmanager
def small_disk(path: Path) -> Iterator[Path]:
    """A 4 MiB file system at ``path``: tmpfs as root, else a loop-mounted file."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        message = "mounting a small file system needs root (make test runs as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0755", "tmpfs",
                    str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write a filler file until the file system is full."""
    filler = path / "filler"
    with open(filler, "wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    return filler


@pytest.mark.slow
def test_full_blob_disk_answers_452_and_accepted_mail_survives(settings, product) -> None:
    """GIVEN blob files on a small disk WHEN it is full THEN large mail gets 452
    (small mail, stored in the database, still gets 250) AND when space is freed
    the sender's retry is accepted; everything accepted is published exactly once."""
    rt = Runtime.build(settings)
    with small_disk(settings.blob_dir):
        parts = product(settings)
        port = parts.smtp()
        parts.start("worker", "worker", "--threads", "2")
        parts.start("relay", "relay")
        big = [mail("disk", n, padding=400_000) for n in range(6)]  # > inline limit: files
        first = deliver(port, big[:2])
        assert all(d.replies == [250] for d in first)

        filler = fill(settings.blob_dir)
        assert shutil.disk_usage(settings.blob_dir).free < 400_000
        refused = [send_once(port, raw) for raw in big[2:]]
        assert [code for code, _ in refused] == [452] * 4, refused
        small = deliver(port, [mail("disk-small", n) for n in range(3)])
        assert all(d.replies == [250] for d in small)

        filler.unlink()
        retried = deliver(port, big[2:])
        assert all(d.replies == [250] for d in retried)
        accepted = [d.intake_id for d in first + small + retried]
        assert len(set(accepted)) == 9
        assert_exactly_once(settings, rt.store, accepted, timeout=180)
        leftovers = [p.name for p in settings.blob_dir.rglob(".tmp-*")]
        assert leftovers == []
        parts.stop_all()
