"""Helpers for the acknowledgement tests: a message through the real normaliser, a plan."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.ack import service
from ingest.config import Settings
from ingest.model import Channel, ChannelMeta, NormalisedMessage, Sender
from ingest.normalisers import normalise

SAMPLES = Path(__file__).resolve().parent / "samples" / "ack"
RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def email_meta_for(raw: bytes) -> ChannelMeta:
    """SMTP metadata as the receiver records it: MAIL FROM is the Return-Path."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    rp = (msg.get("Return-Path") or "").strip().strip("<>").strip()
    return ChannelMeta(channel=Channel.EMAIL, transport="smtp", envelope_from=rp or None,
                       envelope_to=("kontaktcenter@stockholm.se",))


def normalised(raw: bytes, settings: Settings) -> tuple[NormalisedMessage, ChannelMeta]:
    """The message as the pipeline's normalise stage makes it."""
    meta = email_meta_for(raw)
    message, _ = normalise(raw, meta, settings)
    return message, meta


def plan_email(settings: Settings, raw: bytes, **classification: Any) -> dict[str, Any]:
    """The acknowledgement plan for a raw e-mail."""
    message, meta = normalised(raw, settings)
    return service.plan_for(settings, message, meta, flags={"anonym": message.sender.anonymous},
                            classification={"language": "sv", **classification},
                            received_at=RECEIVED, is_opted_out=lambda _p: False)


def plan_message(settings: Settings, *, channel: Channel, body: str = "Hej",
                 sender: Sender, headers: dict[str, str] | None = None,
                 opted_out: frozenset[str] = frozenset(), flags: dict[str, bool] | None = None,
                 **classification: Any) -> dict[str, Any]:
    """The plan for a message built directly (SMS, scanned letters)."""
    message = NormalisedMessage(subject="", body=body, sender=sender, headers=headers or {})
    meta = ChannelMeta(channel=channel, transport={"sms": "twilio", "letter": "scan"}.get(
        channel.value, "smtp"), envelope_from=sender.email)
    return service.plan_for(settings, message, meta,
                            flags={"anonym": sender.anonymous, **(flags or {})},
                            classification={"language": "sv", **classification},
                            received_at=RECEIVED, is_opted_out=lambda p: p in opted_out)
