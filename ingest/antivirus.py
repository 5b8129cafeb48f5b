"""Virus scanning with ClamAV's ``clamd``: what a message carries is scanned before
any part of it is stored apart or passed on.

The normalise stage hands the raw original and every object it extracted
(attachments, MMS media, a scanned letter's file) to ``Scanner.check``. clamd
reads containers itself (MIME, zip, 7z, rar, cab, tar, OLE2, PDF, RTF, packed
executables), so the raw e-mail is scanned whole as well as each attachment
our own parser found; the two parsers disagreeing is one way malware hides.

Verdicts:

- a signature: the item is quarantined. It becomes ``rejected`` with reason
  ``malware_found`` (the signature in the detail), its raw original kept for
  the record but never passed on, never acknowledged (the sender of malware is
  usually forged), and not downloadable from the staff screens or the blob API;
- a ``Heuristics.*`` alert (an encrypted archive, a file past clamd's limits,
  a phishing link), or an object larger than clamd will read: the item is held
  for registratur review with reason ``virus_scan_inconclusive``;
- clamd unreachable or failing: the stage fails and is retried (fail closed),
  so nothing unscanned goes on and nothing is lost.

The protocol is clamd's documented ``INSTREAM``: a NUL-terminated command, then
chunks each prefixed with their length as a 4-byte big-endian integer, then a
zero-length chunk; the reply is ``stream: OK``, ``stream: <name> FOUND`` or
``<message> ERROR``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.errors import StageError

CHUNK = 64 * 1024
HEURISTIC_PREFIX = "Heuristics."


class VirusScanConfig(BaseModel):
    """``virus_scan`` in ``config/kcs.yaml``: off unless a clamd is configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    # clamd's socket: "unix:/run/clamav/clamd.ctl" (Debian's default) or "host:port".
    clamd: str = "unix:/run/clamav/clamd.ctl"
    timeout_s: float = Field(60.0, gt=0, le=600)
    # Larger objects are not sent (clamd would refuse them): the item goes to review.
    # Keep it at or below clamd's StreamMaxLength.
    max_object_bytes: int = Field(25 * 2**20, ge=1024)
    # What a Heuristics.* alert does: hold for review (a person decides) or quarantine.
    heuristics: Literal["review", "quarantine"] = "review"
    channels: tuple[Literal["email", "sms", "letter", "fax"], ...] = (
        "email", "sms", "letter", "fax")

    @field_validator("clamd")
    @classmethod
    def _address(cls, value: str) -> str:
        if value.startswith("unix:"):
            if not value[5:].startswith("/"):
                raise ValueError("a unix socket needs an absolute path: unix:/run/clamav/clamd.ctl")
            return value
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("write unix:/path/to/clamd.ctl or host:port, e.g. 127.0.0.1:3310")
        return value


class ScannerUnavailable(StageError):
    """clamd could not be asked; the stage is retried (nothing goes on unscanned).

    The message names only the scanner and the failure, never message content,
    so it is safe to keep on a dead letter.
    """


@dataclass(frozen=True)
class Verdict:
    """What the scan of one message found."""

    state: Literal["clean", "infected", "inconclusive"]
    signature: str | None = None
    where: str | None = None  # "raw original" or "attachment 2 (application/zip)"
    objects: int = 0
    bytes: int = 0

    def merge(self, later: Verdict) -> Verdict:
        """One verdict for two scans of the same message (the worse one wins)."""
        rank = {"clean": 0, "inconclusive": 1, "infected": 2}
        worse = later if rank[later.state] > rank[self.state] else self
        return Verdict(worse.state, worse.signature, worse.where,
                       self.objects + later.objects, self.bytes + later.bytes)

    def to_dict(self) -> dict[str, object]:
        """Stored with the normalised message and in the audit log (codes only)."""
        return {"engine": "clamav", "verdict": self.state, "signature": self.signature,
                "where": self.where, "objects": self.objects, "bytes": self.bytes}


