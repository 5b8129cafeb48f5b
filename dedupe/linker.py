"""Linking an item to an existing ärende, or opening a new one.

This first version links only on evidence that cannot be wrong by accident:
a reply to our own acknowledgement (our Message-ID in In-Reply-To or
References), or our ärende number quoted by the same sender address that the
ärende was opened by. Anything else opens a new ärende. The evidence-scored
linker (text similarity, identities, external references) replaces this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dedupe.arende_number import find_numbers, format_number

_OUR_MSGID = re.compile(r"<ack\.(KC-\d{4}-\d{6}-[A-Z])\.[^@>]+@([^>]+)>")


def our_message_id(arende_id: str, item_id: str, domain: str) -> str:
    """The Message-ID we put on an acknowledgement; the linker recognises it in replies."""
    return f"<ack.{arende_id}.{item_id.lower()}@{domain}>"


@dataclass(frozen=True)
class LinkDecision:
    """Which ärende an item belongs to and why."""

    arende_id: str | None
    new: bool
    linked_by: str | None
    explanation: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored on the item."""
        return {"arende_id": self.arende_id, "new": self.new, "linked_by": self.linked_by,
                "explanation": self.explanation}


def decide(*, subject: str, body: str, sender_email: str | None, in_reply_to: str | None,
           references: tuple[str, ...], our_domain: str,
           arende_sender: dict[str, str | None]) -> LinkDecision:
    """Decide from the message alone; ``arende_sender`` maps known ärende ids to their sender.

    Returns ``arende_id=None, new=True`` when a new ärende must be opened.
    """
    for header_id in (in_reply_to, *references):
        if not header_id:
            continue
        m = _OUR_MSGID.search(header_id)
        if m and m.group(2).lower() == our_domain.lower() and m.group(1) in arende_sender:
            return LinkDecision(m.group(1), False, "reply_to_our_message",
                                [{"signal": "our_message_id", "value": m.group(1)}])
    for number in find_numbers(f"{subject}\n{body}"):
        owner = arende_sender.get(number)
        if number not in arende_sender:
            continue
        if sender_email and owner and owner.lower() == sender_email.lower():
            return LinkDecision(number, False, "arende_number_same_sender",
                                [{"signal": "arende_number", "value": number},
                                 {"signal": "same_sender_email", "value": True}])
        return LinkDecision(None, True, None,
                            [{"signal": "arende_number", "value": number},
                             {"signal": "same_sender_email", "value": False,
                              "note": "number quoted by another sender: not linked"}])
    return LinkDecision(None, True, None, [])


def new_arende_id(year: int, seq: int) -> str:
    """The readable ärende number for a new ärende."""
    return format_number(year, seq)


def candidates_in(subject: str, body: str, in_reply_to: str | None,
                  references: tuple[str, ...]) -> list[str]:
    """Ärende ids the message mentions (to look up their senders before ``decide``)."""
    ids = find_numbers(f"{subject}\n{body}")
    for header_id in (in_reply_to, *references):
        if header_id:
            ids += [m.group(1) for m in _OUR_MSGID.finditer(header_id)]
    return list(dict.fromkeys(ids))


def year_of(when: datetime) -> int:
    """The ärende year: the year the first message arrived (Stockholm time is close enough)."""
    return when.year


# -- SMS continuity (channels/sms) ---------------------------------------------
# Kept apart from ``decide`` so the evidence-scored linker can take these two
# signals over as they are: an SMS has no Message-ID threading, so the sender's
# phone number stands in for the reply header.


def decide_sms(*, phone: str, subject: str, body: str,
               arende_phone: dict[str, str | None],
               recent_open: list[str]) -> LinkDecision | None:
    """Link an SMS by its sender's number, or None to fall back to ``decide``.

    ``arende_phone`` maps ärende ids quoted in the text to the number each was
    opened from; ``recent_open`` lists open ärenden opened from ``phone`` and
    active within the configured number of days, most recently active first.
    An ärende number quoted from the same phone wins; otherwise a recent open
    ärende from the same phone (a reply to our acknowledgement SMS lands here,
    since the citizen answers the number we wrote from).
    """
    for number in find_numbers(f"{subject}\n{body}"):
        if number in arende_phone and arende_phone[number] == phone:
            return LinkDecision(number, False, "arende_number_same_phone",
                                [{"signal": "arende_number", "value": number},
                                 {"signal": "same_sender_phone", "value": True}])
    if recent_open:
        return LinkDecision(recent_open[0], False, "sms_same_number_recent",
                            [{"signal": "same_sender_phone", "value": True},
                             {"signal": "open_arenden_from_number", "value": len(recent_open)}])
    return None
