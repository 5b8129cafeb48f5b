"""The link index: candidate retrieval by indexed lookups, and writing an ärende's keys.

Retrieval never scans ärenden. It reads ``link_key`` rows by key (identity
hashes, references, LSH band keys: an equality lookup on the primary key),
ärenden by id (numbers quoted, our Message-IDs, SMS continuity), and then,
for at most ``max_candidates`` ärenden, their identity keys and text
signatures by ärende id. Each read is capped, so a popular key (a common
name, a boilerplate sentence) costs a bounded amount, not one row per ärende.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import not_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dedupe import minhash
from dedupe.db import LinkKey, LinkText
from dedupe.evidence import Evidence
from dedupe.identity import (
    ADDRESS,
    CONTACT,
    IDENTITY_KINDS,
    NAME,
    PERSON,
    PERSON_INITIAL,
)
from dedupe.policy import LinkingConfig
from dedupe.scoring import Candidate
from ingest.db import Arende
from ingest.model import as_utc

MAX_MERGE_HOPS = 10
# Identity keys read per candidate ärende (e-mails, phones, names of everyone in it).
IDENTITY_ROWS_PER_CANDIDATE = 64
# Ärenden a message names (replies, quoted numbers) always scored; a long quoted thread
# naming hundreds is capped.
MAX_NAMED = 20
# Kinds many ärenden share (names, streets, contacts quoted in texts): looked up apart.
WEAK_KINDS = frozenset({NAME, PERSON, PERSON_INITIAL, ADDRESS, CONTACT})


def resolve(session: Session, arende_id: str) -> str:
    """The ärende ``arende_id`` now lives in: merges followed to their target."""
    current = arende_id
    for _ in range(MAX_MERGE_HOPS):
        target = session.scalar(select(Arende.merged_into).where(Arende.id == current))
        if not target:
            return current
        current = target
    return current


def _hits(session: Session, keys: list[str], limit: int) -> list[tuple[str, str]]:
    if not keys:
        return []
    rows = session.execute(select(LinkKey.key, LinkKey.arende_id)
                           .where(LinkKey.key.in_(keys)).limit(limit))
    return [(k, a) for k, a in rows]


def candidates(session: Session, ev: Evidence, policy: LinkingConfig,
               sms_recent: str | None = None) -> list[Candidate]:
    """The ärenden worth scoring for ``ev``, with the facts scoring needs."""
    by_arende: dict[str, set[str]] = {}
    # Each lookup is capped and unordered, so a popular weak key (a street half the city
    # writes about, a common name) could fill it and hide the sender's own e-mail hit:
    # the selective keys (e-mail, phone, personnummer, name with address, references,
    # threads) get a read of their own.
    keys = ev.lookup_keys()
    strong = [k for k in keys if k.split(":", 1)[0] not in WEAK_KINDS]
    weak = [k for k in keys if k.split(":", 1)[0] in WEAK_KINDS]
    for key, arende_id in (_hits(session, strong, policy.max_key_hits)
                           + _hits(session, weak, policy.max_key_hits)
                           + _hits(session, ev.bands, policy.max_key_hits)):
        by_arende.setdefault(arende_id, set()).add(key)
    direct = {*ev.numbers, *ev.reply_to, *([sms_recent] if sms_recent else [])}
    ids = set(by_arende) | direct
    if not ids:
        return []
    arenden = _load(session, ids)
    # Follow merges: a merged ärende's evidence counts for its target.
    facts: dict[str, Candidate] = {}
    hits: dict[str, set[str]] = {}
    for original in ids:
        if original not in arenden:
            continue  # a quoted number we never issued (or a typo that passed the check)
        final = original
        for _ in range(MAX_MERGE_HOPS):
            target = arenden[final].merged_into
            if not target:
                break
            if target not in arenden:
                arenden.update(_load(session, {target}))
            if target not in arenden:
                break
            final = target
        row = arenden[final]
        c = facts.setdefault(final, Candidate(
            arende_id=final, status=row.status, last_activity_at=as_utc(row.last_activity_at),
            status_changed_at=as_utc(row.status_changed_at) if row.status_changed_at else None,
            huvudkategori=row.huvudkategori, arendetyp=row.arendetyp))
        hits.setdefault(final, set()).update(by_arende.get(original, ()))
        c.quoted |= original in ev.numbers
        c.replied |= original in ev.reply_to
        c.sms_recent |= original == sms_recent
    # Ärenden the message names (a reply, a quoted number, the SMS conversation) are
    # always scored; the cap only limits those found by shared keys, so a popular key
    # (a common name, a boilerplate sentence) cannot crowd out the ärende quoted.
    named = [c for c in facts.values() if c.replied or c.quoted or c.sms_recent][:MAX_NAMED]
    named_ids = {c.arende_id for c in named}
    ranked = named + sorted((c for c in facts.values() if c.arende_id not in named_ids),
                            key=lambda c: (
        -(sum(1 for k in hits[c.arende_id] if not k.startswith("lsh:")) * 2
          + sum(1 for k in hits[c.arende_id] if k.startswith("lsh:")) / 4),
        c.arende_id))[:max(0, policy.max_candidates - len(named))]
    chosen = {c.arende_id: c for c in ranked}
    members = _members(session, chosen, arenden)
    # Every chosen candidate's identity keys: one missing would hide an identity
    # conflict, and then a look-alike text from another person would link on its own.
    identity_rows = session.execute(
        select(LinkKey.key, LinkKey.arende_id)
        .where(LinkKey.arende_id.in_(list(members)), not_(LinkKey.key.like("lsh:%")),
               not_(LinkKey.key.like("ref:%")))
        .limit(policy.max_key_hits + IDENTITY_ROWS_PER_CANDIDATE * len(members)))
    own = ev.identity.all()
    for key, arende_id in identity_rows:
        c = chosen[members[arende_id]]
        kind = key.split(":", 1)[0]
        if kind in IDENTITY_KINDS:
            c.kinds.add(kind)
            if key in own:
                c.matched_kinds.add(kind)
                if kind == CONTACT:
                    c.own_contact |= key in ev.identity.own
                else:
                    c.own_named |= key in ev.identity.own
    for arende_id, keys in hits.items():
        if arende_id in chosen:
            chosen[arende_id].refs = sorted(k for k in keys if k.startswith("ref:"))
            chosen[arende_id].threaded = any(k.startswith("mid:") for k in keys)
    if ev.signature is not None:
        # Every chosen candidate's texts, not only those whose band keys were among the
        # capped band hits: a popular text (a crisis, a form letter) shares its bands
        # with hundreds of ärenden, and the sender's own earlier ärende must still be
        # compared, or another citizen's similar text outscores it.
        rows = session.execute(
            select(LinkText.arende_id, LinkText.signature)
            .where(LinkText.arende_id.in_(list(members)))
            .order_by(LinkText.created_at.desc()).limit(policy.max_key_hits))
        for arende_id, data in rows:
            c = chosen[members[arende_id]]
            value = minhash.similarity(ev.signature, minhash.from_bytes(data))
            c.similarity = max(c.similarity or 0.0, value)
    return ranked


def _load(session: Session, ids: Iterable[str]) -> dict[str, Arende]:
    ids = list(ids)
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Arende).where(Arende.id.in_(ids)))}


def _members(session: Session, chosen: dict[str, Candidate],
             arenden: dict[str, Arende]) -> dict[str, str]:
    """Every ärende id whose keys count for a chosen candidate → that candidate."""
    members = {a: a for a in chosen}
    merged = session.execute(select(Arende.id, Arende.merged_into)
                             .where(Arende.merged_into.in_(list(chosen))).limit(100))
    for arende_id, target in merged:
        members[arende_id] = target
    return members


def index_keys(session: Session, arende_id: str, keys: Iterable[str], when: datetime) -> None:
    """Record ``keys`` for ``arende_id`` (existing pairs are left as they are)."""
    rows = [{"key": k, "arende_id": arende_id, "created_at": when} for k in dict.fromkeys(keys)]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    # One statement, many parameter sets: the SQL is the same for any number of keys,
    # so it is compiled once per process (a VALUES list as long as this item's keys
    # was a new statement, compiled anew, for nearly every item).
    session.execute(module.insert(LinkKey).on_conflict_do_nothing(), rows)


def index_text(session: Session, intake_id: str, arende_id: str, signature: bytes,
               when: datetime) -> None:
    """Keep the item's text signature for later similarity scoring."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(LinkText).values(
        intake_id=intake_id, arende_id=arende_id, signature=signature, created_at=when)
        .on_conflict_do_nothing())


def key_counts(session: Session, arende_id: str) -> Counter[str]:
    """Keys of one ärende by kind (for tests and the case index API)."""
    rows = session.scalars(select(LinkKey.key).where(LinkKey.arende_id == arende_id))
    return Counter(k.split(":", 1)[0] for k in rows)

