"""`survey-engine weights`: weight a survey's responses to population margins."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from survey_engine.catalog import find_survey
from survey_engine.extensions import db
from survey_engine.results.margins import MarginsError, read_margins
from survey_engine.results.report import merged_survey
from survey_engine.results.weights import (
    DEFAULT_BOUNDS,
    WeightsError,
    compute_weights,
    remove_weights,
)
from survey_engine.staff.audit import record


def _bounds(text: str) -> tuple[float, float] | None:
    if text.strip().lower() == "none":
        return None
    low, sep, high = text.partition(",")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not LOW,HIGH (e.g. 0.2,5) or none") from None


@click.command("weights")
@click.argument("slug")
@click.option(
    "--margins",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or XLSX: variable, category, count (or share)",
)
@click.option(
    "--bounds",
    default=",".join(f"{b:g}" for b in DEFAULT_BOUNDS),
    show_default=True,
    help="weights kept within LOW,HIGH times the mean weight; 'none' for no bounds",
)
@click.option("--remove", is_flag=True, help="stop weighting the survey")
@with_appcontext
def weights_command(slug: str, margins: Path | None, bounds: str, remove: bool) -> None:
    """Rake SLUG's responses to population margins and store the weights."""
    survey = find_survey(slug)
    merged = merged_survey(survey) if survey is not None else None
    if survey is None or merged is None:
        raise click.ClickException(f"no published survey with slug {slug!r}")
    if remove:
        removed = remove_weights(survey.id)
        db.session.commit()
        click.echo("weights removed" if removed else "the survey was not weighted")
        return
    if margins is None:
        raise click.UsageError("give --margins FILE (or --remove)")
    try:
        targets = read_margins(margins.read_bytes(), margins.name, merged)
        row = compute_weights(survey, targets, _bounds(bounds), computed_by="command line")
    except MarginsError as error:
        raise click.ClickException("\n".join(error.problems)) from None
    except WeightsError as error:
        raise click.ClickException(error.text("en")) from None
    db.session.commit()
    record("weighted", slug, kind=",".join(targets.variables))
    report = row.report
    click.echo(
        f"{report['responses']} responses weighted on {', '.join(targets.variables)}: "
        f"{'converged' if report['converged'] else 'NOT converged'} in {report['cycles']} "
        f"cycles (largest margin error {report['max_error']:.2g}); weights "
        f"{report['min_weight']:.3f} to {report['max_weight']:.3f}, "
        f"{report['trimmed_cells']} cells trimmed; effective n {report['effective_n']:.0f} "
        f"(design effect {report['design_effect']:.2f}); "
        f"{report['unanswered']} without an answer to a weighting variable"
    )
