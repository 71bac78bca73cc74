"""The commands for staff accounts: create-user, share, create-token and revoke-token."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from survey_engine.catalog import find_survey
from survey_engine.models import Role
from survey_engine.staff.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    create_token,
    create_user,
    find_user,
    revoke_token,
    share_survey,
    shown_prefix,
)
from survey_engine.staff.audit import record


def _read_password() -> str:
    """Asked twice, hidden, at a terminal; else the first line of stdin (scripts)."""
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = stdin.readline()
    return line.rstrip("\r\n")


@click.command("create-user")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(Role.ALL))
@click.option(
    "--share",
    "shares",
    multiple=True,
    metavar="SLUG",
    help="share this survey with the account (repeatable)",
)
@with_appcontext
def create_user_command(email: str, role: str, shares: tuple[str, ...]) -> None:
    """Create a staff account; the password is read from stdin."""
    surveys = []
    for slug in shares:
        survey = find_survey(slug)
        if survey is None:
            raise click.ClickException(f"no survey with slug {slug!r}")
        surveys.append(survey)
    password = _read_password()
    if not password:
        raise click.ClickException("no password on stdin")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters"
        )
    try:
        user = create_user(email, password, role)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    record("user_created", email=user.email, role=role)
    for survey in surveys:
        if share_survey(user, survey):
            record("shared", survey, email=user.email)
    shared = f"; shared: {', '.join(shares)}" if shares else ""
    click.echo(f"{role} account created: {user.email}{shared}")


@click.command("share")
@click.argument("email")
@click.argument("slug")
@with_appcontext
def share_command(email: str, slug: str) -> None:
    """Let an editor or analyst see a survey (admins see all)."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    survey = find_survey(slug)
    if survey is None:
        raise click.ClickException(f"no survey with slug {slug!r}")
    if share_survey(user, survey):
        record("shared", survey, email=user.email)
    click.echo(f"{slug} shared with {user.email}")


@click.command("create-token")
@click.argument("email")
@with_appcontext
def create_token_command(email: str) -> None:
    """Print a new personal API token for an account; it is shown only this once."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    token = create_token(user)
    record("token_created", email=user.email, prefix=shown_prefix(token))
    click.echo(token)


@click.command("revoke-token")
@click.argument("prefix_or_token")
@with_appcontext
def revoke_token_command(prefix_or_token: str) -> None:
    """Revoke a token, given whole or by the prefix shown for it."""
    rows = revoke_token(prefix_or_token)
    if not rows:
        raise click.ClickException("no such token (or it is already revoked)")
    for row in rows:
        record("token_revoked", email=row.user.email, prefix=row.prefix)
    click.echo(f"{len(rows)} token(s) revoked")
