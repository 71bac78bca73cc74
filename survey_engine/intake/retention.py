"""Erasing paradata once a survey's retention is over (docs/privacy.md, *Retention*).

A survey's paradata (when each response started, how long it took, its device class,
browser, network key and device hash) is kept to check its results, for
`retention_days` (a setting, 90 by default) after the survey closed: staff closing it
(`surveys.closed_at`) or its `closes_at` passing, whichever came first. Then every
paradata column of its responses is set to NULL, a few thousand rows per transaction,
and the audit log says when and how many. `surveys.paradata_purged_upto` keeps the
newest response erased, so the next run reads only responses stored after it (a
dead letter replayed late, a survey reopened and closed again) and a survey erased
once costs an index lookup an hour, not a scan.

The workers run purge() once an hour (jobs.purge_paradata_hourly); so does
`survey-engine purge-paradata`. The same run deletes the network keys' daily secrets
of the days before yesterday (respondent.forget_old_secrets): after that, no network
key of those days can be traced back to its network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.intake.respondent import forget_old_secrets
from survey_engine.localtime import aware
from survey_engine.models import (
    PARADATA_COLUMNS,
    Response,
    Survey,
    SurveyStatus,
    SurveyVersion,
)
from survey_engine.staff import audit

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 90
BATCH_ROWS = 5000
WORKERS = "workers (retention)"  # the audit log's actor when the workers purge


@dataclass(frozen=True)
class Due:
    """A survey whose retention is over, with responses above `after_id` to erase."""

    survey_id: int
    slug: str
    closed_at: datetime
    retention_days: int
    after_id: int
    newest_id: int


@dataclass(frozen=True)
class Purged:
    slug: str
    responses: int  # rows whose paradata was erased (with dry_run: would be)
    retention_days: int
    closed_at: datetime


def retention_days(settings: dict) -> int:
    """The survey's retention_days setting; the default when absent or not a number."""
    value = settings.get("retention_days")
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3650:
        return value
    return DEFAULT_RETENTION_DAYS


def closed_time(survey: Survey, settings: dict, now: datetime) -> datetime | None:
    """When the survey stopped taking answers: staff closing it, or its closes_at
    once passed, whichever came first; None while it is a draft or open."""
    moments = []
    if survey.status in (SurveyStatus.CLOSED, SurveyStatus.ARCHIVED) and survey.closed_at:
        moments.append(aware(survey.closed_at))
    if survey.status != SurveyStatus.DRAFT and settings.get("closes_at"):
        try:
            closes = aware(datetime.fromisoformat(str(settings["closes_at"])))
        except ValueError:
            closes = None
        if closes is not None and closes <= now:
            moments.append(closes)
    return min(moments) if moments else None


def _newest_settings(survey_id: int) -> dict:
    definition = db.session.scalar(
        sa.select(SurveyVersion.definition)
        .where(SurveyVersion.survey_id == survey_id, SurveyVersion.published_at.is_not(None))
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    )
    settings = definition.get("settings") if isinstance(definition, dict) else None
    return settings if isinstance(settings, dict) else {}


def due(now: datetime | None = None) -> list[Due]:
    """The surveys closed longer ago than their retention that hold responses the
    purge has not read yet."""
    now = now or datetime.now(UTC)
    found = []
    surveys = db.session.scalars(
        sa.select(Survey).where(Survey.status != SurveyStatus.DRAFT).order_by(Survey.id)
    )
    for survey in surveys:
        settings = _newest_settings(survey.id)
        closed, days = closed_time(survey, settings, now), retention_days(settings)
        if closed is None or closed + timedelta(days=days) > now:
            continue
        newest = db.session.scalar(
            sa.select(sa.func.max(Response.id)).where(Response.survey_id == survey.id)
        )
        if newest is not None and newest > (survey.paradata_purged_upto or 0):
            found.append(
                Due(survey.id, survey.slug, closed, days, survey.paradata_purged_upto or 0, newest)
            )
    return found


def _holding_paradata() -> sa.ColumnElement[bool]:
    return sa.or_(*(getattr(Response, name).is_not(None) for name in PARADATA_COLUMNS))


def _in_range(survey_id: int, after: int, upto: int) -> list[sa.ColumnElement[bool]]:
    return [Response.survey_id == survey_id, Response.id > after, Response.id <= upto]


def _count(item: Due) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Response)
            .where(*_in_range(item.survey_id, item.after_id, item.newest_id), _holding_paradata())
        )
        or 0
    )


def _erase(item: Due, batch: int) -> int:
    """Set the paradata of the survey's responses above item.after_id to NULL, `batch`
    rows of ids per transaction; the progress is committed with each."""
    erased, after = 0, item.after_id
    while after < item.newest_id:
        upto = db.session.scalar(
            sa.select(Response.id)
            .where(*_in_range(item.survey_id, after, item.newest_id))
            .order_by(Response.id)
            .offset(batch - 1)
            .limit(1)
        )
        upto = item.newest_id if upto is None else upto
        result = db.session.execute(
            sa.update(Response)
            .where(*_in_range(item.survey_id, after, upto), _holding_paradata())
            .values(dict.fromkeys(PARADATA_COLUMNS))
            .execution_options(synchronize_session=False)
        )
        erased += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
        db.session.execute(
            sa.update(Survey).where(Survey.id == item.survey_id).values(paradata_purged_upto=upto)
        )
        db.session.commit()
        after = upto
    return erased


def purge(
    now: datetime | None = None,
    dry_run: bool = False,
    actor_name: str | None = None,
    batch: int = BATCH_ROWS,
) -> list[Purged]:
    """Erase the paradata of every survey whose retention is over; one audit entry
    (`paradata_purged`) per survey. With dry_run, only count what would be erased."""
    now = now or datetime.now(UTC)
    done = []
    for item in due(now):
        count = _count(item) if dry_run else _erase(item, batch)
        done.append(Purged(item.slug, count, item.retention_days, item.closed_at))
        if not dry_run:
            audit.record(
                "paradata_purged",
                item.slug,
                actor_name=actor_name,
                responses=count,
                retention_days=item.retention_days,
                closed_at=item.closed_at.isoformat(timespec="seconds"),
            )
            log.info("erased the paradata of %s responses of %s", count, item.slug)
    db.session.commit()
    if not dry_run:
        forget_old_secrets(now.date())
    return done
