"""The one message model that every channel produces and every stage reads.

Channels are adapters: they turn what arrived (an SMTP envelope, an IMAP
fetch, a Twilio webhook, a scanned page) into ``ChannelMeta`` plus raw bytes
for durable intake, and later into a ``NormalisedMessage``. Stages after
normalisation know the channel only from this metadata.

All records are frozen dataclasses with ``to_dict``/``from_dict`` so they can
be stored as JSON in the database and passed between processes by id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """How the citizen wrote to us; decides the default reply channel."""

    EMAIL = "email"
    SMS = "sms"
    FAX = "fax"
    LETTER = "letter"


def utcnow() -> datetime:
    """Timezone-aware now; naive datetimes are never stored."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes that we stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dt(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class ChannelMeta:
    """What the channel knew when the bytes arrived, kept with the raw original.

    ``source_keys`` are exact-duplicate keys the channel can vouch for (an IMAP
    ``(UIDVALIDITY, UID)``, a Twilio MessageSid): the same key arriving twice
    is the same message, however often it is delivered.
    """

    channel: Channel
    transport: str
    received_at: datetime = field(default_factory=utcnow)
    source_keys: tuple[str, ...] = ()
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    peer: str | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored on the intake row (hot path: no deep copies)."""
        return {"channel": self.channel.value, "transport": self.transport,
                "received_at": self.received_at.isoformat(),
                "source_keys": list(self.source_keys), "envelope_from": self.envelope_from,
                "envelope_to": list(self.envelope_to), "peer": self.peer,
                "detail": dict(self.detail)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelMeta:
        """Inverse of ``to_dict``."""
        return cls(
            channel=Channel(data["channel"]),
            transport=data["transport"],
            received_at=_dt(data["received_at"]) or utcnow(),
            source_keys=tuple(data.get("source_keys", ())),
            envelope_from=data.get("envelope_from"),
            envelope_to=tuple(data.get("envelope_to", ())),
            peer=data.get("peer"),
            detail=dict(data.get("detail", {})),
        )


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote, as far as the message tells; all fields may be missing."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    postal_address: str | None = None

    @property
    def anonymous(self) -> bool:
        """No way to reach the sender: no acknowledgement, no identity link."""
        return not (self.email or self.phone or self.postal_address)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, including the derived ``anonymous`` flag."""
        return {**asdict(self), "anonymous": self.anonymous}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sender:
        """Inverse of ``to_dict``."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored attachment: metadata here, bytes in the blob store by sha256."""

    filename: str
    content_type: str
    size: int
    sha256: str
    original_filename: str | None = None
    text: str | None = None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["problems"] = list(self.problems)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        """Inverse of ``to_dict``."""
        return cls(
            filename=data["filename"],
            content_type=data["content_type"],
            size=int(data["size"]),
            sha256=data["sha256"],
            original_filename=data.get("original_filename"),
            text=data.get("text"),
            problems=tuple(data.get("problems", ())),
        )


@dataclass(frozen=True, slots=True)
class NormalisedMessage:
    """A message as the pipeline sees it, whatever channel it came on.

    ``body`` is the citizen's own text: quoted replies and signatures removed.
    ``full_text`` keeps everything that was readable, for staff and for the
    linker. ``headers`` holds only the headers later stages decide on
    (auto-reply and list markers, for loop prevention), lower-cased names.
    ``problems`` lists non-fatal reason codes met while normalising.
    ``channel`` is set only when the normaliser learnt that the message came
    on another channel than intake saw (a fax delivered by a fax-to-mail
    gateway arrives as e-mail); ``channel_detail`` then says how
    (``effective_meta``).
    """

    subject: str
    body: str
    sender: Sender
    full_text: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    sent_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    channel: Channel | None = None
    channel_detail: dict[str, str] = field(default_factory=dict)

    def analysis_text(self) -> str:
        """What the classifier and linker read: the body, then each attachment's text
        (read from a text layer, or by OCR) marked with the attachment's name."""
        texts = [self.body] + [f"[Bilaga: {a.filename}]\n{a.text}"
                               for a in self.attachments if a.text]
        return "\n\n".join(texts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored on the item row."""
        extra: dict[str, Any] = {}
        if self.channel is not None:  # only when set: older stored results stay as they were
            extra = {"channel": self.channel.value, "channel_detail": dict(self.channel_detail)}
        return {**extra,
            "subject": self.subject,
            "body": self.body,
            "full_text": self.full_text,
            "sender": self.sender.to_dict(),
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "attachments": [a.to_dict() for a in self.attachments],
            "headers": dict(self.headers),
            "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormalisedMessage:
        """Inverse of ``to_dict``."""
        return cls(
            subject=data["subject"],
            body=data["body"],
            full_text=data.get("full_text", ""),
            sender=Sender.from_dict(data.get("sender", {})),
            message_id=data.get("message_id"),
            in_reply_to=data.get("in_reply_to"),
            references=tuple(data.get("references", ())),
            sent_at=_dt(data.get("sent_at")),
            attachments=tuple(Attachment.from_dict(a) for a in data.get("attachments", ())),
            headers=dict(data.get("headers", {})),
            problems=tuple(data.get("problems", ())),
            channel=Channel(data["channel"]) if data.get("channel") else None,
            channel_detail=dict(data.get("channel_detail") or {}),
        )


def effective_meta(meta: ChannelMeta, normalised: dict[str, Any] | None) -> ChannelMeta:
    """The channel a message really came on: what intake saw, unless normalisation learnt
    better (``NormalisedMessage.channel``). Transport, envelope and the intake detail are
    kept (the gateway's e-mail stays visible as transport detail), the normaliser's
    detail is added."""
    if not normalised or not normalised.get("channel"):
        return meta
    channel = Channel(normalised["channel"])
    if channel is meta.channel:
        return meta
    detail = {**meta.detail, "received_as": meta.channel.value,
              **{k: str(v) for k, v in (normalised.get("channel_detail") or {}).items()}}
    return replace(meta, channel=channel, detail=detail)
