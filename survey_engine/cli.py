"""The `survey-engine` command: a Flask CLI group with the commands of README.md."""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import sys
import uuid
from importlib import resources
from pathlib import Path
from typing import cast

import click
import flask_migrate
from flask import Flask, current_app
from flask.cli import FlaskGroup
from werkzeug.datastructures import MultiDict
from werkzeug.serving import run_simple

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import DefinitionInvalid, definition_for, find_survey, save_definition
from survey_engine.definition import validate_definition
from survey_engine.definition.fake import fake_answers
from survey_engine.definition.json_file import definition_bytes
from survey_engine.definition.problems import ProblemList
from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.intake.buffer import dead_key, stream_key
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.jobs import recount_job
from survey_engine.models import Role
from survey_engine.queue import redis_connection
from survey_engine.results.filters import Filters
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
from survey_engine.untrusted import TooDeep, load_json
from workers.main import run_worker

DEMO_SLUG = "tro-lai-truong-hoc"
DEMO_ADMIN = "admin@example.org"
FAKE_BATCH = 1000


@click.group(cls=FlaskGroup, create_app=create_app)
def cli() -> None:
    """survey-engine: online surveys at provincial scale."""


def main() -> None:
    cli(prog_name="survey-engine")


def _default_host() -> str:
    return os.environ.get("HOST", "127.0.0.1")


def _default_port() -> int:
    return int(os.environ.get("PORT", "5000"))


@cli.command("init-db")
def init_db() -> None:
    """Create the schema, or migrate it to the newest version."""
    flask_migrate.upgrade(directory=MIGRATIONS_DIR)
    click.echo("database ready: " + current_app.config["SQLALCHEMY_DATABASE_URI"])


@cli.command("demo")
@click.option("--host", default=_default_host, help="host for the printed links")
@click.option("--port", default=_default_port, type=int, help="port for the printed links")
def demo(host: str, port: int) -> None:
    """Create the schema and publish the demo survey; running it again changes nothing."""
    flask_migrate.upgrade(directory=MIGRATIONS_DIR)
    text = resources.files("survey_engine").joinpath(f"demo/{DEMO_SLUG}.json").read_text("utf-8")
    save_definition(json.loads(text), publish=True)
    base = f"http://{host}:{port}"
    click.echo(f"demo survey published: {base}/s/{DEMO_SLUG}")
    click.echo(f"  in English:          {base}/s/{DEMO_SLUG}?lang=en")
    click.echo(f"  definition (JSON):   {base}/api/v1/surveys/{DEMO_SLUG}")
    click.echo(f"staff sign-in:         {base}/admin/login")
    if find_user(DEMO_ADMIN) is None:
        password = secrets.token_urlsafe(12)
        create_user(DEMO_ADMIN, password, Role.ADMIN)
        record("user_created", email=DEMO_ADMIN, role=Role.ADMIN)
        click.echo(f"  admin account created: {DEMO_ADMIN}  password: {password}")
        click.echo("  (shown only this once)")
    else:
        click.echo(f"  admin account:       {DEMO_ADMIN} (exists; its password is unchanged)")


@cli.command("serve")
@click.option("--host", default=_default_host, show_default="HOST or 127.0.0.1")
@click.option("--port", default=_default_port, type=int, show_default="PORT or 5000")
def serve(host: str, port: int) -> None:
    """Development server. In production use: gunicorn "survey_engine:create_app()"."""
    click.echo(f"serving on http://{host}:{port}/ (Ctrl+C stops)")
    run_simple(host, port, _real_app(), threaded=True)


