"""The acknowledgement plan: whether to answer, where, in which language, with which text.

Made once when the item is published and stored with it, so the acknowledge
stage (and staff) see exactly what was decided and why. The order of the
decisions matters:

1. robots get nothing (``loopguard``), checked first so that the item says so;
2. anonymous senders get nothing (there is no one to answer);
3. the channel: the sender's stated wish ("svara gärna på sms" plus a mobile
   number), else the channel the message came on; a scanned letter or fax is
   answered by e-mail or SMS when it gives one, else by a printable letter to
   its postal address;
4. the language: the sender's when we have texts for it, else Swedish with
   English; plain Swedish for the configured categories;
5. the text: a referral text for out-of-scope categories (socialtjänst, LSS,
   other authorities), an urgent text for ``akut``, else the standard text
   chosen by ärendetyp; and the deadline in working days for that type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from classifier.taxonomy import Taxonomy
from ingest.ack import deadlines, loopguard
from ingest.ack.preference import stated_preference
from ingest.config import KcsConfig
from ingest.model import Channel, ChannelMeta, NormalisedMessage


def _none(reason: str) -> dict[str, Any]:
    return {"planned": False, "channel": None, "to": None, "reason": reason}


def choose_language(detected: str | None, category: str | None, cfg: KcsConfig
                    ) -> tuple[str, list[str]]:
    """(primary language, languages to render). Unsupported or unknown: Swedish + English."""
    ack = cfg.ack
    lang = (detected or "und").lower().split("-")[0].split("_")[0]
    if lang == "sv":
        if category in ack.plain_swedish_categories and "sv-lattlast" in ack.languages:
            return "sv-lattlast", ["sv-lattlast"]
        return "sv", ["sv"]
    if lang in ack.languages:
        return lang, [lang]
    return "sv", ["sv", "en"]


def template_kind(category: str | None, arendetyp: str | None, flags: Mapping[str, bool],
                  cfg: KcsConfig, routing: Mapping[str, Any] | None = None) -> str:
    """``referral`` (passed on, out of scope), ``akut`` or ``standard``.

    The routing table decides what is out of scope (``out_of_scope`` on the rule
    that fired); the ack config's category lists only cover items not routed yet
    (previews).
    """
    if routing:
        if routing.get("out_of_scope"):
            return "referral"
        return "akut" if flags.get("akut") else "standard"
    case_key = f"{category}/{arendetyp}" if category and arendetyp else None
    if category in cfg.ack.referral_categories or case_key in cfg.ack.referral_types:
        return "referral"
    if flags.get("akut"):
        return "akut"
    return "standard"


def working_days_for(taxonomy: Taxonomy | None, category: str | None, arendetyp: str | None,
                     cfg: KcsConfig) -> int:
    """The promised återkoppling in working days: the ärendetyp's, its category's, or
    the configured default for unclassified items."""
    if taxonomy is not None and category:
        case_type = taxonomy.type(category, arendetyp) if arendetyp else None
        if case_type is not None:
            return case_type.ack_deadline_working_days
        if category in taxonomy.categories:
            return taxonomy.categories[category].ack_deadline_working_days
    return cfg.ack.default_deadline_working_days


def plan(message: NormalisedMessage, meta: ChannelMeta, cfg: KcsConfig, *,
         flags: Mapping[str, bool], classification: Mapping[str, Any], received_at: datetime,
         taxonomy: Taxonomy | None, is_opted_out: Callable[[str | None], bool],
         routing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Decide whether, where and how to acknowledge; the result is JSON for the item."""
    if not cfg.ack.enabled:
        return _none("disabled")
    own_numbers = tuple(n for n in (cfg.sms.from_number,) if n)
    own_addresses = (cfg.outbound.from_address, *cfg.smtp.accept_addresses,
                     *cfg.scan.city_letterhead.emails)
    if meta.channel is Channel.EMAIL:
        robot = loopguard.email_robot_reason(
            message, meta, own_addresses=own_addresses,
            own_domains=(*cfg.smtp.accept_domains, cfg.outbound.message_id_domain),
            message_id_domain=cfg.outbound.message_id_domain)
        if robot:
            return _none(robot.value)
    if meta.channel is Channel.SMS:
        robot = loopguard.sms_robot_reason(message, opted_out=is_opted_out(message.sender.phone),
                                           own_numbers=own_numbers)
        if robot:
            return _none(robot.value)
    if flags.get("anonym") or message.sender.anonymous:
        return _none("anonymous")
    channel, to, preferred = _channel(message, meta, cfg, is_opted_out, own_numbers,
                                      own_addresses)
    if channel is None:
        return _none(to or "no_supported_contact")
    category = classification.get("huvudkategori")
    arendetyp = classification.get("arendetyp")
    language, languages = choose_language(classification.get("language"), category, cfg)
    days = working_days_for(taxonomy, category, arendetyp, cfg)
    due = deadlines.deadline_for(received_at, days, cfg.ack.timezone)
    recipients = sorted({r for r in (to if channel != "letter" else None,
                                     message.sender.email, message.sender.phone) if r})
    return {
        "planned": True, "channel": channel, "to": to, "reason": None,
        "stated_preference": preferred, "language": language, "languages": languages,
        "kind": template_kind(category, arendetyp, flags, cfg, routing),
        "case_key": f"{category}/{arendetyp}" if category and arendetyp else category,
        "deadline": due.isoformat(), "deadline_working_days": days,
        "sekretess": bool(flags.get("sekretess")), "recipients": recipients,
    }


def _channel(message: NormalisedMessage, meta: ChannelMeta, cfg: KcsConfig,
             is_opted_out: Callable[[str | None], bool], own_numbers: tuple[str, ...],
             own_addresses: tuple[str, ...]) -> tuple[str | None, str | None, bool]:
    """(channel, recipient, whether the sender asked for it); (None, reason, False) if none."""
    sender = message.sender
    wish = stated_preference(message.body, exclude_phones=frozenset(own_numbers),
                             exclude_emails=frozenset(a.lower() for a in own_addresses))
    if wish is not None and wish.channel == "sms":
        phone = wish.to or sender.phone
        if phone and loopguard.is_mobile(phone) and not is_opted_out(phone):
            return "sms", phone, True
    if wish is not None and wish.channel == "email":
        address = wish.to or sender.email
        if address:
            return "email", address, True
    if meta.channel is Channel.SMS:
        return ("sms", sender.phone, False) if sender.phone else (None, None, False)
    if meta.channel is Channel.EMAIL:
        return ("email", sender.email, False) if sender.email else (None, None, False)
    # A letter or fax: e-mail, then a mobile number, then paper.
    if sender.email:
        return "email", sender.email, False
    if sender.phone and loopguard.is_mobile(sender.phone) and not is_opted_out(sender.phone):
        return "sms", sender.phone, False
    if sender.postal_address:
        lines = [x for x in (sender.name, sender.postal_address) if x]
        return "letter", "\n".join(lines), False
    return None, "no_supported_contact", False
