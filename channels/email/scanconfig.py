"""The ``email_scans:`` section of config/kcs.yaml: OCR of e-mail attachments, fax gateways.

Kept apart from ``ingest.config`` (which holds one field for it) because it
is the e-mail channel's policy; it imports nothing from ``ingest`` so the
loader can import it without a cycle. Errors name file, line and key
through the one loader (``ingest.config._validate``).
"""

from __future__ import annotations

import fnmatch
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaxGatewayConfig(_Strict):
    """A fax-to-mail gateway: mail from it is a fax, not the gateway writing to us.

    ``senders`` are address patterns (shell-style: ``fax@fax.stockholm.se``,
    ``*@efax.example``), matched case-insensitively against the From address
    and the envelope sender. ``subjects`` are regular expressions searched in
    the subject (case-insensitive); empty means any subject. Both must match.
    """

    name: str = Field(min_length=1)
    senders: tuple[str, ...] = Field(min_length=1)
    subjects: tuple[str, ...] = ()

    @field_validator("senders")
    @classmethod
    def _senders(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(v.strip().lower() for v in value)
        for pattern in cleaned:
            if "@" not in pattern:
                raise ValueError(f"{pattern!r} is no address pattern; write e.g. "
                                 "fax@gateway.example or *@gateway.example")
        return cleaned

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    def matches(self, addresses: list[str], subject: str) -> bool:
        """Whether a message from any of ``addresses`` with ``subject`` came through here."""
        sender_ok = any(fnmatch.fnmatchcase(a.strip().lower(), p)
                        for a in addresses if a for p in self.senders)
        subject_ok = not self.subjects or any(re.search(p, subject or "", re.IGNORECASE)
                                              for p in self.subjects)
        return sender_ok and subject_ok


class EmailScansConfig(_Strict):
    """Images and scanned PDFs attached to e-mail, read with the scan channel's OCR.

    Limits apply per message; past one the item is held for registratur
    review with a reason code (``ocr_page_limit``, ``image_too_large`` /
    ``decompression_bomb``, ``ocr_time_limit``) instead of occupying a worker.
    """

    enabled: bool = True
    max_pages: int = Field(20, ge=1, le=500)
    max_image_pixels: int = Field(60_000_000, ge=1_000_000)
    max_ocr_seconds: float = Field(150.0, gt=0, le=3600)
    # Smaller images are logos, signatures and icons: not read.
    min_image_side_px: int = Field(400, ge=1)
    # A photo with fewer words (in a mail that has its own text) is a picture, not a
    # document: no text, never held for its confidence.
    min_document_words: int = Field(12, ge=0)
    fax_gateways: tuple[FaxGatewayConfig, ...] = ()

    def gateway_for(self, addresses: list[str], subject: str) -> FaxGatewayConfig | None:
        """The first configured gateway this message came through, if any."""
        return next((g for g in self.fax_gateways if g.matches(addresses, subject)), None)
