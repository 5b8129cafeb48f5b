"""Linking an item to an existing ärende, or opening a new one, from all the evidence.

"Finns redan ett ärende så kopplas ev. ny information till redan påbörjat
ärende." The linker gathers the message's evidence (``evidence``), fetches
candidate ärenden by indexed lookups only (``index``), scores each one per
signal (``scoring``, weights in ``config/linking.yaml``) and decides:

- score ≥ ``thresholds.link``: attach to the best candidate (a closed one is
  reopened, or a new ärende linked to it is opened, by ``closed_followup``);
- between the thresholds: a new ärende, plus a possible link for registratur
  (``dedupe.review``);
- below: a new ärende.

The decision, the score and the per-signal explanation are stored on the item
and sent downstream; the pipeline's link commit hook writes the index keys,
the possible link and an audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dedupe import index, scoring
from dedupe.arende_number import format_number
from dedupe.evidence import Evidence, gather
from dedupe.policy import LinkingConfig
from dedupe.scoring import Scored
from ingest.model import NormalisedMessage
from ingest.store import Store

LINK, REOPEN, NEW_LINKED, REVIEW, NEW = "link", "reopen", "new_linked", "review", "new"
_LINKED_BY = {"our_message_id": "reply_to_our_message", "arende_number": "arende_number"}
_HARD = {"our_message_id", "thread", "arende_number", "external_ref"}


def our_message_id(arende_id: str, item_id: str, domain: str) -> str:
    """The Message-ID we put on an acknowledgement; the linker recognises it in replies."""
    return f"<ack.{arende_id}.{item_id.lower()}@{domain}>"


def new_arende_id(year: int, seq: int) -> str:
    """The readable ärende number for a new ärende."""
    return format_number(year, seq)


def year_of(when: datetime) -> int:
    """The ärende year: the year the first message arrived (Stockholm time is close enough)."""
    return when.year


@dataclass(frozen=True)
class LinkDecision:
    """Which ärende an item belongs to and why (the ``link`` stage result)."""

    arende_id: str | None
    new: bool
    linked_by: str | None
    explanation: list[dict[str, Any]] = field(default_factory=list)
    decision: str = NEW
    score: float = 0.0
    candidates: list[dict[str, Any]] = field(default_factory=list)
    possible_link: dict[str, Any] | None = None
    related_to: str | None = None
    index: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored on the item (``index`` is consumed by the commit hook)."""
        return {"arende_id": self.arende_id, "new": self.new, "linked_by": self.linked_by,
                "decision": self.decision, "score": self.score,
                "explanation": self.explanation, "candidates": self.candidates,
                "possible_link": self.possible_link, "related_to": self.related_to,
                "index": self.index}


def decide(scored: list[Scored], ev: Evidence, policy: LinkingConfig) -> LinkDecision:
    """The decision for the best-scored candidate (``scored`` best first)."""
    idx = {"keys": ev.index_keys(), "signature": ev.signature.astype("<u4").tobytes().hex()
           if ev.signature is not None else None}
    ranking = [{"arende_id": s.candidate.arende_id, "score": s.score,
                "signals": {e["signal"]: e["points"] for e in s.explanation}}
               for s in scored[:5]]
    if not scored:
        return LinkDecision(None, True, None, [], NEW, 0.0, ranking, index=idx)
    best = scored[0]
    c = best.candidate
    th = policy.thresholds
    if best.score >= th.link:
        top = max((e for e in best.explanation if e["points"] > 0),
                  key=lambda e: e["points"], default={"signal": "score"})
        linked_by = _LINKED_BY.get(top["signal"], top["signal"])
        signals = {e["signal"] for e in best.explanation}
        if "sms_continuity" in signals and not signals & _HARD:
            linked_by = "sms_same_number_recent"  # the name channels/sms has always used
        if c.status == "closed":
            if scoring.reopenable(c, ev.received_at, policy):
                return LinkDecision(c.arende_id, False, linked_by, best.explanation, REOPEN,
                                    best.score, ranking, index=idx)
            return LinkDecision(None, True, None, best.explanation, NEW_LINKED, best.score,
                                ranking, related_to=c.arende_id, index=idx)
        return LinkDecision(c.arende_id, False, linked_by, best.explanation, LINK, best.score,
                            ranking, index=idx)
    if best.score >= th.review:
        return LinkDecision(None, True, None, best.explanation, REVIEW, best.score, ranking,
                            possible_link={"candidate_arende_id": c.arende_id,
                                           "score": best.score},
                            index=idx)
    return LinkDecision(None, True, None, best.explanation, NEW, best.score, ranking, index=idx)


def link(store: Store, message: NormalisedMessage, *, channel: str, received_at: datetime,
         classification: dict[str, Any] | None, policy: LinkingConfig, our_domain: str,
         sms_recent: str | None = None) -> LinkDecision:
    """Decide where ``message`` belongs (reads only; the commit hook writes)."""
    ev = gather(message, channel=channel, received_at=received_at,
                classification=classification, policy=policy, our_domain=our_domain)
    with store.reading() as session:
        found = index.candidates(session, ev, policy, sms_recent)
    scored = sorted((scoring.score(c, ev, policy) for c in found),
                    key=lambda s: (-s.score, s.candidate.arende_id))
    return decide(scored, ev, policy)


# -- SMS continuity (channels/sms) ---------------------------------------------
# ``channels/sms/continuity.py`` finds the recent open ärende from the same
# number; the evidence-scored linker takes it as one signal (sms_continuity).


def decide_sms(*, phone: str, subject: str, body: str,
               arende_phone: dict[str, str | None],
               recent_open: list[str]) -> LinkDecision | None:
    """Link an SMS by its sender's number, or None when the number says nothing.

    ``arende_phone`` maps ärende ids quoted in the text to the number each was
    opened from; ``recent_open`` lists open ärenden opened from ``phone`` and
    active within the configured number of days, most recently active first.
    An ärende number quoted from the same phone wins; otherwise a recent open
    ärende from the same phone (a reply to our acknowledgement SMS lands here,
    since the citizen answers the number we wrote from).
    """
    from dedupe.arende_number import find_numbers

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
