"""Background jobs: exports and tally rebuilds.

RQ runs them in `survey-engine worker` (enqueue with `enqueue()`); in inline mode,
or from the command line, they run in-process. Each runs in an app context: the
worker's, the caller's, or one it makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context

from exports import export_survey
from survey_engine import export_files, tallies
from survey_engine.extensions import db
from survey_engine.surveys import definition_for, find_survey


def in_app_context(job: Callable) -> Callable:
    @wraps(job)
    def run(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return job(*args, **kwargs)
        from survey_engine import create_app

        with create_app().app_context():
            return job(*args, **kwargs)

    return run


def _survey(slug: str):
    survey = find_survey(slug)
    if survey is None:
        raise LookupError(f"no survey with slug {slug!r}")
    return survey


@in_app_context
def export_job(slug: str, path: str, fmt: str = "xlsx", lang: str | None = None) -> int:
    """Export one survey to `path`; returns the number of responses written."""
    return export_survey(_survey(slug), Path(path), fmt, lang)


@in_app_context
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


@in_app_context
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


def enqueue(job: Callable, *args: Any, job_timeout: int | None = None, **kwargs: Any):
    """Queue a job for the workers; in inline mode (no REDIS_URL) run it here and now.

    job_timeout: seconds before RQ stops the job (RQ's default: 180).
    """
    if not current_app.config["REDIS_URL"]:
        return job(*args, **kwargs)
    from workers.connection import queues, redis_connection

    return queues(redis_connection())[0].enqueue(job, *args, job_timeout=job_timeout,
                                                 **kwargs)
