"""`survey-engine report SLUG -o FILE.pdf`: the province's quick report, with the
filters of `export` (read by the same code) and a breakdown question."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from flask.cli import with_appcontext

from survey_engine.catalog import definition_for, find_survey
from survey_engine.cli.data import filter_args
from survey_engine.exporting.report import REPORT_FORMAT, write_survey_report
from survey_engine.exporting.survey_file import ExportOptions
from survey_engine.results.filters import DEFAULT_INCLUDE, INCLUDES, Filters
from survey_engine.staff.audit import record


@click.command("report")
@click.argument("slug")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="QUESTION=CHOICE",
    help="only responses with this answer (repeatable; several choices of one "
    "question: any of them)",
)
@click.option(
    "--breakdown",
    metavar="QUESTION",
    help="a select question to break every other one down by (default: the district "
    "question, when there is one)",
)
@click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    help="language of the report (default: the survey's, else Vietnamese)",
)
@click.option("--from", "since", metavar="YYYY-MM-DD", help="first day, Vietnam time")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="last day, Vietnam time")
@click.option(
    "--include",
    type=click.Choice(list(INCLUDES)),
    default=DEFAULT_INCLUDE,
    show_default=True,
    help="reviewed responses counted, as for export",
)
@with_appcontext
def report(
    slug: str,
    output: Path,
    filters: tuple[str, ...],
    breakdown: str | None,
    lang: str | None,
    since: str | None,
    until: str | None,
    include: str,
) -> None:
    """Write the quick report of a survey's results: an A4 PDF."""
    if output.suffix.lower() != f".{REPORT_FORMAT}":
        raise click.BadParameter(f"{output}: the file must end in .pdf", param_hint="-o")
    survey = find_survey(slug)
    version = survey.published_version() if survey else None
    if survey is None or version is None:
        raise click.ClickException(
            f"no survey with slug {slug!r}"
            if survey is None
            else f"survey {slug!r} has no published version"
        )
    args = filter_args(filters, since, until, include)
    partial = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        options = ExportOptions(
            fmt=REPORT_FORMAT,
            lang=lang,
            breakdown=breakdown,
            filters=Filters.from_args(args, definition_for(version)),
        )
        count = write_survey_report(survey, partial, options)
        partial.replace(output)
    except (LookupError, ValueError) as error:  # FilterError is a ValueError
        raise click.ClickException(str(error)) from None
    finally:
        partial.unlink(missing_ok=True)
    record("exported", slug, kind=f"report.{REPORT_FORMAT}")
    click.echo(f"report of {count} responses written to {output}")
