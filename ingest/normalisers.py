"""Which channel adapter turns a raw original into a ``NormalisedMessage``.

The pipeline calls ``normalise`` and knows nothing else about channels; each
channel registers the function that reads its own raw format.
"""

from __future__ import annotations

from channels.email.normalise import EmailLimits, normalise_email
from channels.email.scans import read_scans
from channels.scan.attachment_text import read_attachment_text
from channels.scan.normalise import normalise_scan
from channels.sms.credentials import TwilioCredentials
from channels.sms.media import MediaFetcher
from channels.sms.normalise import normalise_sms
from ingest.config import Settings
from ingest.model import Channel, ChannelMeta, NormalisedMessage


def _email(raw: bytes, meta: ChannelMeta, settings: Settings
           ) -> tuple[NormalisedMessage, dict[str, bytes]]:
    limits = EmailLimits(**settings.kcs.email_limits.model_dump())
    parsed = normalise_email(raw, limits)
    # Photos, scans and gateway faxes go through the scan channel's OCR.
    return read_scans(parsed.message, parsed.blobs, meta, settings)


def _sms(raw: bytes, meta: ChannelMeta, settings: Settings
         ) -> tuple[NormalisedMessage, dict[str, bytes]]:
    fetcher = MediaFetcher(settings.kcs.sms, TwilioCredentials.from_env())

    def ocr(data: bytes, content_type: str) -> str | None:  # photos of letters by MMS
        return read_attachment_text(data, content_type, settings)

    return normalise_sms(raw, settings.kcs.sms, fetcher, image_reader=ocr)


def _scan(raw: bytes, meta: ChannelMeta, settings: Settings
          ) -> tuple[NormalisedMessage, dict[str, bytes]]:
    return normalise_scan(raw, meta, settings)


_BY_CHANNEL = {Channel.EMAIL: _email, Channel.SMS: _sms, Channel.LETTER: _scan,
               Channel.FAX: _scan}


def normalise(raw: bytes, meta: ChannelMeta, settings: Settings
              ) -> tuple[NormalisedMessage, dict[str, bytes]]:
    """The message and the attachment bytes to store (sha256 → bytes)."""
    try:
        reader = _BY_CHANNEL[meta.channel]
    except KeyError:
        raise NotImplementedError(f"no normaliser for channel {meta.channel.value}") from None
    return reader(raw, meta, settings)
