"""Hostile input: the corpora, the fuzz properties, and one outcome per input.

Shared by the tests in ``tests/hostile/`` and by ``benchmarks/hostile_report.py``
(which writes docs/hostile-input.md), so the report counts exactly what the
tests check. An input may be normalised, or rejected with a reason code; any
other exception is a crash, and crashes must be 0. An attachment the OCR cannot
read well enough holds the item for registratur review, with its reason code.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests_support import sdist

from channels.scan import fields
from dedupe.arende_number import FINDER, check_char, find_numbers
from ingest.config import Settings
from ingest.errors import InputRejected, NeedsReview
from ingest.model import Channel, ChannelMeta
from ingest.normalisers import normalise

SPAMASSASSIN = Path("/usr/share/doc/spamassassin/examples")
CLAMAV_TESTFILES = Path("/usr/share/clamav-testfiles")
# ClamAV's own test signature database (provenance in tests/hostile/clamav/README.md).
CLAMAV_TEST_DB = Path(__file__).resolve().parent / "hostile" / "clamav" / "clamav.hdb"


def require_dir(path: Path, package: str) -> Path:
    """A corpus directory from a Debian package: fail in CI, skip locally."""
    if path.is_dir() and any(path.iterdir()):
        return path
    message = f"{path} missing: install the Debian package {package} (make test does, as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def as_attachment(name: str, data: bytes) -> bytes:
    """A citizen's mail carrying ``data`` as an attachment named ``name``."""
    msg = EmailMessage()
    msg["From"] = "okand@example.se"
    msg["To"] = "kontaktcenter@stockholm.se"
    msg["Subject"] = f"Bifogad fil {name}"
    msg["Message-ID"] = f"<{name}@example.se>"
    msg.set_content("Se bifogad fil.")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def corpora() -> dict[str, dict[str, bytes]]:
    """Every hostile-input corpus: name → {input name → raw mail bytes}."""
    import test

    cpython = Path(test.__file__).resolve().parent / "test_email" / "data"
    mail_parser = sdist("mail-parser", "4.8.0") / "tests" / "mails"
    spam = require_dir(SPAMASSASSIN, "spamassassin")
    clam = require_dir(CLAMAV_TESTFILES, "clamav-testfiles")
    clam_files = sorted(p for p in clam.iterdir() if p.is_file())
    return {
        "mail-parser 4.8.0 tests/mails": {p.name: p.read_bytes()
                                          for p in sorted(mail_parser.iterdir()) if p.is_file()},
        "CPython test_email/data": {p.name: p.read_bytes()
                                    for p in sorted(cpython.iterdir()) if p.is_file()},
        "SpamAssassin examples": {p.name: p.read_bytes()
                                  for p in sorted(spam.glob("sample-*.txt"))},
        "clamav-testfiles as raw mail": {p.name: p.read_bytes() for p in clam_files},
        "clamav-testfiles as attachments": {p.name: as_attachment(p.name, p.read_bytes())
                                            for p in clam_files},
    }


@dataclass
class Outcome:
    """What became of one input."""

    kind: str  # "normalised" | "rejected" | "crash"
    reasons: tuple[str, ...] = ()
    crash: str = ""


def letterhead(settings: Settings) -> fields.Letterhead:
    """The city's letterhead as the OCR field extractor gets it."""
    return fields.Letterhead.from_config(settings.kcs.scan.city_letterhead)


def outcome(raw: bytes, settings: Settings) -> Outcome:
    """Normalise as the pipeline does, then run the extractors on the text it gave."""
    meta = ChannelMeta(channel=Channel.EMAIL, transport="smtp")
    try:
        message, _blobs = normalise(raw, meta, settings)
        find_numbers(f"{message.subject}\n{message.full_text}")
        fields.extract(message.full_text, letterhead(settings))
    except InputRejected as exc:
        return Outcome("rejected", (exc.reason.value,))
    except NeedsReview as exc:  # kept and held for a person, with its reason code
        return Outcome("review", (exc.reason.value,))
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome("crash", crash=f"{type(exc).__name__} at {where.filename}:{where.lineno}")
    return Outcome("normalised", tuple(message.problems))


@dataclass
class CorpusFigures:
    """Counts for one corpus."""

    inputs: int = 0
    normalised: int = 0
    review: int = 0
    rejected: int = 0
    crashes: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


