"""POST /admin/surveys/from-template: a new draft survey from one of the templates
(survey_engine/starters), at the address and with the title staff choose; the
builder takes it from there. Who may: admins and editors, as for any new survey."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import may_manage
from survey_engine.admin.survey_lifecycle import save_copy
from survey_engine.models import Role
from survey_engine.staff import audit
from survey_engine.staff.accounts import share_survey
from survey_engine.starters import STARTERS, find_starter, starter_definition


@bp.app_template_global()
def survey_starters() -> list[dict[str, str]]:
    """The templates as the new-survey page lists them, in the page's language."""
    return [{"key": s.key, "name": _(s.name), "summary": _(s.summary)} for s in STARTERS]


@bp.post("/surveys/from-template")
@login_required
def survey_from_template():
    if not may_manage(current_user):
        abort(403)
    form = request.form
    slug = form.get("slug", "").strip()[:64]
    title = " ".join(form.get("title", "").split())[:300]
    starter = find_starter(form.get("template", ""))
    survey, problems = None, [_("Choose a template.")]
    if starter is not None:
        survey, problems = save_copy(starter_definition(starter), slug, title)
    if starter is None or survey is None:
        html = render_template(
            "admin/new_survey.html", lang=g.lang, problems=[], template_problems=problems, form=form
        )
        return html, 422
    if current_user.role != Role.ADMIN:
        share_survey(current_user, survey)
    audit.record("survey_created", survey, via="template", template=starter.key)
    flash(_("The survey was created as a draft from the template; adapt it in the builder."))
    return redirect(url_for("admin.builder", slug=survey.slug))
