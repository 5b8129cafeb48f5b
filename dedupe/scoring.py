"""Scoring one candidate ärende against one message: points per signal, explained.

Pure functions over facts the index already fetched, so every rule is testable
without a database and every decision can be replayed from its explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dedupe.evidence import Evidence
from dedupe.identity import (
    ADDRESS,
    CONFLICT_KINDS,
    CONTACT,
    EMAIL,
    NAME,
    NAME_ADDRESS,
    PERSON,
    PERSON_INITIAL,
    PHONE,
    PNR,
)
from dedupe.policy import LinkingConfig

_WEIGHT_OF = {EMAIL: "email", PHONE: "phone", PNR: "personnummer",
              NAME_ADDRESS: "name_address", NAME: "name", PERSON: "person_named",
              PERSON_INITIAL: "initial_named", ADDRESS: "address", CONTACT: "contact_named"}
_STRONG = (EMAIL, PHONE, PNR, NAME_ADDRESS)
# Identity in common that says the sender is known to the ärende (a street or a person
# named in both is the matter, not who wrote; a writer naming themselves counts, below).
_KNOWN = {EMAIL, PHONE, PNR, NAME, NAME_ADDRESS}


@dataclass
class Candidate:
    """What the index knows about one candidate ärende (already merge-resolved)."""

    arende_id: str
    status: str
    last_activity_at: datetime
    status_changed_at: datetime | None = None
    huvudkategori: str | None = None
    arendetyp: str | None = None
    matched_kinds: set[str] = field(default_factory=set)   # identity kinds in common
    kinds: set[str] = field(default_factory=set)           # identity kinds it has at all
    refs: list[str] = field(default_factory=list)          # reference keys in common
    quoted: bool = False
    replied: bool = False
    threaded: bool = False
    sms_recent: bool = False
    similarity: float | None = None
    own_named: bool = False   # the writer names themselves, and that person is on it
    own_contact: bool = False  # the writer's own phone or e-mail was written in the ärende


@dataclass
class Scored:
    """A candidate's score and the per-signal explanation."""

    candidate: Candidate
    score: float
    explanation: list[dict[str, Any]]


def _entry(signal: str, points: float, **detail: Any) -> dict[str, Any]:
    return {"signal": signal, "points": round(points, 1), **detail}


