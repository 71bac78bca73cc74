"""GET/POST /admin/surveys/<slug>/edit/copy: pages and questions copied from another
survey this account may see into this survey's draft (definition/copying.py: names
made unique, choice lists brought along). Two plain forms, no script: choose the
survey (GET), then tick its pages and questions (POST). Saved like every builder
change: validated as a whole, refused with the validator's words, audited."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from survey_engine.admin import builder_drafts as drafts
from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import newest_version, title_of
from survey_engine.catalog import find_survey
from survey_engine.definition.copying import copy_into
from survey_engine.definition.model import Definition
from survey_engine.models import Survey
from survey_engine.staff.accounts import may_see
from survey_engine.staff.overview import surveys_for


def _source(survey: Survey, slug: str) -> Survey | None:
    """The survey to copy from, if this account may see it and it is not this one."""
    found = find_survey(slug) if slug else None
    if found is None or found.id == survey.id or not may_see(current_user, found):
        return None
    return found


def _page(survey: Survey, source: Survey | None, problems: list[str], status: int = 200):
    data, version = drafts.working_copy(survey)
    newest = newest_version(source) if source else None
    html = render_template(
        "admin/builder/copy.html",
        **drafts.page_context(survey, data, version),
        sources=[
            (s.slug, title_of(s, g.lang))
            for s in surveys_for(current_user)
            if s.id != survey.id and s.versions
        ],
        source=source,
        source_title=title_of(source, g.lang) if source else "",
        source_definition=Definition(newest.definition) if newest else None,
        chosen_pages=set(request.form.getlist("page")),
        chosen_questions=set(request.form.getlist("question")),
        problems=problems,
    )
    return html, status


@bp.route("/surveys/<slug>/edit/copy", methods=["GET", "POST"])
@login_required
def copy_questions(slug: str):
    survey = drafts.editable_survey(slug)
    asked = (request.values.get("source") or "")[:64]
    source = _source(survey, asked)
    if request.method == "GET":
        problems = [_("There is no survey %(slug)s you may copy from.", slug=asked)]
        return _page(survey, source, problems if asked and source is None else [])
    pages, questions = request.form.getlist("page"), request.form.getlist("question")
    newest = newest_version(source) if source else None
    if source is None or newest is None:
        return _page(survey, None, [_("Choose the survey to copy from.")], 422)
    if not pages and not questions:
        return _page(survey, source, [_("Tick at least one page or question to copy.")], 422)
    data, _version = drafts.working_copy(survey)
    count, renamed = copy_into(data, newest.definition, pages, questions)
    try:
        drafts.save(survey, data, change="copy_questions")
    except drafts.SaveRefused as error:
        return _page(survey, source, [_("Nothing was copied:"), *error.problems], 422)
    flash(
        _(
            "%(count)s question(s) copied from %(title)s.",
            count=count,
            title=title_of(source, g.lang),
        )
    )
    if renamed:
        flash(_("Renamed, as this survey already used the name: %(names)s.", names=_names(renamed)))
    return redirect(url_for("admin.builder", slug=slug))


def _names(renamed: dict[str, Any]) -> str:
    return ", ".join(f"{old} → {new}" for old, new in renamed.items())
