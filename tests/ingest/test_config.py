"""Configuration errors name the file, the key and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.config import load_settings
from ingest.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def config_dir_with(tmp_path: Path, name: str, text: str) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    (target / name).write_text(text, encoding="utf-8")
    return target


def test_shipped_config_is_valid(tmp_path: Path) -> None:
    settings = load_settings({"KCS_CONFIG_DIR": str(REPO / "config"),
                              "KCS_VAR_DIR": str(tmp_path)})
    assert settings.kcs.smtp.port == 2525
    assert settings.kcs.web.port == 8025
    assert settings.database_url == f"sqlite:///{tmp_path / 'kcs.db'}"
    assert settings.routing.default.queue == "kcs.case.kontaktcenter"


def test_wrong_type_names_file_key_and_line(tmp_path: Path) -> None:
    cfg = config_dir_with(tmp_path, "kcs.yaml", "web:\n  host: 127.0.0.1\n  port: tjugo\n")
    with pytest.raises(ConfigError) as err:
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": str(tmp_path)})
    assert err.value.file == str(cfg / "kcs.yaml")
    assert err.value.key == "web.port"
    assert err.value.line == 3
    assert "kcs.yaml:3: web.port:" in str(err.value)


def test_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    cfg = config_dir_with(tmp_path, "kcs.yaml", "smtp:\n  port: 25\n  acept_domains: [x.se]\n")
    with pytest.raises(ConfigError) as err:
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": str(tmp_path)})
    assert (err.value.key, err.value.line) == ("smtp.acept_domains", 3)
    assert "unknown key" in str(err.value)


def test_broken_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    cfg = config_dir_with(tmp_path, "kcs.yaml", "smtp:\n  port: [1, 2\n")
    with pytest.raises(ConfigError, match=r"kcs\.yaml"):
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": str(tmp_path)})
    cfg = config_dir_with(tmp_path / "b", "routing.yaml",
                          "default: {name: a, owner: b, queue: c}\ndefault: {}\n")
    with pytest.raises(ConfigError) as err:
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": str(tmp_path)})
    assert err.value.line == 2 and "twice" in str(err.value)


def test_missing_routing_default(tmp_path: Path) -> None:
    cfg = config_dir_with(tmp_path, "routing.yaml", "routes: []\n")
    with pytest.raises(ConfigError) as err:
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": str(tmp_path)})
    assert err.value.key == "default"


def test_a_clamd_address_that_is_no_socket_says_how_to_write_one(tmp_path: Path) -> None:
    cfg = config_dir_with(tmp_path, "kcs.yaml",
                          "virus_scan:\n  enabled: true\n  clamd: localhost\n")
    with pytest.raises(ConfigError) as err:
        load_settings({"KCS_CONFIG_DIR": str(cfg), "KCS_VAR_DIR": str(tmp_path)})
    assert (err.value.key, err.value.line) == ("virus_scan.clamd", 3)
    assert "unix:/path/to/clamd.ctl or host:port" in str(err.value)
