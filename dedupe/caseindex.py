"""The case index: downstream systems tell us what became of an ärende.

A case system reports that an ärende was closed, reopened, merged into
another, or given its own diarienummer. The linker follows: a follow-up on a
closed ärende is handled by ``closed_followup`` policy, a merged ärende
resolves to its target, and the external reference becomes an index key so
a letter quoting only "Dnr 2026/1234" finds the ärende. Each change is
audited with the reporting system as actor.

HTTP (machine API, bearer ``KCS_API_TOKEN``):
``POST /api/arenden/{id}/closed``, ``/reopened``, ``/merged`` ``{"into": id}``,
``/references`` ``{"reference": "Dnr 2026/1234"}``; ``GET /api/arenden/{id}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from dedupe import index
from dedupe.references import assigned_reference_key
from ingest import audit
from ingest.db import Arende
from ingest.model import as_utc, utcnow
from ingest.store import Store
from ingest.webauth import require_api_token


class CaseIndexError(ValueError):
    """A report the case index cannot apply (unknown ärende, a merge loop …)."""


def _get(session: Any, arende_id: str) -> Arende:
    arende = session.get(Arende, arende_id, with_for_update=True)
    if arende is None:
        raise KeyError(arende_id)
    return arende


def set_status(store: Store, arende_id: str, status: str, actor: str) -> None:
    """Closed or reopened downstream (``status`` is ``closed`` or ``open``)."""
    with store.transaction() as session:
        arende = _get(session, arende_id)
        if arende.status == "merged":
            raise CaseIndexError(f"{arende_id} is merged into {arende.merged_into}")
        arende.status = status
        arende.status_changed_at = utcnow()
        audit.record(session, actor=actor, action="arende_" + ("closed" if status == "closed"
                                                               else "reopened"),
                     arende_id=arende_id, reason="reported by case system")


def merge(store: Store, arende_id: str, into: str, actor: str) -> str:
    """``arende_id`` was merged into ``into`` downstream; returns the final target."""
    with store.transaction() as session:
        source = _get(session, arende_id)
        _get(session, into)
        target = index.resolve(session, into)
        if target == arende_id:
            raise CaseIndexError("merging these would make a loop")
        source.status, source.merged_into = "merged", target
        source.status_changed_at = utcnow()
        audit.record(session, actor=actor, action="arende_merged", arende_id=arende_id,
                     reason="reported by case system", detail={"into": target})
    return target


def add_reference(store: Store, arende_id: str, reference: str, actor: str) -> str:
    """An external diarienummer (or OCR-nummer) was assigned: index it; returns the key."""
    key = assigned_reference_key(reference)
    if key is None:
        raise CaseIndexError(f"not a diarienummer or OCR-nummer: {reference!r}")
    with store.transaction() as session:
        _get(session, arende_id)
        target = index.resolve(session, arende_id)
        index.index_keys(session, target, [key], utcnow())
        audit.record(session, actor=actor, action="arende_reference", arende_id=target,
                     reason="reported by case system", detail={"reference": key})
    return key


def describe(store: Store, arende_id: str) -> dict[str, Any]:
    """What the index knows of one ärende, following merges."""
    with store.reading() as session:
        arende = session.get(Arende, arende_id)
        if arende is None:
            raise KeyError(arende_id)
        resolved = index.resolve(session, arende_id)
        keys = index.key_counts(session, resolved)
        return {"id": arende.id, "status": arende.status, "merged_into": arende.merged_into,
                "resolved_id": resolved,
                "last_activity_at": as_utc(arende.last_activity_at).isoformat(),
                "references": keys.get("ref", 0), "index_keys": sum(keys.values())}


class _Merge(BaseModel):
    into: str = Field(min_length=5, max_length=32)


class _Reference(BaseModel):
    reference: str = Field(min_length=1, max_length=100)
    system: str | None = Field(None, max_length=64)


def make_router(store: Store) -> APIRouter:
    """The case-index API on the web app, guarded by the machine-API token."""
    router = APIRouter(prefix="/api/arenden",
                       dependencies=[Depends(require_api_token("Case index API"))])

    def _run(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except KeyError:
            raise HTTPException(404, "No such ärende") from None
        except CaseIndexError as exc:
            raise HTTPException(409, str(exc)) from None

    @router.get("/{arende_id}")
    def get(arende_id: str) -> dict[str, Any]:
        """The ärende as the linker sees it."""
        return _run(describe, store, arende_id)

    @router.post("/{arende_id}/closed")
    def closed(arende_id: str) -> dict[str, Any]:
        """The case system closed the ärende."""
        _run(set_status, store, arende_id, "closed", "casesystem")
        return _run(describe, store, arende_id)

    @router.post("/{arende_id}/reopened")
    def reopened(arende_id: str) -> dict[str, Any]:
        """The case system reopened the ärende."""
        _run(set_status, store, arende_id, "open", "casesystem")
        return _run(describe, store, arende_id)

    @router.post("/{arende_id}/merged")
    def merged(arende_id: str, body: _Merge) -> dict[str, Any]:
        """The case system merged the ärende into another; links follow to the target."""
        _run(merge, store, arende_id, body.into, "casesystem")
        return _run(describe, store, arende_id)

    @router.post("/{arende_id}/references")
    def reference(arende_id: str, body: _Reference) -> dict[str, Any]:
        """The case system assigned its own diarienummer."""
        actor = f"casesystem:{body.system}" if body.system else "casesystem"
        key = _run(add_reference, store, arende_id, body.reference, actor)
        return {**_run(describe, store, arende_id), "reference_key": key}

    return router
