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
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from channels.scan.fields import find_emails, find_personnummer, fold, looks_like_name
from channels.sms.phone import to_e164
from ingest.logs import get_logger
from ingest.model import Sender

log = get_logger("dedupe.identity")

DEV_KEY = "kcs-dev-link-key-not-secret"
KEY_ENV = "KCS_PII_KEY"
# Kinds of identity key, by prefix in the link index.
EMAIL, PHONE, PNR, NAME, NAME_ADDRESS = "em", "ph", "pn", "nm", "na"
# People and street addresses a message names anywhere (sender fields, signature, text):
# a relative writes "min mamma Elsa Berg, Mörtviksvägen 12", a new mobile "Ulla Sandberg
# igen". ``Identity.own`` says which PERSON keys are the writer's own name.
PERSON, PERSON_INITIAL, ADDRESS = "pm", "pi", "ad"
# A mobile or e-mail address written in a text ("ni når mig på 070-…") meets the same
# contact as a sender field only through this weaker kind: a contractor's number that
# two citizens both quote is not a shared identity.
CONTACT = "tc"
IDENTITY_KINDS = (EMAIL, PHONE, PNR, NAME, NAME_ADDRESS, PERSON, PERSON_INITIAL, ADDRESS,
                  CONTACT)
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


_TOKEN = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*\.?|[ \t]+|.", re.S)
# Capitalised words that start sentences, greet, sign off or name places and
# institutions: never part of a person's name.
_NOT_NAME_WORDS = frozenset(" ".join((
    "hej hejsan hallo hello hi dear hola salaan merhaba dzien hyva privet zdravstvuyte",
    "jag min mitt mina var vart vi det den detta han hon hen de nu tack mvh vh med",
    "halsningar halsning halsn vanliga vanlig basta hjartliga till fran angaende ang",
    "arende kara my the this i from regards best kind sincerely yours thanks thank please",
    "galler betraffande betr re sv fwd vb ref dnr tel mobil telefon e-post epost adress",
    "och eller men om nar sedan efter innan hur vad varfor vem vilken kan har ar blir ska",
    "skulle vill inte ingen dr mr mrs ms miss prof herr fru stockholm stockholms stad",
    "kommun kontaktcenter forvaltning forvaltningen regionen region sverige svenska",
    "sweden swedish english engelska finska arabiska somaliska mandag tisdag onsdag",
    "torsdag fredag lordag sondag monday tuesday wednesday thursday friday saturday",
    "sunday januari februari mars april maj juni juli augusti september oktober november",
    "december january february march may june july august october ab hb kb brf bostader",
    "bostad hem hus ring skicka ring svara teams bankid microsoft google",
)).split())
_PLACE_ENDINGS = ("vagen", "vag", "gatan", "gata", "gangen", "grand", "alle", "torget",
                  "torg", "plan", "backe", "backen", "stigen", "skolan", "skola", "forskolan",
                  "boende", "boendet", "hemmet", "sjukhuset", "kontoret", "forvaltningen",
                  "kyrkogarden", "parken", "hallen", "badet", "biblioteket", "centrum",
                  "stationen", "huset", "garden", "namnden", "bolaget", "stan",
                  "korset", "missionen", "tjansten", "kyrkan", "hamnen")
_STREET_AHEAD = re.compile(r"\s*(?:\d|(?:allé|alle|väg|gata|gränd|plan|torg|backe|stig)\b)", re.I)
# Cues that the writer names themselves, matched on the text as written ("här" is
# not "har", which is "has"): "jag heter X", "detta är X", "X här", "X igen". "Det är X"
# only when the name ends the clause ("det är Anna Svensson som …" is someone else).
_SELF_BEFORE = re.compile(r"(?:\b(?:jag heter|jag är|detta är|här är|this is|my name is|"
                          r"i am|tu|olen|nimeni on|ana|waxaan ahay|ben)|^(?:hej|hejsan)?[\s,]*"
                          r"det är)\s*$", re.I)
