"""The registratur review queue: what the API and ``kcs review`` show and do.

An item held by the quality gate is in state ``review`` with its
normalised result stored. Staff see, per page, the OCR text with unsure
words marked ⟦like this⟧, the page image as OCR saw it (turned upright and
straightened, so word boxes line up), the extracted fields and the chain of
custody; they correct text and fields and release the item, which sends it
on to classification with their corrections merged in (``Runtime.release``).

Corrections are checked before anything is stored: a personnummer must
pass the Luhn and date checks, a phone number must be valid, an e-mail
must look like one. Only the keys below are accepted.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

from channels.scan import fields as fieldlib
from channels.scan import imaging
from channels.scan.formats import ScanLimits, open_document
from ingest.model import NormalisedMessage, Sender

SENDER_KEYS = ("name", "postal_address", "email", "phone")
FIELD_KEYS = ("personnummer", "samordningsnummer", "diarienummer", "arende_refs")
# Labels staff set at review; the classify stage takes them over the model's guess.
CLASSIFICATION_KEYS = ("huvudkategori", "arendetyp", "arendeklass")
MAX_PAGE_DPI = 300


class ReviewError(ValueError):
    """A correction or a request the review queue cannot accept (the message says why)."""


@dataclass
class HeldItem:
    """An item with what review needs: intake row, normalised result, scan record."""

    intake: Any
    message: NormalisedMessage | None
    record: dict[str, Any] | None


def load(runtime: Any, intake_id: str) -> HeldItem:
    """The item and its scan record; ``KeyError`` if there is no such item."""
    row = runtime.store.get_intake(intake_id)
    if row is None:
        raise KeyError(intake_id)
    item = runtime.store.get_item(intake_id)
    message = (NormalisedMessage.from_dict(item.normalised)
               if item is not None and item.normalised else None)
    record = None
    sha = message.headers.get("x-scan-record") if message else None
    if sha:
        try:
            record = json.loads(runtime.blobs.get(sha))
        except (FileNotFoundError, ValueError):
            record = None
    return HeldItem(row, message, record)


def list_held(runtime: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Items waiting for registratur, newest first."""
    out = []
    for row in runtime.store.list_intake(("review",), limit):
        item = runtime.store.get_item(row.id)
        normalised = (item.normalised if item is not None else None) or {}
        headers = normalised.get("headers", {})
        out.append({"id": row.id, "received_at": row.received_at.isoformat(),
                    "channel": row.channel, "transport": row.transport,
                    "reason": row.reason_code, "detail": row.reason_detail,
                    "subject": normalised.get("subject"),
                    "sender_name": (normalised.get("sender") or {}).get("name"),
                    "pages": int(headers["x-scan-pages"]) if "x-scan-pages" in headers else None,
                    "min_page_conf": (float(headers["x-scan-mean-conf"])
                                      if "x-scan-mean-conf" in headers else None)})
    return out


def marked_text(page: dict[str, Any], below: float) -> str:
    """The page's OCR text with words under ``below`` wrapped in ⟦ ⟧."""
    if not page.get("words"):
        return page.get("text", "")
    from channels.scan.ocr import OcrPage, Word

    ocr = OcrPage(words=[Word.from_list(w) for w in page["words"]])
    return ocr.text(mark_below=below)


def show(runtime: Any, intake_id: str, *, mask: bool = False) -> dict[str, Any]:
    """Everything registratur needs to decide; ``mask`` hides personnummer (for terminals)."""
    held = load(runtime, intake_id)
    message, record = held.message, held.record or {}
    gate = record.get("gate", {})
    below = float(gate.get("low_word_conf", 50.0))
    fields = dict(record.get("fields") or {})
    if mask:
        for key in ("personnummer", "samordningsnummer"):
            fields[key] = [fieldlib.mask_personnummer(v) for v in fields.get(key, [])]
    pages = []
    for page in record.get("pages", []):
        low = [{"text": w[0], "conf": w[1], "box": w[2:6]} for w in page.get("words", [])
               if w[1] < below]
        pages.append({"number": page["number"], "source": page["source"],
                      "quality": page.get("quality"), "rotation": page.get("rotation", 0),
                      "skew_deg": page.get("skew_deg", 0.0),
                      "size": [page.get("width"), page.get("height")],
                      "text_marked": (_mask_text(marked_text(page, below)) if mask
                                      else marked_text(page, below)),
                      "low_confidence_words": low,
                      "image": f"/api/review/{intake_id}/page/{page['number']}.png"})
    body = message.body if message else ""
    if mask:
        body = _mask_text(body)
    return {"id": intake_id, "state": held.intake.state, "reason": held.intake.reason_code,
            "detail": held.intake.reason_detail, "channel": held.intake.channel,
            "received_at": held.intake.received_at.isoformat(),
            "subject": message.subject if message else None, "body": body,
            "sender": message.sender.to_dict() if message else None,
            "fields": fields, "pages": pages, "custody": record.get("custody"),
            "gate": gate, "furniture_removed": record.get("furniture_removed", [])}


def _mask_text(text: str) -> str:
    for value, _ in fieldlib.find_personnummer(text):
        short = value[2:8]
        text = re.sub(rf"((?:19|20)?{short[:6]})\s?[-+]?\s?\d{{4}}", r"\1-XXXX", text)
    return text


