"""What a message offers the linker: keys to look up and facts to score against.

Computed once per message, from the normalised message, its channel and its
classification; no database access here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from dedupe import minhash
from dedupe.arende_number import find_numbers
from dedupe.identity import Identity, identity_of, keyed, writes_as_relative
from dedupe.policy import LinkingConfig
from dedupe.references import reference_keys
from ingest.model import NormalisedMessage

_OUR_MSGID = re.compile(r"<ack\.(KC-\d{4}-\d{6}-[A-Z])\.[^@>]+@([^>]+)>")


@dataclass
class Evidence:
    """The linker's view of one message."""

    channel: str
    received_at: datetime
    identity: Identity
    numbers: list[str] = field(default_factory=list)      # our ärende numbers quoted
    reply_to: list[str] = field(default_factory=list)     # ärenden of our Message-IDs
    refs: dict[str, str] = field(default_factory=dict)    # reference key → as written
    signature: np.ndarray | None = None
    bands: list[str] = field(default_factory=list)
    relative: bool = False
    huvudkategori: str | None = None
    arendetyp: str | None = None
    category_sure: bool = True          # not sent to triage: its category may also veto
    thread: list[str] = field(default_factory=list)       # keys of Message-IDs replied to
    own_message: str | None = None                        # key of this message's Message-ID
    text_chars: int = 0                                   # length of the normalised own text

    def lookup_keys(self) -> list[str]:
        """Identity, reference and thread keys (selective: looked up first)."""
        return sorted(self.identity.all() | set(self.refs) | set(self.thread))

    def index_keys(self) -> list[str]:
        """What the ärende this message joins learns from it."""
        own = [self.own_message] if self.own_message else []
        return sorted(self.identity.all() | set(self.refs) | set(self.bands) | set(own))


def message_key(message_id: str) -> str:
    """Index key of a Message-ID (keyed: it names the sender's mailbox)."""
    return keyed("mid", message_id.strip().lower())


def replied_arenden(message: NormalisedMessage, our_domain: str) -> list[str]:
    """Ärende ids of our acknowledgements named in In-Reply-To or References."""
    out: list[str] = []
    for header_id in (message.in_reply_to, *message.references):
        for m in _OUR_MSGID.finditer(header_id or ""):
            if m.group(2).lower() == our_domain.lower() and m.group(1) not in out:
                out.append(m.group(1))
    return out


def gather(message: NormalisedMessage, *, channel: str, received_at: datetime,
           classification: dict | None, policy: LinkingConfig, our_domain: str) -> Evidence:
    """Every fact the linker uses, from one message."""
    # The citizen's own words, with text read from attachments (a faxed or
    # photographed letter often is the whole message).
    text = message.analysis_text()
    own = f"{message.subject}\n{text}"
    everything = f"{own}\n{message.full_text}"
    sim = policy.similarity
    signature = None
    text_chars = len(minhash.normalise_text(text))
    if text_chars >= sim.min_chars:
        signature = minhash.signature(text, sim.shingle_chars, sim.bands * sim.rows)
    classification = classification or {}
    # The huvudkategori is set only when the model is sure of it; an item can still go
    # to triage for an unsure ärendetyp, and its area still tells follow-ups apart.
    category = classification.get("huvudkategori")
    return Evidence(
        channel="letter" if channel == "fax" and "fax" not in policy.windows.by_channel
        else channel,
        received_at=received_at,
        identity=identity_of(message.sender, own, our_domain),
        numbers=find_numbers(everything),
        reply_to=replied_arenden(message, our_domain),
        refs=reference_keys(everything),
        signature=signature,
        bands=(minhash.band_keys(signature, sim.bands, sim.rows)
               if signature is not None else []),
        relative=writes_as_relative(own),
        huvudkategori=category,
        arendetyp=classification.get("arendetyp") if category else None,
        category_sure=not classification.get("needs_triage"),
        text_chars=text_chars,
        thread=sorted({message_key(m) for m in (message.in_reply_to, *message.references)
                       if m and not _OUR_MSGID.search(m)}),
        own_message=message_key(message.message_id) if channel == "email"
        and message.message_id else None,
    )