_SELF_AFTER = re.compile(r"^[\s,]*(?:här|igen|here|again|tässä|burada)\b", re.I)
_CLAUSE_END = re.compile(r"^\s*(?:[.,!?\n]|$)")
# A name right after a greeting is the person addressed (a handläggare), not the writer,
# unless a self cue follows ("Hej, Karin Bergholm här").
_GREETING_BEFORE = re.compile(r"\b(?:hej|hejsan|hallå|dear|hello|hi|kära)[\s,!]*$", re.I)


def _is_name_word(token: str) -> bool:
    core = token.rstrip(".")
    if not core or not core[0].isupper() or fold(core) in _NOT_NAME_WORDS:
        return False
    if core.isupper() and len(core) >= 2 and "-" not in core:
        return False  # an acronym (KC, SBK, LSS), not a name; "B-M" is initials
    return not fold(core).endswith(_PLACE_ENDINGS)


def mentioned_names(text: str) -> list[tuple[str, bool]]:
    """Every person a text names, with whether the writer names themselves.

    Runs of two to four capitalised words ("Elsa Berg", "Anna-Karin Lundqvist",
    "B-M Sjöholm") that are not greetings, places or institutions. A genitive
    ("Åke Karlssons färdtjänst") is read as the name. "Ulla Sandberg igen", "Karin
    Bergholm här", "jag heter Holger Sjöberg" are the writer's own name: a new
    phone or address announcing itself.
    """
    out: list[tuple[str, bool]] = []
    run: list[tuple[int, int, str]] = []

    def flush() -> None:
        if 2 <= len(run) <= 4:
            start, end = run[0][0], run[-1][1]
            name = " ".join(t for _, _, t in run).rstrip(".")
            before = text[max(0, start - 24):start]
            after = text[end:end + 12]
            det_ar = before.rstrip().lower().endswith("det är")
            own = bool(_SELF_AFTER.match(after)) or (
                bool(_SELF_BEFORE.search(before))
                and (not det_ar or bool(_CLAUSE_END.match(after))))
            if own or not _GREETING_BEFORE.search(before):
                out.append((name, own))
                if len(run) >= 3:  # "Grannen Lars Andersson": a sentence's first word too
                    out.append((" ".join(t for _, _, t in run[1:]).rstrip("."), own))
        run.clear()

    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token.isspace() and "\n" not in token:
            continue
        if run and run[-1][2].endswith(".") and len(run[-1][2]) > 4:
            flush()  # a sentence ended
        if _is_name_word(token) and not _STREET_AHEAD.match(text, m.end()):
            run.append((m.start(), m.end(), token))
        else:
            flush()
    flush()
    return out


def person_forms(name: str) -> tuple[list[str], list[str]]:
    """A named person's full-name forms (genitive read both ways) and "initial surname"."""
    full = norm_name(name)
    if full is None:
        return [], []
    words = full.split()
    forms = [full]
    if words[-1].endswith("s") and len(words[-1]) > 3:
        forms.append(" ".join([*words[:-1], words[-1][:-1]]))
    initials = list(dict.fromkeys(f"{words[0][0]} {f.split()[-1]}" for f in forms))
    if len(words[-1]) == 1:
        return [], []  # "Anna B.": a surname's initial says too little
    if all(len(w) <= 2 for w in words[:-1]):
        forms = []  # "B-M Sjöholm", "S. O'Neill": only the initial form says anything
    return forms, initials


_STREET_MENTION = re.compile(
    r"(?<![\w-])((?:[A-ZÅÄÖÉ][\wåäöé]+s?\s+(?i:allé|alle|väg|gata|gränd|plan|torg|backe|stig)"
    r"|[A-ZÅÄÖÉ][\wåäöé]*(?:vägen|gatan|gången|gränd|allé|backe|backen|torget|stigen|plan|"
    r"v|g|gr|vg)\.?)\s+\d[\dOo]{0,3}(?:\s?[A-Ha-h]\b)?)(?![\w])")


