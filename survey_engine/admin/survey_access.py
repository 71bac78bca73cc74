"""Which survey a staff member may see or manage, and how the staff pages name it.

Shared by every staff page of one survey (the survey's own pages, the builder, the
people who share it, its results and exports), so each asks the same questions.
"""

from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user

from survey_engine.catalog import find_survey
from survey_engine.models import Role, Survey, SurveyStatus, SurveyVersion, User
from survey_engine.staff.accounts import may_see

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def title_of(survey: Survey, lang: str) -> str:
    """The survey's title in `lang`, else in its first language, else its slug."""
    title = survey.title
    if isinstance(title, dict):
        return title.get(lang) or next(iter(title.values()), survey.slug)
    return title or survey.slug


def status_name(status: str) -> str:
    """A status as the staff pages name it, in their language."""
    return {
        SurveyStatus.DRAFT: _("draft"),
        SurveyStatus.PUBLISHED: _("published"),
        SurveyStatus.CLOSED: _("closed"),
        SurveyStatus.ARCHIVED: _("archived"),
    }.get(status, status)


def may_manage(user: User, survey: Survey | None = None) -> bool:
    """Upload and lifecycle: admins, and editors (for a survey: one shared with them)."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.EDITOR and (survey is None or may_see(user, survey))


def visible_survey(slug: str) -> Survey:
    """The survey at `slug`, if the signed-in account may see it; else 404 or 403."""
    survey = find_survey(slug)
    if survey is None:
        abort(404)
    if not may_see(current_user, survey):
        abort(403)
    return survey


def managed_survey(slug: str) -> Survey:
    """The survey at `slug`, if the signed-in account may change it; else 404 or 403."""
    survey = visible_survey(slug)
    if not may_manage(current_user, survey):
        abort(403)
    return survey


def newest_version(survey: Survey) -> SurveyVersion | None:
    """The survey's newest version, draft or published; None for a survey without one."""
    return survey.versions[-1] if survey.versions else None


def newest_or_404(survey: Survey) -> SurveyVersion:
    """The survey's newest version; 404 for a survey without one."""
    newest = newest_version(survey)
    if newest is None:
        abort(404)
    return newest
