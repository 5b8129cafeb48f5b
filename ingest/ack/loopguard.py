"""Never answer a robot: the reasons a message gets no acknowledgement.

An acknowledgement to an autoresponder, a bounce, a mailing list or our own
mail is how mail loops start, so every check here errs towards silence:

- RFC 3834 ``Auto-Submitted``: parsed exactly (comments and parameters
  removed); only ``no`` means a person wrote it, and any other value (even an
  empty or unknown one) means a machine did.
- ``Precedence: bulk | junk | list | auto_reply`` (de-facto, RFC 3834 §3.1.8).
- Mailing lists: ``List-Id``, ``List-Unsubscribe``, ``List-Post`` (RFC 2369/2919).
- ``X-Loop`` (procmail, ticket systems) and the ``X-Autoreply``/``X-Autorespond``
  family; Exchange's ``X-MS-Exchange-Inbox-Rules-Loop`` and generated-message
  source, and out-of-office subjects (Exchange, Zimbra, Outlook in Swedish).
- ``X-Auto-Response-Suppress`` asking for no auto replies (All, OOF, AutoReply).
- Delivery and read reports: ``multipart/report`` (RFC 6522: DSN, MDN, ARF),
  ``message/delivery-status``, ``X-Failed-Recipients``.
- A null sender (``MAIL FROM:<>``, ``Return-Path: <>``), mailer-daemon,
  postmaster and no-reply addresses.
- Our own addresses, domains and Message-IDs.
- SMS: carrier and handset auto-responses, numbers that are not mobile
  numbers (short codes), opted-out numbers and our own number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

import phonenumbers

from ingest.model import ChannelMeta, NormalisedMessage


class LoopReason(StrEnum):
    """Why a message gets no acknowledgement (stored on the item as ``reason``)."""

    AUTO_SUBMITTED = "auto_submitted"
    PRECEDENCE = "precedence_bulk"
    MAILING_LIST = "mailing_list"
    LOOP_MARKER = "auto_reply_marker"
    RESPONSE_SUPPRESSED = "auto_response_suppressed"
    OUT_OF_OFFICE = "out_of_office"
    DELIVERY_REPORT = "delivery_report"
    NULL_SENDER = "null_sender"
    ROBOT_ADDRESS = "robot_address"
    OUR_OWN_ADDRESS = "our_own_address"
    OUR_OWN_MESSAGE = "our_own_message"
    SMS_AUTO_RESPONSE = "sms_auto_response"
    NOT_A_MOBILE = "not_a_mobile_number"
    OPTED_OUT = "opted_out"
    SMS_KEYWORD = "sms_keyword"
    OUR_OWN_NUMBER = "our_own_number"


_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_ROBOT_LOCALPART = re.compile(
    r"^(?:mailer-daemon|mailerdaemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply"
    r"|donotreply|noreply[-_.+].*|no[-_.]reply[-_.+].*|bounces?|bounce[-_.+].*|.*[-_.+]bounces?"
    r"|auto[-_.]?reply|autoresponder|auto[-_.]?confirm|listserv|majordomo|mailman"
    r"|.*-(?:request|owner)|owner-.*|notifications?|nagios|root|daemon)$", re.IGNORECASE)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
_SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply"})
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help")
_LOOP_HEADERS = ("x-loop", "x-autoreply", "x-autorespond", "x-autoresponder",
                 "x-ms-exchange-inbox-rules-loop", "x-ms-exchange-generated-message-source",
                 "x-failed-recipients", "x-mailer-daemon")
_REPORT_TYPES = ("multipart/report", "message/delivery-status",
                 "message/disposition-notification", "message/feedback-report")
# Out-of-office subjects (Outlook/Exchange, Zimbra, Gmail) in the languages we serve.
_OOF_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|autosvar|automatiskt svar|out of (?:the )?office"
    r"|frånvaromeddelande|frånvaro|abwesenheitsnotiz|automaattinen vastaus|poissa"
    r"|respuesta automática|odpowiedź automatyczna|otomatik yanıt|автоответ"
    r"|undeliverable|undelivered mail|delivery status notification|returned mail"
    r"|mail delivery (?:failed|system)|olevererbart|kunde inte levereras)\b", re.IGNORECASE)
# SMS texts that carriers, handsets and services send on their own.
_SMS_AUTO = re.compile(
    r"(?:kunde inte levereras|levererades inte|ej levererat|meddelandet kunde inte"
    r"|numret (?:är|finns) inte|abonnenten|inte i trafik|kan inte ta emot sms"
    r"|could not be delivered|undeliverable|not in service|message failed|delivery failed"
    r"|this number (?:is|does) not|does not accept (?:text|sms)|auto[- ]?reply|autosvar"
    r"|automatiskt svar|jag kör bil|i'?m driving|i am driving|do not reply|svara inte på detta)",
    re.IGNORECASE)


def auto_submitted_value(raw: str) -> str:
    """The RFC 3834 keyword of an ``Auto-Submitted`` value, lower-cased, comments removed.

    ``auto-replied (zimbra; vacation)`` and ``auto-generated; owner-email=x`` give
    ``auto-replied`` and ``auto-generated``; an empty value gives ``""``.
    """
    text = raw
    for _ in range(5):  # nested comments
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return text.split(";", 1)[0].strip().lower()


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower() if "@" in address else ""


def _local(address: str) -> str:
    return address.rsplit("@", 1)[0].lower()


def _bare(address: str | None) -> str:
    return (address or "").strip().strip("<>").strip().lower()


def email_robot_reason(message: NormalisedMessage, meta: ChannelMeta, *,
                       own_addresses: Iterable[str], own_domains: Iterable[str],
                       message_id_domain: str) -> LoopReason | None:
    """Why this e-mail must not be answered, or None if a person may have written it."""
    h = message.headers
    if "auto-submitted" in h and auto_submitted_value(h["auto-submitted"]) != "no":
        return LoopReason.AUTO_SUBMITTED
    if h.get("precedence", "").strip().lower() in _BULK_PRECEDENCE:
        return LoopReason.PRECEDENCE
    if any(name in h for name in _LIST_HEADERS):
        return LoopReason.MAILING_LIST
    if any(name in h for name in _LOOP_HEADERS) or any(
            name.startswith("x-zimbra-") and "auto" in name for name in h):
        return LoopReason.LOOP_MARKER
    suppress = {v.strip().lower() for v in h.get("x-auto-response-suppress", "").split(",")}
    if suppress & _SUPPRESS_VALUES:
        return LoopReason.RESPONSE_SUPPRESSED
    if h.get("content-type", "").lower().startswith(_REPORT_TYPES):
        return LoopReason.DELIVERY_REPORT
    if _OOF_SUBJECT.match(message.subject or ""):
        return LoopReason.OUT_OF_OFFICE
    if meta.transport == "smtp" and not _bare(meta.envelope_from):
        return LoopReason.NULL_SENDER
    if "return-path" in h and not _bare(h["return-path"]):
        return LoopReason.NULL_SENDER
    ours = {a.lower() for a in own_addresses}
    domains = {d.lower() for d in own_domains} | {message_id_domain.lower()}
    for address in (message.sender.email, meta.envelope_from, h.get("return-path")):
        bare = _bare(address)
        if not bare:
            continue
        if bare in ours or _domain(bare) in domains:
            return LoopReason.OUR_OWN_ADDRESS
        if _ROBOT_LOCALPART.match(_local(bare)):
            return LoopReason.ROBOT_ADDRESS
    if message.message_id and _domain(_bare(message.message_id)) == message_id_domain.lower():
        return LoopReason.OUR_OWN_MESSAGE
    return None


def sms_robot_reason(message: NormalisedMessage, *, opted_out: bool,
                     own_numbers: Iterable[str]) -> LoopReason | None:
    """Why this SMS must not be answered by SMS, or None.

    STOP gets nothing from us (the carrier confirms it), nor does anything after
    it until START; START's confirmation is the carrier's too.
    """
    phone = message.sender.phone
    keyword = message.headers.get("sms-keyword")
    if keyword == "stop" or opted_out:
        return LoopReason.OPTED_OUT
    if keyword == "start":
        return LoopReason.SMS_KEYWORD
    if phone and phone in set(own_numbers):
        return LoopReason.OUR_OWN_NUMBER
    if phone and not is_mobile(phone):
        return LoopReason.NOT_A_MOBILE
    if _SMS_AUTO.search(message.body or ""):
        return LoopReason.SMS_AUTO_RESPONSE
    return None


def is_mobile(phone: str) -> bool:
    """A number that can receive an SMS from us: a mobile number, not a short code."""
    try:
        number = phonenumbers.parse(phone, "SE")
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