class ClamdClient:
    """One short connection per request to a clamd on a unix socket or TCP."""

    def __init__(self, address: str, timeout_s: float = 60.0) -> None:
        self.address = address
        self.timeout_s = timeout_s

    def _connect(self) -> socket.socket:
        try:
            if self.address.startswith("unix:"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout_s)
                sock.connect(self.address[5:])
                return sock
            host, _, port = self.address.rpartition(":")
            return socket.create_connection((host.strip("[]"), int(port)),
                                            timeout=self.timeout_s)
        except OSError as exc:
            raise ScannerUnavailable(
                f"clamd at {self.address} cannot be reached ({type(exc).__name__}: "
                f"{exc.strerror or exc}); start clamd or fix virus_scan.clamd") from None

    def _ask(self, command: bytes, payload: Iterable[bytes] = ()) -> str:
        sock = self._connect()
        try:
            sock.sendall(b"z" + command + b"\0")
            for chunk in payload:
                sock.sendall(chunk)
            reply = bytearray()
            while not reply.endswith(b"\0"):
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except OSError as exc:
            raise ScannerUnavailable(
                f"clamd at {self.address} dropped the request ({type(exc).__name__})") from None
        finally:
            sock.close()
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        """True when clamd answers PONG."""
        return self._ask(b"PING") == "PONG"

    def version(self) -> str:
        """Engine and signature database version, e.g. ``ClamAV 1.4.6/27000/…``."""
        return self._ask(b"VERSION")

    def instream(self, data: bytes) -> str:
        """clamd's reply for one object sent as a stream."""
        def chunks() -> Iterable[bytes]:
            view = memoryview(data)
            for start in range(0, len(data), CHUNK):
                part = view[start:start + CHUNK]
                yield struct.pack("!L", len(part)) + bytes(part)
            yield struct.pack("!L", 0)

        return self._ask(b"INSTREAM", chunks())


def parse_reply(reply: str) -> tuple[Literal["ok", "found", "limit", "error"], str]:
    """(kind, signature or error text) from an INSTREAM reply."""
    text = reply.removeprefix("stream:").strip()
    if text == "OK":
        return "ok", ""
    if text.endswith(" FOUND"):
        return "found", text.removesuffix(" FOUND").strip()
    if "size limit exceeded" in text.lower():
        return "limit", text.removesuffix(" ERROR").strip()
    return "error", text.removesuffix(" ERROR").strip()


@dataclass(frozen=True)
class ScanObject:
    """One thing to scan: its bytes and how staff would recognise it."""

    label: str
    sha256: str
    data: bytes


def extracted_objects(attachments: Iterable[tuple[str, str]],
                      extracted: dict[str, bytes]) -> list[ScanObject]:
    """Every object a normaliser extracted (sha256 → bytes), labelled by attachment
    number and type where the message lists it (``attachments``: (sha256, type))."""
    labels = {sha: f"attachment {i} ({ctype})" for i, (sha, ctype) in enumerate(attachments, 1)}
    return [ScanObject(labels.get(sha, "extracted object"), sha, data)
            for sha, data in extracted.items()]


class Scanner:
    """Applies ``VirusScanConfig`` to the objects of one message."""

    def __init__(self, config: VirusScanConfig, client: ClamdClient | None = None) -> None:
        self.config = config
        self.client = client or ClamdClient(config.clamd, config.timeout_s)

    def applies_to(self, channel: str) -> bool:
        """Whether items of this channel are scanned."""
        return self.config.enabled and channel in self.config.channels

    def check(self, objects: Iterable[ScanObject], skip: Iterable[str] = ()) -> Verdict:
        """Scan until the first finding; the verdict of the whole message. Objects whose
        sha256 is in ``skip`` were scanned already (the raw original, when a normaliser
        hands it back as the letter's file)."""
        count = total = 0
        seen = set(skip)
        doubt: tuple[str, str] | None = None  # (why, where) of the first inconclusive
        for obj in objects:
            if obj.sha256 in seen or not obj.data:
                continue
            seen.add(obj.sha256)
            count += 1
            total += len(obj.data)
            if len(obj.data) > self.config.max_object_bytes:
                doubt = doubt or (f"not scanned: {len(obj.data)} bytes is more than "
                                  "virus_scan.max_object_bytes", obj.label)
                continue
            kind, text = parse_reply(self.client.instream(obj.data))
            if kind == "error":
                raise ScannerUnavailable(f"clamd at {self.client.address} failed: {text[:200]}")
            if kind == "limit":
                doubt = doubt or (f"clamd refused the size: {text[:200]}", obj.label)
            elif kind == "found":
                if text.startswith(HEURISTIC_PREFIX) and self.config.heuristics == "review":
                    doubt = doubt or (text, obj.label)
                else:
                    return Verdict("infected", text, obj.label, count, total)
        if doubt is not None:
            return Verdict("inconclusive", doubt[0], doubt[1], count, total)
        return Verdict("clean", None, None, count, total)


def readiness(config: VirusScanConfig, timeout_s: float = 2.0
              ) -> tuple[Literal["off", "ok", "error"], str]:
    """Whether scanning can happen now, and what clamd says about itself (its engine
    and database version) or why it cannot be asked; for /health and check-config."""
    if not config.enabled:
        return "off", "virus_scan.enabled is false in kcs.yaml"
    try:
        return "ok", ClamdClient(config.clamd, timeout_s).version()
    except ScannerUnavailable as exc:
        return "error", str(exc)
