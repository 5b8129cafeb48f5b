"""``kcs link-eval``: the linking scenarios' precision and recall."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("link-eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--classifier/--no-classifier", default=True, show_default=True,
              help="Classify with the trained model (trained on first use, ~20 s) or send "
                   "everything to triage (then no category signal).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show every scenario's grouping.")
def link_eval_cmd(file: Path, classifier: bool, as_json: bool, verbose: bool) -> None:
    """Replay linking scenarios (JSONL) through intake, pipeline and acknowledgement on a
    throwaway store, and print pairwise precision/recall of the ärende grouping."""
    from dedupe.evaluation import run_file
    from ingest.config import load_settings
    from ingest.errors import ConfigError
    from ingest.logs import configure

    configure("WARNING")
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    model = None
    if classifier:
        from ingest.classify import load_classifier

        model = load_classifier(settings)
    try:
        report = run_file(file, settings=settings, classifier=model)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    for s in report.scenarios:
        if verbose or not s.ok:
            mark = "ok " if s.ok else "ERR"
            click.echo(f"{mark} {s.id}: expected {s.expected}; got "
                       f"{ {k: v for k, v in s.arende_of.items()} } "
                       f"decisions {s.decisions} (fp {s.fp}, fn {s.fn})")
            if verbose:
                for key, signals in s.explanations.items():
                    click.echo(f"    {key}: " + ", ".join(
                        f"{e['signal']} {e['points']:+g}" for e in signals))
    click.echo(f"scenarios {summary['scenarios']}, messages {summary['messages']}, "
               f"pairs expected {summary['pairs_expected']}, linked {summary['pairs_linked']}, "
               f"correct {summary['true_pairs']}")
    click.echo(f"precision {report.precision:.4f}  recall {report.recall:.4f}  "
               f"decisions {summary['decisions']}")
