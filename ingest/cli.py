"""``kcs``: run the product or its parts, feed files in, look after dead letters."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ingest.errors import ConfigError, IntakeUnavailable
from ingest.logs import configure
from ingest.model import Channel, ChannelMeta

if TYPE_CHECKING:
    from ingest.config import Settings

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


class _Commands(click.Group):
    """The `kcs` group; the classifier's commands are imported only when used, so the
    SMTP, web and relay processes never load scikit-learn."""

    lazy: ClassVar[dict[str, str]] = {"train": "train_cmd", "classify": "classify_cmd",
                                      "eval": "eval_cmd", "link-eval": "dedupe.cli"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if self.lazy.get(name) == "dedupe.cli":
            from dedupe.cli import link_eval_cmd

            return link_eval_cmd
        if name in self.lazy:
            from classifier import cli as classifier_cli

            command: click.Command = getattr(classifier_cli, self.lazy[name])
            return command
        return super().get_command(ctx, name)


@click.group(cls=_Commands)
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
    handler = IntakeHandler(rt.intake, rt.settings.kcs.smtp)
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


def default_worker_threads(settings: Settings) -> int:
    """One thread per worker process unless stages wait on the network.

    The stages are CPU work in one interpreter: a second thread only takes turns
    with the first, and the turns cost (bench_surge: 2 processes × 1 thread did 14 %
    more items a second than 2 × 4, with less CPU per item and a lower akut p99).
    An SMTP relay for acknowledgements or a clamd scan is waiting that other threads
    can use, so then 4.
    """
    waits = settings.kcs.outbound.relay is not None or settings.kcs.virus_scan.enabled
    return 4 if waits else 1


@main.command()
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", type=int, default=None,
              help="Threads per process; by default 1, or 4 when acknowledgements go "
                   "through an SMTP relay or attachments to clamd (waits a thread can "
                   "spend while another works).")
def worker(processes: int, threads: int | None) -> None:
    """Run pipeline workers (Dramatiq)."""
    from dramatiq.cli import main as dramatiq_main

    from ingest.config import load_settings
    from ingest.stages import pipeline_queues

    settings = load_settings()
    queues = pipeline_queues(settings.kcs.pipeline.queue)
    if threads is None:
        threads = default_worker_threads(settings)
    # An idle queue is polled with growing pauses up to this; with a queue per stage
    # each hop of a quiet item could otherwise wait up to Dramatiq's default second.
    os.environ.setdefault("dramatiq_worker_timeout", "250")
    sys.argv = ["dramatiq", "ingest.worker", "--processes", str(processes), "--threads",
                str(threads), "--queues", *queues]
    sys.exit(dramatiq_main())


@main.command()
def relay() -> None:
    """Move committed outbox rows onto the broker (new akut items to the akut lane)."""
    from ingest.pretriage import PreTriage
    from ingest.relay import Relay

    configure(process="relay")
    rt = _runtime()
    stop = _wait_for_signal()
    cfg = rt.settings.kcs.pipeline
    try:
        triage = PreTriage.from_settings(rt.settings, rt.store, rt.blobs)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    Relay(rt.store, rt.broker, queue=cfg.queue, interval_s=cfg.relay_interval_s,
          stall_s=cfg.stall_after_s, triage=triage).run(stop)


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


SCAN_SUFFIXES = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                 path_type=Path))
@click.option("--operator", default=None, help="Scans: who scanned them (chain of custody).")
@click.option("--scanner", default=None, help="Scans: which scanner.")
@click.option("--expected-pages", type=int, default=None,
              help="Scans: pages the operator counted (a mismatch goes to review).")
@click.option("--fax", is_flag=True, help="Scans: these are faxes (default: letters, "
              "CCITT TIFFs are faxes).")
def ingest(files: tuple[Path, ...], operator: str | None, scanner: str | None,
           expected_pages: int | None, fax: bool) -> None:
    """Feed files through durable intake: .eml as e-mail; PDF, TIFF, JPEG, PNG as scans."""
    from channels.email.keys import email_source_keys
    from channels.scan.intake import BatchSource, accept_batch

    configure(level="WARNING", process="cli")
    rt = _runtime()
    accepted = duplicates = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Tar emot", total=len(files))
        for path in files:
            raw = path.read_bytes()
            try:
                if path.suffix.lower() in SCAN_SUFFIXES:
                    source = BatchSource(filename=path.name, transport="cli",
                                         channel=Channel.FAX if fax else None,
                                         operator=operator, scanner=scanner,
                                         expected_pages=expected_pages)
                    receipts = accept_batch(rt, raw, source).receipts
                else:
                    meta = ChannelMeta(channel=Channel.EMAIL, transport="cli",
                                       source_keys=email_source_keys(raw),
                                       detail={"filename": path.name})
                    receipts = [rt.intake.accept(raw, meta)]
            except IntakeUnavailable as exc:
                raise click.ClickException(f"{path}: not stored ({exc}); nothing after it "
                                           "was read either, run again") from exc
            for receipt in receipts:
                duplicates += receipt.duplicate
                accepted += not receipt.duplicate
                click.echo(f"{receipt.intake_id}\t"
                           f"{'duplicate' if receipt.duplicate else 'accepted'}\t{path}")
            progress.advance(task)
    console.print(f"{accepted} accepted, {duplicates} duplicates")


@main.command("scan-watch")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Override scan.watch_dir from config.")
def scan_watch(directory: Path | None) -> None:
    """Watch the scan hot folder and take stable files in."""
    import dataclasses

    from channels.scan.watcher import HotFolder

    configure(process="scan-watch")
    rt = _runtime()
    if directory is not None:
        scan = rt.settings.kcs.scan.model_copy(update={"watch_dir": str(directory)})
        rt.settings = dataclasses.replace(
            rt.settings, kcs=rt.settings.kcs.model_copy(update={"scan": scan}))
    if not rt.settings.kcs.scan.watch_dir:
        raise click.ClickException("no hot folder: set scan.watch_dir in config/kcs.yaml "
                                   "or pass --dir")
    folder = HotFolder(rt)
    console.print(f"Watching {folder.root} (processed files go to {folder.processed})")
    folder.run(_wait_for_signal())


@main.group("review")
def review_group() -> None:
    """Registratur review: items held by the OCR quality gate (or another check)."""


@review_group.command("list")
@click.option("--limit", default=100, show_default=True)
def review_list(limit: int) -> None:
    """Items waiting for review, newest first."""
    from channels.scan import review

    rt = _runtime()
    rows = review.list_held(rt, limit)
    for row in rows:
        conf = "" if row["min_page_conf"] is None else f"{row['min_page_conf']:.0f}"
        click.echo("\t".join([row["id"], row["received_at"][:19], row["channel"],
                              row["reason"] or "", str(row["pages"] or ""), conf,
                              (row["subject"] or "")[:60]]))
    if not rows:
        console.print("Nothing waits for review.")


@review_group.command("show")
@click.argument("intake_id")
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
@click.option("--unmask", is_flag=True, help="Show personnummer in full.")
def review_show(intake_id: str, as_json: bool, unmask: bool) -> None:
    """One item: why it waits, the fields, and each page's text with ⟦unsure⟧ words."""
    import json

    from channels.scan import review

    rt = _runtime()
    try:
        data = review.show(rt, intake_id, mask=not unmask)
    except KeyError:
        raise click.ClickException(f"no item {intake_id}") from None
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{data['id']}  {data['channel']}  {data['state']}  {data['reason'] or ''}")
    click.echo(f"Orsak: {data['detail'] or '-'}")
    click.echo(f"Ämne: {data['subject'] or ''}")
    sender = data["sender"] or {}
    click.echo("Avsändare: " + ", ".join(f"{k}={sender.get(k)}" for k in
                                           ("name", "postal_address", "email", "phone")))
    for key, values in (data["fields"] or {}).items():
        if values and key not in ("name", "postal_address", "email", "phone"):
            click.echo(f"{key}: {values}")
    custody = data.get("custody") or {}
    if custody:
        click.echo(f"Original: {custody.get('filename')} sha256={custody.get('batch_sha256')} "
                   f"sidor {custody.get('pages')} av {custody.get('found_pages')}, "
                   f"förväntat {custody.get('expected_pages')}, operatör "
                   f"{custody.get('operator')}, skanner {custody.get('scanner')}")
    for page in data["pages"]:
        q = page.get("quality") or {}
        click.echo(f"\n--- Sida {page['number']} ({page['source']}, medel "
                   f"{q.get('mean_conf')}, osäkra {q.get('low_conf_share')}) ---")
        click.echo(page["text_marked"])


