"""Background jobs: exports, tally rebuilds, the results dashboard's counts and the
paradata retention purge.

Queued by dotted name (survey_engine.queue.enqueue("survey_engine.jobs.run_export_job",
...)); RQ runs them in `survey-engine worker`, which gives each job an app context; in
inline mode, or from the command line, they run in the caller's app context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from redis import Redis

from survey_engine.catalog import definition_for, find_survey
from survey_engine.definition.merged import MergedSurvey
from survey_engine.exporting import files as export_files
from survey_engine.exporting.survey_file import export_survey
from survey_engine.extensions import db
from survey_engine.intake import retention, tallies, uploads
from survey_engine.intake.drain import consumer_name
from survey_engine.models import Survey
from survey_engine.results import saved
from survey_engine.results.filters import FilterError
from survey_engine.results.report import merged_survey
from survey_engine.results.weights import current_weights


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


def _saved_view(
    survey_id: int, view_json: dict, key: str | None = None
) -> tuple[MergedSurvey, saved.View] | None:
    survey = db.session.get(Survey, survey_id)
    merged = merged_survey(survey) if survey is not None else None
    if merged is None:
        return None
    try:
        return merged, saved.View.from_json(view_json, merged, current_weights(survey_id))
    except FilterError:  # a filtered question or choice no version has any more
        if key is not None:
            saved.forget(survey_id, key)
        return None


def count_results_job(survey_id: int, view_json: dict) -> int | None:
    """Count one dashboard view to the newest response, saving as it goes (the page
    shows how far); returns the responses it saw, None if the survey or view is gone."""
    found = _saved_view(survey_id, view_json)
    if found is None:
        return None
    merged, view = found
    step = current_app.config["RESULTS_JOB_STEP_ROWS"]
    scan = saved.count_view(survey_id, merged, view, step)
    db.session.commit()
    return scan.seen


def advance_saved_results(max_rows: int) -> int:
    """The workers' share between drain batches: read on the saved views that responses
    were stored after, at most about `max_rows` responses in all; returns how many."""
    left = max_rows
    for survey_id, key, _ in saved.behind():
        found = _saved_view(survey_id, saved.view_of(survey_id, key) or {}, key)
        if found is None:
            continue
        merged, view = found
        step = saved.advance(
            survey_id, merged, view, saved.load(survey_id, merged, view), max_rows=left
        )
        saved.save(survey_id, merged, view, step.scan, used=False)
        db.session.commit()
        left -= max(step.read, 1)
        if left <= 0:
            break
    db.session.commit()
    return max_rows - left


PURGE_EVERY_SECONDS = 3600
PURGE_CLAIM_KEY = "se:paradata-purge"  # in the jobs' Redis: who runs this hour's purge


def purge_paradata_job(
    dry_run: bool = False, actor_name: str | None = None
) -> list[retention.Purged]:
    """Erase the paradata of every survey closed longer than its retention (and the
    network key's old daily secrets); returns what was (or, dry, would be) erased."""
    return retention.purge(dry_run=dry_run, actor_name=actor_name)


def purge_paradata_hourly(connection: Redis) -> list[retention.Purged] | None:
    """The workers' hourly purge: the first worker of the hour to claim it (in Redis)
    runs it, the others skip; None when another has it."""
    if not connection.set(PURGE_CLAIM_KEY, consumer_name(), nx=True, ex=PURGE_EVERY_SECONDS):
        return None
    return purge_paradata_job(actor_name=retention.WORKERS)


UPLOADS_PURGE_CLAIM_KEY = "se:uploads-purge"  # in the jobs' Redis: this hour's purge


def purge_uploads_hourly(connection: Redis) -> int | None:
    """The workers' hourly purge of citizens' files no response names (uploaded, then
    the form never sent: intake/uploads.purge_unused); the first worker of the hour to
    claim it runs it. Returns how many were deleted, None when another has it."""
    if not connection.set(
        UPLOADS_PURGE_CLAIM_KEY, consumer_name(), nx=True, ex=PURGE_EVERY_SECONDS
    ):
        return None
    return uploads.purge_unused()