def page_png(runtime: Any, intake_id: str, number: int, dpi: int = 150) -> bytes:
    """Page ``number`` (1-based) of the letter as OCR saw it, as PNG at ``dpi``."""
    held = load(runtime, intake_id)
    if not held.record:
        raise KeyError(f"{intake_id} has no scanned pages")
    pages = held.record.get("pages", [])
    if not 1 <= number <= len(pages):
        raise KeyError(f"{intake_id} has no page {number}")
    page = pages[number - 1]
    dpi = max(50, min(MAX_PAGE_DPI, dpi))
    # Pages of scans attached to an e-mail name their own file.
    data = runtime.blobs.get(page.get("file_sha256") or held.record["custody"]["batch_sha256"])
    document = open_document(data, ScanLimits.from_config(runtime.settings.kcs.scan))
    try:
        image = document.render(page["index"], dpi).image
    finally:
        document.close()
    if page.get("perspective"):  # a photo taken at an angle was warped flat first
        from channels.scan.perspective import flatten

        image = flatten(image, tuple((float(x), float(y)) for x, y in page["perspective"]))
    if page.get("rotation"):
        image = imaging.rotate(image, -int(page["rotation"]))
    if page.get("skew_deg"):
        image = imaging.rotate(image, float(page["skew_deg"]), smooth=True)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _check_corrections(corrections: dict[str, Any]) -> None:
    unknown = set(corrections) - {"subject", "body", "sender", "fields", "reviewer",
                                  "classification"}
    if unknown:
        raise ReviewError(f"unknown correction keys: {', '.join(sorted(unknown))}")
    sender = corrections.get("sender") or {}
    if not isinstance(sender, dict) or set(sender) - set(SENDER_KEYS):
        raise ReviewError(f"sender accepts only {', '.join(SENDER_KEYS)}")
    fields = corrections.get("fields") or {}
    if not isinstance(fields, dict) or set(fields) - set(FIELD_KEYS):
        raise ReviewError(f"fields accepts only {', '.join(FIELD_KEYS)}")
    for key in ("subject", "body", "reviewer"):
        if key in corrections and not isinstance(corrections[key], str):
            raise ReviewError(f"{key} must be text")
    classification = corrections.get("classification") or {}
    if not isinstance(classification, dict) or set(classification) - set(CLASSIFICATION_KEYS) \
            or not all(isinstance(v, str) or v is None for v in classification.values()):
        raise ReviewError(f"classification accepts only {', '.join(CLASSIFICATION_KEYS)}")


def normalise_corrections(corrections: dict[str, Any]) -> dict[str, Any]:
    """Validated, canonical corrections; ``ReviewError`` names the first bad value."""
    from personnummer import personnummer

    _check_corrections(corrections)
    out: dict[str, Any] = {k: corrections[k] for k in ("subject", "body", "reviewer")
                           if k in corrections}
    if corrections.get("classification"):
        out["classification"] = {k: v for k, v in corrections["classification"].items() if v}
    sender = {k: (v.strip() if isinstance(v, str) else v)
              for k, v in (corrections.get("sender") or {}).items()}
    if sender.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}",
                                                sender["email"], re.I):
        raise ReviewError("sender.email is not an e-mail address")
    if sender.get("phone"):
        phone = fieldlib.e164(sender["phone"])
        if phone is None:
            raise ReviewError("sender.phone is not a valid phone number")
        sender["phone"] = phone
    out["sender"] = {k: (v or None) for k, v in sender.items()}
    fields: dict[str, list[str]] = {}
    for key, values in (corrections.get("fields") or {}).items():
        values = [values] if isinstance(values, str) else list(values or [])
        if key in ("personnummer", "samordningsnummer"):
            canonical = []
            for value in values:
                try:
                    parsed = personnummer.parse(str(value))
                except Exception:
                    raise ReviewError(f"fields.{key}: not a valid number (Luhn or date)"
                                      ) from None
                if parsed.is_coordination_number() != (key == "samordningsnummer"):
                    raise ReviewError(f"fields.{key}: a {'personnummer' if key == 'personnummer' else 'samordningsnummer'} is expected")  # noqa: E501
                canonical.append(parsed.format(True))
            values = canonical
        fields[key] = [str(v).strip() for v in values if str(v).strip()]
    out["fields"] = fields
    return out


def release(runtime: Any, intake_id: str, corrections: dict[str, Any] | None = None) -> str:
    """Apply checked corrections and send the item on; returns the next stage.

    ``KeyError``: no such item. ``ReviewError``: bad corrections, or the item
    is not waiting for review.
    """
    held = load(runtime, intake_id)
    if held.intake.state != "review":
        raise ReviewError(f"item {intake_id} is {held.intake.state}, not waiting for review")
    checked = normalise_corrections(corrections or {})
    message = held.message
    merged: dict[str, Any] = {}
    if message is not None:
        sender = {**message.sender.to_dict(), **checked.get("sender", {})}
        sender.pop("anonymous", None)
        headers = dict(message.headers)
        headers["x-scan-reviewed"] = "true"
        if checked.get("reviewer"):
            headers["x-scan-reviewed-by"] = checked["reviewer"][:100]
        header_names = {"personnummer": "x-scan-personnummer",
                        "samordningsnummer": "x-scan-samordningsnummer",
                        "diarienummer": "x-scan-diarienummer",
                        "arende_refs": "x-scan-arende-refs"}
        for key, values in checked.get("fields", {}).items():
            headers[header_names[key]] = ",".join(values)
        if checked.get("classification"):
            headers["x-kcs-staff-classification"] = json.dumps(checked["classification"])
        merged = {"sender": Sender(**sender).to_dict(), "headers": headers}
        if "subject" in checked:
            merged["subject"] = checked["subject"]
        if "body" in checked:
            merged["body"] = checked["body"]
    try:
        return runtime.release(intake_id, merged)
    except ValueError as exc:
        raise ReviewError(str(exc)) from None
