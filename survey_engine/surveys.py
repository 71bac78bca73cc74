"""Finding surveys and their published versions; creating and publishing them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import sqlalchemy as sa

from survey_engine.definition import Definition, validate_definition
from survey_engine.extensions import db
from survey_engine.models import Response, Survey, SurveyStatus, SurveyVersion


class DefinitionInvalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@lru_cache(maxsize=256)
def _definition_of(version_id: int, _key: str) -> Definition:
    return Definition(db.session.get(SurveyVersion, version_id).definition)


def definition_for(version: SurveyVersion) -> Definition:
    """Versions are immutable, so a parsed definition is kept per version id.

    The database URL is part of the key so two apps in one process (tests) never
    share an entry by coincidence of ids.
    """
    return _definition_of(version.id, str(db.engine.url))


def find_survey(slug: str) -> Survey | None:
    return db.session.scalar(sa.select(Survey).where(Survey.slug == slug))


def unavailable_reason(survey: Survey, definition: Definition,
                       now: datetime | None = None) -> str | None:
    """Why a survey takes no answers now ('closed', 'not_open', 'full'), or None."""
    if survey.status != SurveyStatus.PUBLISHED:
        return "closed"
    now = now or datetime.now(UTC)
    settings = definition.settings
    if settings.get("opens_at") and now < datetime.fromisoformat(settings["opens_at"]):
        return "not_open"
    if settings.get("closes_at") and now >= datetime.fromisoformat(settings["closes_at"]):
        return "closed"
    limit = settings.get("max_responses")
    if limit is not None:
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(Response).where(Response.survey_id == survey.id)
        )
        if count >= limit:
            return "full"
    return None


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
    if latest is None or latest.definition != data or (publish and latest.published_at is None):
        if latest is not None and latest.published_at is None:
            latest.definition = data  # a draft is still editable
            version = latest
        else:
            version = SurveyVersion(survey=survey, number=(latest.number + 1 if latest else 1),
                                    definition=data)
            db.session.add(version)
        survey.title = data["title"]
        if publish:
            version.published_at = datetime.now(UTC)
    if publish:
        survey.status = SurveyStatus.PUBLISHED
    db.session.commit()
    return survey
