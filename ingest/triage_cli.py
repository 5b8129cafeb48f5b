"""``kcs triage assign``: a person's label for an item the classifier was unsure of.

The same as labelling it in the triage screen (``Runtime.assign``): the item
is routed again with the given codes and published to its owner's queue.
"""

from __future__ import annotations

import getpass
import json

import click


@click.group("triage")
def triage_group() -> None:
    """Items the classifier was unsure of."""


@triage_group.command("assign")
@click.argument("intake_id")
@click.option("--category", "huvudkategori", required=True, help="huvudkategori code")
@click.option("--type", "arendetyp", required=True, help="ärendetyp code")
@click.option("--class", "arendeklass", default="", help="ärendeklass code (optional)")
@click.option("--by", "by", default=None, help="Who decided (default: the OS user).")
def assign(intake_id: str, huvudkategori: str, arendetyp: str, arendeklass: str,
           by: str | None) -> None:
    """Label ITEM, route it again and publish it to the new owner's queue (audited)."""
    from ingest.cli import _runtime

    rt = _runtime()
    try:
        done = rt.assign(intake_id, {"huvudkategori": huvudkategori, "arendetyp": arendetyp,
                                     "arendeklass": arendeklass},
                         actor=by or f"cli:{getpass.getuser()}")
    except KeyError:
        raise click.ClickException(f"no item {intake_id}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(done, ensure_ascii=False, indent=2))