@review_group.command("release")
@click.argument("intake_id")
@click.option("--subject", default=None)
@click.option("--name", default=None, help="Sender's name.")
@click.option("--address", default=None, help="Sender's postal address.")
@click.option("--email", default=None, help="Sender's e-mail.")
@click.option("--phone", default=None, help="Sender's phone.")
@click.option("--personnummer", multiple=True, help="Corrected personnummer (Luhn-checked).")
@click.option("--diarienummer", multiple=True)
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Corrected body text (UTF-8 file).")
@click.option("--corrections", "corrections_file", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="All corrections as a JSON file (the API's release body).")
@click.option("--reviewer", default=None, help="Who reviewed (kept on the item).")
def review_release(intake_id: str, subject: str | None, name: str | None, address: str | None,
                   email: str | None, phone: str | None, personnummer: tuple[str, ...],
                   diarienummer: tuple[str, ...], body_file: Path | None,
                   corrections_file: Path | None, reviewer: str | None) -> None:
    """Apply corrections and send the item on to classification."""
    import json

    from channels.scan import review

    corrections: dict = json.loads(corrections_file.read_text("utf-8")) if corrections_file \
        else {}
    if subject is not None:
        corrections["subject"] = subject
    if body_file is not None:
        corrections["body"] = body_file.read_text("utf-8")
    sender = {k: v for k, v in (("name", name), ("postal_address", address), ("email", email),
                                ("phone", phone)) if v is not None}
    if sender:
        corrections["sender"] = {**corrections.get("sender", {}), **sender}
    fields = {k: list(v) for k, v in (("personnummer", personnummer),
                                      ("diarienummer", diarienummer)) if v}
    if fields:
        corrections["fields"] = {**corrections.get("fields", {}), **fields}
    if reviewer:
        corrections["reviewer"] = reviewer
    rt = _runtime()
    try:
        following = review.release(rt, intake_id, corrections)
    except KeyError:
        raise click.ClickException(f"no item {intake_id}") from None
    except review.ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{intake_id}\treleased, next: {following}")


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


from ingest.ack.cli import ack_group  # noqa: E402

main.add_command(ack_group)


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
               f"routes: {len(settings.routing.routes)} + default\n"
               f"districts: {len(settings.districts.codes) if settings.districts else 0}\n"
               f"blob encryption: {settings.blob_keys.current or 'off (set KCS_BLOB_KEYS)'}\n"
               f"virus scan: {_virus_scan_status(settings)}")


def _virus_scan_status(settings: Any) -> str:
    """``off``, or what clamd says about itself, or why it cannot be asked."""
    from ingest.antivirus import readiness

    state, detail = readiness(settings.kcs.virus_scan, timeout_s=5)
    if state == "off":
        return f"off ({detail})"
    return (f"clamd at {settings.kcs.virus_scan.clamd}: {detail}" if state == "ok"
            else f"NOT READY: {detail}")


from ingest.webapp.cli import users_group  # noqa: E402  (kcs users …)

main.add_command(users_group)

from ingest.triage_cli import triage_group  # noqa: E402  (kcs triage assign)

main.add_command(triage_group)

from ingest.governance.cli import register as _register_governance  # noqa: E402

_register_governance(main)

if __name__ == "__main__":
    main()
