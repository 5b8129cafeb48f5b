"""``kcs link-eval``: replay linking scenarios through the real product, score the grouping.

One scenario per JSONL line (format in the issue and docs/linking.md). Each
scenario runs on its own throwaway store (a copy of a freshly migrated
SQLite database), so names reused across scenarios never meet. Every message
goes through durable intake (with the channel's real exact-duplicate keys),
then normalise → classify → link → route → publish → acknowledge, stage by
stage in this process:

- e-mail as an RFC 5322 message (Message-ID, In-Reply-To, References);
- SMS as a Twilio webhook form post (MessageSid derived from the content);
- letters as text through the scan channel's post-OCR path (field
  extraction, furniture removal, the quality gate), as a text-layer page.

``{REF:a}`` in a subject or text becomes the ärende number message ``a`` got;
``{ACK:a}`` (an extension) the Message-ID of our acknowledgement to ``a``.
Pairwise precision and recall compare "same ärende" with the expected groups.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dramatiq.brokers.stub import StubBroker

from channels.email.keys import email_source_keys
from channels.scan import fields as fieldlib
from channels.scan.normalise import PageResult, assemble
from channels.scan.quality import GateSettings
from dedupe import index
from ingest.blobs import BlobStore
from ingest.config import Settings, load_settings
from ingest.db import Item
from ingest.intake import Intake
from ingest.model import Channel, ChannelMeta, NormalisedMessage
from ingest.stages import STAGES
from ingest.store import Store

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
#: What linking must reach on scenarios nobody tuned on (issue 16): (figure, attribute, floor).
TARGETS = (("link precision", "precision", 0.99), ("link recall", "recall", 0.95))
_PLACEHOLDER = re.compile(r"\{(REF|ACK):([^}]+)\}")
REPLAY_TRANSPORT = "link-eval"


@dataclass
class ScenarioResult:
    """How one scenario was grouped."""

    id: str
    arende_of: dict[str, str]
    expected: list[list[str]]
    decisions: dict[str, str]
    explanations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The linker's best-scored candidate ärenden per message (for fitting weights).
    candidates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def ok(self) -> bool:
        """Grouped exactly as expected."""
        return self.fp == 0 and self.fn == 0


@dataclass
class Report:
    """Totals over all scenarios."""

    scenarios: list[ScenarioResult] = field(default_factory=list)

    @property
    def tp(self) -> int:
        """Pairs put together that belong together."""
        return sum(s.tp for s in self.scenarios)

    @property
    def fp(self) -> int:
        """Pairs put together that do not belong together (wrong links)."""
        return sum(s.fp for s in self.scenarios)

    @property
    def fn(self) -> int:
        """Pairs kept apart that belong together (missed links)."""
        return sum(s.fn for s in self.scenarios)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was linked."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when nothing should have been linked."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def summary(self) -> dict[str, Any]:
        """The figures ``kcs link-eval`` prints."""
        decisions: dict[str, int] = {}
        for s in self.scenarios:
            for d in s.decisions.values():
                decisions[d] = decisions.get(d, 0) + 1
        return {"scenarios": len(self.scenarios),
                "messages": sum(len(s.arende_of) for s in self.scenarios),
                "pairs_expected": self.tp + self.fn, "pairs_linked": self.tp + self.fp,
                "true_pairs": self.tp, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "decisions": decisions,
                "failed": [s.id for s in self.scenarios if not s.ok]}


def load_scenarios(path: Path) -> list[dict[str, Any]]:
    """Scenarios from a JSONL file; errors name the line."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
            assert isinstance(data.get("messages"), list) and data["messages"]
            assert isinstance(data.get("expected_groups"), list)
        except (ValueError, AssertionError) as exc:
            raise ValueError(f"{path}:{n}: not a scenario ({exc or 'missing keys'})") from None
        out.append(data)
    return out


def pairs(groups: list[list[str]] | dict[str, str]) -> set[frozenset[str]]:
    """Unordered pairs of keys in the same group."""
    if isinstance(groups, dict):
        by: dict[str, list[str]] = {}
        for key, group in groups.items():
            by.setdefault(group, []).append(key)
        groups = list(by.values())
    return {frozenset(p) for g in groups for p in combinations(sorted(set(g)), 2)}


