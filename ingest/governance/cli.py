"""``kcs routes|keys|gdpr|retention|audit``: governance commands for staff and admins.

Registered on the ``kcs`` group by ``register``; heavy imports stay inside
the commands so that ``kcs smtp`` and friends never pay for them.
"""

from __future__ import annotations

import getpass
import json
import threading
from datetime import datetime

import click

from ingest.errors import ConfigError


def _runtime():  # the same wiring every command uses
    from ingest.app import Runtime

    try:
        return Runtime.build()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# -- routes ------------------------------------------------------------------

@click.group("routes")
def routes_group() -> None:
    """The routing table: which rule sends an item where."""


@routes_group.command("explain")
@click.argument("intake_id")
@click.option("--json", "as_json", is_flag=True)
def routes_explain(intake_id: str, as_json: bool) -> None:
    """Which rule fires for ITEM under the current config, and why earlier ones did not."""
    from ingest.model import NormalisedMessage
    from ingest.routing import decide, facts, place

    rt = _runtime()
    item = rt.store.get_item(intake_id)
    if item is None or item.classification is None:
        raise click.ClickException(f"no classified item {intake_id}")
    classification = item.classification
    placement, placed_from = (place(rt.settings.districts,
                                    NormalisedMessage.from_dict(item.normalised))
                              if item.normalised else (None, None))
    f = facts(classification, classification.get("flags", {}), placement, placed_from)
    decision, trace = decide(rt.settings.routing, f)
    if as_json:
        _echo_json({"facts": f.__dict__, "decision": decision, "trace": trace,
                    "stored": item.routing})
        return
    flags = ",".join(k for k, v in f.flags.items() if v) or "-"
    where = (f"{f.stadsdel} (from {f.stadsdel_from} by {f.stadsdel_by})" if f.stadsdel
             else "unknown")
    click.echo(f"item {intake_id}: {f.huvudkategori or '-'}/{f.arendetyp or '-'} "
               f"{f.arendeklass or '-'} flags={flags} needs_triage={f.needs_triage} "
               f"stadsdel={where}")
    for step in trace:
        if step["fired"]:
            click.echo(f"  FIRED  {step['rule']}{' (default)' if step.get('default') else ''}")
        else:
            click.echo(f"  no     {step['rule']}: " + "; ".join(step["why_not"]))
    click.echo(f"→ owner {decision['owner']}, unit {decision['unit'] or '-'}, queues "
               f"{', '.join(decision['queues'])}")
    if decision["secret_override"]:
        click.echo("  (sekretess: the rule's queue is not restricted, so the restricted "
                   "queue was used)")
    if decision["out_of_scope"]:
        click.echo(f"  out of scope: referral {decision['referral'] or '-'}")
    stored = item.routing or {}
    if stored and stored.get("queue") != decision["queue"]:
        click.echo(f"  note: when routed it went to {stored.get('queue')} "
                   f"(rule {stored.get('rule')}); the config has changed since")


# -- keys --------------------------------------------------------------------

@click.group("keys")
def keys_group() -> None:
    """Blob encryption keys (KCS_BLOB_KEYS)."""


@keys_group.command("new")
@click.argument("key_id")
def keys_new(key_id: str) -> None:
    """Print a fresh id:key entry; put it first in KCS_BLOB_KEYS, then `kcs keys rotate`."""
    from ingest.crypto import new_key_spec

    click.echo(new_key_spec(key_id))


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Re-seal every blob with the current (first) key; old keys may be dropped afterwards."""
    from ingest.crypto import BlobKeyError

    rt = _runtime()
    try:
        counts = rt.blobs.rotate()
    except (ValueError, BlobKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    from ingest import audit

    with rt.store.transaction() as session:
        audit.record(session, actor=_actor(None), action="keys.rotate",
                     detail={**counts, "key_id": rt.blobs.keyring.current})
    click.echo(f"re-sealed {counts['files']} files and {counts['inline']} inline blobs with "
               f"key {rt.blobs.keyring.current}; {counts['unchanged']} already were")


# -- gdpr --------------------------------------------------------------------

def _identifier(personnummer: str | None, email: str | None, phone: str | None
                ) -> tuple[str, str]:
    given = [(k, v) for k, v in (("personnummer", personnummer), ("email", email),
                                 ("phone", phone)) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --personnummer, --email, --phone")
    return given[0]


def _who(f):  # type: ignore[no-untyped-def]
    f = click.option("--personnummer", default=None)(f)
    f = click.option("--email", default=None)(f)
    f = click.option("--phone", default=None)(f)
    return click.option("--by", default=None, help="Who handles the request (audit).")(f)


@click.group("gdpr")
def gdpr_group() -> None:
    """Data-subject requests (export, erase) and legal holds."""


@gdpr_group.command("export")
@_who
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write JSON here (default: stdout).")
def gdpr_export(personnummer: str | None, email: str | None, phone: str | None,
                by: str | None, out: str | None) -> None:
    """Everything stored about one person, as JSON."""
    from ingest.governance import gdpr

    kind, value = _identifier(personnummer, email, phone)
    rt = _runtime()
    try:
        data = gdpr.export(rt, kind, value, actor=_actor(by))
    except gdpr.RequestError as exc:
        raise click.ClickException(str(exc)) from None
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"{len(data['items'])} items written to {out}", err=True)
    else:
        click.echo(text)


@gdpr_group.command("erase")
@_who
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def gdpr_erase(personnummer: str | None, email: str | None, phone: str | None,
               by: str | None, reason: str, yes: bool) -> None:
    """Anonymise one person's items and delete their originals; legal holds are kept."""
    from ingest.governance import gdpr

    kind, value = _identifier(personnummer, email, phone)
    rt = _runtime()
    try:
        count = len(gdpr.intake_ids(rt, kind, value))
        if not yes:
            click.confirm(f"Erase {count} items?", abort=True)
        report = gdpr.erase(rt, kind, value, actor=_actor(by), reason=reason)
    except gdpr.RequestError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"erased {len(report['erased'])} items; kept {len(report['kept'])} under "
               "legal hold")
    for k in report["kept"]:
        click.echo(f"  kept {k['item_id']} (ärende {k['arende_id']}: legal hold)")


