"""An inbound Twilio webhook (the exact POST body we stored) as a ``NormalisedMessage``.

The raw original of an SMS is the form-encoded body Twilio posted, byte for
byte: it is the allmän handling, and with the signed URL and signature kept
in the channel metadata anyone can check later that Twilio sent it.

- Body: Twilio has already joined the parts of a concatenated SMS; we only
  tidy whitespace (line endings, trailing blanks, runs of blank lines) and
  compose characters (NFC), so that "ä" is one character however it came.
- Sender: ``From`` in E.164 (``phonenumbers``, default region SE). An
  alphanumeric sender or short code is no reachable number: the sender is
  then anonymous (no acknowledgement) and the item says why.
- Keywords: a STOP/START/HELP message is kept as an item like any other,
  marked with the ``sms-keyword`` header and a reason code; the opt-out
  itself is recorded by the webhook at arrival.
- MMS: each ``MediaUrlN`` is downloaded (``channels.sms.media``) and stored
  as an attachment; images are attachments of type ``image/*`` whose text an
  OCR reader (``image_reader``, the scan channel's when it lands) may fill in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable

from channels.email.attachments import declared_type_lies, extension_for, sniff
from channels.sms.keywords import keyword_of
from channels.sms.media import MediaFetcher
from channels.sms.phone import to_e164
from channels.sms.signature import FormParams, parse_form
from ingest.config import SmsConfig
from ingest.errors import InputRejected
from ingest.model import Attachment, NormalisedMessage, Sender
from ingest.reasons import ReasonCode

# Reads the text of an image (an MMS photo of a letter); None when it finds none.
ImageReader = Callable[[bytes, str], str | None]

_KEYWORD_REASON = {"stop": ReasonCode.SMS_OPT_OUT, "start": ReasonCode.SMS_OPT_IN,
                   "help": ReasonCode.SMS_HELP}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def tidy_body(text: str) -> str:
    """Whitespace and composition normalised; the words themselves untouched."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def glance(raw: bytes) -> str:
    """The text of the SMS, for the akut pre-triage; "" when the body cannot be read."""
    try:
        return tidy_body(parse_form(raw).first("Body"))
    except (ValueError, UnicodeDecodeError):
        return ""


def _int(params: FormParams, name: str) -> int:
    try:
        return max(0, int(params.first(name, "0")))
    except ValueError:
        return 0


def _media(params: FormParams, cfg: SmsConfig, fetcher: MediaFetcher,
           image_reader: ImageReader | None
           ) -> tuple[list[Attachment], dict[str, bytes], list[str]]:
    attachments: list[Attachment] = []
    blobs: dict[str, bytes] = {}
    problems: list[str] = []
    count = _int(params, "NumMedia")
    if count > cfg.max_media:
        problems.append(ReasonCode.SMS_MEDIA_TOO_MANY.value)
    for n in range(min(count, cfg.max_media)):
        url = params.first(f"MediaUrl{n}")
        if not url:
            continue
        fetched = fetcher.fetch(url)  # MediaUnavailable propagates: the stage retries
        if fetched.data is None:
            problems.append((fetched.problem or ReasonCode.SMS_MEDIA_UNAVAILABLE).value)
            continue
        data = fetched.data
        declared = (params.first(f"MediaContentType{n}") or fetched.content_type
                    or "application/octet-stream").split(";")[0].strip().lower()
        sniffed = sniff(data)
        part_problems: list[str] = []
        content_type = declared
        if declared_type_lies(declared, None, data, sniffed):
            part_problems.append(ReasonCode.CONTENT_TYPE_MISMATCH.value)
            content_type = sniffed or "application/octet-stream"
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        text = (image_reader(data, content_type)
                if image_reader and content_type.startswith("image/") else None)
        attachments.append(Attachment(
            filename=f"mms-{n + 1}{extension_for(content_type)}", content_type=content_type,
            size=len(data), sha256=digest, text=text, problems=tuple(part_problems)))
    return attachments, blobs, problems


def normalise_sms(raw: bytes, cfg: SmsConfig, fetcher: MediaFetcher,
                  *, image_reader: ImageReader | None = None
                  ) -> tuple[NormalisedMessage, dict[str, bytes]]:
    """The message and the media bytes to store (sha256 → bytes)."""
    if not raw.strip():
        raise InputRejected(ReasonCode.EMPTY_INPUT)
    try:
        params = parse_form(raw)
    except (ValueError, UnicodeDecodeError):
        raise InputRejected(ReasonCode.NOT_A_MESSAGE, "webhook body is not UTF-8 form data"
                            ) from None
    problems: list[str] = []
    body = tidy_body(params.first("Body"))
    phone = to_e164(params.first("From"))
    headers: dict[str, str] = {}
    if phone is None:
        problems.append(ReasonCode.SMS_SENDER_UNPARSEABLE.value)
    keyword = keyword_of(body, cfg)
    if keyword is not None:
        headers["sms-keyword"] = keyword.value
        problems.append(_KEYWORD_REASON[keyword.value].value)
    for name, header in (("NumSegments", "sms-num-segments"), ("NumMedia", "sms-num-media")):
        if params.first(name):
            headers[header] = params.first(name)
    attachments, blobs, media_problems = _media(params, cfg, fetcher, image_reader)
    problems += media_problems
    message = NormalisedMessage(
        subject="", body=body, full_text=body, sender=Sender(phone=phone),
        message_id=params.first("MessageSid") or None, sent_at=None,
        attachments=tuple(attachments), headers=headers,
        problems=tuple(dict.fromkeys(problems)))
    return message, blobs
