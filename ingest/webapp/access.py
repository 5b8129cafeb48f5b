"""Who may see which item: the nämnd that owns it and whether it is secret.

An item's owner is the nämnd routing chose; before routing (a letter waiting
for registratur) it has none yet and belongs to registratur's intake work.
An item is secret when the classifier or a rule flagged it, when it went to
a restricted queue, or when its category (as classified or as staff set it)
is a secret one in the taxonomy. Secret items are shown only to people with
the sekretess right, whatever their role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ingest.webapp.users import StaffUser

RESTRICTED_PREFIX = "kcs.restricted."
STAFF_CLASSIFICATION_HEADER = "x-kcs-staff-classification"
INTAKE_ROLES = ("registratur", "admin")


@dataclass(frozen=True)
class ItemFacts:
    """What access decisions need to know about one item."""

    owner: str | None
    sekretess: bool
    huvudkategori: str | None


def staff_classification(normalised: dict[str, Any] | None) -> dict[str, Any]:
    """The classification staff set at review, if any (carried to the classify stage)."""
    raw = ((normalised or {}).get("headers") or {}).get(STAFF_CLASSIFICATION_HEADER)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def facts(item: Any, secret_categories: set[str]) -> ItemFacts:
    """Owner, secrecy and category of an ``item`` row (None: nothing processed yet)."""
    if item is None:
        return ItemFacts(None, False, None)
    classification = item.classification or {}
    routing = item.routing or {}
    staff = staff_classification(item.normalised)
    category = staff.get("huvudkategori") or classification.get("huvudkategori")
    secret = (bool((classification.get("flags") or {}).get("sekretess"))
              or str(routing.get("queue", "")).startswith(RESTRICTED_PREFIX)
              or category in secret_categories)
    return ItemFacts(routing.get("owner"), secret, category)


def can_view(user: StaffUser, item_facts: ItemFacts) -> bool:
    """Whether ``user`` may open an item with these facts."""
    if item_facts.sekretess and not user.sekretess:
        return False
    if item_facts.owner is None:
        return user.role in INTAKE_ROLES
    return user.sees_namnd(item_facts.owner)
