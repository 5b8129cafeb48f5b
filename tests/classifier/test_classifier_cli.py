"""`kcs train`, `kcs classify`, `kcs eval` round trips through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from classifier import Classifier
from classifier.cli import classifier_commands

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
CORPUS = REPO / "corpus"
HELDOUT = CORPUS / "heldout"



def _args(model_dir: Path) -> list[str]:
    return ["--model-dir", str(model_dir), "--config-dir", str(CONFIG),
            "--corpus-dir", str(CORPUS)]


def test_classify_reads_jsonl_and_writes_jsonl(trained: Classifier, model_dir: Path) -> None:
    lines = [{"id": "a", "channel": "sms", "subject": "", "text": "gatlampan är trasig"},
             {"id": "b", "channel": "email", "subject": "Bygglov", "text": "Behövs bygglov?"},
             {"id": "c", "channel": "sms", "subject": "", "text": ""}]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n"
    res = CliRunner().invoke(classifier_commands, ["classify", *_args(model_dir)], input=stdin)
    assert res.exit_code == 0, res.output
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c", None]
    for o in out:
        assert {"huvudkategori", "arendetyp", "arendeklass", "sekretess", "akut", "language",
                "confidence", "needs_triage"} <= set(o)
    assert out[1]["huvudkategori"] == "bygglov"
    assert out[2]["needs_triage"] and out[3]["needs_triage"]
    assert "bad_input_line" in out[3]["reasons"]
    assert all(o["model_version"] == trained.model_version for o in out)


def test_eval_prints_tables_and_writes_json(trained: Classifier, model_dir: Path,
                                            tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    res = CliRunner().invoke(classifier_commands, [
        "eval", str(HELDOUT / "not_akut.jsonl"), str(HELDOUT / "akut.jsonl"),
        "--json", str(report), *_args(model_dir)])
    assert res.exit_code == 0, res.output
    assert "Per level" in res.output and "Per language" in res.output
    assert "Coverage vs accuracy" in res.output and "confusions" in res.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["n"] == 49 and data["flags"]["akut"]["recall"] == 1.0


def test_eval_tolerates_missing_optional_labels(trained: Classifier, model_dir: Path,
                                                tmp_path: Path) -> None:
    f = tmp_path / "partial.jsonl"
    f.write_text(json.dumps({"id": "1", "channel": "sms", "subject": "",
                             "text": "soptunnan har inte tömts", "huvudkategori": "avfall"})
                 + "\n", encoding="utf-8")
    res = CliRunner().invoke(classifier_commands, ["eval", str(f), "--json", "-",
                                                   *_args(model_dir)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["levels"]["huvudkategori"]["n"] == 1
    assert data["levels"]["arendetyp"] == {"n": 0}
    assert data["flags"]["akut"]["n"] == 0


def test_train_command_retrains(tmp_path: Path, tiny_corpus: Path) -> None:
    res = CliRunner().invoke(classifier_commands, [
        "train", "--model-dir", str(tmp_path), "--config-dir", str(CONFIG),
        "--corpus-dir", str(tiny_corpus)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["examples"] == 36
    assert (tmp_path / f"classifier-{info['model_version']}.joblib").exists()


def test_bad_config_is_a_clean_error(tmp_path: Path, config_copy: Path) -> None:
    (config_copy / "taxonomy.yaml").write_text("huvudkategorier: [\n", encoding="utf-8")
    res = CliRunner().invoke(classifier_commands, [
        "classify", "--model-dir", str(tmp_path), "--config-dir", str(config_copy)], input="")
    assert res.exit_code != 0
    assert "taxonomy.yaml" in res.output
