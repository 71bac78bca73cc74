"""`survey-engine report SLUG -o FILE.pdf`: the province's quick report, with the
filters of `export` (read by the same code) and a breakdown question."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from survey_engine.cli.data import filter_args, write_responses_file
from survey_engine.exporting.report import REPORT_FORMAT, write_survey_report
from survey_engine.results.filters import DEFAULT_INCLUDE, INCLUDES
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
    count = write_responses_file(
        slug,
        output,
        filter_args(filters, since, until, include),
        write_survey_report,
        fmt=REPORT_FORMAT,
        lang=lang,
        breakdown=breakdown,
    )
    record("exported", slug, kind=f"report.{REPORT_FORMAT}")
    click.echo(f"report of {count} responses written to {output}")
