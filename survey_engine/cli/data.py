"""The commands that move data in and out: import, export-definition, export, recount,
dead-letters, fake-responses, purge-paradata and purge-uploads."""

from __future__ import annotations

import json
import random
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.datastructures import MultiDict

from survey_engine.catalog import DefinitionInvalid, definition_for, find_survey, save_definition
from survey_engine.definition import validate_definition
from survey_engine.definition.fake import NoFakeAnswers, fake_answers
from survey_engine.definition.json_file import definition_bytes
from survey_engine.definition.problems import ProblemList
from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.exporting.survey_file import (
    FILE_ENDINGS,
    FORMATS,
    ExportOptions,
    export_survey,
)
from survey_engine.intake.buffer import dead_key, stream_key
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.intake.uploads import UNUSED_UPLOAD_HOURS, purge_unused
from survey_engine.jobs import purge_paradata_job, recount_job
from survey_engine.models import Survey
from survey_engine.queue import redis_connection
from survey_engine.results.filters import DEFAULT_INCLUDE, INCLUDES, Filters
from survey_engine.staff.audit import record
from survey_engine.untrusted import TooDeep, load_json

FAKE_BATCH = 1000
# -o FILE's ending says the format when --format does not (.zip: R's CSV and script)
FORMAT_OF_ENDING = {f".{ending}": fmt for fmt, ending in FILE_ENDINGS.items()}


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="publish it at once (a new version if it exists)")
@with_appcontext
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
    notes: list[str] = []
    try:
        if file.suffix.lower() in (".xlsx", ".xls"):
            data = read_xlsform(file, notes)
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
    for note in notes:  # on stderr: stdout is the slug alone, for scripts
        click.echo(f"{file}: note: {note}", err=True)
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


@click.command("export-definition")
@click.argument("slug")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.xlsx (XLSForm) or FILE.json (survey-engine/1)",
)
@with_appcontext
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


def filter_args(
    filters: tuple[str, ...], since: str | None, until: str | None, include: str
) -> MultiDict[str, str]:
    """--filter QUESTION=CHOICE (repeated), --from, --to and --include as the
    dashboard's query arguments, for Filters.from_args."""
    args: MultiDict[str, str] = MultiDict()
    for text in filters:
        name, sep, choice = text.partition("=")
        if not sep or not name.strip() or not choice.strip():
            raise click.BadParameter(f"{text!r} is not QUESTION=CHOICE", param_hint="--filter")
        args.add(f"f.{name.strip()}", choice.strip())
    for key, value in (("from", since), ("to", until), ("include", include)):
        if value:
            args.add(key, value)
    return args


def write_responses_file(
    slug: str,
    output: Path,
    args: MultiDict[str, str],
    write: Callable[[Survey, Path, ExportOptions], int],
    **options: Any,
) -> int:
    """A file of a published survey's responses under the filters `args` (an export,
    the report), written beside `output` and renamed, so a failed one never leaves half
    a file; a ClickException says what is wrong. Returns the responses written."""
    survey = find_survey(slug)
    version = survey.published_version() if survey else None
    if survey is None or version is None:
        raise click.ClickException(
            f"no survey with slug {slug!r}"
            if survey is None
            else f"survey {slug!r} has no published version"
        )
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        chosen = ExportOptions(filters=Filters.from_args(args, definition_for(version)), **options)
        count = write(survey, partial, chosen)
        partial.replace(output)
    except (LookupError, ValueError) as error:  # FilterError is a ValueError
        raise click.ClickException(str(error)) from None
    finally:
        partial.unlink(missing_ok=True)
    return count


@click.command("export")
@click.argument("slug")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    help="xlsx, csv, sav (SPSS), dta (Stata) or r (a .zip of the CSV and an R script "
    "that reads it with labels); default: from the output file's ending, else xlsx",
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
@click.option(
    "--include",
    type=click.Choice(list(INCLUDES)),
    default=DEFAULT_INCLUDE,
    show_default=True,
    help="reviewed responses counted: all but the excluded, also without the flagged "
    "(unflagged), or every one (all)",
)
@with_appcontext
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
    include: str,
) -> None:
    """Export responses and tallies to an Excel workbook or a CSV file, or the responses
    to SPSS, Stata or R with their labels."""
    fmt = fmt or FORMAT_OF_ENDING.get(output.suffix.lower(), "xlsx")
    count = write_responses_file(
        slug,
        output,
        filter_args(filters, since, until, include),
        lambda survey, path, chosen: export_survey(survey, path, options=chosen),
        fmt=fmt,
        lang=lang,
        codes=codes,
        breakdown=breakdown,
    )
    record("exported", slug, kind=f"responses.{fmt}")
    click.echo(f"{count} responses written to {output}")
    if fmt in ("csv", "sav", "dta") and zipfile.is_zipfile(output):
        # A survey with rosters: 1:n files (README, Rosters), whatever -o was named
        with zipfile.ZipFile(output) as bundle:
            click.echo(f"a .zip (the survey has rosters): {', '.join(bundle.namelist())}")


@click.command("recount")
@click.argument("slug")
@click.option("--fix", is_flag=True, help="replace the tallies with the recount")
@with_appcontext
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


@click.command("dead-letters")
@click.argument("slug")
@click.option("--replay", is_flag=True, help="put them back in the stream to be stored again")
@with_appcontext
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


@click.command("fake-responses")
@click.argument("slug")
@click.option("--count", required=True, type=click.IntRange(min=1))
@click.option("--seed", type=int, help="repeatable answers (ids are always new)")
@with_appcontext
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
        try:
            batch = [
                Submission(
                    survey.id,
                    version.id,
                    uuid.uuid4(),
                    fake_answers(definition, rng),
                    source="fake",
                )
                for _ in range(min(FAKE_BATCH, count - stored))
            ]
        except NoFakeAnswers as error:
            raise click.ClickException(f"{slug}: {error} ({stored} stored)") from None
        stored += len(persist_batch(batch).inserted)
    click.echo(f"{stored} fake responses stored for {slug}")


@click.command("purge-paradata")
@click.option("--dry-run", is_flag=True, help="only say what would be erased")
@with_appcontext
def purge_paradata(dry_run: bool) -> None:
    """Erase the paradata of surveys closed longer ago than their retention_days (the
    workers do it hourly); each survey erased is written to the audit log."""
    done = purge_paradata_job(dry_run=dry_run)
    verb = "would erase" if dry_run else "erased"
    for item in done:
        click.echo(
            f"{item.slug}: {verb} the paradata of {item.responses} responses "
            f"(closed {item.closed_at:%Y-%m-%d %H:%M} UTC, retention {item.retention_days} days)"
        )
    if not done:
        click.echo("no survey's paradata is due for erasing")


@click.command("purge-uploads")
@click.option(
    "--hours",
    type=click.IntRange(1, 24 * 365),
    default=UNUSED_UPLOAD_HOURS,
    show_default=True,
    help="age past which an upload no response names is deleted",
)
@click.option("--dry-run", is_flag=True, help="only say how many would be deleted")
@with_appcontext
def purge_uploads(hours: int, dry_run: bool) -> None:
    """Delete citizens' files that no response names, older than --hours: uploaded, then
    the form was never sent (docs/uploads.md)."""
    count = purge_unused(hours, dry_run=dry_run)
    click.echo(f"{count} unused uploads {'would be ' if dry_run else ''}deleted")