def run_corpus(inputs: dict[str, bytes], settings: Settings) -> CorpusFigures:
    """Every input through ``outcome``; reason codes counted once per input."""
    figures = CorpusFigures()
    for name, raw in inputs.items():
        result = outcome(raw, settings)
        figures.inputs += 1
        if result.kind == "crash":
            figures.crashes.append(f"{name}: {result.crash}")
        elif result.kind == "rejected":
            figures.rejected += 1
        elif result.kind == "review":
            figures.review += 1
        else:
            figures.normalised += 1
        figures.reasons.update(set(result.reasons))
    return figures


# -- fuzz properties: each raises AssertionError on a wrong answer, anything else is a crash --

def check_normaliser(raw: bytes, settings: Settings) -> Outcome:
    """Any bytes: normalised or rejected with a reason code, never a crash."""
    result = outcome(raw, settings)
    assert result.kind != "crash", result.crash
    return result


def check_arende(text: str) -> None:
    """Whatever is found is a canonical, check-letter-valid ärende number."""
    for number in find_numbers(text):
        prefix, year, seq, check = number.split("-")
        assert prefix == "KC" and len(year) == 4 and len(seq) == 6
        assert check == check_char(int(year), int(seq))


def check_arende_planted(year: int, seq: int, before: str, after: str) -> None:
    """A valid number between arbitrary text is found (when not glued to letters/digits)."""
    number = f"KC-{year:04d}-{seq:06d}-{check_char(year, seq)}"
    text = f"{before} {number} {after}"
    found = find_numbers(text)
    assert number in found or FINDER.search(before + " ") or FINDER.search(" " + after), text


def check_fields(text: str, head: fields.Letterhead) -> None:
    """The OCR field extractor returns plausible fields or none, never a crash."""
    result = fields.extract(text, head)
    for pnr, _ in fields.find_personnummer(text):
        assert fields.digits(pnr)
    if result.email is not None:
        assert "@" in result.email


def scanning(settings: Settings, address: str, **changes: object) -> Settings:
    """``settings`` with ``virus_scan`` on against ``address`` and quick retries."""
    scan = settings.kcs.virus_scan.model_copy(update={"enabled": True, "clamd": address,
                                                       "timeout_s": 30, **changes})
    pipeline = settings.kcs.pipeline.model_copy(update={"min_backoff_ms": 100,
                                                         "max_backoff_ms": 500,
                                                         "max_retries": 40})
    kcs = settings.kcs.model_copy(update={"virus_scan": scan, "pipeline": pipeline})
    return dataclasses.replace(settings, kcs=kcs)


def smtp_meta() -> ChannelMeta:
    """An unknown sender's mail as the SMTP receiver records it."""
    return ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from="okand@example.se",
                       envelope_to=("kontaktcenter@stockholm.se",))


@dataclass
class ClamdServer:
    """A private clamd with ClamAV's own test signature (tests/hostile/clamav/)."""

    binary: str
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, binary: str, directory: Path, port: int) -> ClamdServer:
        """Configure one in ``directory``: streams up to 8 MiB, files inside archives up
        to 2 MiB (larger ones raise ``Heuristics.Limits.Exceeded``), the test signature
        only."""
        (directory / "db").mkdir(exist_ok=True)
        shutil.copy(CLAMAV_TEST_DB, directory / "db")
        (directory / "clamd.conf").write_text(
            f"Foreground yes\nDatabaseDirectory {directory / 'db'}\nTCPSocket {port}\n"
            f"TCPAddr 127.0.0.1\nLogFile {directory / 'clamd.log'}\n"
            f"PidFile {directory / 'clamd.pid'}\nTemporaryDirectory {directory}\n"
            "StreamMaxLength 8M\nMaxFileSize 2M\nAlertExceedsMax yes\nSelfCheck 0\n")
        return cls(binary, directory, port)

    @property
    def address(self) -> str:
        """``virus_scan.clamd`` for this server."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until it answers PING."""
        from ingest.antivirus import ClamdClient, ScannerUnavailable

        self.process = subprocess.Popen([self.binary, "-c", str(self.directory / "clamd.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if ClamdClient(self.address, 2).ping():
                    return
            except ScannerUnavailable:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "clamd.log")
                raise RuntimeError("private clamd did not start: "
                                   + (log.read_text()[-500:] if log.exists() else "no log"))
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop it."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
