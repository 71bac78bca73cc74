"""Finding surveys and their published versions; creating and publishing them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from survey_engine.definition import Definition, validate_definition
from survey_engine.extensions import db
from survey_engine.models import Survey, SurveyStatus, SurveyVersion, Tally
from survey_engine.untrusted import bad_character_at
from survey_engine.webhooks import outbox


class DefinitionInvalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _app_cache(name: str, app: Flask | None = None) -> dict:
    """A dict living on the app: two apps in one process (tests) never share entries."""
    return (app or current_app).extensions.setdefault(name, {})


def definition_of(version_id: int) -> Definition:
    """Versions are immutable, so a parsed definition is kept per version id."""
    cache = _app_cache("definitions")
    definition = cache.get(version_id)
    if definition is None:
        version = db.session.get(SurveyVersion, version_id)
        if version is None:
            raise LookupError(f"no survey version {version_id}")
        definition = Definition(version.definition)
        cache[version_id] = definition
    return definition


def definition_for(version: SurveyVersion) -> Definition:
    return definition_of(version.id)


def find_survey(slug: str) -> Survey | None:
    """None too for text no slug holds (PostgreSQL cannot even compare a NUL)."""
    if bad_character_at(slug) is not None:
        return None
    return db.session.scalar(sa.select(Survey).where(Survey.slug == slug))


@dataclass(frozen=True)
class Published:
    """What the submit path needs of a survey, held in memory between lookups."""

    survey_id: int
    slug: str
    status: str
    version_id: int
    version_number: int
    definition: Definition


_NOTHING_YET = object()


def _recently_loaded(
    cache_name: str, key: Any, load: Callable[[], Any], when_unreachable: Any = _NOTHING_YET
) -> Any:
    """load(), asked at most every SURVEY_CACHE_SECONDS per process.

    While the database is unreachable the last value stands (and is not asked for
    again before another period: each try can cost a connect timeout); with no last
    value, `when_unreachable`, or the error itself.
    """
    # One proxy lookup, not two (Flask types the proxy as the app itself).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = _app_cache(cache_name, app)  # key -> (monotonic time of lookup, value)
    now = time.monotonic()
    hit = cache.get(key)
    if hit and now - hit[0] < app.config["SURVEY_CACHE_SECONDS"]:
        return hit[1]
    try:
        value = load()
    except sa.exc.OperationalError:
        db.session.rollback()
        if hit:
            value = hit[1]
        elif when_unreachable is not _NOTHING_YET:
            value = when_unreachable
        else:
            raise
    cache[key] = (time.monotonic(), value)
    return value


def published(slug: str) -> Published | None:
    """The survey's newest published version, looked up at most every few seconds.

    Every request of a campaign asks this; the cache keeps the database off the hot
    path, and while the database is unreachable the last known snapshot is served,
    so submissions keep flowing into the Redis stream.
    """

    def load() -> Published | None:
        survey = find_survey(slug)
        version = survey.published_version() if survey else None
        return (
            None
            if survey is None or version is None
            else Published(
                survey.id,
                survey.slug,
                survey.status,
                version.id,
                version.number,
                definition_for(version),
            )
        )

    return _recently_loaded("published", slug, load)


def forget_published(slug: str) -> None:
    """Drop this process's snapshot after a change (other processes catch up in seconds)."""
    _app_cache("published").pop(slug, None)


def forget_deleted(slug: str, survey_id: int, version_ids: list[int]) -> None:
    """Drop this process's caches of a deleted survey: SQLite may hand its ids to the next
    survey, which must not inherit a parsed definition or a response count."""
    forget_published(slug)
    _app_cache("response_counts").pop(survey_id, None)
    definitions = _app_cache("definitions")
    for version_id in version_ids:
        definitions.pop(version_id, None)


def set_status(survey: Survey, status: str, event: str | None = None) -> None:
    """Move the survey to `status`; closing it starts its paradata retention. `event`
    (outbox.STATUS_EVENTS' keys): the webhooks' event, committed with the change."""
    if status == SurveyStatus.PUBLISHED:
        survey.closed_at = None
    elif survey.status == SurveyStatus.PUBLISHED:
        survey.closed_at = datetime.now(UTC)  # when it stopped taking answers
    survey.status = status
    if event is not None:
        outbox.add_event(survey, outbox.STATUS_EVENTS[event])
    db.session.commit()
    forget_published(survey.slug)


def response_count(survey_id: int) -> int:
    """Stored responses, from the tallies: a key lookup, not a scan. (PostgreSQL sums a
    BIGINT to a Decimal, which JSON, e.g. the audit log, cannot take.)"""
    return int(
        db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Tally.count), 0)).where(
                Tally.survey_id == survey_id, Tally.question == "", Tally.choice == ""
            )
        ).scalar_one()
    )


def unavailable_reason(survey: Published, now: datetime | None = None) -> str | None:
    """Why a survey takes no answers now ('closed', 'not_open', 'full'), or None.

    With Redis, the count behind 'full' is what the workers have stored, so a burst
    can overshoot max_responses by the backlog.
    """
    return reason_from_settings(
        survey.status,
        survey.definition.settings,
        lambda: _recent_response_count(survey.survey_id),
        now,
    )


def reason_from_settings(
    status: str, settings: dict, stored: Callable[[], int], now: datetime | None = None
) -> str | None:
    """unavailable_reason's rule on a version's settings; `stored` is asked only when
    there is a limit, so the overview can give counts it already has."""
    if status != SurveyStatus.PUBLISHED:
        return "closed"
    now = now or datetime.now(UTC)
    if settings.get("opens_at") and now < datetime.fromisoformat(settings["opens_at"]):
        return "not_open"
    if settings.get("closes_at") and now >= datetime.fromisoformat(settings["closes_at"]):
        return "closed"
    limit = settings.get("max_responses")
    if limit is not None and stored() >= limit:
        return "full"
    return None


def _recent_response_count(survey_id: int) -> int:
    """response_count, cached like published(); 0 if the database was never reached,
    so Redis keeps accepting."""
    return _recently_loaded(
        "response_counts", survey_id, lambda: response_count(survey_id), when_unreachable=0
    )


def save_definition(data: dict, publish: bool = False) -> Survey:
    """Create the survey or add a version to it; publishing freezes that version.

    Re-importing a definition identical to the newest version adds nothing, so
    the demo seeding and repeated imports are idempotent.
    """
    problems = validate_definition(data)
    if problems:
        raise DefinitionInvalid(problems)
    survey = find_survey(data["slug"])
    if survey is None:
        survey = Survey(slug=data["slug"], title=data["title"], status=SurveyStatus.DRAFT)
        db.session.add(survey)
        db.session.flush()
    latest = survey.versions[-1] if survey.versions else None
    newly_published = publish and survey.status != SurveyStatus.PUBLISHED
    if latest is None or latest.definition != data or (publish and latest.published_at is None):
        if latest is not None and latest.published_at is None:
            latest.definition = data  # a draft is still editable
            version = latest
        else:
            version = SurveyVersion(
                survey=survey, number=(latest.number + 1 if latest else 1), definition=data
            )
            db.session.add(version)
        survey.title = data["title"]
        if publish:
            version.published_at = datetime.now(UTC)
            newly_published = True
    if publish:
        survey.status = SurveyStatus.PUBLISHED
        survey.closed_at = None  # takes answers again: its retention waits for the next close
    if newly_published:
        db.session.flush()
        published = survey.published_version()
        outbox.add_event(
            survey,
            outbox.STATUS_EVENTS["published"],
            {"version": published.number if published else None},
        )
    db.session.commit()
    forget_published(survey.slug)
    return survey
