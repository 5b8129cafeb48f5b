"""Routing: which nämnd owns an item, which unit handles it, which queues get it.

First matching rule of ``config/routing.yaml`` wins; otherwise the default
(central). Nothing is ever dropped. On top of the rule that fired:

- a secret item (flag ``sekretess``) only ever goes to a restricted queue:
  its owner's ``restricted_queue`` or the ``restricted_default``;
- an ``akut`` item goes to the fast-path queue as well as to its owner's
  (the restricted fast path when it is also secret);
- ``{stadsdel}`` in a rule is filled with the district the address names
  (``ingest/districts.py``), so local matters reach local units.

``explain`` gives the same decision with the reason each earlier rule did not
fire, for ``kcs routes explain``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.config import Route, RoutingConfig, Settings
from ingest.districts import Districts, Placement
from ingest.model import NormalisedMessage
from ingest.routing_check import TEMPLATE_RE


@dataclass(frozen=True)
class Facts:
    """What routing decides on: codes, flags and the district, nothing else."""

    huvudkategori: str | None = None
    arendetyp: str | None = None
    arendeklass: str | None = None
    needs_triage: bool = False
    flags: dict[str, bool] = field(default_factory=dict)
    stadsdel: str | None = None
    stadsdel_from: str | None = None  # "address" or "text"
    stadsdel_by: str | None = None  # "name" or "postcode"


def facts(classification: dict[str, Any], flags: dict[str, Any],
          placement: Placement | None = None, placed_from: str | None = None) -> Facts:
    """Routing facts from a stored classification and a district placement."""
    return Facts(huvudkategori=classification.get("huvudkategori"),
                 arendetyp=classification.get("arendetyp"),
                 arendeklass=classification.get("arendeklass"),
                 needs_triage=bool(classification.get("needs_triage")),
                 flags={k: bool(v) for k, v in (flags or {}).items()},
                 stadsdel=placement.stadsdel if placement else None,
                 stadsdel_from=placed_from if placement and placement.stadsdel else None,
                 stadsdel_by=placement.source if placement and placement.stadsdel else None)


def place(districts: Districts | None, message: NormalisedMessage
          ) -> tuple[Placement | None, str | None]:
    """The district of the sender's postal address, else of a place the text names."""
    if districts is None:
        return None, None
    by_address = districts.place(message.sender.postal_address)
    if by_address.stadsdel:
        return by_address, "address"
    by_text = districts.place(message.subject, message.body)
    return (by_text, "text") if by_text.stadsdel else (by_text, None)


def why_not(route: Route, f: Facts) -> list[str]:
    """Each condition of ``route`` the item fails; empty when the rule matches."""
    m = route.match
    out = []
    for key in ("huvudkategori", "arendetyp", "arendeklass"):
        want = m.values(key)
        have = getattr(f, key)
        if want is not None and have not in want:
            out.append(f"{key}: wants {'|'.join(want)}, item has {have or '-'}")
    want = m.values("stadsdel")
    if want is not None and not (f.stadsdel and ("*" in want or f.stadsdel in want)):
        out.append(f"stadsdel: wants {'|'.join(want)}, item has {f.stadsdel or 'unknown'}")
    for flag, value in m.flags.items():
        if f.flags.get(flag, False) != value:
            out.append(f"flag {flag}: wants {str(value).lower()}, item has "
                       f"{str(f.flags.get(flag, False)).lower()}")
    if m.needs_triage is not None and f.needs_triage != m.needs_triage:
        out.append(f"needs_triage: wants {str(m.needs_triage).lower()}, item has "
                   f"{str(f.needs_triage).lower()}")
    return out


def _fill(value: str | None, f: Facts) -> str | None:
    if value is None:
        return None
    return TEMPLATE_RE.sub(lambda _m: f.stadsdel or "central", value)


def decide(config: RoutingConfig, f: Facts) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(decision, trace): the trace lists every rule tried, with why it did not fire."""
    trace: list[dict[str, Any]] = []
    chosen = config.default
    for rule in config.routes:
        reasons = why_not(rule, f)
        trace.append({"rule": rule.name, "fired": not reasons, "why_not": reasons})
        if not reasons:
            chosen = rule
            break
    else:
        trace.append({"rule": config.default.name, "fired": True, "why_not": [],
                      "default": True})
    queue = _fill(chosen.queue, f)
    assert queue is not None
    secret = f.flags.get("sekretess", False)
    secret_override = secret and not config.is_restricted(queue)
    if secret_override:
        queue = _fill(chosen.restricted_queue, f) or config.restricted_default
    queues = [queue]
    fast = None
    if config.fast_path is not None and f.flags.get(config.fast_path.flag):
        fast = config.fast_path.restricted_queue if secret else config.fast_path.queue
        if fast not in queues:
            queues.append(fast)
    decision = {
        "owner": _fill(chosen.owner, f), "unit": _fill(chosen.unit, f), "queue": queue,
        "rule": chosen.name, "queues": queues, "fast_path": fast,
        "restricted": config.is_restricted(queue), "secret_override": secret_override,
        "out_of_scope": chosen.out_of_scope, "referral": chosen.referral,
        "stadsdel": f.stadsdel, "stadsdel_from": f.stadsdel_from, "stadsdel_by": f.stadsdel_by,
    }
    return decision, trace


def route(config: RoutingConfig, classification: dict[str, Any], flags: dict[str, Any],
          placement: Placement | None = None, placed_from: str | None = None
          ) -> dict[str, Any]:
    """The routing decision with the name of the rule that fired (for ``routes explain``)."""
    return decide(config, facts(classification, flags, placement, placed_from))[0]


def all_queues(settings: Settings) -> set[str]:
    """Every queue the routing config can send to (templates expanded per district)."""
    routing = settings.routing
    codes = sorted(settings.districts.codes) if settings.districts else []
    out = {routing.restricted_default}
    if routing.fast_path is not None:
        out |= {routing.fast_path.queue, routing.fast_path.restricted_queue}
    for rule in (*routing.routes, routing.default):
        for value in (rule.queue, rule.restricted_queue):
            if value and TEMPLATE_RE.search(value):
                out |= {_fill(value, Facts(stadsdel=c)) or value for c in codes}
            elif value:
                out.add(value)
    return out
