"""Property-based fuzzing (hypothesis) of the MIME normaliser and the text extractors."""

from __future__ import annotations

import pytest
from hostile_support import (
    check_arende,
    check_arende_planted,
    check_fields,
    check_normaliser,
    letterhead,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_support import REPO

from ingest.config import load_settings

SETTINGS = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                          "KCS_VAR_DIR": str(REPO / ".cache" / "var")})
HEAD = letterhead(SETTINGS)
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

_header_names = st.sampled_from(["From", "To", "Subject", "Message-ID", "Date", "Content-Type",
                                 "Content-Transfer-Encoding", "In-Reply-To", "References",
                                 "Content-Disposition", "MIME-Version", "X-Auto-Response"])
_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["multipart/mixed; boundary=\"b\"", "text/plain; charset=\"x-unknown\"",
                     "text/html; charset=utf-7", "base64", "quoted-printable",
                     "=?utf-8?B?w6XDpMO2?=", "=?iso-8859-1?Q?=E5=E4=F6?=", "<a@b>",
                     "attachment; filename=\"../../etc/passwd\"", "message/rfc822",
                     "multipart/alternative; boundary=", "=?gb2312?B?zt6x6szi?="]),
)
_part_bodies = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                         st.sampled_from([b"--b\r\n", b"--b--\r\n", b"=\r\n", b"====",
                                          b"%PDF-1.4\n", b"PK\x03\x04", b"\xff\xfe\x00"]))


@st.composite
def mime_messages(draw: st.DrawFn) -> bytes:
    """Mail-shaped bytes: random headers (some hostile), random parts and boundaries."""
    headers = draw(st.lists(st.tuples(_header_names, _values), max_size=12))
    head = b"".join(f"{k}: {v}".encode("utf-8", "surrogateescape") + b"\r\n"
                    for k, v in headers)
    parts = draw(st.lists(_part_bodies, max_size=6))
    body = b"".join(b"--b\r\nContent-Type: " + draw(_values).encode("utf-8", "replace")
                    + b"\r\n\r\n" + p + b"\r\n" for p in parts)
    if draw(st.booleans()):
        body += b"--b--\r\n"
    return head + b"\r\n" + body


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=2000))
def test_normaliser_survives_arbitrary_bytes(raw: bytes) -> None:
    check_normaliser(raw, SETTINGS)


@pytest.mark.slow
@FUZZ
@given(mime_messages())
def test_normaliser_survives_hostile_mime(raw: bytes) -> None:
    check_normaliser(raw, SETTINGS)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
       | st.text(alphabet="KCkcRG-–_ ./0123456789OoIl|!SBZGgABCDEFHJMNPQTUVWXY\n", max_size=80))
def test_arende_extractor_finds_only_valid_numbers(text: str) -> None:
    check_arende(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(2000, 2099), st.integers(0, 999_999), st.text(max_size=60),
       st.text(max_size=60))
def test_arende_extractor_finds_a_planted_number(year: int, seq: int, before: str,
                                                 after: str) -> None:
    check_arende_planted(year, seq, before, after)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600)
       | st.lists(st.sampled_from(["Anna Svensson", "Storgatan 1", "123 45 Stockholm",
                                   "19121212-1212", "070-123 45 67", "anna@example.se",
                                   "Med vänliga hälsningar", "Dnr 2026/123", "KC-2026-004711-X",
                                   "Fax från 08-508 000 00  2026-11-23 10:00  Sida 1/2", "",
                                   "Stockholms stad", "Box 8314, 104 20 Stockholm"]),
                  max_size=30).map("\n".join))
def test_ocr_field_extractor_survives_any_text(text: str) -> None:
    check_fields(text, HEAD)
