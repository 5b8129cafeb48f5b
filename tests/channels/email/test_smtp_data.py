"""The SMTP receiver reads DATA in blocks and must store what aiosmtpd's line reader
stores, answer what it answers, and leave pipelined commands after the end alone.

Two real servers on loopback, stock aiosmtpd and ours, get the same bytes over real
sockets, split over TCP segments at awkward places (inside CRLF, inside the end line).
"""

from __future__ import annotations

import itertools
import random
import re
import smtplib
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from tests_support import free_port

from channels.email.smtp import IntakeController
from channels.email.smtp_data import BLOCK

SIZE_LIMIT = 200_000
EMAIL_DATA = Path(smtplib.__file__).parent / "test" / "test_email" / "data"


class Recorder:
    """Keeps each message's bytes as the server hands them over."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.stored.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK stored"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[int, Recorder]]]:
    started: dict[str, tuple[Controller, Recorder]] = {}
    for name, cls in (("stock", Controller), ("ours", IntakeController)):
        rec = Recorder()
        ctl = cls(rec, hostname="127.0.0.1", port=free_port(), data_size_limit=SIZE_LIMIT,
                  decode_data=False, enable_SMTPUTF8=True)
        ctl.start()
        started[name] = (ctl, rec)
    yield {name: (ctl.port, rec) for name, (ctl, rec) in started.items()}
    for ctl, _ in started.values():
        ctl.stop()


def _replies(sock: socket.socket, buf: bytearray, n: int) -> list[str]:
    """The next ``n`` complete replies (multi-line replies joined), as text."""
    out: list[str] = []
    while len(out) < n:
        while b"\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return out
            buf += data
        line, _, rest = bytes(buf).partition(b"\r\n")
        buf[:] = rest
        if line[3:4] != b"-":
            out.append(line.decode())
    return out


def session(port: int, chunks: Sequence[bytes], expect: int = 1,
            pause: float = 0.0) -> list[str]:
    """EHLO, MAIL, RCPT, DATA, then ``chunks`` as separate sends; the replies after 354."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        _replies(sock, buf, 1)
        for command in (b"EHLO test.example.se", b"MAIL FROM:<anna@example.se>",
                        b"RCPT TO:<kontaktcenter@example.se>", b"DATA"):
            sock.sendall(command + b"\r\n")
            _replies(sock, buf, 1)
        for chunk in chunks:
            sock.sendall(chunk)
            if pause:
                time.sleep(pause)
        replies = _replies(sock, buf, expect)
        sock.sendall(b"QUIT\r\n")
        return replies


def both(servers: dict[str, tuple[int, Recorder]], chunks: Sequence[bytes], expect: int = 1,
         pause: float = 0.0) -> dict[str, tuple[list[str], bytes | None]]:
    """Each server's replies and what it stored (None: nothing)."""
    out = {}
    for name, (port, rec) in servers.items():
        before = len(rec.stored)
        replies = session(port, chunks, expect, pause)
        out[name] = (replies, rec.stored[-1] if len(rec.stored) > before else None)
    return out


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    edges = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


LETTER = (b"From: Anna Andersson <anna@example.se>\r\nSubject: Hemtj\xc3\xa4nst\r\n\r\n"
          b"Hej,\r\nHemtj\xc3\xa4nsten kom inte i morse.\r\nVi \xc3\xa4r oroliga.\r\n"
          b"..punkten f\xc3\xb6rst\r\n.\r\n")