@gdpr_group.command("hold")
@click.argument("arende_id")
@click.option("--reason", required=True)
@click.option("--by", default=None)
def gdpr_hold(arende_id: str, reason: str, by: str | None) -> None:
    """Put an ärende under legal hold: no erasure, no gallring until released."""
    from ingest.governance import gdpr

    gdpr.set_hold(_runtime(), arende_id, reason=reason, actor=_actor(by))
    click.echo(f"{arende_id}\theld")


@gdpr_group.command("release")
@click.argument("arende_id")
@click.option("--reason", required=True)
@click.option("--by", default=None)
def gdpr_release(arende_id: str, reason: str, by: str | None) -> None:
    """Lift a legal hold."""
    from ingest.governance import gdpr

    if not gdpr.release_hold(_runtime(), arende_id, reason=reason, actor=_actor(by)):
        raise click.ClickException(f"{arende_id} is not under legal hold")
    click.echo(f"{arende_id}\treleased")


@gdpr_group.command("holds")
def gdpr_holds() -> None:
    """List ärenden under legal hold."""
    from ingest.governance import gdpr

    for h in gdpr.holds(_runtime()):
        click.echo("\t".join([h["arende_id"], h["set_at"][:19], h["set_by"], h["reason"]]))


# -- retention ---------------------------------------------------------------

@click.group("retention")
def retention_group() -> None:
    """Gallring per the owners' dokumenthanteringsplaner (governance.retention)."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Report what would be done; change nothing.")
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO time.")
@click.option("--loop", is_flag=True, help="Run every governance.retention.interval_s.")
def retention_run(dry_run: bool, now_text: str | None, loop: bool) -> None:
    """Anonymise and delete what has passed its time; prints the report as JSON."""
    from ingest.governance import retention
    from ingest.logs import configure

    now = datetime.fromisoformat(now_text) if now_text else None
    if now is not None and now.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2030-01-01T00:00:00+00:00")
    rt = _runtime()
    if loop:
        configure(process="retention")
        from ingest.cli import _wait_for_signal

        stop: threading.Event = _wait_for_signal()
        retention.run_forever(rt, stop)
        return
    report = retention.run(rt, now, dry_run=dry_run, actor=_actor(None))
    _echo_json({"dry_run": dry_run, **report})


# -- audit -------------------------------------------------------------------

@click.group("audit")
def audit_group() -> None:
    """The audit log: every automated decision and staff action."""


@audit_group.command("show")
@click.option("--item", "intake_id", default=None)
@click.option("--arende", "arende_id", default=None)
@click.option("--json", "as_json", is_flag=True)
def audit_show(intake_id: str | None, arende_id: str | None, as_json: bool) -> None:
    """Events about an item, or an ärende and every item in it, oldest first."""
    from sqlalchemy import select

    from ingest import audit
    from ingest.db import Item

    if not (intake_id or arende_id):
        raise click.UsageError("give --item or --arende")
    rt = _runtime()
    with rt.store.reading() as session:
        ids = list(session.scalars(select(Item.intake_id).where(Item.arende_id == arende_id))
                   ) if arende_id else []
        events = [audit.as_dict(e) for e in audit.history(
            session, intake_id=intake_id, arende_id=arende_id, intake_ids=ids)]
    if as_json:
        _echo_json(events)
        return
    for e in events:
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        click.echo("\t".join([e["at"][:23], e["actor"], e["action"], e["intake_id"] or "-",
                              e["arende_id"] or "-", e["reason"] or "", detail]))
    if not events:
        click.echo("no events", err=True)


def register(group: click.Group) -> None:
    """Add the governance commands to ``kcs``."""
    for command in (routes_group, keys_group, gdpr_group, retention_group, audit_group):
        group.add_command(command)



