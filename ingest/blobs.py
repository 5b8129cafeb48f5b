"""Content-addressed blob store for raw originals and attachments.

Every inbound item is potentially an allmän handling, so the bytes that
arrived are kept exactly as they arrived. A blob is written to a temporary
file, fsync'd, renamed into place and the directory fsync'd: after ``put``
returns, the bytes survive a power cut. Writing the same bytes twice is a
no-op, which makes redelivery harmless.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Blobs under ``root/ab/cd/<sha256>``; the name is the content's sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where a blob lives; refuses anything that is not a sha256 (no traversal)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its sha256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        new_dir = not target.parent.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        if new_dir:  # the new directory entries must survive a crash too
            _fsync_dir(target.parent.parent)
            _fsync_dir(self.root)
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes; ``FileNotFoundError`` if unknown."""
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored."""
        return self.path(sha256).exists()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
