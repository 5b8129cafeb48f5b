"""``kcs link-eval``: the linking scenarios' precision and recall."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("link-eval")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--classifier/--no-classifier", default=True, show_default=True,
              help="Classify with the trained model (trained on first use, about a minute) or send "
                   "everything to triage (then no category signal).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show every scenario's grouping.")
def link_eval_cmd(files: tuple[Path, ...], classifier: bool, as_json: bool,
                  verbose: bool) -> None:
    """Replay linking scenarios (JSONL files) through intake, pipeline and acknowledgement
    on a throwaway store, and print pairwise precision/recall of the ärende grouping."""
    from rich.console import Console
    from rich.table import Table

    from dedupe.evaluation import TARGETS, Report, run_file
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
    report = Report()
    try:
        for file in files:
            report.scenarios += run_file(file, settings=settings, classifier=model).scenarios
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
    table = Table(title="Linking (pairwise: same ärende or not)")
    for col in ("figure", "value", "must reach", "met"):
        table.add_column(col)
    for figure, value, floor in ((f, getattr(report, key), floor) for f, key, floor in TARGETS):
        table.add_row(figure, f"{value:.3f}", f"≥ {floor:.2f}",
                      "yes" if value >= floor else "[bold red]no[/bold red]")
    Console(width=100).print(table)
