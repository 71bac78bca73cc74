"""The builder in place: what its script (static/builder.js) asks the server besides
the builder's own forms, which it posts with fetch.

Why these few routes only: every change still goes through the forms' views and
save() (builder_drafts.py), so the server stays the one judge of a draft and its
revision. Here: the draft's revision (for two editors), an expression checked as it
is typed with the validator's own messages, and undo of the last saved change.
"""

from __future__ import annotations

import re

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.builder_drafts import editable_survey, revision, working_copy
from survey_engine.admin.survey_access import newest_or_404
from survey_engine.definition import editing as edit
from survey_engine.definition import validate_definition
from survey_engine.definition.problems import in_language
from survey_engine.extensions import db
from survey_engine.staff import audit

# The fields that hold an expression, and where each lives.
QUESTION_EXPRESSIONS = ("relevant", "constraint", "calculation", "choice_filter")
PAGE_EXPRESSIONS = ("relevant",)
EXPRESSION_MAX = 2_000  # characters: a rule longer than this is no rule a person reads


@bp.get("/surveys/<slug>/edit/revision")
@login_required
def draft_revision(slug: str):
    """The draft's revision now: the script compares it with the one its page shows."""
    survey = editable_survey(slug)
    version = newest_or_404(survey)
    return jsonify(
        revision=revision(version),
        version=version.number,
        can_undo=version.published_at is None and version.previous_definition is not None,
    )


@bp.post("/surveys/<slug>/edit/check")
@login_required
def check_expression(slug: str):
    """One expression as the validator judges it in the draft: put where it would go
    (`question` or `page`, `field`), the whole survey validated, that field's problems."""
    survey = editable_survey(slug)
    data, _version = working_copy(survey)
    field = request.form.get("field", "")
    expression = request.form.get("expression", "")
    question, page = request.form.get("question", ""), request.form.get("page", "")
    if len(expression) > EXPRESSION_MAX:
        return jsonify(ok=False, problems=[_("At most %(n)s characters.", n=EXPRESSION_MAX)])
    try:
        if question and field in QUESTION_EXPRESSIONS:
            p, q = edit.question_position(data, question)
            owner, path = data["pages"][p]["questions"][q], f"pages[{p}].questions[{q}]"
        elif page and not question and field in PAGE_EXPRESSIONS:
            p = edit.page_index(data, page)
            owner, path = data["pages"][p], f"pages[{p}]"
        else:
            abort(400)
    except edit.EditRefused:
        abort(404)
    if expression.strip():
        owner[field] = expression.strip()
    else:
        owner.pop(field, None)
    mine = re.compile(re.escape(f"{path}.{field}") + r"(?:[.\[][^:\s]*)?: ")
    problems = [
        mine.sub("", text, count=1)
        for text in in_language(validate_definition(data), _, format_number)
        if mine.match(text)
    ]
    return jsonify(ok=not problems, problems=problems)


@bp.post("/surveys/<slug>/edit/undo")
@login_required
def undo_change(slug: str):
    """The draft back to what it was before its last saved change (one step)."""
    survey = editable_survey(slug)
    version = newest_or_404(survey)
    target = url_for("admin.builder", slug=slug)
    if request.form.get("revision") != revision(version):
        flash(
            _(
                "Someone saved a change to this survey after you opened this page. "
                "Nothing was undone; look at their change first."
            ),
            "error",
        )
        return redirect(target)
    if version.published_at is not None or version.previous_definition is None:
        flash(_("There is no change to undo."), "error")
        return redirect(target)
    if validate_definition(version.previous_definition):  # the validator may have grown
        flash(_("The last change cannot be undone."), "error")
        return redirect(target)
    version.definition, version.previous_definition = version.previous_definition, None
    survey.title = version.definition["title"]
    db.session.commit()
    audit.record("survey_edited", survey, change="undo")
    flash(_("The last change was undone."))
    return redirect(target)
