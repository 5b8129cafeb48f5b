"""``kcs users add|disable|list``: staff accounts for the registratur screens."""

from __future__ import annotations

import json

import click


def _runtime():
    from ingest.cli import _runtime as build

    return build()


@click.group("users")
def users_group() -> None:
    """Staff who sign in to the registratur web app."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["registratur", "analyst", "admin"]), required=True)
@click.option("--namnd", "namnder", multiple=True,
              help="Owner code from config/routing.yaml whose items the user may see "
                   "(repeat; '*' for every nämnd).")
@click.option("--sekretess", is_flag=True, help="May open items marked sekretess.")
@click.option("--name", "display_name", default=None, help="Full name shown in the app.")
@click.option("--password", default=None,
              help="Read from the KCS_NEW_PASSWORD env var or prompted when not given.",
              envvar="KCS_NEW_PASSWORD")
def users_add(username: str, role: str, namnder: tuple[str, ...], sekretess: bool,
              display_name: str | None, password: str | None) -> None:
    """Create a user (argon2 hash; the password is never stored or shown)."""
    from ingest.webapp.users import UserError, add_user

    if password is None:
        password = click.prompt("Lösenord", hide_input=True, confirmation_prompt=True)
    try:
        user = add_user(_runtime(), username=username, password=password, role=role,
                        namnder=list(namnder), sekretess=sekretess,
                        display_name=display_name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.username}\t{user.role}\t{','.join(user.namnder) or '-'}\t"
               f"{'sekretess' if user.sekretess else ''}")


@users_group.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Stop a user signing in and end their open sessions."""
    from ingest.webapp.users import UserError, disable_user

    try:
        disable_user(_runtime(), username)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username}\tdisabled")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    """Every user with role, nämnder, sekretess right and whether disabled."""
    from ingest.webapp.users import list_users

    rows = list_users(_runtime())
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False) if as_json else "\t".join([
            row["username"], row["role"], ",".join(row["namnder"]) or "-",
            "sekretess" if row["sekretess"] else "-",
            "avstängd" if row["disabled"] else "aktiv"]))
