"""The SMTP receiver's fast path for MAIL FROM / RCPT TO gives aiosmtpd's own answer."""

from __future__ import annotations

import string

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.smtp import _PLAIN_PATH, PlainPathSMTP


class _Handler:
    pass


STOCK = SMTP(_Handler())
OURS = PlainPathSMTP(_Handler())


def _outcome(server: SMTP, arg: str) -> object:
    """The parse, or the exception aiosmtpd's parser raises (it has some: "0@")."""
    try:
        return server._getaddr(arg)
    except Exception as exc:
        return type(exc)

SEEN_IN_THE_WILD = [
    "<anna@example.se>", "<anna@example.se> SIZE=4096", "<a.b-c+d@sub.example.se>",
    "<anna@example.se>  BODY=8BITMIME SMTPUTF8", "<Anna.Andersson@Stockholm.SE>",
    "<bounce-12345=anna=example.se@lists.example.org>", "<>", " <anna@example.se>",
    "<anna@example.se >", '<"anna andersson"@example.se>', "<anna@[192.0.2.1]>",
    "<anna@example.se>x", "<a..b@example.se>", "<anna@-example.se>", "<anna@example.se.>",
    "<anna@example.se> (comment)", "anna@example.se", "<anna@example.se", "<@relay:anna@x.se>",
    "<anna@example.se>\tSIZE=1", "<anna@example.se> SIZE=1 ", "<" + "a" * 70 + "@example.se>",
    "<åsa@exempel.se>", "<anna@exämpel.se>",
]


def test_paths_seen_in_the_wild_parse_as_aiosmtpd_parses_them() -> None:
    """GIVEN real-world MAIL FROM/RCPT TO arguments, plain and odd
    THEN our server returns exactly what stock aiosmtpd returns, fast path or not."""
    fast = 0
    for arg in SEEN_IN_THE_WILD:
        assert _outcome(OURS, arg) == _outcome(STOCK, arg), arg
        fast += bool(_PLAIN_PATH.match(arg))
    assert fast >= 8  # the fast path is really taken for the plain ones


_LOCAL = st.text(alphabet=string.ascii_letters + string.digits + ".-_+=!#$%&'*/?^`{|}~\"() ",
                 min_size=0, max_size=20)
_DOMAIN = st.text(alphabet=string.ascii_letters + string.digits + ".-[]", min_size=0, max_size=20)
_REST = st.text(alphabet=string.ascii_letters + string.digits + "= \t()\"\\", max_size=20)


@settings(max_examples=3000, deadline=None)
@given(_LOCAL, _DOMAIN, _REST, st.sampled_from(["<{}@{}>{}", "<{}@{}> {}", "{}@{}{}", "<{}{}>{}"]))
def test_any_path_parses_as_aiosmtpd_parses_it(local: str, domain: str, rest: str,
                                                shape: str) -> None:
    """GIVEN generated paths with atoms, dots, quotes, comments and parameters
    THEN the fast path never disagrees with aiosmtpd's parser."""
    arg = shape.format(local, domain, rest)
    assert _outcome(OURS, arg) == _outcome(STOCK, arg)
