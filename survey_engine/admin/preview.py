"""The staff preview: the newest version exactly as a citizen sees it; answers are
checked, never stored (so its POST needs no CSRF token: admin.init_app exempts it)."""

from __future__ import annotations

import functools
import uuid

from flask import g, redirect, render_template, request, url_for
from flask_login import login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.builder_drafts import revision
from survey_engine.admin.survey_access import newest_or_404, title_of, visible_survey
from survey_engine.definition import Definition, clean_answers
from survey_engine.i18n import choose_language
from survey_engine.public.rendering import answers_from_form, roster_pressed
from survey_engine.public.routes import render_survey_page
from survey_engine.web.security import CONTENT_SECURITY_POLICY

# The builder shows the preview beside the editor in a frame: this origin may frame
# it, nobody else (every other staff page: frame-ancestors 'none').
FRAMED_BY_BUILDER = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY + "; frame-ancestors 'self'",
}


@bp.route("/surveys/<slug>/preview", methods=["GET", "POST"])
@login_required
def preview(slug: str):
    """The newest version exactly as a citizen sees it; answers are checked, never stored."""
    survey = visible_survey(slug)
    version = newest_or_404(survey)
    d = Definition(version.definition)
    lang = choose_language(d.languages(), d.default_language)
    page = functools.partial(
        render_survey_page,
        d,
        lang,
        action=url_for("admin.preview", slug=slug, lang=lang),
        storage_key=f"preview:{slug}:{revision(version)}",
        language_link=lambda code: url_for("admin.preview", slug=slug, lang=code),
        preview=True,
    )
    if request.method == "GET":
        return *page(str(uuid.uuid4())), FRAMED_BY_BUILDER
    submission_id = request.form.get("submission_id", "")
    if d.repeats and (pressed := roster_pressed(request.form, d)):  # a roster's button
        return *page(submission_id, values=pressed[0], focus=pressed[1]), FRAMED_BY_BUILDER
    values = answers_from_form(request.form, d)
    _answers, errors = clean_answers(d, values, lang)
    if errors:
        html, status = page(submission_id, values=values, errors=errors, status=422)
        return html, status, FRAMED_BY_BUILDER
    return redirect(url_for("admin.preview_thanks", slug=slug, lang=lang), code=303)


@bp.get("/surveys/<slug>/preview/thanks")
@login_required
def preview_thanks(slug: str):
    survey = visible_survey(slug)
    html = render_template(
        "admin/builder/preview_thanks.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
    )
    return html, 200, FRAMED_BY_BUILDER