def mentioned_addresses(text: str) -> list[str]:
    """Street addresses a text names ("Mörtviksvägen 12", "Ringv 88a", "Tensta allé 12"),
    normalised as ``address_variants`` does, without the postcode."""
    out: list[str] = []
    for m in _STREET_MENTION.finditer(text):
        street = re.sub(r"(?<=\d)[Oo]|[Oo](?=\d)", "0", m.group(1))  # OCR: "9O" is 90
        for form in address_variants(street):
            if "|" not in form and form not in out:
                out.append(form)
    return out


@dataclass
class Identity:
    """The identity keys of one message, by kind (each a set of keyed hashes)."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    own: set[str] = field(default_factory=set)   # PERSON/CONTACT keys that are the writer's

    def add(self, kind: str, value: str | None, *, own: bool = False) -> None:
        """Add one normalised value (ignored when empty); ``own``: the writer's own."""
        if value:
            self.keys.setdefault(kind, set()).add(keyed(kind, value))
            if own:
                self.own.add(keyed(kind, value))

    def all(self) -> set[str]:
        """Every key, for the index lookup."""
        return set().union(*self.keys.values()) if self.keys else set()

    def kinds(self) -> set[str]:
        """Which kinds of identity the message has."""
        return {k for k, v in self.keys.items() if v}


_MOBILE = re.compile(r"(?<![\d+])(?:\+46|0046|0)\s?-?\(?0?\)?\s?(7[02369](?:[\s-]?\d){7})(?!\d)")


def mentioned_contacts(text: str, our_domain: str | None = None) -> tuple[list[str], list[str]]:
    """Mobile numbers (E.164) and e-mail addresses written in the text: "ni når mig på
    070-174 06 41" is the phone the next SMS comes from. The city's own addresses (the
    ``our_domain`` family) are not anyone's identity."""
    phones = list(dict.fromkeys("+46" + re.sub(r"\D", "", m.group(1))
                                for m in _MOBILE.finditer(text)))
    ours = ".".join(our_domain.lower().split(".")[-2:]) if our_domain else None
    # OCR-style repair may glue the next word on ("stockholm.se. Kontoret"): match the
    # city's domain anywhere in the domain part.
    city = re.compile(rf"(?:^|\.){re.escape(ours)}(?:\.|$)") if ours else None
    emails = [e for e in find_emails(text)
              if not (city and city.search(e.split("@", 1)[1]))]
    return phones, emails


def identity_of(sender: Sender, text: str, our_domain: str | None = None) -> Identity:
    """Identity keys of a message: its sender fields, signature, the personnummer,
    people, streets, mobiles and e-mail addresses it names."""
    ident = Identity()
    text = unicodedata.normalize("NFC", text)  # a decomposed "Å" must still be a letter
    if sender.email:
        ident.add(EMAIL, sender.email.strip().lower())
        ident.add(CONTACT, sender.email.strip().lower(), own=True)
    if sender.phone:
        ident.add(PHONE, to_e164(sender.phone) or sender.phone)
        ident.add(CONTACT, to_e164(sender.phone) or sender.phone, own=True)
    shown = sender.name if norm_name(sender.name) else signed_name(text)
    ident.add(NAME, norm_name(shown))
    for name in name_variants(shown):
        for address in address_variants(sender.postal_address):
            ident.add(NAME_ADDRESS, f"{name}|{address}")
    for pnr, _ in find_personnummer(text):
        ident.add(PNR, re.sub(r"\D", "", pnr)[-10:])
    named = [(shown, True)] if shown else []
    named += [(sender.name, True)] if sender.name and sender.name != shown else []
    for name, own in [*named, *mentioned_names(text)]:
        forms, initials = person_forms(name)
        for form in forms:
            ident.add(PERSON, form)
            if own:
                ident.own.add(keyed(PERSON, form))
        for form in initials:
            ident.add(PERSON_INITIAL, form)
    phones, emails = mentioned_contacts(text, our_domain)
    for contact in (*phones, *emails):
        ident.add(CONTACT, contact)
    for address in [*(a for a in address_variants(sender.postal_address) if "|" not in a),
                    *mentioned_addresses(text)]:
        ident.add(ADDRESS, address)
    return ident
