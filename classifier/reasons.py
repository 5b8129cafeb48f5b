"""Reason codes recorded with each classification (a closed set, stored with the item).

Codes marked *triage* send the item to a person; the others explain a decision.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an item looks the way it does; stable strings for storage and statistics."""

    EMPTY_TEXT = "empty_text"                      # triage: nothing to read
    TOO_FEW_LETTERS = "too_few_letters"            # triage: only emoji, digits, symbols
    NOT_TEXT = "not_text"                          # triage: binary junk or a broken charset
    TEXT_TRUNCATED = "text_truncated"              # the model read only the start
    LOW_CONFIDENCE_HUVUDKATEGORI = "low_confidence_huvudkategori"  # triage
    LOW_CONFIDENCE_ARENDETYP = "low_confidence_arendetyp"          # triage
    LOW_CONFIDENCE_ARENDEKLASS = "low_confidence_arendeklass"      # triage only if configured
    AKUT_RULE = "akut_rule"                        # an explicit rule set akut
    SEKRETESS_RULE = "sekretess_rule"              # an explicit rule set sekretess
    SEKRETESS_CATEGORY = "sekretess_category"      # the type is secret by default
    SEKRETESS_PROBABILITY = "sekretess_probability"  # secret categories were likely enough
    AKUT_MODEL = "akut_model"                      # the akut model's probability was high enough
    SEKRETESS_MODEL = "sekretess_model"            # the sekretess model's probability, likewise
    LABEL_FROM_RULE = "label_from_rule"            # the model was unsure; a rule's hint decided
    RULE_TIMEOUT = "rule_timeout"                  # triage: a rule could not be evaluated
    UNKNOWN_CHANNEL = "unknown_channel"            # channel not email/sms/fax/letter
    LANGUAGE_UNDETERMINED = "language_undetermined"  # too short or unknown script
    TAXONOMY_MISMATCH = "taxonomy_mismatch"        # triage: model label not in the taxonomy


TRIAGE_REASONS = frozenset({
    Reason.EMPTY_TEXT, Reason.TOO_FEW_LETTERS, Reason.NOT_TEXT,
    Reason.LOW_CONFIDENCE_HUVUDKATEGORI, Reason.LOW_CONFIDENCE_ARENDETYP,
    Reason.RULE_TIMEOUT, Reason.TAXONOMY_MISMATCH,
})
