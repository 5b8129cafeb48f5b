"""Linking policy (``config/linking.yaml``): weights, thresholds, windows and special cases.

Policy, not code: registratur and the nämnder decide how sure the machine must
be before it attaches a message to an existing ärende, how long a case stays
"warm" per channel and category, and what a follow-up on a closed case does.
The defaults below are what the scenario set in ``dedupe/scenarios`` was
tuned against; the figures are in docs/linking.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weights(_Strict):
    """Points each signal adds to (or takes from) a candidate ärende's score."""

    our_message_id: float = 100       # In-Reply-To/References name our acknowledgement
    arende_number: float = 45         # our number quoted (check letter valid)
    thread: float = 50                # In-Reply-To/References name a message of the ärende
    external_ref: float = 45          # a diarienummer / OCR-nummer seen on the ärende
    email: float = 35
    phone: float = 35
    personnummer: float = 35          # keyed hash of a personnummer seen on both
    name_address: float = 30
    name: float = 10                  # full name alone: weak (namesakes, relatives)
    person_named: float = 30          # a person named in both (sender, signature or text)
    initial_named: float = 15         # "A-K Lundqvist" ~ "Anna-Karin Lundqvist"
    address: float = 15               # a street address named in both (one household)
    contact_named: float = 20         # a mobile or e-mail written in one, the sender's in the other
    identity_conflict: float = -20    # both sides have e.g. an e-mail, and none match
    within_window: float = 5
    outside_window: float = -25     # soft evidence only: hard references ignore time
    sms_continuity: float = 25        # an SMS from the number of a recent open ärende
    same_category: float = 5
    same_type: float = 10             # the same ärendetyp too
    place_of_matter: float = 15       # a street named in both, and the same ärendetyp
    other_type: float = -8           # same category, another ärendetyp (soft evidence only)
    other_category: float = -25      # soft evidence only, and not for short texts
    text_similarity: float = 60       # at full similarity; scaled between the bounds below
    relative: float = 5              # a relative writes, with case evidence (policy: link)


class Thresholds(_Strict):
    """Score ≥ link: attach; ≥ review: new ärende plus a possible link; else new."""

    link: float = 50
    review: float = 30

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.link:
            raise ValueError("review must not be above link")
        return self


class Similarity(_Strict):
    """MinHash/LSH text similarity: 64 hashes in 16 bands of 4 rows (Jaccard ≈ 0.5 knee)."""

    shingle_chars: int = Field(5, ge=3, le=12)
    bands: int = Field(16, ge=2, le=64)
    rows: int = Field(4, ge=1, le=16)
    min_chars: int = Field(40, ge=0)      # shorter texts say too little to compare
    # Texts shorter than this ("Tack!", "Glömde säga …") get no category penalty:
    # the classifier cannot know the topic of a follow-up that does not name it.
    category_min_chars: int = Field(45, ge=0)
    floor: float = Field(0.4, ge=0, le=1)  # Jaccard below this adds nothing
    full: float = Field(0.75, gt=0, le=1)   # at or above this, the full weight


class Windows(_Strict):
    """Days since the ärende's last activity within which a follow-up is expected."""

    default_days: int = Field(30, ge=0)
    by_channel: dict[Literal["email", "sms", "letter", "fax"], int] = {
        "email": 30, "sms": 14, "letter": 60, "fax": 60}
    by_category: dict[str, int] = {}      # huvudkategori → days; wins over channel

    def days(self, channel: str, huvudkategori: str | None) -> int:
        """The window for a message on ``channel`` about an ärende in ``huvudkategori``."""
        if huvudkategori and huvudkategori in self.by_category:
            return self.by_category[huvudkategori]
        return self.by_channel.get(channel, self.default_days)  # type: ignore[call-overload]


class ClosedFollowUp(_Strict):
    """A follow-up that would link to a closed ärende."""

    action: Literal["reopen", "new_linked"] = "reopen"
    # Closed longer ago than this: always a new ärende linked to the old one.
    reopen_within_days: int = Field(90, ge=0)


class Relatives(_Strict):
    """A relative (anhörig, god man) writing about someone's ärende.

    ``link``: attach when the case evidence is there (the relative is another
    party on the same ärende); ``review``: never above the review band;
    ``new``: treat like any other sender.
    """

    policy: Literal["link", "review", "new"] = "link"


class OtherSenders(_Strict):
    """A similar text from someone else: their e-mail or phone is known and differs,
    and nothing names the ärende (no number, reply or diarienummer).

    In a crisis hundreds of people write nearly the same words about the same
    storm; each is their own matter. ``ignore``: a new ärende and no possible link
    (the explanation says why); ``review``: a possible link for registratur, as
    scored.
    """

    similar_text: Literal["ignore", "review"] = "ignore"


class LinkingConfig(_Strict):
    """``config/linking.yaml``."""

    weights: Weights = Weights()
    thresholds: Thresholds = Thresholds()
    similarity: Similarity = Similarity()
    windows: Windows = Windows()
    closed_followup: ClosedFollowUp = ClosedFollowUp()
    relatives: Relatives = Relatives()
    other_senders: OtherSenders = OtherSenders()
    max_candidates: int = Field(50, ge=1, le=1000)  # ärenden scored per message
    max_key_hits: int = Field(200, ge=10, le=10000)  # rows read per lookup (popular keys)
