"""The published contract: one JSON item per processed message (``kcs.item/1``).

The JSON Schema in ``ingest/schemas/kcs.item-1.json`` is the contract; this
module builds items and checks every one against it before it leaves, so a
consumer never sees an item the schema does not describe.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from ingest.errors import StageError
from ingest.model import ChannelMeta, NormalisedMessage, utcnow

SCHEMA_ID = "kcs.item/1"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "kcs.item-1.json"
ITEM_ACTOR = "kcs.item"
SUMMARY_CHARS = 280


@cache
def validator() -> Draft202012Validator:
    """The compiled schema validator."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def summarise(subject: str, body: str) -> str:
    """A short line for case lists: the first sentences of the body, else the subject."""
    text = re.sub(r"\s+", " ", body).strip() or subject.strip()
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > SUMMARY_CHARS // 2 else cut) + "…"


def build_item(*, intake_id: str, received_at: str, meta: ChannelMeta,
               message: NormalisedMessage, language: str, classification: dict[str, Any],
               flags: dict[str, bool], link: dict[str, Any], routing: dict[str, Any],
               acknowledgement: dict[str, Any], raw_sha256: str, raw_size: int
               ) -> dict[str, Any]:
    """Assemble and validate one item; ``StageError`` if it breaks the schema (a bug)."""
    item: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "idempotency_key": f"kcs:{intake_id}",
        "item_id": intake_id,
        "received_at": received_at,
        "published_at": utcnow().isoformat(),
        "arende": {"id": link["arende_id"], "new": link["new"],
                   "linked_by": link.get("linked_by"),
                   "explanation": link.get("explanation", [])},
        "channel": {"type": meta.channel.value, "transport": meta.transport,
                    "envelope_from": meta.envelope_from,
                    "envelope_to": list(meta.envelope_to),
                    "detail": {k: str(v) for k, v in meta.detail.items()}},
        "sender": message.sender.to_dict(),
        "language": language,
        "subject": message.subject,
        "summary": summarise(message.subject, message.body),
        "body": message.body,
        "references": {"message_id": message.message_id, "in_reply_to": message.in_reply_to,
                       "references": list(message.references)},
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size,
             "sha256": a.sha256, "text_extracted": bool(a.text), "problems": list(a.problems),
             "fetch": {"href": f"/api/blobs/{a.sha256}"}}
            for a in message.attachments
        ],
        "classification": classification,
        "flags": flags,
        "routing": routing,
        "acknowledgement": acknowledgement,
        "problems": list(message.problems),
        "raw": {"sha256": raw_sha256, "size": raw_size,
                "fetch": {"href": f"/api/blobs/{raw_sha256}"}},
    }
    errors = sorted(validator().iter_errors(item), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path)
        # Name the rule, not the value: the value may be a citizen's text.
        raise StageError(f"item breaks {SCHEMA_ID} at /{where}: fails {first.validator!r}")
    return item