def _real_app() -> Flask:
    """The app behind the current_app proxy, for a server or worker that outlives the
    command's app context. (Flask types the proxy as the app itself, hence the ignore.)"""
    return current_app._get_current_object()  # type: ignore[attr-defined]


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="publish it at once (a new version if it exists)")
def import_definition(file: Path, publish: bool) -> None:
    """Load a survey definition (JSON survey-engine/1, or XLSForm .xlsx); prints the slug.

    The limits of the web upload apply (size, depth, the XLSForm reader's), and the
    problems are listed the same way: the first 100, then how many more."""
    limit = current_app.config["ADMIN_UPLOAD_MAX_BYTES"]
    if file.suffix.lower() not in (".xlsx", ".xls") and file.stat().st_size > limit:
        raise click.ClickException(
            f"{file}: {file.stat().st_size:,} bytes; at most "
            f"{limit:,} are accepted (ADMIN_UPLOAD_MAX_BYTES)"
        )
    try:
        if file.suffix.lower() in (".xlsx", ".xls"):
            data = read_xlsform(file)
        else:
            data = load_json(file.read_bytes().decode("utf-8-sig"))
    except XLSFormInvalid as invalid:
        _print_problems(file, invalid.problems, invalid.total)
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"{file}: not UTF-8 text (byte {error.start + 1:,} cannot be read); save it as UTF-8"
        ) from None
    except TooDeep as error:
        raise click.ClickException(f"{file}: {error}") from None
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"{file}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except ValueError as error:  # NaN / Infinity
        raise click.ClickException(f"{file}: not valid JSON: {error}") from None
    # Checked before anything is looked up by the slug: a lone surrogate in it cannot
    # even be sent to the database.
    problems = validate_definition(data)
    if problems:
        _print_problems(file, problems)
    slug = data.get("slug")
    existed = isinstance(slug, str) and find_survey(slug) is not None
    try:
        survey = save_definition(data, publish=publish)
    except DefinitionInvalid as invalid:
        _print_problems(file, invalid.problems)
    record(
        "version_uploaded" if existed else "survey_created",
        survey,
        version=survey.versions[-1].number,
    )
    if publish:
        published = survey.published_version()
        if published is None:  # save_definition(publish=True) just published it
            raise click.ClickException(f"{survey.slug} was not published")
        record("published", survey, version=published.number)
    click.echo(survey.slug)


def _print_problems(file: Path, problems: list[str], total: int | None = None) -> None:
    """The first problems and how many more, as the upload page lists them; exit 1."""
    found = ProblemList(problems, total)
    click.echo(f"{file}: {found.total:,} problem(s):", err=True)
    for problem in found.listed:
        click.echo(f"  {problem}", err=True)
    if found.more:
        click.echo(f"  … and {found.more:,} more", err=True)
    sys.exit(1)


@cli.command("export-definition")
@click.argument("slug")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.xlsx (XLSForm) or FILE.json (survey-engine/1)",
)
def export_definition(slug: str, output: Path) -> None:
    """Write the newest version of a survey's definition as XLSForm or JSON."""
    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".json"):
        raise click.ClickException(f"{output}: the file must end in .xlsx or .json")
    survey = find_survey(slug)
    if survey is None or not survey.versions:
        raise click.ClickException(f"no survey with slug {slug!r}")
    version = survey.versions[-1]
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        if suffix == ".json":
            partial.write_bytes(definition_bytes(version.definition))
        else:
            write_xlsform(version.definition, partial)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    record("exported", survey, kind=f"definition{suffix}", version=version.number)
    click.echo(f"{slug} version {version.number} written to {output}")


@cli.command("export")
@click.argument("slug")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv"]),
    help="default: from the output file's ending, else xlsx",
)
@click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    help="language of labels and sheet names (default: the survey's)",
)
@click.option("--codes", is_flag=True, help="choice codes instead of labels in the responses")
@click.option(
    "--breakdown",
    metavar="QUESTION",
    help="a select question: a cross-tab sheet of every other one by it",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="QUESTION=CHOICE",
    help="only responses with this answer (repeatable; several choices of one "
    "question: any of them)",
)
@click.option("--from", "since", metavar="YYYY-MM-DD", help="first day, Vietnam time")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="last day, Vietnam time")
def export(
    slug: str,
    output: Path,
    fmt: str | None,
    lang: str | None,
    codes: bool,
    breakdown: str | None,
    filters: tuple[str, ...],
    since: str | None,
    until: str | None,
) -> None:
    """Export responses and tallies to an Excel workbook or a CSV file."""
    fmt = fmt or ("csv" if output.suffix.lower() == ".csv" else "xlsx")
    survey = find_survey(slug)
    version = survey.published_version() if survey else None
    if survey is None or version is None:
        raise click.ClickException(
            f"no survey with slug {slug!r}"
            if survey is None
            else f"survey {slug!r} has no published version"
        )
    args: MultiDict[str, str] = MultiDict()
    for text in filters:
        name, sep, choice = text.partition("=")
        if not sep or not name or not choice:
            raise click.BadParameter(f"{text!r} is not QUESTION=CHOICE", param_hint="--filter")
        args.add(f"f.{name.strip()}", choice.strip())
    for key, value in (("from", since), ("to", until)):
        if value:
            args.add(key, value)
    # Write beside the target and rename, so a failed export never leaves half a file.
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        options = ExportOptions(
            fmt=fmt,
            lang=lang,
            codes=codes,
            breakdown=breakdown,
            filters=Filters.from_args(args, definition_for(version)),
        )
        count = export_survey(survey, partial, options=options)
        partial.replace(output)
    except (LookupError, ValueError) as error:  # FilterError is a ValueError
        raise click.ClickException(str(error)) from None
    finally:
        partial.unlink(missing_ok=True)
    record("exported", slug, kind=f"responses.{fmt}")
    click.echo(f"{count} responses written to {output}")