EDGE_CASES = {
    "an empty message": [b".\r\n"],
    "only a stuffed dot": [b"..\r\n.\r\n"],
    "a dot-stuffed first line": [b"..hemligt\r\nrad\r\n.\r\n"],
    "lines ending with a full stop": [b"Hej.\r\nVi \xc3\xa4r oroliga.\r\n.\r\n"],
    "a dot inside a line": [b"a .\r\nb\r\n.\r\n"],
    "a bare LF and a bare CR": [b"rad ett\nrad tv\xc3\xa5\r.\r\nslut\r\n.\r\n"],
    "a line '. ' is not the end": [b". \r\nslut\r\n.\r\n"],
    "a letter in one send": [LETTER],
    "CRLF split": [LETTER[:20], LETTER[20:21], LETTER[21:]],
    "the end line split": split(LETTER, [len(LETTER) - 3, len(LETTER) - 2, len(LETTER) - 1]),
    "the CRLF before the end split": split(LETTER, [len(LETTER) - 5, len(LETTER) - 4]),
    "a line of 999 characters": [b"x" * 999 + b"\r\n.\r\n"],
    "a line of 1000 characters": [b"x" * 1000 + b"\r\n.\r\n"],
    "a line of 1001 characters": [b"x" * 1001 + b"\r\n.\r\n"],
    "a line of 5000 characters": [b"x" * 5000 + b"\r\nmer\r\n.\r\n"],
    "a long line ending in a dot": [b"y" * 3000 + b".\r\n.\r\n"],
    "exactly the size limit": [b"z" * 98 + b"\r\n"] * (SIZE_LIMIT // 100) + [b".\r\n"],
    "one byte over the size limit": [b"z" * 98 + b"\r\n"] * (SIZE_LIMIT // 100)
    + [b"\r\n.\r\n"],
    "far over the size limit": [b"w" * 998 + b"\r\n"] * 1000 + [b".\r\n"],
    "longer than a block, many full stops": [b"Mening nummer %d.\r\n" % i
                                             for i in range(BLOCK // 10)] + [b".\r\n"],
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_get_aiosmtpds_answer_and_bytes(servers, case: str) -> None:
    pause = 0.02 if "split" in case else 0.0
    got = both(servers, EDGE_CASES[case], pause=pause)
    assert got["ours"] == got["stock"]


def test_commands_pipelined_after_the_end_are_answered(servers) -> None:
    got = both(servers, [LETTER + b"RSET\r\nNOOP\r\n"], expect=3)
    assert got["ours"] == got["stock"]
    assert got["ours"][0] == ["250 OK stored", "250 OK", "250 OK"]


def test_over_the_size_limit_with_a_long_line_is_refused_as_too_large(servers) -> None:
    """aiosmtpd names whichever fault it reads first; ours names the size, the one a
    sender can act on. Both refuse and store nothing. (The one case where the two
    readers differ, so it also shows that ours is the one the server runs.)"""
    chunks = [b"x" * 2000 + b"\r\n"] + [b"z" * 998 + b"\r\n"] * 300 + [b".\r\n"]
    got = both(servers, chunks)
    assert got["ours"] == (["552 Error: Too much mail data"], None)
    assert got["stock"] == (["500 Line too long (see RFC5321 4.5.3.1.6)"], None)


STUFF = re.compile(rb"(?:^|(?<=\r\n))\.")  # what a client does to a line starting with "."


def test_generated_messages_split_anywhere_read_the_same(servers) -> None:
    """Dots, bare CR and LF, full stops at line ends and long lines in any order,
    dot-stuffed as a client sends them and cut at random places: both servers answer
    alike, and what ours stores is the message as it was before stuffing."""
    rng = random.Random(20261207)
    pieces = [b".", b"..", b"\r\n", b"\r", b"\n", b"a", b"Hej.", b" ", b"\xc3\xa5",
              b"\r\n.", b".\r", b"x" * 400]
    stored = 0
    for _ in range(150):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        if body and not body.endswith(b"\r\n"):
            body += b"\r\n"
        data = STUFF.sub(b"..", body) + b".\r\n"
        assert (b"\r\n" + data).find(b"\r\n.\r\n") == len(data) - 3  # one end, the last
        cuts = [rng.randint(1, len(data) - 1) for _ in range(rng.randint(0, 4))]
        got = both(servers, split(data, cuts))
        assert got["ours"] == got["stock"], data
        if got["ours"][0] == ["250 OK stored"]:
            assert got["ours"][1] == body
            stored += 1
    assert stored > 50


def test_real_messages_sent_by_smtplib_are_stored_byte_for_byte(servers) -> None:
    """CPython's e-mail test corpus with CRLF line ends, sent by smtplib (dots stuffed)."""
    files = sorted(EMAIL_DATA.glob("msg_*.txt"))
    assert len(files) > 40
    wire = {f: re.sub(rb"\r?\n", b"\r\n", f.read_bytes()) for f in files}
    outcome: dict[str, list[bytes | int]] = {}
    for name, (port, rec) in servers.items():
        outcome[name] = []
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for f in files:
                try:
                    client.sendmail("anna@example.se", ["kontaktcenter@example.se"],
                                    wire[f])
                    outcome[name].append(rec.stored[-1])
                except smtplib.SMTPDataError as exc:  # a few have lines over 1000 octets
                    outcome[name].append(exc.smtp_code)
    assert outcome["ours"] == outcome["stock"]
    stored = 0
    for f, got in zip(files, outcome["ours"], strict=True):
        sent = wire[f]
        if got == 500:
            assert max(map(len, sent.split(b"\r\n"))) > 999, f.name
            continue
        stored += 1
        assert got == (sent if sent.endswith(b"\r\n") else sent + b"\r\n"), f.name
    assert stored > 40
