"""``kcs users add|disable|list`` on a real database; passwords hashed with argon2."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from ingest.app import Runtime
from ingest.cli import main
from ingest.webapp.db import WebUser
from ingest.webapp.users import authenticate


def test_users_add_list_disable(settings, monkeypatch) -> None:
    monkeypatch.setenv("KCS_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("KCS_CONFIG_DIR", str(settings.config_dir))
    runner = CliRunner()
    ok = runner.invoke(main, ["users", "add", "dora", "--role", "registratur", "--namnd",
                              "aldrenamnden", "--sekretess", "--password",
                              "ett-långt-lösenord"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(main, ["users", "add", "eva", "--role", "analyst", "--namnd",
                               "okand_namnd", "--password", "ett-långt-lösenord"])
    assert bad.exit_code != 0 and "okänd nämnd okand_namnd" in bad.output
    short = runner.invoke(main, ["users", "add", "eva", "--role", "analyst", "--password", "kort"])
    assert short.exit_code != 0 and "minst 12 tecken" in short.output
    listed = runner.invoke(main, ["users", "list"])
    assert listed.output.strip() == "dora\tregistratur\taldrenamnden\tsekretess\taktiv"
    rt = Runtime.build(settings)
    with rt.store.reading() as session:
        row = session.scalar(select(WebUser).where(WebUser.username == "dora"))
        assert row.password_hash.startswith("$argon2id$")
    assert authenticate(rt, "dora", "ett-långt-lösenord") is not None
    assert authenticate(rt, "dora", "fel-lösenord-helt") is None
    assert runner.invoke(main, ["users", "disable", "dora"]).exit_code == 0
    assert authenticate(rt, "dora", "ett-långt-lösenord") is None
    assert "avstängd" in runner.invoke(main, ["users", "list"]).output
