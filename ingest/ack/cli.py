"""``kcs ack``: the crisis banner, the e-mail outbox, the print queue, previews.

Registered on the ``kcs`` group in ``ingest.cli``. Commands that only touch
files (crisis, preview, print-queue) never connect to the database or Redis.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from ingest.errors import ConfigError


def _settings():
    from ingest.config import load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


@click.group("ack")
def ack_group() -> None:
    """Acknowledgements: crisis banner, outbox, print queue, previews."""


@ack_group.group("crisis")
def crisis_group() -> None:
    """The banner shown on every acknowledgement while it is on."""


@crisis_group.command("on")
@click.option("--sv", "sv_text", required=True, help="The banner in Swedish (required).")
@click.option("--en", "en_text", default=None, help="The banner in English.")
@click.option("--text", "more", multiple=True, metavar="LANG=TEXT",
              help="The banner in another language, e.g. --text 'ar=...'. Repeatable.")
@click.option("--operator", default=None, help="Who switched it on (kept in the file).")
def crisis_on(sv_text: str, en_text: str | None, more: tuple[str, ...],
              operator: str | None) -> None:
    """Show a banner on every acknowledgement from now on (no restart needed)."""
    from ingest.ack import crisis
    from ingest.ack.config import SUPPORTED_LANGUAGES

    texts = {"sv": sv_text}
    if en_text:
        texts["en"] = en_text
    for item in more:
        lang, sep, text = item.partition("=")
        if not sep or lang not in SUPPORTED_LANGUAGES:
            raise click.BadParameter(f"{item!r}: use LANG=TEXT with LANG one of "
                                     f"{', '.join(SUPPORTED_LANGUAGES)}", param_hint="--text")
        texts[lang] = text
    path = crisis.switch_on(_settings().var_dir, texts, operator=operator)
    click.echo(f"crisis banner ON ({', '.join(sorted(texts))}): {path}")


@crisis_group.command("off")
def crisis_off() -> None:
    """Remove the banner switched on with ``kcs ack crisis on``."""
    from ingest.ack import crisis

    settings = _settings()
    was_on = crisis.switch_off(settings.var_dir)
    click.echo("crisis banner OFF" if was_on else "crisis banner was not on (file switch)")
    if settings.kcs.ack.crisis.enabled:
        click.echo("note: ack.crisis.enabled is true in config/kcs.yaml; that banner stays")


@crisis_group.command("status")
def crisis_status() -> None:
    """Print the banner texts now in force, if any."""
    from ingest.ack import crisis

    settings = _settings()
    banner = crisis.current(settings.var_dir, settings.kcs.ack.crisis)
    click.echo(json.dumps({"on": bool(banner), "text": banner}, ensure_ascii=False, indent=2))


@ack_group.command("preview")
@click.option("--language", default="sv", show_default=True)
@click.option("--channel", type=click.Choice(["email", "html", "sms", "letter"]),
              default="email", show_default=True)
@click.option("--case", "case_key", default=None, help="huvudkategori[/ärendetyp]")
@click.option("--kind", type=click.Choice(["standard", "akut", "referral"]),
              default="standard", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Letter: where to write the PDF (default preview.pdf).")
def preview(language: str, channel: str, case_key: str | None, kind: str,
            out: Path | None) -> None:
    """Render one acknowledgement with a sample ärende number, for proofreading."""
    from channels.sms import segments
    from ingest.ack import service

    settings = _settings()
    plan = {"planned": True, "languages": [language], "language": language,
            "deadline": date.today().isoformat(), "kind": kind, "case_key": case_key,
            "to": "Förnamn Efternamn\nGatan 1\n123 45 Stockholm"}
    rendered, _ = service.render_for(settings, plan, arende_id="KC-2026-000001-A",
                                     channel="email" if channel == "html" else channel)
    if channel == "letter":
        path = out or Path("preview.pdf")
        path.write_bytes(service.letter_pdf(settings, plan, rendered, "KC-2026-000001-A"))
        click.echo(f"wrote {path}")
    elif channel == "html":
        click.echo(rendered.html)
    else:
        click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
        if channel == "sms":
            cost = segments.count(rendered.text)
            click.echo(f"[{cost.encoding}, {cost.units} units, {cost.segments} segment(s); "
                       f"budget {settings.kcs.sms.max_segments}]")


@ack_group.command("flush")
def flush() -> None:
    """Send every e-mail acknowledgement still queued for the relay."""
    from ingest.ack import delivery

    results = delivery.flush_queue(_settings())
    for r in results:
        click.echo(f"{r['file']}\t{r['state']}\t{r.get('error', '')}")
    click.echo(f"{len(results)} queued file(s) tried")


@ack_group.command("outbox")
def outbox() -> None:
    """Count e-mail acknowledgements written, queued, sent and failed."""
    settings = _settings()
    root = settings.outbox_dir
    for label, folder in (("written", root), ("queued", root / "queue"),
                          ("sent", root / "sent"), ("failed", root / "failed")):
        click.echo(f"{label}\t{len(list(folder.glob('*.eml')))}\t{folder}")


@ack_group.command("print-queue")
@click.option("--done", is_flag=True, help="Move the queued letters to printed/ (after printing).")
def print_queue(done: bool) -> None:
    """List the letters waiting to be printed and posted."""
    from ingest.ack import delivery

    settings = _settings()
    letters = delivery.waiting_letters(settings)
    for path in letters:
        click.echo(str(path))
    if done and letters:
        printed = delivery.mark_printed(settings, letters)
        click.echo(f"moved {len(letters)} letter(s) to {printed}")
    elif not letters:
        click.echo("print queue is empty")


@ack_group.command("show")
@click.argument("intake_id")
def show(intake_id: str) -> None:
    """The acknowledgement plan and delivery state of one item (what staff see)."""
    from ingest.app import Runtime

    rt = Runtime.build(_settings())
    item = rt.store.get_item(intake_id)
    if item is None:
        raise click.ClickException(f"no item {intake_id}")
    plan = dict((item.published or {}).get("acknowledgement_plan") or {})
    if plan.get("channel") == "letter":
        plan["to"] = "(postal address)"
    click.echo(json.dumps({"arende": item.arende_id, "plan": plan,
                           "delivery": item.acknowledgement}, ensure_ascii=False, indent=2))
