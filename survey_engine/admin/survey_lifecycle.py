"""A survey's lifecycle for staff: publish, close, reopen, archive, duplicate, delete.

Editors it is shared with, and admins, move a survey along draft -> published ->
closed -> archived and duplicate it; deleting one with responses is for admins only,
typing its slug. Every change is written to the audit log once it has succeeded.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user, login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import (
    managed_survey,
    newest_or_404,
    newest_version,
    status_name,
    title_of,
)
from survey_engine.catalog import (
    DefinitionInvalid,
    find_survey,
    forget_deleted,
    response_count,
    save_definition,
    set_status,
)
from survey_engine.definition.problems import in_language
from survey_engine.definition.schema import SLUG_RE
from survey_engine.exporting import files as export_files
from survey_engine.extensions import db
from survey_engine.intake import uploads
from survey_engine.intake.buffer import current_buffer, waiting
from survey_engine.models import (
    ExportFile,
    Response,
    ResultState,
    Role,
    Survey,
    SurveyShare,
    SurveyStatus,
    SurveyVersion,
    Tally,
)
from survey_engine.redis_connections import REDIS_ERRORS
from survey_engine.staff import audit
from survey_engine.staff.accounts import share_survey
from survey_engine.webhooks import endpoints as webhook_endpoints

log = logging.getLogger(__name__)


@bp.post("/surveys/<slug>/publish")
@login_required
def publish(slug: str):
    survey = managed_survey(slug)
    newest = newest_version(survey)
    if newest is None or survey.status == SurveyStatus.ARCHIVED:
        flash(_("This survey cannot be published."), "error")
    else:
        # Publishes the newest draft, or (re)publishes the newest version as it is.
        try:
            save_definition(newest.definition, publish=True)
        except DefinitionInvalid as error:  # stored before a check that now refuses it
            db.session.rollback()
            flash(
                _(
                    "This version cannot be published: %(problem)s (%(count)s problem(s) "
                    "in all). Correct it in the builder or upload a corrected file.",
                    problem=in_language(error.problems[:1], _, format_number)[0],
                    count=format_number(len(error.problems)),
                ),
                "error",
            )
            return redirect(url_for("admin.survey", slug=slug))
        published = survey.published_version()  # just published: None only if the row went
        audit.record("published", survey, version=published.number if published else None)
        flash(_("The survey is published."))
    return redirect(url_for("admin.survey", slug=slug))


# action: (the statuses it starts from, the status it leads to, its audit action)
TRANSITIONS = {
    "close": ((SurveyStatus.PUBLISHED,), SurveyStatus.CLOSED, "closed"),
    "reopen": ((SurveyStatus.CLOSED,), SurveyStatus.PUBLISHED, "reopened"),
    "archive": ((SurveyStatus.CLOSED,), SurveyStatus.ARCHIVED, "archived"),
}


@bp.post("/surveys/<slug>/<any(close, reopen, archive):action>")
@login_required
def change_status(slug: str, action: str):
    survey = managed_survey(slug)
    sources, target, logged = TRANSITIONS[action]
    if survey.status not in sources:
        flash(
            _("Not possible while the survey is %(status)s.", status=status_name(survey.status)),
            "error",
        )
    else:
        set_status(survey, target, event=logged)
        audit.record(logged, survey)
        flash(_("The survey is now %(status)s.", status=status_name(target)))
    return redirect(url_for("admin.survey", slug=slug))


# -- duplicate and delete -----------------------------------------------------------


def with_title(data: dict, title: str) -> dict | str:
    """The definition's title with `title` in its default language."""
    old = data.get("title")
    if not isinstance(old, dict):
        return title
    lang = data.get("default_language") or next(iter(old), "vi")
    return {**old, lang: title}


def _copy(version: SurveyVersion, slug: str, title: str) -> tuple[Survey | None, list[str]]:
    """Save `version`'s definition as a new draft survey at `slug`, or say why not."""
    return save_copy(copy.deepcopy(version.definition), slug, title)


def save_copy(data: dict, slug: str, title: str) -> tuple[Survey | None, list[str]]:
    """Save `data` (a copy: it is changed) as a new draft survey at `slug`, titled
    `title` if given, or say why not (duplicates and templates)."""
    if not SLUG_RE.match(slug):
        return None, [
            _(
                "The new address must be 1 to 64 lower-case letters, digits and "
                "'-', starting and ending with a letter or digit."
            )
        ]
    if find_survey(slug) is not None:
        return None, [_("A survey with the slug %(slug)s already exists.", slug=slug)]
    data["slug"] = slug
    if title:
        data["title"] = with_title(data, title)
    try:
        return save_definition(data), []
    except DefinitionInvalid as error:
        db.session.rollback()
        return None, in_language(error.problems, _, format_number)


