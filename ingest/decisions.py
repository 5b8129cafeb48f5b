"""What the audit log keeps of each automated pipeline decision: codes, never text.

Every stage's result is recorded in the audit log in the stage's own
transaction (``Pipeline.run_stage``). A result may hold the citizen's text
(the normalised message, the published item), so only whitelisted code-like
keys are kept: enough to answer "why did this item go there?" without
copying personal data into a table that is never deleted.
"""

from __future__ import annotations

from typing import Any

_KEEP: dict[str, tuple[str, ...]] = {
    "classify": ("huvudkategori", "arendetyp", "arendeklass", "needs_triage", "flags",
                 "language", "model_version", "reasons"),
    "link": ("new", "arende_id", "linked_by", "decision", "score", "related_to"),
    "route": ("rule", "owner", "unit", "queue", "queues", "fast_path", "restricted",
              "secret_override", "out_of_scope", "referral", "stadsdel", "stadsdel_from",
              "stadsdel_by"),
    "publish": ("queue", "queues", "idempotency_key"),
    "acknowledge": ("state", "channel", "reason", "status", "to_domain"),
}


def _codes(value: Any) -> Any:
    """Scalars and short code lists only; anything text-like longer than a code is dropped."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= 80 and "\n" not in value else "[text]"
    if isinstance(value, dict):
        return {str(k): _codes(v) for k, v in value.items() if not isinstance(v, dict | list)}
    if isinstance(value, list | tuple):
        return [_codes(v) for v in value[:20] if not isinstance(v, dict | list)]
    return None


def summary(stage: str, result: dict[str, Any]) -> dict[str, Any]:
    """The codes of one stage result worth keeping in the audit log."""
    if stage == "normalise":
        out = {"attachments": len(result.get("attachments") or ()),
               "problems": _codes(result.get("problems") or []),
               "postal_address": bool((result.get("sender") or {}).get("postal_address"))}
        if result.get("virus_scan"):
            scan = result["virus_scan"]
            out["virus_scan"] = {k: scan.get(k) for k in ("verdict", "signature", "objects")}
        return out
    out = {k: _codes(result[k]) for k in _KEEP.get(stage, ()) if k in result}
    if stage == "link":  # which signals counted, and the candidate left for review
        out["signals"] = [[e.get("signal"), e.get("points")]
                          for e in result.get("explanation") or [] if isinstance(e, dict)]
        out["candidate"] = (result.get("possible_link") or {}).get("candidate_arende_id")
    if stage == "publish":
        plan = result.get("acknowledgement_plan") or {}
        out["acknowledgement"] = {k: _codes(plan.get(k)) for k in ("planned", "channel",
                                                                    "reason")}
    return out
