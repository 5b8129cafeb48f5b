"""``kcs``: run the product or its parts, feed files in, look after dead letters."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ingest.errors import ConfigError, IntakeUnavailable
from ingest.logs import configure
from ingest.model import Channel, ChannelMeta

console = Console(stderr=True)


def _runtime():
    from ingest.app import Runtime

    try:
        return Runtime.build()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _wait_for_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.group()
def main() -> None:
    """KCS intake: the written-channel intake of the contact centre."""


@main.command()
def run() -> None:
    """Start everything on embedded defaults (SQLite, private Redis, SMTP, web, worker)."""
    from ingest.supervisor import run_all

    configure(process="run")
    run_all()


@main.command()
@click.option("--port", type=int, default=None, help="Override smtp.port from config.")
@click.option("--processes", type=int, default=None,
              help="Override smtp.processes: processes sharing the port.")
def smtp(port: int | None, processes: int | None) -> None:
    """Run the SMTP receiver."""
    import subprocess

    from channels.email.smtp import IntakeHandler, make_controller

    configure(process="smtp")
    rt = _runtime()
    count = processes or rt.settings.kcs.smtp.processes
    siblings = []
    if count > 1 and not os.environ.get("KCS_SMTP_SIBLING"):
        args = [sys.executable, "-m", "ingest.cli", "smtp", "--processes", str(count)]
        if port:
            args += ["--port", str(port)]
        siblings = [subprocess.Popen(args, env={**os.environ, "KCS_SMTP_SIBLING": "1"})
                    for _ in range(count - 1)]
    handler = IntakeHandler(rt.intake.accept, rt.settings.kcs.smtp)
    controller = make_controller(handler, rt.settings.kcs.smtp, port=port,
                                 reuse_port=count > 1)
    stop = _wait_for_signal()
    controller.start()
    console.print(f"SMTP listening on {controller.hostname}:{controller.port}"
                  f" ({count} process{'es' if count > 1 else ''})")
    stop.wait()
    controller.stop()
    handler.close()
    for sibling in siblings:
        sibling.terminate()
        sibling.wait(30)


@main.command()
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", default=4, show_default=True)
def worker(processes: int, threads: int) -> None:
    """Run pipeline workers (Dramatiq)."""
    from dramatiq.cli import main as dramatiq_main

    from ingest.config import load_settings

    queue = load_settings().kcs.pipeline.queue
    sys.argv = ["dramatiq", "ingest.worker", "--processes", str(processes), "--threads",
                str(threads), "--queues", queue]
    sys.exit(dramatiq_main())


@main.command()
def relay() -> None:
    """Move committed outbox rows onto the broker."""
    from ingest.relay import Relay

    configure(process="relay")
    rt = _runtime()
    stop = _wait_for_signal()
    cfg = rt.settings.kcs.pipeline
    Relay(rt.store, rt.broker, queue=cfg.queue, interval_s=cfg.relay_interval_s,
          stall_s=cfg.stall_after_s).run(stop)


@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def web(host: str | None, port: int | None) -> None:
    """Run the web app (health, metrics, webhooks, registratur)."""
    import uvicorn

    from ingest.web import create_app

    configure(process="web")
    rt = _runtime()
    app = create_app(rt)
    uvicorn.run(app, host=host or rt.settings.kcs.web.host, port=port or rt.settings.kcs.web.port,
                log_config=None, access_log=False)


@main.command()
def imap() -> None:
    """Pull from the configured IMAP accounts."""
    from ingest.imap import run_pullers

    configure(process="imap")
    rt = _runtime()
    if not rt.settings.kcs.imap.accounts:
        raise click.ClickException("no IMAP accounts in config/kcs.yaml (imap.accounts)")
    run_pullers(rt, _wait_for_signal())


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                 path_type=Path))
def ingest(files: tuple[Path, ...]) -> None:
    """Feed files through durable intake (.eml now; SMS and scans as their channels land)."""
    from channels.email.keys import email_source_keys

    configure(level="WARNING", process="cli")
    rt = _runtime()
    accepted = duplicates = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Tar emot", total=len(files))
        for path in files:
            raw = path.read_bytes()
            meta = ChannelMeta(channel=Channel.EMAIL, transport="cli",
                               source_keys=email_source_keys(raw),
                               detail={"filename": path.name})
            try:
                receipt = rt.intake.accept(raw, meta)
            except IntakeUnavailable as exc:
                raise click.ClickException(f"{path}: not stored ({exc}); nothing after it "
                                           "was read either, run again") from exc
            duplicates += receipt.duplicate
            accepted += not receipt.duplicate
            click.echo(f"{receipt.intake_id}\t{'duplicate' if receipt.duplicate else 'accepted'}"
                       f"\t{path}")
            progress.advance(task)
    console.print(f"{accepted} accepted, {duplicates} duplicates")


@main.group("dead-letters")
def dead_letters() -> None:
    """Items that failed or were rejected, kept with their originals."""


@dead_letters.command("list")
@click.option("--limit", default=100, show_default=True)
def dead_letters_list(limit: int) -> None:
    """Show dead and rejected items with their reason codes."""
    rt = _runtime()
    rows = rt.store.list_intake(("dead", "rejected"), limit)
    fields = [(row.id, row.received_at.isoformat(timespec="seconds"), row.channel, row.state,
               row.stage or "", row.reason_code or "", (row.reason_detail or "")[:80])
              for row in rows]
    out = Console()
    if out.is_terminal:
        table = Table("id", "received", "channel", "state", "stage", "reason", "detail")
        for values in fields:
            table.add_row(*values)
        out.print(table)
    else:  # piped: one tab-separated line per item, for scripts
        for values in fields:
            click.echo("\t".join(values))
    if not rows:
        console.print("No dead letters.")


@dead_letters.command("replay")
@click.argument("ids", nargs=-1, required=True)
def dead_letters_replay(ids: tuple[str, ...]) -> None:
    """Send items through again from the stage that stopped them."""
    rt = _runtime()
    for intake_id in ids:
        try:
            stage = rt.replay(intake_id)
        except KeyError:
            raise click.ClickException(f"no item {intake_id}") from None
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{intake_id}\treplaying from {stage}")


@main.command("check-config")
def check_config() -> None:
    """Validate config/*.yaml and print where each setting comes from."""
    from ingest.config import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"config: {settings.config_dir}\nvar: {settings.var_dir}\n"
               f"database: {settings.database_url.split('@')[-1]}\n"
               f"routes: {len(settings.routing.routes)} + default")


def _add_classifier_commands() -> None:
    """`kcs train`, `kcs classify`, `kcs eval` come from the classifier package."""
    from classifier.cli import classifier_commands

    for command in classifier_commands.commands.values():
        main.add_command(command)


_add_classifier_commands()


if __name__ == "__main__":
    main()