class Replayer:
    """Runs scenarios through intake and the pipeline on throwaway stores."""

    def __init__(self, settings: Settings | None = None, classifier: Any = None) -> None:
        self.base = settings or load_settings()
        self.classifier = classifier
        self.tmp = Path(tempfile.mkdtemp(prefix="kcs-link-eval-"))
        template = self.tmp / "template.db"
        store = Store(f"sqlite:///{template}")
        store.migrate()
        store.dispose()
        self.template = template

    def close(self) -> None:
        """Remove the throwaway stores."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, scenarios: list[dict[str, Any]]) -> Report:
        """Replay every scenario; return the grouping figures."""
        report = Report()
        for n, scenario in enumerate(scenarios):
            report.scenarios.append(self.run_one(scenario, n))
        return report

    def run_one(self, scenario: dict[str, Any], n: int) -> ScenarioResult:
        """Replay one scenario on a fresh store."""
        var = self.tmp / f"s{n}"
        var.mkdir()
        db = var / "kcs.db"
        src, dst = sqlite3.connect(self.template), sqlite3.connect(db)
        try:
            src.backup(dst)  # a consistent copy, WAL included
        finally:
            src.close()
            dst.close()
        settings = Settings(config_dir=self.base.config_dir, var_dir=var,
                            database_url=f"sqlite:///{db}", redis_url=None, broker_url=None,
                            kcs=self.base.kcs, routing=self.base.routing,
                            linking=self.base.linking)
        store = Store(settings.database_url)
        blobs = BlobStore(settings.blob_dir, store, settings.kcs.storage.inline_max_bytes)
        intake = Intake(store, blobs, settings.kcs.pipeline.queue)
        from ingest.pipeline import Pipeline

        broker = StubBroker()
        pipeline = Pipeline(settings, store, blobs, broker, self.classifier)
        pipeline.register()
        for route in (*settings.routing.routes, settings.routing.default):
            broker.declare_queue(route.queue)
        original = pipeline.stages["normalise"]

        def normalise(view: Any) -> dict[str, Any]:
            if view.meta.transport == REPLAY_TRANSPORT and view.meta.channel is Channel.LETTER:
                return letter_message(blobs.get(view.intake.raw_sha256), view.meta,
                                      settings).to_dict()
            return original(view)

        pipeline.stages["normalise"] = normalise
        arende_of: dict[str, str] = {}
        intake_of: dict[str, str] = {}
        ack_of: dict[str, str] = {}
        decisions: dict[str, str] = {}
        explanations: dict[str, list[dict[str, Any]]] = {}
        candidates: dict[str, list[dict[str, Any]]] = {}
        sid = scenario.get("id", f"S{n}")
        try:
            for m in scenario["messages"]:
                def fill(text: str | None) -> str | None:
                    if text is None:
                        return None
                    return _PLACEHOLDER.sub(
                        lambda g: (arende_of if g.group(1) == "REF" else ack_of).get(
                            g.group(2), g.group(0)), text)
                m = {**m, "subject": fill(m.get("subject") or ""), "text": fill(m["text"]),
                     "in_reply_to": fill(m.get("in_reply_to")),
                     "references": [fill(r) for r in m.get("references") or []]}
                raw, meta = to_raw(m, sid)
                receipt = intake.accept(raw, meta)
                for stage in STAGES:
                    pipeline.run_stage(stage, receipt.intake_id)
                with store.reading() as session:
                    item = session.get(Item, receipt.intake_id)
                    arende = index.resolve(session, item.arende_id) if item and item.arende_id \
                        else f"none:{receipt.intake_id}"
                    link = (item.link or {}) if item else {}
                    ack = (item.acknowledgement or {}) if item else {}
                intake_of[m["key"]] = receipt.intake_id
                arende_of[m["key"]] = arende
                decisions[m["key"]] = ("duplicate" if receipt.duplicate
                                       else link.get("decision", "none"))
                explanations[m["key"]] = link.get("explanation", [])
                candidates[m["key"]] = link.get("candidates", [])
                if ack.get("message_id"):
                    ack_of[m["key"]] = ack["message_id"]
            with store.reading() as session:  # merges reported later move earlier items too
                arende_of = {k: index.resolve(session, a) if not a.startswith("none:") else a
                             for k, a in arende_of.items()}
        finally:
            pipeline.sent.flush()
            store.dispose()
        expected = pairs(scenario["expected_groups"])
        got = pairs(arende_of)
        return ScenarioResult(sid, arende_of, scenario["expected_groups"], decisions,
                              explanations, candidates, tp=len(expected & got),
                              fp=len(got - expected), fn=len(expected - got))


def _when(m: dict[str, Any]) -> datetime:
    return START + timedelta(minutes=float(m.get("minutes_after_start", 0)))


def to_raw(m: dict[str, Any], scenario_id: str) -> tuple[bytes, ChannelMeta]:
    """The raw original and channel metadata the real channel would have produced."""
    when = _when(m)
    channel = m.get("channel", "email")
    if channel == "email":
        msg = EmailMessage()
        sender = m.get("from_email") or "okand-avsandare@example.invalid"
        msg["From"] = f"{m['from_name']} <{sender}>" if m.get("from_name") else sender
        msg["To"] = "kontaktcenter@stockholm.se"
        msg["Subject"] = m.get("subject") or ""
        msg["Date"] = format_datetime(when)
        digest = hashlib.sha256(f"{scenario_id}|{m['key']}".encode()).hexdigest()[:16]
        msg["Message-ID"] = m.get("message_id") or f"<{digest}@replay.example.se>"
        if m.get("in_reply_to"):
            msg["In-Reply-To"] = m["in_reply_to"]
        if m.get("references"):
            msg["References"] = " ".join(m["references"])
        msg.set_content(m["text"])
        raw = msg.as_bytes()
        return raw, ChannelMeta(channel=Channel.EMAIL, transport="smtp", received_at=when,
                                source_keys=email_source_keys(raw),
                                envelope_from=sender,
                                envelope_to=("kontaktcenter@stockholm.se",))
    if channel == "sms":
        phone = m.get("from_phone") or "+46700000000"
        body = m["text"] if not m.get("subject") else f"{m['subject']}: {m['text']}"
        content = f"{scenario_id}|{phone}|{body}|{m.get('minutes_after_start', 0)}"
        sid = "SM" + hashlib.sha256(content.encode()).hexdigest()[:32]
        raw = urlencode({"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32,
                         "From": phone, "To": "+46766861234", "Body": body,
                         "NumSegments": "1", "NumMedia": "0"}).encode()
        return raw, ChannelMeta(channel=Channel.SMS, transport="twilio", received_at=when,
                                source_keys=(f"twilio:{sid}",))
    if channel in ("letter", "fax"):
        raw = letter_text(m).encode("utf-8")
        page = hashlib.sha256(raw).hexdigest()
        return raw, ChannelMeta(channel=Channel.LETTER, transport=REPLAY_TRANSPORT,
                                received_at=when, source_keys=(f"scan-doc:{page}:1-1:{page}",))
    raise ValueError(f"unknown channel {channel!r} in message {m.get('key')}")


def letter_text(m: dict[str, Any]) -> str:
    """The letter as OCR would read it: sender block, subject line, text, contact lines."""
    text = m["text"]
    head: list[str] = []
    if m.get("from_name") and m["from_name"] not in text:
        head.append(m["from_name"])
    if m.get("postal_address") and m["postal_address"].split(",")[0] not in text:
        head += [p.strip() for p in m["postal_address"].split(",")]
    lines = [*head, ""] if head else []
    if m.get("subject"):
        lines += [f"Angående: {m['subject']}", ""]
    lines.append(text)
    tail = [v for v in (m.get("from_phone") and f"Tel: {m['from_phone']}",
                        m.get("from_email") and f"E-post: {m['from_email']}")
            if v and str(v).split(": ")[1] not in text]
    return "\n".join(lines + (["", *tail] if tail else []))


def letter_message(raw: bytes, meta: ChannelMeta, settings: Settings) -> NormalisedMessage:
    """The scan channel's post-OCR path on a text page (as for a PDF text layer)."""
    text = raw.decode("utf-8")
    page = PageResult(index=0, sha256=hashlib.sha256(raw).hexdigest(), source="text-layer",
                      text=text)
    manifest = {"filename": "brev.pdf", "documents": 1, "document": 1, "pages": [0],
                "expected_pages": 1, "found_pages": 1}
    cfg = settings.kcs.scan
    message, _record, _blobs, _hold = assemble(
        manifest, [page], raw, "pdf", meta, fieldlib.Letterhead.from_config(cfg.city_letterhead),
        GateSettings.from_config(cfg))
    return message


def run_file(path: Path, *, settings: Settings | None = None, classifier: Any = None) -> Report:
    """Replay a scenario file; the store is thrown away afterwards."""
    replayer = Replayer(settings, classifier)
    try:
        return replayer.run(load_scenarios(path))
    finally:
        replayer.close()
