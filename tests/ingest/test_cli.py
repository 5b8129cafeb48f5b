"""The `kcs` command as an operator uses it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import test  # CPython's own test package: its e-mail corpus
from click.testing import CliRunner

from ingest.cli import main

CORPUS = Path(os.path.dirname(test.__file__)) / "test_email" / "data"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Path:
    monkeypatch.setenv("KCS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KCS_CONFIG_DIR", str(REPO / "config"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    return tmp_path


def test_ingest_files_reports_each_and_dedupes(env: Path) -> None:
    files = sorted(CORPUS.glob("msg_*.txt"))
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", *map(str, files)])
    assert first.exit_code == 0, first.output
    lines = [line.split("\t") for line in first.stdout.splitlines()]
    assert [path for *_, path in lines] == [str(f) for f in files]
    by_state = {state for _, state, _ in lines}
    assert by_state <= {"accepted", "duplicate"}
    # The corpus repeats some messages byte for byte: those are one item each.
    distinct = {f.read_bytes() for f in files}
    accepted = sum(state == "accepted" for _, state, _ in lines)
    assert 0 < accepted <= len(distinct)
    assert len({intake_id for intake_id, _, _ in lines}) == accepted  # duplicates point back
    again = runner.invoke(main, ["ingest", str(files[0])])
    assert again.stdout.split("\t")[:2] == [lines[0][0], "duplicate"]


def test_dead_letters_list_and_replay(env: Path) -> None:
    from pipeline_support import running_pipeline, wait_for_state

    from ingest.app import Runtime

    empty = env / "empty.eml"
    empty.write_bytes(b"")
    runner = CliRunner()
    intake_id = runner.invoke(main, ["ingest", str(empty)]).stdout.split("\t")[0]
    rt = Runtime.build()
    with running_pipeline(rt):
        assert wait_for_state(rt, intake_id) == "rejected"
    listed = runner.invoke(main, ["dead-letters", "list"])
    assert listed.exit_code == 0
    assert intake_id in listed.stdout and "empty_input" in listed.stdout
    replay = runner.invoke(main, ["dead-letters", "replay", intake_id])
    assert replay.exit_code == 0 and "replaying from normalise" in replay.stdout
    missing = runner.invoke(main, ["dead-letters", "replay", "01NOSUCHITEM0000000000000X"])
    assert missing.exit_code != 0 and "no item" in missing.output


def test_config_error_names_file_and_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    config = env / "config"
    shutil.copytree(REPO / "config", config)
    (config / "kcs.yaml").write_text("smtp:\n  port: 99999\n")
    monkeypatch.setenv("KCS_CONFIG_DIR", str(config))
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code != 0
    assert f"{config / 'kcs.yaml'}:2: smtp.port:" in result.output


def test_a_worker_takes_one_thread_unless_its_stages_wait_on_the_network(make_settings) -> None:
    """CPU work takes turns under one interpreter lock, so one thread a process; an SMTP
    relay for acknowledgements or a clamd scan leaves time another thread can use."""
    import dataclasses

    from ingest.antivirus import VirusScanConfig
    from ingest.cli import default_worker_threads
    from ingest.config import RelayConfig

    settings = make_settings()
    assert default_worker_threads(settings) == 1

    def changed(**kcs: object):
        return dataclasses.replace(settings, kcs=settings.kcs.model_copy(update=kcs))

    outbound = settings.kcs.outbound.model_copy(
        update={"relay": RelayConfig(host="smtp.stockholm.se")})
    assert default_worker_threads(changed(outbound=outbound)) == 4
    assert default_worker_threads(changed(virus_scan=VirusScanConfig(enabled=True))) == 4


def test_kcs_worker_hands_dramatiq_the_default_threads(env: Path, monkeypatch) -> None:
    """What `kcs worker` without --threads starts: one thread a process here (no relay,
    no clamd), and --threads wins when given."""
    import dramatiq.cli

    started: list[list[str]] = []

    def dramatiq_main() -> int:
        started.append(list(sys.argv))
        return 0

    monkeypatch.setattr(dramatiq.cli, "main", dramatiq_main)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    for args in (["worker"], ["worker", "--threads", "3"]):
        assert CliRunner().invoke(main, args).exit_code == 0
    threads = [argv[argv.index("--threads") + 1] for argv in started]
    assert threads == ["1", "3"]
