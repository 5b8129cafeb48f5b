"""The ``sms:`` section of config/kcs.yaml: shipped defaults and errors that say where."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from channels.sms.credentials import TwilioCredentials
from ingest.config import load_settings
from ingest.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def load(tmp_path: Path, sms_yaml: str | None = None):
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    if sms_yaml is not None:
        (target / "kcs.yaml").write_text(sms_yaml, encoding="utf-8")
    return load_settings({"KCS_CONFIG_DIR": str(target), "KCS_VAR_DIR": str(tmp_path)})


def test_shipped_sms_section(tmp_path: Path) -> None:
    sms = load(tmp_path).kcs.sms
    assert sms.max_segments == 3 and sms.continuity_days == 14
    assert {"STOP", "STOPP", "AVSLUTA", "AVBRYT", "SLUTA"} <= set(sms.opt_out_keywords)
    assert sms.help_keywords == ("HELP", "HJÄLP", "INFO")
    assert sms.api_base_url == "https://api.twilio.com" and sms.public_base_url is None


def test_keywords_are_upper_cased_and_urls_trimmed(tmp_path: Path) -> None:
    sms = load(tmp_path, "sms:\n  opt_out_keywords: [stopp, ' sluta ']\n"
                         "  public_base_url: https://kcs.example.se/\n").kcs.sms
    assert sms.opt_out_keywords == ("STOPP", "SLUTA")
    assert sms.public_base_url == "https://kcs.example.se"


@pytest.mark.parametrize(("yaml", "key", "line"), [
    ("sms:\n  from_number: 0701234567\n", "sms.from_number", 2),
    ("sms:\n  max_segments: 0\n", "sms.max_segments", 2),
    ("sms:\n  public_base_url: kcs.example.se\n", "sms.public_base_url", 2),
    ("sms:\n  auth_token: hemligt\n", "sms.auth_token", 2),
])
def test_errors_name_key_and_line(tmp_path: Path, yaml: str, key: str, line: int) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, yaml)
    assert (err.value.key, err.value.line) == (key, line)


def test_credentials_from_env_never_show_the_token() -> None:
    creds = TwilioCredentials.from_env({"TWILIO_ACCOUNT_SID": " AC1 ",
                                        "TWILIO_AUTH_TOKEN": "hemlig-token"})
    assert creds.can_send and creds.basic_auth == ("AC1", "hemlig-token")
    assert "hemlig" not in repr(creds)
    token_only = TwilioCredentials.from_env({"TWILIO_AUTH_TOKEN": "t", "TWILIO_ACCOUNT_SID": ""})
    assert not token_only.can_send and token_only.basic_auth is None
