"""Encryption at rest for raw originals and attachments (AES-256-GCM).

Keys come from the environment, never from config files:

    KCS_BLOB_KEYS="k2:<base64 32 bytes>,k1:<base64 32 bytes>"

The first key is the current one (new blobs are sealed with it); the others
are kept only to read blobs sealed before a rotation. ``kcs keys rotate``
re-seals everything with the current key, after which old keys can be
removed. ``kcs keys new ID`` prints a fresh key.

Why every blob and not only secret ones: whether an item is secret is known
only after classification, minutes after its raw original was written; and
overwriting a plaintext file later does not erase it from the disk's free
blocks, journal or backups. So when a key is set, every blob is sealed at
its first write. AES-GCM costs well under a millisecond per message. Without
a key (``make run`` on embedded defaults) blobs are stored as they are and
the start-up log says so.

A sealed blob is ``MAGIC | len(key id) | key id | 12-byte nonce | ciphertext+tag``;
the blob's sha256 (its name) is the associated data, so a sealed file moved
under another name does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ingest.errors import KcsError

MAGIC = b"KCSENC1\x00"
NONCE_BYTES = 12
TAG_BYTES = 16
ENV = "KCS_BLOB_KEYS"


class BlobKeyError(KcsError):
    """A key is missing or wrong: the blob cannot be read (or the env is malformed)."""


@dataclass(frozen=True)
class KeyRing:
    """The current key (for writing) and older keys (for reading), by key id."""

    keys: Mapping[str, bytes] = field(default_factory=dict)
    current: str | None = None

    @classmethod
    def parse(cls, spec: str | None) -> KeyRing:
        """``id:base64,id:base64``; the first is current. Empty: no encryption."""
        keys: dict[str, bytes] = {}
        current = None
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            if not sep or not kid or len(kid.encode()) > 255:
                raise BlobKeyError(f"{ENV}: write id:base64key,... (bad entry for {kid[:20]!r})")
            try:
                key = base64.b64decode(b64, validate=True)
            except binascii.Error:
                raise BlobKeyError(f"{ENV}: key {kid!r} is not base64") from None
            if len(key) != 32:
                raise BlobKeyError(f"{ENV}: key {kid!r} must be 32 bytes (AES-256), got {len(key)}")
            keys[kid] = key
            current = current or kid
        return cls(keys, current)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyRing:
        """The key ring the environment describes."""
        return cls.parse((os.environ if env is None else env).get(ENV))

    @property
    def enabled(self) -> bool:
        """Whether new blobs are sealed."""
        return self.current is not None

    def seal(self, data: bytes, name: str) -> bytes:
        """Encrypt with the current key (``data`` unchanged when no key is set)."""
        if self.current is None:
            return data
        kid = self.current.encode()
        nonce = os.urandom(NONCE_BYTES)
        body = AESGCM(self.keys[self.current]).encrypt(nonce, data, name.encode())
        return MAGIC + bytes([len(kid)]) + kid + nonce + body

    def open(self, stored: bytes, name: str) -> bytes:
        """Decrypt a sealed blob; a plaintext one (written without a key) as it is."""
        kid = key_id(stored)
        if kid is None:
            return stored
        key = self.keys.get(kid)
        if key is None:
            raise BlobKeyError(f"blob {name[:12]}… is sealed with key {kid!r}, which is not in "
                            f"{ENV}; add it (rotation keeps old keys until `kcs keys rotate`)")
        start = len(MAGIC) + 1 + len(kid.encode())
        nonce = stored[start:start + NONCE_BYTES]
        try:
            return AESGCM(key).decrypt(nonce, stored[start + NONCE_BYTES:], name.encode())
        except InvalidTag:
            raise BlobKeyError(f"blob {name[:12]}… does not decrypt with key {kid!r}") from None

    def sealed_size(self, size: int) -> int:
        """Bytes on disk for ``size`` plaintext bytes under the current key."""
        if self.current is None:
            return size
        return len(MAGIC) + 1 + len(self.current.encode()) + NONCE_BYTES + size + TAG_BYTES


def key_id(stored: bytes) -> str | None:
    """The key id a stored blob is sealed with, or None for plaintext."""
    if not stored.startswith(MAGIC) or len(stored) < len(MAGIC) + 1:
        return None
    n = stored[len(MAGIC)]
    return stored[len(MAGIC) + 1:len(MAGIC) + 1 + n].decode("utf-8", "replace")


def new_key_spec(kid: str) -> str:
    """A fresh ``id:base64`` entry for ``KCS_BLOB_KEYS``."""
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"
