"""Routing: which nämnd owns an item and which downstream queue gets it.

First matching rule of ``config/routing.yaml`` wins; otherwise the default.
Nothing is ever dropped: an item that matches no rule goes to the default
(central) queue.
"""

from __future__ import annotations

from typing import Any

from ingest.config import Route, RoutingConfig


def _matches(route: Route, classification: dict[str, Any], flags: dict[str, bool]) -> bool:
    m = route.match
    for key in ("huvudkategori", "arendetyp", "arendeklass"):
        want = getattr(m, key)
        if want is not None and classification.get(key) != want:
            return False
    for key in ("sekretess", "akut"):
        want = getattr(m, key)
        if want is not None and bool(flags.get(key)) != want:
            return False
    return m.needs_triage is None or bool(classification.get("needs_triage")) == m.needs_triage


def route(config: RoutingConfig, classification: dict[str, Any],
          flags: dict[str, bool]) -> dict[str, Any]:
    """The routing decision with the name of the rule that fired (for ``routes explain``)."""
    chosen = next((r for r in config.routes if _matches(r, classification, flags)),
                  config.default)
    return {"owner": chosen.owner, "unit": chosen.unit, "queue": chosen.queue,
            "rule": chosen.name}
