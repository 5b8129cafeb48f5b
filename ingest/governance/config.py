"""The ``governance`` section of ``config/kcs.yaml``: personal data and gallring.

Retention follows each nämnd's dokumenthanteringsplan, so it is configured per
owner and huvudkategori; the first matching rule wins, then the default. The
figures shipped here are placeholders to be replaced by each nämnd's plan.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiConfig(_Strict):
    """Personal identifiers: keyed hashes for linking, values only where needed.

    ``key_env`` names the variable holding the HMAC key (any long random
    string). Unset: a key is generated once into ``var/keys/pii.key`` (fine for
    one machine; set the variable when several machines share a database).
    """

    key_env: str = "KCS_PII_KEY"
    # Owners (fnmatch patterns on owner codes) that need the personnummer
    # itself, e.g. to open a case in their case system; everyone else gets only
    # the keyed hash.
    store_personnummer_for: tuple[str, ...] = ("stadsdelsnamnd*", "aldrenamnden",
                                               "overformyndarnamnden")


class RetentionRule(_Strict):
    """How long one kind of item is kept: text anonymised, then originals deleted.

    ``delete_originals_after_days: null`` keeps raw originals and attachments
    (the plan says arkiveras / bevaras).
    """

    name: str
    owner: str | None = None  # fnmatch pattern on the routed owner code
    huvudkategori: str | None = None
    anonymise_after_days: int = Field(ge=1)
    delete_originals_after_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _order(self) -> RetentionRule:
        if (self.delete_originals_after_days is not None
                and self.delete_originals_after_days < self.anonymise_after_days):
            raise ValueError("originals cannot be deleted before the text is anonymised")
        return self


class RetentionConfig(_Strict):
    """Gallring: run by ``kcs retention run`` and every ``interval_s`` inside ``kcs run``."""

    enabled: bool = True
    interval_s: float = Field(3600.0, gt=0)
    rules: tuple[RetentionRule, ...] = (
        RetentionRule(name="socialtjanst", huvudkategori="socialtjanst",
                      anonymise_after_days=365, delete_originals_after_days=None),
        RetentionRule(name="funktionsnedsattning", huvudkategori="funktionsnedsattning",
                      anonymise_after_days=365, delete_originals_after_days=None),
    )
    default: RetentionRule = RetentionRule(name="default", anonymise_after_days=730,
                                           delete_originals_after_days=730)


class GovernanceConfig(_Strict):
    """Personal data and retention."""

    pii: PiiConfig = PiiConfig()
    retention: RetentionConfig = RetentionConfig()
