"""EmailLimits, its config twin and config/kcs.yaml say the same thing."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import yaml

from channels.email.limits import EmailLimits
from ingest.config import EmailLimitsConfig, KcsConfig

KCS_YAML = Path(__file__).resolve().parents[3] / "config" / "kcs.yaml"


def test_config_and_yaml_have_every_limit_with_the_same_default() -> None:
    defaults = dataclasses.asdict(EmailLimits())
    assert EmailLimitsConfig().model_dump() == defaults
    shipped = yaml.safe_load(KCS_YAML.read_text(encoding="utf-8"))["email_limits"]
    assert KcsConfig.model_validate({"email_limits": shipped}).email_limits.model_dump() == defaults


def test_config_values_build_email_limits() -> None:
    config = EmailLimitsConfig(pdf_timeout_s=2.5, pdf_memory_mb=256)
    assert EmailLimits(**config.model_dump()).pdf_timeout_s == 2.5


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, "20"])
def test_pdf_timeout_must_be_a_positive_finite_number(value: object) -> None:
    with pytest.raises(ValueError, match="pdf_timeout_s"):
        EmailLimits(pdf_timeout_s=value)
