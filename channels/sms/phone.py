"""Phone numbers: E.164 for storage and matching, a masked form for logs.

Twilio sends ``From`` in E.164 already for ordinary numbers, but short codes,
alphanumeric sender ids and numbers typed by staff are not; everything is
parsed with ``phonenumbers`` (default region SE) so that one person's number
is one string wherever it is compared (opt-outs, ärende continuity).
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "SE"


def to_e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``+46701234567`` for anything that is a possible phone number, else None."""
    if not raw or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(phone: str | None) -> str:
    """The last two digits only: phone numbers are personal data and logs travel far."""
    if not phone:
        return "-"
    digits = [c for c in phone if c.isdigit()]
    return "…" + "".join(digits[-2:]) if len(digits) > 2 else "…"
