"""Who wrote: identity keys the linker can look up without storing who it was.

Every identity (e-mail, E.164 phone, personnummer, name, name + postal
address) becomes a keyed hash (HMAC-SHA256, key from ``KCS_PII_KEY``), so
the link index finds "the same person" by an indexed equality lookup while
holding no readable personal data. Without the variable a development key is
used and a warning is logged once: set it in production, and keep it, since
changing it makes the existing index unfindable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

from channels.scan.fields import find_personnummer, fold, looks_like_name
from channels.sms.phone import to_e164
from ingest.logs import get_logger
from ingest.model import Sender

log = get_logger("dedupe.identity")

DEV_KEY = "kcs-dev-link-key-not-secret"
KEY_ENV = "KCS_PII_KEY"
# Kinds of identity key, by prefix in the link index.
EMAIL, PHONE, PNR, NAME, NAME_ADDRESS = "em", "ph", "pn", "nm", "na"
IDENTITY_KINDS = (EMAIL, PHONE, PNR, NAME, NAME_ADDRESS)
# Kinds whose disagreement means "a different person" (names alone do not: relatives,
# spelling, a display name missing).
CONFLICT_KINDS = (EMAIL, PHONE, NAME_ADDRESS)


@lru_cache(maxsize=1)
def _key() -> bytes:
    value = os.environ.get(KEY_ENV)
    if not value:
        log.warning("dedupe.dev_link_key", hint=f"set {KEY_ENV} in production")
        value = DEV_KEY
    return value.encode()


def reset_key_cache() -> None:
    """Tests change ``KCS_PII_KEY``; production reads it once."""
    _key.cache_clear()


def keyed(kind: str, value: str) -> str:
    """``kind:`` plus 32 hex characters of HMAC-SHA256 over the normalised value."""
    digest = hmac.new(_key(), f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


def norm_name(name: str | None) -> str | None:
    """Folded, punctuation-free words of a full name, in order; None for one word.
    "Wikström, Gun" (surname first, as on forms) is read as "gun wikstrom"."""
    if not name:
        return None
    words = re.findall(r"[a-z]+", _given_first(fold(name)))
    return " ".join(words) if len(words) >= 2 else None


def name_variants(name: str | None) -> list[str]:
    """The full name and "initial surname": "Gun-Britt Wikström", "G-B Wikström" and
    "Wikström, G." all give "g wikstrom". Used only together with an address, where
    two people of one initial and surname are one household."""
    full = norm_name(name)
    if full is None:
        return []
    words = full.split()
    return list(dict.fromkeys([full, f"{words[0][0]} {words[-1]}"]))


# Street-name endings people and forms abbreviate: "Västertorpsv. 21" is
# "Västertorpsvägen 21", "Hornsg 5" is "Hornsgatan 5".
_STREET_SUFFIXES = (("vagen", "v"), ("vag", "v"), ("gatan", "g"), ("gata", "g"),
                    ("grand", "gr"), ("backe", "b"), ("backen", "b"), ("plan", "pl"),
                    ("torget", "t"), ("torg", "t"), ("stigen", "st"), ("stig", "st"),
                    ("alle", "al"), ("allen", "al"))
_FLOOR = re.compile(
    r"\b\d+\s*(?:tr|trappor|trappa)\b|\b(?:lgh|lag|lagenhet|vaning|c/o)\b\.?\s*\w+")


def _street(name: str) -> str:
    name = re.sub(r"[^a-z]", "", name)
    for long, short in _STREET_SUFFIXES:
        if name.endswith(long) and len(name) > len(long) + 2:
            return name[: -len(long)] + short
    return name


def address_variants(address: str | None) -> list[str]:
    """Street and postcode, folded ("Storgatan 5, 123 45 Stockholm" → "storg 5|12345"),
    and the street alone: a follow-up often leaves the postcode out. Floors ("2 tr"),
    flat numbers and street-name abbreviations do not count."""
    if not address:
        return []
    folded = _FLOOR.sub(" ", fold(address))
    postcode = re.search(r"\b(\d{3})\s?(\d{2})\b", folded)
    street = re.search(r"([a-z][a-z .-]+?)\s*\.?\s+(\d+\s?[a-z]?)\b", folded)
    if not street:
        return []
    base = f"{_street(street.group(1))} {street.group(2).replace(' ', '')}"
    return [f"{base}|{postcode.group(1)}{postcode.group(2)}", base] if postcode else [base]


_CLOSING = re.compile(r"^\s*(?:mvh|m\.v\.h\.?|med vanlig halsning|vanliga halsningar|halsningar|"
                      r"halsning|halsn|vh|bh|basta halsningar|tack|tack pa forhand)[\s,.:!]*(.*)$",
                      re.I)


def signed_name(text: str) -> str | None:
    """The name a message is signed with ("Mvh Anna Berg", "/Anna Berg"), if any.

    SMS and many e-mails carry no name header; the signature is then the only
    name the linker can compare with a letter's sender block.
    """
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-4:]
    for i, line in enumerate(lines):
        m = _CLOSING.match(fold(line))
        if not m:
            continue
        rest = line[len(line) - len(m.group(1)):].strip(" ,.") if m.group(1) else ""
        if not rest and i + 1 < len(lines) and not _CLOSING.match(fold(lines[i + 1])):
            rest = lines[i + 1].strip(" ,.")
        if rest and looks_like_name(rest):
            return rest
    if lines:
        m = re.search(r"(?:^|\s)/\s*([^/]+?)\s*$", lines[-1])
        if m and looks_like_name(m.group(1)):
            return m.group(1)
        # A letter signed with the bare name on its own line, also "Wikström, G.".
        for line in reversed(lines[-2:]):
            bare = line.strip(" ,.")
            if looks_like_name(bare) or looks_like_name(_given_first(bare)):
                return bare
    return None


def _given_first(name: str) -> str:
    """ "Wikström, Gun" → "Gun Wikström" (forms put the surname first)."""
    if name.count(",") != 1:
        return name
    surname, given = name.split(",")
    return f"{given.strip()} {surname.strip()}"


_RELATIVE = re.compile(
    r"\b(?:min|mitt|var|vart)\s+(?:gamla\s+)?(?:mamma|pappa|mor|far|moder|fader|mormor|farmor|"
    r"morfar|farfar|make|maka|man|fru|son|dotter|bror|syster|svarmor|svarfar|foralder|"
    r"foraldrar|anhorig)s?\b|\banhorig\b|\b(?:dotter|son|barn|make|maka|fru) till\b|"
    r"\b(?:pappa|mamma)\b|\bgod man\b|\bgode man\b|\bfor (?:hans|hennes) rakning\b"
    r"|\bfullmakt\b", re.I)


def writes_as_relative(text: str) -> bool:
    """Whether the sender says they write for a relative or as god man."""
    return bool(_RELATIVE.search(fold(text)))


@dataclass
class Identity:
    """The identity keys of one message, by kind (each a set of keyed hashes)."""

    keys: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str | None) -> None:
        """Add one normalised value (ignored when empty)."""
        if value:
            self.keys.setdefault(kind, set()).add(keyed(kind, value))

    def all(self) -> set[str]:
        """Every key, for the index lookup."""
        return set().union(*self.keys.values()) if self.keys else set()

    def kinds(self) -> set[str]:
        """Which kinds of identity the message has."""
        return {k for k, v in self.keys.items() if v}


def identity_of(sender: Sender, text: str) -> Identity:
    """Identity keys of a message: its sender fields, signature and quoted personnummer."""
    ident = Identity()
    if sender.email:
        ident.add(EMAIL, sender.email.strip().lower())
    if sender.phone:
        ident.add(PHONE, to_e164(sender.phone) or sender.phone)
    shown = sender.name if norm_name(sender.name) else signed_name(text)
    ident.add(NAME, norm_name(shown))
    for name in name_variants(shown):
        for address in address_variants(sender.postal_address):
            ident.add(NAME_ADDRESS, f"{name}|{address}")
    for pnr, _ in find_personnummer(text):
        ident.add(PNR, re.sub(r"\D", "", pnr)[-10:])
    return ident
