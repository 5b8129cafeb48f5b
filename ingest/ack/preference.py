"""The sender's own wish for how we answer: "svara gärna på sms till 070-123 45 67".

The seeds let the citizen choose how to get feedback ("med mail, sms eller
telefonkontakt"). We look for an explicit request near the words sms/sms:a/
text or e-post/mejl/mail, in Swedish and English, and take the phone number
or address written in the same text (else the one the message came from).
Only an explicit request counts: a phone number in a signature is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_SMS_WISH = re.compile(
    r"(?:svara|återkoppla|kontakta|meddela|hör av (?:er|dig)|skicka svar(?:et)?|svar)"
    r"[^.\n]{0,40}?\b(?:på|via|med|per|genom)\s+(?:ett\s+)?sms\b"
    r"|\bsms[-:]?a\s+(?:mig|gärna|hellre)"
    r"|\bvia\s+sms\b|\bhellre\s+sms\b|\bsms\s+(?:hellre|helst|gärna)\b"
    r"|\b(?:reply|answer|respond|contact me|get back to me)[^.\n]{0,30}?\b(?:by|via|with|per)"
    r"\s+(?:an?\s+)?(?:sms|text(?: message)?)\b|\btext me\b",
    re.IGNORECASE)
_EMAIL_WISH = re.compile(
    r"(?:svara|återkoppla|kontakta|meddela|svar)[^.\n]{0,40}?\b(?:på|via|med|per|till)\s+"
    r"(?:min\s+)?(?:e-?post|mejl|mail|e-?mail)\b"
    r"|\b(?:reply|answer|respond|contact me)[^.\n]{0,30}?\b(?:by|via|per|to)\s+(?:my\s+)?"
    r"(?:e-?mail|mail)\b", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True, slots=True)
class StatedPreference:
    """What the sender asked for: ``sms`` or ``email``, and where (None: the sender's own)."""

    channel: str
    to: str | None


def stated_preference(text: str, *, exclude_phones: frozenset[str] = frozenset(),
                      exclude_emails: frozenset[str] = frozenset()) -> StatedPreference | None:
    """The reply channel the sender asked for in ``text``, or None.

    ``exclude_*``: our own numbers and addresses (a letter quotes our letterhead).
    """
    if not text:
        return None
    sms = _SMS_WISH.search(text)
    mail = _EMAIL_WISH.search(text)
    if sms and (not mail or sms.start() <= mail.start()):
        return StatedPreference("sms", _mobile_near(text, sms.start(), exclude_phones))
    if mail:
        found = [m.group(0) for m in _EMAIL.finditer(text)
                 if m.group(0).lower() not in exclude_emails]
        return StatedPreference("email", _nearest(found, text, mail.start()))
    return None


def _mobile_near(text: str, at: int, exclude: frozenset[str]) -> str | None:
    best: tuple[int, str] | None = None
    for match in phonenumbers.PhoneNumberMatcher(text, "SE"):
        number = match.number
        if phonenumbers.number_type(number) not in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 in exclude:
            continue
        distance = abs(match.start - at)
        if best is None or distance < best[0]:
            best = (distance, e164)
    return best[1] if best else None


def _nearest(found: list[str], text: str, at: int) -> str | None:
    if not found:
        return None
    return min(found, key=lambda a: abs(text.find(a) - at))
