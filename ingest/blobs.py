"""Content-addressed blob store for raw originals and attachments.

Every inbound item is potentially an allmän handling, so the bytes that
arrived are kept exactly as they arrived, named by their sha256. Two tiers:

- files: written to a temporary file, fsync'd, renamed into place and the
  directory fsync'd, so after ``put`` returns the bytes survive a power cut;
- the database ``blob`` table, for raw originals up to ``inline_max_bytes``:
  intake writes them in the same transaction as the intake row (one fsync for
  a whole group commit, never a row without its bytes).

``get`` finds a blob in either tier. Writing the same bytes twice is a no-op,
which makes redelivery harmless.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.store import Store

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Blob files under ``root/ab/<sha256>``, plus the inline tier in the database."""

    def __init__(self, root: Path, store: Store | None = None,
                 inline_max_bytes: int = 256 * 1024) -> None:
        self.root = root
        self.store = store
        self.inline_max_bytes = inline_max_bytes if store is not None else 0

    def path(self, sha256: str) -> Path:
        """Where a blob lives; refuses anything that is not a sha256 (no traversal)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its sha256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        try:
            if target.stat().st_size == len(data):
                return digest
        except FileNotFoundError:
            pass
        new_dir = not target.parent.is_dir()
        if new_dir:
            target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-{digest[:16]}-{threading.get_ident()}-{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        if new_dir:  # the new directory entry must survive a crash too
            _fsync_dir(self.root)
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes from either tier; ``FileNotFoundError`` if unknown."""
        path = self.path(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            data = self.store.get_blob(sha256) if self.store is not None else None
            if data is None:
                raise
            return data

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored (either tier)."""
        if self.path(sha256).exists():
            return True
        return self.store is not None and self.store.get_blob(sha256) is not None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