@cli.command("worker")
@click.option("--burst", is_flag=True, help="store what is buffered, run queued jobs, then exit")
@click.option("--no-jobs", is_flag=True, help="only drain submissions, run no RQ jobs")
def worker(burst: bool, no_jobs: bool) -> None:
    """Drain buffered submissions into the database and run background jobs (needs REDIS_URL)."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException(
            "REDIS_URL is not set: in inline mode the web process "
            "stores submissions itself and needs no worker"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_worker(_real_app(), burst=burst, jobs=not no_jobs)


@cli.command("recount")
@click.argument("slug")
@click.option("--fix", is_flag=True, help="replace the tallies with the recount")
def recount(slug: str, fix: bool) -> None:
    """Recount a survey's tallies from its responses and report any difference."""
    try:
        result = recount_job(slug, fix)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    if not result.differences:
        click.echo(f"{slug}: {result.responses} responses; tallies match the responses")
        return
    click.echo(f"{slug}: {len(result.differences)} difference(s):")
    for line in result.differences:
        click.echo(f"  {line}")
    if result.fixed:
        click.echo("tallies replaced by the recount")
    else:
        sys.exit(1)


@cli.command("dead-letters")
@click.argument("slug")
@click.option("--replay", is_flag=True, help="put them back in the stream to be stored again")
def dead_letters(slug: str, replay: bool) -> None:
    """Show (or replay) submissions that could not be stored."""
    survey = find_survey(slug)
    if survey is None:
        raise click.ClickException(f"no survey with slug {slug!r}")
    connection = redis_connection()
    # redis-py types the reply for every protocol and decoding; this client speaks RESP2
    # and keeps bytes.
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], connection.xrange(dead_key(survey.id)))
    click.echo(f"{slug}: {len(entries)} dead letter(s)")
    for entry_id, fields in entries:
        click.echo(f"  {entry_id.decode()}  {fields.get(b'reason', b'').decode()}")
        if replay:
            pipe = connection.pipeline(transaction=True)
            pipe.xadd(stream_key(survey.id), {b"submission": fields.get(b"submission", b"")})
            pipe.xdel(dead_key(survey.id), entry_id)
            pipe.execute()
    if replay and entries:
        click.echo(f"{len(entries)} put back in the stream")


@cli.command("fake-responses")
@click.argument("slug")
@click.option("--count", required=True, type=click.IntRange(min=1))
@click.option("--seed", type=int, help="repeatable answers (ids are always new)")
def fake_responses(slug: str, count: int, seed: int | None) -> None:
    """Store COUNT random valid responses (demos, benchmarks)."""
    survey = find_survey(slug)
    version = survey.published_version() if survey else None
    if survey is None or version is None:
        raise click.ClickException(f"no published survey with slug {slug!r}")
    definition = definition_for(version)
    rng = random.Random(seed)
    stored = 0
    while stored < count:
        batch = [
            Submission(
                survey.id, version.id, uuid.uuid4(), fake_answers(definition, rng), source="fake"
            )
            for _ in range(min(FAKE_BATCH, count - stored))
        ]
        stored += len(persist_batch(batch))
    click.echo(f"{stored} fake responses stored for {slug}")


def _read_password() -> str:
    """Asked twice, hidden, at a terminal; else the first line of stdin (scripts)."""
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = stdin.readline()
    return line.rstrip("\r\n")


@cli.command("create-user")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(Role.ALL))
@click.option(
    "--share",
    "shares",
    multiple=True,
    metavar="SLUG",
    help="share this survey with the account (repeatable)",
)
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


@cli.command("share")
@click.argument("email")
@click.argument("slug")
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


@cli.command("create-token")
@click.argument("email")
def create_token_command(email: str) -> None:
    """Print a new personal API token for an account; it is shown only this once."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    token = create_token(user)
    record("token_created", email=user.email, prefix=shown_prefix(token))
    click.echo(token)


@cli.command("revoke-token")
@click.argument("prefix_or_token")
def revoke_token_command(prefix_or_token: str) -> None:
    """Revoke a token, given whole or by the prefix shown for it."""
    rows = revoke_token(prefix_or_token)
    if not rows:
        raise click.ClickException("no such token (or it is already revoked)")
    for row in rows:
        record("token_revoked", email=row.user.email, prefix=row.prefix)
    click.echo(f"{len(rows)} token(s) revoked")
