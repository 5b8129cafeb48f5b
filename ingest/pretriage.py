"""Akut pre-triage: which new items skip the queue.

An item is known to be akut only once it is classified, and in a surge it
waits in the normalise queue behind everything that arrived before it. The
relay therefore takes a first look at every new e-mail and SMS before it
joins that queue: the subject and text parts (``channels.email.glance``, the
SMS body) against the classifier's akut rules, about a tenth of a
millisecond. An item the rules flag goes on the akut lane (``kcs.akut``,
``ingest.stages``), where a worker takes it before any other work and runs
all its stages at once.

The look is a shortcut, not the judgement: the classify stage still reads
the whole normalised message with the rules and the akut model, and an akut
item the rules miss here reaches the fast path that way, only later. Letters
and faxes need OCR first and are not looked at here.

Only the rules, never the model: the model at its recall-first threshold
flags most of a storm's mail (a flooded cellar scores 0.22 against 0.10), and
a lane that carries the whole storm prioritises nothing. The rules are what
the classifier is surest of (violence, suicide, a child, a person fallen,
fire or gas).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import bindparam, select

from channels.email.glance import glance as email_glance
from channels.sms.normalise import glance as sms_glance
from classifier.rules import RuleEngine
from classifier.settings import load_settings
from ingest import metrics
from ingest.blobs import BlobStore
from ingest.config import Settings
from ingest.db import Intake
from ingest.logs import get_logger
from ingest.model import Channel
from ingest.store import Store

log = get_logger("pretriage")

_GLANCE: dict[str, Callable[[bytes], str]] = {Channel.EMAIL.value: email_glance,
                                              Channel.SMS.value: sms_glance}
_RAW_OF = select(Intake.id, Intake.channel, Intake.raw_sha256).where(
    Intake.id.in_(bindparam("ids", expanding=True)))


class PreTriage:
    """The akut rules over a first look at raw originals; thread-safe."""

    def __init__(self, rules: RuleEngine, store: Store, blobs: BlobStore) -> None:
        self.rules = rules
        self.store = store
        self.blobs = blobs

    @classmethod
    def from_settings(cls, settings: Settings, store: Store, blobs: BlobStore
                      ) -> PreTriage | None:
        """The pre-triage the configuration asks for, or None (``pipeline.akut_lane``)."""
        if not settings.kcs.pipeline.akut_lane:
            return None
        clf = load_settings(settings.config_dir)
        specs = tuple(s for s in clf.rules if "akut" in s.flags)
        lim = clf.limits
        return cls(RuleEngine(specs, max_chars=lim.max_rule_chars,
                              regex_timeout_ms=lim.regex_timeout_ms,
                              max_gap_tokens=clf.max_gap_tokens), store, blobs)

    def is_akut(self, text: str) -> list[str]:
        """The akut rules ``text`` fires (empty: not akut by its first look)."""
        if not text:
            return []
        return [h.rule for h in self.rules.run(text).hits if "akut" in h.flags]

    def akut_items(self, intake_ids: Iterable[str]) -> set[str]:
        """Which of these new items go on the akut lane.

        Never raises for an item: one whose original cannot be read or looked at
        simply takes the ordinary way (its normalise stage reports the problem).
        """
        ids = list(dict.fromkeys(intake_ids))
        if not ids:
            return set()
        with self.store.core_reading() as conn:
            rows = conn.execute(_RAW_OF, {"ids": ids}).all()
        akut: set[str] = set()
        for intake_id, channel, sha256 in rows:
            look = _GLANCE.get(channel)
            if look is None:
                continue
            try:
                rules = self.is_akut(look(self.blobs.get(sha256)))
            except Exception as exc:  # a broken original is normalise's to report
                log.warning("pretriage.unreadable", intake_id=intake_id,
                            error=type(exc).__name__)
                continue
            metrics.PRETRIAGE.labels(lane="akut" if rules else "ordinary").inc()
            if rules:
                akut.add(intake_id)
                log.info("pretriage.akut_lane", intake_id=intake_id, rules=rules)
        return akut