@bp.route("/surveys/<slug>/duplicate", methods=["GET", "POST"])
@login_required
def duplicate_survey(slug: str):
    """A new draft from the newest version: the usual start of next year's round."""
    source = managed_survey(slug)
    newest = newest_or_404(source)
    new_slug = request.form.get("slug", "").strip()
    new_title = request.form.get("title", "").strip()
    problems: list[str] = []
    if request.method == "POST":
        copied, problems = _copy(newest, new_slug, new_title)
        if copied is not None:
            if current_user.role != Role.ADMIN:
                share_survey(current_user, copied)
            detail: dict[str, Any] = {"from": slug, "to": new_slug}  # "from" is a keyword
            audit.record("duplicated", copied, **detail)
            flash(_("The copy was created as a draft."))
            return redirect(url_for("admin.survey", slug=new_slug))
    html = render_template(
        "admin/duplicate_survey.html",
        lang=g.lang,
        survey=source,
        title=title_of(source, g.lang),
        version=newest.number,
        new_slug=new_slug,
        new_title=new_title,
        problems=problems,
    )
    return html, 422 if problems else 200


def _waiting(survey_id: int) -> int | None:
    """Submissions in the Redis buffer not stored yet; None when Redis cannot be asked."""
    buffer = current_buffer()
    if buffer is None:
        return 0
    try:
        return waiting(buffer.client, survey_id)
    except REDIS_ERRORS as error:
        log.warning("cannot count the buffered submissions of survey %s: %s", survey_id, error)
        return None


def _delete(survey: Survey) -> None:
    """Everything of the survey, in one transaction; SQLite would not cascade."""
    survey_id, slug = survey.id, survey.slug
    version_ids = [version.id for version in survey.versions]
    files = export_files.files_of_survey(survey_id)
    export_files.delete_stored_of_survey(survey_id)
    webhook_endpoints.delete_of_survey(survey_id)
    uploads.delete_of_survey(survey_id)  # citizens' files, with their chunks
    for model in (ResultState, ExportFile, Response, Tally, SurveyShare, SurveyVersion):
        db.session.execute(sa.delete(model).where(model.survey_id == survey_id))
    db.session.execute(sa.delete(Survey).where(Survey.id == survey_id))
    db.session.commit()
    for path in files:
        path.unlink(missing_ok=True)
    forget_deleted(slug, survey_id, version_ids)
    buffer = current_buffer()
    if buffer is not None:
        try:
            buffer.forget(survey_id)
        except REDIS_ERRORS as error:  # the survey is gone; stale keys only cost memory
            log.warning(
                "deleted survey %s (id %s) but not its Redis keys: %s", slug, survey_id, error
            )


@bp.route("/surveys/<slug>/delete", methods=["GET", "POST"])
@login_required
def delete_survey(slug: str):
    """Deleting loses answers for good: closed first, and with responses admins only,
    who type the slug, so a slip of the mouse cannot do it."""
    survey = managed_survey(slug)
    stored = response_count(survey.id)
    buffered = _waiting(survey.id)
    # A buffer that cannot be asked may hold answers: the careful path then.
    has_responses = stored > 0 or buffered != 0
    is_admin = current_user.role == Role.ADMIN
    problem, status = None, 200
    if request.method == "POST":
        if survey.status == SurveyStatus.PUBLISHED:
            problem, status = _("Close the survey before deleting it."), 409
        elif has_responses and not is_admin:
            abort(403)
        elif has_responses and request.form.get("confirm_slug", "").strip() != slug:
            problem, status = (
                _("Type the slug %(slug)s exactly to delete the survey.", slug=slug),
                422,
            )
        elif not has_responses and request.form.get("confirm") != "yes":
            problem, status = _("Tick the box to confirm the deletion."), 422
        else:
            try:
                _delete(survey)
            except sa.exc.IntegrityError:  # an answer stored meanwhile points at it
                db.session.rollback()
                problem, status = (
                    _("Responses arrived while deleting; nothing was deleted. Please try again."),
                    409,
                )
            else:
                responses = stored + (buffered or 0)
                audit.record("deleted", slug, responses=responses)
                flash(
                    _(
                        "The survey %(slug)s was deleted with its %(count)s responses.",
                        slug=slug,
                        count=responses,
                    )
                )
                return redirect(url_for("admin.index"))
    html = render_template(
        "admin/delete_survey.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        stored=stored,
        buffered=buffered,
        has_responses=has_responses,
        is_admin=is_admin,
        is_published=survey.status == SurveyStatus.PUBLISHED,
        problem=problem,
    )
    return html, status