def score(c: Candidate, ev: Evidence, policy: LinkingConfig) -> Scored:
    """Add up the evidence for ``c`` (see config/linking.yaml for the weights)."""
    w = policy.weights
    out: list[dict[str, Any]] = []
    if c.replied:
        out.append(_entry("our_message_id", w.our_message_id, value=c.arende_id))
    if c.threaded and not c.replied:
        out.append(_entry("thread", w.thread))
    if c.quoted:
        out.append(_entry("arende_number", w.arende_number, value=c.arende_id))
    if c.refs:
        out.append(_entry("external_ref", w.external_ref,
                          value=[ev.refs.get(k, k) for k in c.refs]))
    matched = set(c.matched_kinds)
    # Each weaker key is implied by a stronger one: count only the strongest.
    if NAME_ADDRESS in matched:
        matched -= {NAME, PERSON, PERSON_INITIAL, ADDRESS}
    if NAME in matched or PERSON in matched:
        matched -= {PERSON_INITIAL}
    if NAME in matched:
        matched.discard(PERSON)
    if matched & {EMAIL, PHONE}:
        matched.discard(CONTACT)
    for kind in sorted(matched):
        points = getattr(w, _WEIGHT_OF[kind])
        if kind == CONTACT and c.own_contact:
            # The SMS comes from the mobile the first letter gave ("ni når mig på 070-…"):
            # as good as the same phone. A number two texts merely quote stays weaker.
            points = max(points, w.phone)
        out.append(_entry("same_" + _WEIGHT_OF[kind], points))
    strong = matched & set(_STRONG)
    # Hard references name the case itself; time since last activity and the
    # classifier's topic only decide when the evidence is soft (who, what text).
    hard = c.replied or c.threaded or c.quoted or bool(c.refs)
    case_evidence = hard or PNR in matched
    relative = (ev.relative and case_evidence and not (matched & {EMAIL, PHONE, NAME_ADDRESS})
                and policy.relatives.policy == "link")
    # Someone named on the ärende writes from a new address or phone ("Ulla Sandberg
    # igen", "dotter till Elsa Berg"): a different e-mail is not a different person.
    named = c.own_named or (ev.relative and bool(matched & {PERSON, NAME, ADDRESS}))
    conflicting = [k for k in CONFLICT_KINDS
                   if k in ev.identity.kinds() and k in c.kinds and k not in matched]
    # A number or diarienummer quoted by someone the ärende does not know: a neighbour,
    # an ex-partner, a typo that passed the check. It names the case, not the sender's.
    quoted_by_stranger = ((c.quoted or bool(c.refs)) and not (c.replied or c.threaded)
                          and not matched & _KNOWN and not c.own_named)
    if conflicting and not strong and not relative and not named:
        out.append(_entry("identity_conflict", w.identity_conflict,
                          kinds=[_WEIGHT_OF[k] for k in conflicting]))
    days = policy.windows.days(ev.channel, c.huvudkategori)
    idle = ev.received_at - c.last_activity_at
    within = idle <= timedelta(days=days)
    if within:
        out.append(_entry("within_window", w.within_window, days=days,
                          idle_days=max(0, idle.days)))
    elif not hard:
        out.append(_entry("outside_window", w.outside_window, days=days, idle_days=idle.days))
    sms_days = policy.windows.days("sms", None)
    if c.sms_recent or (ev.channel == "sms" and PHONE in matched and c.status == "open"
                        and idle <= timedelta(days=sms_days)):
        out.append(_entry("sms_continuity", w.sms_continuity))
    sim = policy.similarity
    near_duplicate = c.similarity is not None and c.similarity >= sim.full
    if ev.huvudkategori and c.huvudkategori:
        same = ev.huvudkategori == c.huvudkategori
        if same:
            out.append(_entry("same_category", w.same_category,
                              value=[ev.huvudkategori, c.huvudkategori]))
            if ev.arendetyp and c.arendetyp == ev.arendetyp:
                out.append(_entry("same_type", w.same_type, value=ev.arendetyp))
                if ADDRESS in matched:  # the same kind of matter at the same place
                    out.append(_entry("place_of_matter", w.place_of_matter))
            elif (ev.arendetyp and c.arendetyp and not hard and not near_duplicate
                  and ev.category_sure and ev.text_chars >= sim.category_min_chars):
                # The same person's new matter in the same area (a parking fine after a
                # permit): the ärendetyp tells it from a follow-up.
                out.append(_entry("other_type", w.other_type,
                                  value=[ev.arendetyp, c.arendetyp]))
        elif ((not hard or quoted_by_stranger) and not near_duplicate and ev.category_sure
              and ev.text_chars >= sim.category_min_chars):
            out.append(_entry("other_category", w.other_category,
                              value=[ev.huvudkategori, c.huvudkategori]))
    if c.similarity is not None and c.similarity >= sim.floor:
        share = min(1.0, (c.similarity - sim.floor) / max(1e-9, sim.full - sim.floor))
        out.append(_entry("text_similarity", w.text_similarity * share,
                          jaccard=round(c.similarity, 3)))
    total = sum(e["points"] for e in out)
    signals = {e["signal"] for e in out}
    # A person or street named in both, in the same category, is what the matter is about.
    # An SMS from the same number about another category is a new matter, not a reply.
    other = bool(signals & {"other_category", "other_type"})
    topical = hard or bool(signals & {"text_similarity", "same_type"}) or (
        "sms_continuity" in signals and "other_category" not in signals) or (
        "same_category" in signals and bool(matched & {PERSON, ADDRESS}) and not other)
    if not topical and not relative and total >= policy.thresholds.link:
        # Who wrote is not what it is about: the same person with a new matter
        # must not be filed into the old one. Without a reference, similar text
        # or an SMS conversation, the best this gets is a possible link.
        total = _cap(out, "identity_only", total, policy.thresholds.link)
    if quoted_by_stranger and total >= policy.thresholds.link and (
            "identity_conflict" in signals
            or not signals & {"same_category", "text_similarity"}):
        # Ärende numbers are sequential, so guessable: from someone the ärende does
        # not know, a number alone is a possible link; it links only with the same
        # topic, and never against another identity.
        total = _cap(out, "quoted_by_other", total, policy.thresholds.link)
    if ("identity_conflict" in signals and not hard
            and policy.other_senders.similar_text == "ignore"
            and total >= policy.thresholds.review):
        # Someone else's similar words (a crisis): not even a possible link.
        total = _cap(out, "other_sender", total, policy.thresholds.review)
    if relative:
        out.append(_entry("relative", w.relative, policy="link"))
        total += w.relative
    elif (ev.relative and case_evidence and policy.relatives.policy == "review"
          and total >= policy.thresholds.link):
        total = _cap(out, "relative", total, policy.thresholds.link, policy="review")
    return Scored(c, round(total, 1), out)


def _cap(out: list[dict[str, Any]], signal: str, total: float, threshold: float,
         **detail: Any) -> float:
    """Hold ``total`` just below ``threshold``; the explanation says by how much and why."""
    cap = threshold - 1
    out.append(_entry(signal, cap - total, **detail))
    return cap


def reopenable(c: Candidate, now: datetime, policy: LinkingConfig) -> bool:
    """Whether a follow-up may reopen closed ``c`` (else: a new ärende linked to it)."""
    rule = policy.closed_followup
    if rule.action != "reopen":
        return False
    since = c.status_changed_at or c.last_activity_at
    return now - since <= timedelta(days=rule.reopen_within_days)
