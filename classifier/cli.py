"""``kcs train``, ``kcs classify`` and ``kcs eval``: click commands the product's CLI adds.

    from classifier.cli import classifier_commands
    for cmd in classifier_commands.commands.values():
        kcs.add_command(cmd)

Each command takes --model-dir, --config-dir and --corpus-dir with the
product's defaults. Output data goes to stdout, progress and tables to stderr
(except ``eval``'s table, which is its output).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console

from classifier.corpus import iter_jsonl
from classifier.engine import Classification, Classifier
from classifier.errors import ClassifierError

BATCH = 500
PROGRESS_MIN_LINES = 2000


def _dirs(f: Any) -> Any:
    f = click.option("--corpus-dir", type=click.Path(path_type=Path), default=Path("corpus"),
                     show_default=True, help="Labelled corpus (train/ and heldout/).")(f)
    f = click.option("--config-dir", type=click.Path(path_type=Path), default=Path("config"),
                     show_default=True, help="Holds taxonomy.yaml and classifier.yaml.")(f)
    return click.option("--model-dir", type=click.Path(path_type=Path),
                        default=Path("var/models"), show_default=True,
                        help="Where trained models and corrections.jsonl live.")(f)


def _load(model_dir: Path, config_dir: Path, corpus_dir: Path, *, force: bool = False
          ) -> Classifier:
    try:
        return Classifier.load_or_train(model_dir, config_dir, corpus_dir, force=force)
    except (ClassifierError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("classifier")
def classifier_commands() -> None:
    """Classifier commands: train, classify, eval."""


@classifier_commands.command("train")
@_dirs
def train_cmd(model_dir: Path, config_dir: Path, corpus_dir: Path) -> None:
    """Retrain from the corpus plus staff corrections and save the model."""
    err = Console(stderr=True)
    t0 = time.perf_counter()
    clf = _load(model_dir, config_dir, corpus_dir, force=True)
    rep = clf.training_report
    err.print(f"trained [bold]{clf.model_version}[/bold] on {rep.get('examples')} examples "
              f"({rep.get('corrections', {}).get('kept', 0)} corrections) in "
              f"{time.perf_counter() - t0:.1f} s; {rep.get('features')} features")
    if rep.get("types_without_examples"):
        err.print(f"[yellow]no examples for[/yellow] {', '.join(rep['types_without_examples'])}")
    click.echo(json.dumps({"model_version": clf.model_version, **rep}, ensure_ascii=False))


def _records(stream: IO[str]) -> Iterator[dict[str, Any] | None]:
    for line in stream:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            yield None
            continue
        yield rec if isinstance(rec, dict) else None


def output_record(rec_id: Any, c: Classification, *, explain: bool = False) -> dict[str, Any]:
    """The JSONL line ``kcs classify`` writes for one message."""
    out = {"id": rec_id, "huvudkategori": c.huvudkategori, "arendetyp": c.arendetyp,
           "arendeklass": c.arendeklass, "sekretess": c.flags["sekretess"],
           "akut": c.flags["akut"], "myndighetsutovning": c.flags["myndighetsutovning"],
           "tolk": c.flags["tolk"], "language": c.language, "confidence": c.confidence,
           "needs_triage": c.needs_triage, "reasons": c.reasons,
           "model_version": c.model_version}
    if explain:
        out["explanation"] = c.explanation
    return out


@classifier_commands.command("classify")
@click.argument("file", type=click.File("r", encoding="utf-8", errors="replace"), default="-")
@click.option("--explain", is_flag=True, help="Include scores, rules and top features.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: on for long files).")
@_dirs
def classify_cmd(file: IO[str], explain: bool, progress: bool | None, model_dir: Path,
                 config_dir: Path, corpus_dir: Path) -> None:
    """Read JSONL {"id","channel","subject","text"} from FILE (or stdin), write results."""
    clf = _load(model_dir, config_dir, corpus_dir)
    lines = list(_records(file))
    show = progress if progress is not None else len(lines) >= PROGRESS_MIN_LINES
    err = Console(stderr=True)
    from rich.progress import Progress

    with Progress(console=err, disable=not show, transient=True) as bar:
        task = bar.add_task("classifying", total=len(lines))
        for start in range(0, len(lines), BATCH):
            chunk = lines[start:start + BATCH]
            items = [((r or {}).get("subject"), (r or {}).get("text"), (r or {}).get("channel"))
                     for r in chunk]
            for rec, c in zip(chunk, clf.classify_batch(items), strict=True):
                out = output_record((rec or {}).get("id"), c, explain=explain)
                if rec is None:
                    out["reasons"] = ["bad_input_line", *out["reasons"]]
                sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            bar.advance(task, len(chunk))
    sys.stdout.flush()


@classifier_commands.command("eval")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the full report as JSON to this path ('-' for stdout).")
@_dirs
def eval_cmd(files: tuple[Path, ...], json_out: Path | None, model_dir: Path, config_dir: Path,
             corpus_dir: Path) -> None:
    """Accuracy, macro-F1, per-language/channel figures, coverage and confusions for FILES."""
    from classifier.evaluate import evaluate, render

    clf = _load(model_dir, config_dir, corpus_dir)
    records = [r for f in files for _n, r in iter_jsonl(f) if r is not None]
    if not records:
        raise click.ClickException("no records in " + ", ".join(map(str, files)))
    report = evaluate(clf, records)
    if json_out is not None and str(json_out) == "-":
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    render(report, Console(width=120))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
