"""The ``ack:`` section of ``config/kcs.yaml``: policy for acknowledgements.

Texts live in ``config/templates/ack/``; this is only policy: languages,
which categories get a referral text, rate limits, the print queue and the
crisis banner an operator can switch on in the file (or, without a restart,
with ``kcs ack crisis on``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Languages with a full set of texts. ``sv-lattlast`` is plain Swedish (lättläst).
SUPPORTED_LANGUAGES: tuple[str, ...] = ("sv", "sv-lattlast", "en", "fi", "ar", "fa", "so",
                                        "es", "pl", "tr", "ru")
RTL_LANGUAGES = frozenset({"ar", "fa"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitConfig(_Strict):
    """At most ``max_per_window`` acknowledgements to one recipient (e-mail address or
    phone number, whatever the channel) per ``window_s``, and one per ärende per
    ``per_arende_window_s`` (0: off): a follow-up or an autoresponder's reply to our
    own acknowledgement joins the same ärende and gets no second one."""

    max_per_window: int = Field(3, ge=1, le=1000)
    window_s: int = Field(3600, ge=1)
    per_arende_window_s: int = Field(86_400, ge=0)
    key_prefix: str = "kcs:ack:rl"


class CrisisConfig(_Strict):
    """A banner on every acknowledgement (storm, IT failure, pandemic).

    ``text`` maps a language code to the banner; a missing language gets the
    Swedish and English texts. ``kcs ack crisis on`` writes the same thing to
    ``var/ack/crisis.json``, which wins over this section while it exists.
    """

    enabled: bool = False
    text: dict[str, str] = Field(default_factory=dict)


class AckConfig(_Strict):
    """Who gets which acknowledgement, and how it is delivered."""

    enabled: bool = True
    templates_dir: str | None = None           # None: <config dir>/templates/ack
    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    # Senders in these categories get plain Swedish (lättläst) instead of standard Swedish.
    plain_swedish_categories: tuple[str, ...] = ("funktionsnedsattning",)
    # Out-of-scope: the message was passed on, the text says so (referral texts).
    referral_categories: tuple[str, ...] = ("socialtjanst", "funktionsnedsattning")
    referral_types: tuple[str, ...] = ("ovrigt/annan_myndighet",)
    # Used when the item has no category (triage) and as the floor for others.
    default_deadline_working_days: int = Field(5, ge=0, le=60)
    timezone: str = "Europe/Stockholm"
    contact_phone: str = "08-508 00 508"
    contact_web: str = "https://start.stockholm/kontakt"
    emergency_number: str = "112"
    smtp_attempts: int = Field(3, ge=1, le=10)
    smtp_backoff_s: float = Field(1.0, ge=0, le=60)
    smtp_timeout_s: float = Field(30.0, gt=0, le=300)
    print_queue_dir: str | None = None          # None: <var dir>/print/queue
    rate_limit: RateLimitConfig = RateLimitConfig()
    crisis: CrisisConfig = CrisisConfig()

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in SUPPORTED_LANGUAGES]
        if unknown:
            raise ValueError(f"no texts for {unknown}; supported: {list(SUPPORTED_LANGUAGES)}")
        if "sv" not in value or "en" not in value:
            raise ValueError("sv and en are required: they are the fallback for every sender")
        return value
