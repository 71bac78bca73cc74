"""Background jobs: exports and tally rebuilds.

Queued by dotted name (survey_engine.queue.enqueue("survey_engine.jobs.run_export_job",
...)); RQ runs them in `survey-engine worker`, which gives each job an app context; in
inline mode, or from the command line, they run in the caller's app context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from survey_engine.catalog import definition_for, find_survey
from survey_engine.exporting import files as export_files
from survey_engine.exporting.survey_file import export_survey
from survey_engine.extensions import db
from survey_engine.intake import tallies


def _survey(slug: str):
    survey = find_survey(slug)
    if survey is None:
        raise LookupError(f"no survey with slug {slug!r}")
    return survey


def export_job(slug: str, path: str, fmt: str = "xlsx", lang: str | None = None) -> int:
    """Export one survey to `path`; returns the number of responses written."""
    return export_survey(_survey(slug), Path(path), fmt, lang)


def run_export_job(export_id: int) -> str | None:
    """An export asked for on the staff pages; returns how it ended (its row says more)."""
    export = export_files.run_export(export_id)
    status = export.status if export is not None else None
    db.session.commit()  # end the read: in a worker, the session lives on between jobs
    return status


@dataclass
class RecountResult:
    responses: int
    differences: list[str] = field(default_factory=list)
    fixed: bool = False


def recount_job(slug: str, fix: bool = False) -> RecountResult:
    """Recount the tallies from the responses; with fix, replace them by the recount."""
    survey = _survey(slug)
    definitions = {v.id: definition_for(v) for v in survey.versions}
    counted = tallies.recount(survey.id, definitions)
    result = RecountResult(
        responses=sum(n for (_, _, q, c), n in counted.items() if (q, c) == tallies.RESPONSES),
        differences=tallies.differences(tallies.stored_counts(survey.id), counted),
    )
    if fix and result.differences:
        tallies.replace_counts(survey.id, counted)
        db.session.commit()
        result.fixed = True
    return result
