"""The SMTP DATA phase read in blocks instead of line by line.

aiosmtpd reads a message one line at a time (``readuntil(b"\\r\\n")``, a state
machine and a debug log call per line): for a 4 KB letter about sixty
awaits, most of what its event loop spends on the message after the
commands. Here the reader is asked for everything up to the next ``.\\r\\n``;
only a dot that starts a line ends the data, so a sentence ending a line
("… vi är oroliga.") costs one more read, not a wrong end. The answer is the
one RFC 5321 asks for and aiosmtpd gives: the data without the end line, a
leading dot removed from every line that has one (§ 4.5.2), 552 when it is
larger than the size limit, 500 when a line is longer than the line limit.
Where a message is both, aiosmtpd names whichever it met first in the
stream; here the size wins, since that is the one a sender can act on.
``tests/channels/email/test_smtp_data.py`` holds both readers to the same
results on real and generated messages, split over many TCP segments.
"""

from __future__ import annotations

import asyncio
import re

#: A read is bounded (memory per connection); longer runs without ``.\r\n`` arrive
#: in several reads of this size.
BLOCK = 64 * 1024

TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH = "552 Error: Too much mail data"

_END = b".\r\n"
_STUFFED = re.compile(rb"(?:^|(?<=\r\n))\.")


async def read_data(reader: asyncio.StreamReader, size_limit: int | None,
                    line_limit: int) -> tuple[bytes, str | None]:
    """The message's bytes up to the end-of-data line, and the refusal if any.

    On a refusal the bytes are empty: the rest was read and dropped, so the
    session can go on with the next command. ``line_limit`` counts a line with
    its CRLF, as aiosmtpd's ``line_length_limit`` does.
    """
    saved = reader._limit  # the server's line limit; a block read needs a larger one
    reader._limit = BLOCK
    try:
        parts: list[bytes] = []
        total = 0
        tail = b"\r\n"  # the data starts at the start of a line
        done = False
        while not done:
            try:
                chunk = await reader.readuntil(_END)
            except asyncio.LimitOverrunError as exc:
                chunk = await reader.read(exc.consumed)
            else:
                before = chunk[-5:-3] if len(chunk) >= 5 else (tail + chunk[:-3])[-2:]
                done = before == b"\r\n"  # else a line that merely ends in a full stop
                if done:
                    chunk = chunk[:-3]
            total += len(chunk)
            if size_limit and total > size_limit:
                parts.clear()  # drop the rest as it comes; the answer is 552
            else:
                parts.append(chunk)
            tail = chunk[-2:] if len(chunk) >= 2 else (tail + chunk)[-2:]
    finally:
        reader._limit = saved
    if size_limit and total > size_limit:
        return b"", TOO_MUCH
    data = b"".join(parts)
    if len(data) > line_limit - 2 and max(map(len, data.split(b"\r\n"))) > line_limit - 2:
        return b"", TOO_LONG
    if data[:1] == b"." or b"\r\n." in data:
        data = _STUFFED.sub(b"", data)
    return data, None
