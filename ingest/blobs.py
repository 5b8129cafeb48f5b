"""Content-addressed blob store for raw originals and attachments.

Every inbound item is potentially an allmän handling, so the bytes that
arrived are kept exactly as they arrived, named by their sha256. Two tiers:

- files: written to a temporary file, fsync'd, renamed into place and the
  directory fsync'd, so after ``put`` returns the bytes survive a power cut;
- the database ``blob`` table, for raw originals up to ``inline_max_bytes``:
  intake writes them in the same transaction as the intake row (one fsync for
  a whole group commit, never a row without its bytes).

``get`` finds a blob in either tier. Writing the same bytes twice is a no-op,
which makes redelivery harmless. With ``KCS_BLOB_KEYS`` set, both tiers hold
blobs sealed with AES-GCM (``ingest/crypto.py`` says why every blob);
the name stays the sha256 of the plaintext, so deduplication still works.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.crypto import KeyRing, key_id

if TYPE_CHECKING:
    from ingest.store import Store

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Blob files under ``root/ab/<sha256>``, plus the inline tier in the database."""

    def __init__(self, root: Path, store: Store | None = None,
                 inline_max_bytes: int = 256 * 1024, keyring: KeyRing | None = None) -> None:
        self.root = root
        self.store = store
        self.inline_max_bytes = inline_max_bytes if store is not None else 0
        self.keyring = keyring if keyring is not None else KeyRing.from_env()

    def seal(self, data: bytes, digest: str) -> bytes:
        """The bytes to store for ``data`` (sealed when a key is set); for the inline tier."""
        return self.keyring.seal(data, digest)

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
            if target.stat().st_size == self.keyring.sealed_size(len(data)):
                return digest
        except FileNotFoundError:
            pass
        self._write(target, self.keyring.seal(data, digest))
        return digest

    def _write(self, target: Path, data: bytes) -> None:
        digest = target.name
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

    def get(self, sha256: str) -> bytes:
        """The stored bytes from either tier; ``FileNotFoundError`` if unknown."""
        path = self.path(sha256)
        try:
            return self.keyring.open(path.read_bytes(), sha256)
        except FileNotFoundError:
            data = self.store.get_blob(sha256) if self.store is not None else None
            if data is None:
                raise
            return self.keyring.open(data, sha256)

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored (either tier)."""
        if self.path(sha256).exists():
            return True
        return self.store is not None and self.store.get_blob(sha256) is not None


    def delete(self, sha256: str) -> int:
        """Remove a blob from both tiers (erasure, gallring); returns bytes freed."""
        freed = 0
        path = self.path(sha256)
        try:
            freed += path.stat().st_size
            path.unlink()
            _fsync_dir(path.parent)
        except FileNotFoundError:
            pass
        if self.store is not None:
            freed += self.store.delete_blob(sha256)
        return freed

    def files(self) -> Iterator[Path]:
        """Every blob file (for key rotation)."""
        if self.root.is_dir():
            for sub in sorted(self.root.iterdir()):
                if sub.is_dir() and len(sub.name) == 2:
                    yield from (p for p in sorted(sub.iterdir()) if _SHA256.match(p.name))

    def rotate(self) -> dict[str, int]:
        """Re-seal every blob not sealed with the current key (plaintext ones too).

        Reads with any key of the ring, writes with the current one, file by
        file and row by row, so an interrupted rotation is simply run again.
        """
        if not self.keyring.enabled:
            raise ValueError("no current key: set KCS_BLOB_KEYS before rotating")
        counts = {"files": 0, "inline": 0, "unchanged": 0}
        for path in self.files():
            stored = path.read_bytes()
            if key_id(stored) == self.keyring.current:
                counts["unchanged"] += 1
                continue
            self._write(path, self.keyring.seal(self.keyring.open(stored, path.name), path.name))
            counts["files"] += 1
        if self.store is not None:
            for digest, stored in self.store.iter_blobs():
                if key_id(stored) == self.keyring.current:
                    counts["unchanged"] += 1
                    continue
                sealed = self.keyring.seal(self.keyring.open(stored, digest), digest)
                self.store.replace_blob(digest, sealed)
                counts["inline"] += 1
        return counts


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
