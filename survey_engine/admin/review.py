"""The review of a survey's responses: the flagged ones listed, one opened, accepted or
excluded (one, or all matching the filter) with a reason.

GET  /admin/surveys/<slug>/review                  the list, filtered and paged
POST /admin/surveys/<slug>/review                  accept / exclude / flag again, the
                                                   ticked ones or all matching
GET  /admin/surveys/<slug>/review/<response_id>    one response: answers, flags, paradata
POST /admin/surveys/<slug>/review/<response_id>    accept / exclude / flag it again
                                                   (one rule, one endpoint)

Editors the survey is shared with, and admins, may change a status (may_manage);
whoever else may see the survey (an analyst) reads the list and the responses only.
Every change is in the audit log (results/review.py) and moves the tallies with it.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from survey_engine import params
from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import may_manage, title_of, visible_survey
from survey_engine.catalog import definition_of
from survey_engine.definition import Definition, Question
from survey_engine.extensions import db
from survey_engine.localtime import local_text
from survey_engine.models import PARADATA_COLUMNS, Response, ResponseStatus, Survey
from survey_engine.results.review import MAX_IDS, MAX_REASON, ReviewError, history, review
from survey_engine.results.review_query import (
    ANY,
    FLAG_NAMES,
    ReviewQuery,
    count_matching,
    flag_name,
    page_of,
    units_of,
)
from survey_engine.untrusted import safe_text

PER_PAGE = 50  # `limit` changes it, within LIMITS
LIMITS = (1, 200)
MAX_PAGE = 10_000
MAX_UNIT = 100  # Response.unit's length


def status_names() -> dict[str, str]:
    """The review statuses in the page's language."""
    return {
        ResponseStatus.FLAGGED: _("flagged"),
        ResponseStatus.UNREVIEWED: _("unreviewed"),
        ResponseStatus.ACCEPTED: _("accepted"),
        ResponseStatus.EXCLUDED: _("excluded"),
    }


def flag_names() -> dict[str, str]:
    """The quality flags in the page's language."""
    return {
        "speeder": _("too fast (speeder)"),
        "straight_lining": _("same answer down a grid (straight-lining)"),
        "duplicate": _("duplicate (same device or network and answers)"),
        "burst": _("burst from one network"),
        "attention": _("failed the attention check"),
        "over_limit": _("sent over the rate limit"),
        "no_device": _("no device token"),
    }


def action_names() -> dict[str, str]:
    return {"accept": _("Accept"), "exclude": _("Exclude"), "flag": _("Flag again")}


def read_query(args: MultiDict | Any) -> ReviewQuery:
    """The list's filters from a query string or the bulk form; ParamError says why."""
    status = args.get("status", ResponseStatus.FLAGGED)
    if status == "any":
        status = ANY
    if status not in (*ResponseStatus.ALL, ANY):
        raise params.ParamError(_("Status: one of the list's statuses."))
    flag = safe_text(args.get("flag", "")).strip()[:40]
    unit = safe_text(args.get("unit", "")).strip()[:MAX_UNIT]
    since = params.day(args["from"]) if args.get("from") else None
    until = params.day(args["to"]) if args.get("to") else None
    if since and until and since > until:
        raise params.ParamError(_("The first day is after the last."))
    return ReviewQuery(status, flag, unit, since, until)


def _limit(text: str | None) -> int:
    if text is None or not text.strip():
        return PER_PAGE
    try:
        return params.whole_number(text, *LIMITS)
    except params.ParamError as error:
        raise params.ParamError(_("Per page: %(problem)s", problem=error)) from None


def _render(template: str, survey: Survey, status: int = 200, **context: Any):
    html = render_template(
        template,
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        may_change=may_manage(current_user, survey),
        status_names=status_names(),
        flag_names=flag_names(),
        action_names=action_names(),
        flag_name=flag_name,
        local_time=local_text,
        max_reason=MAX_REASON,
        **context,
    )
    return html, status


@bp.get("/surveys/<slug>/review")
@login_required
def review_list(slug: str):
    survey = visible_survey(slug)
    try:
        query = read_query(request.args)
        page = params.page_number(request.args.get("page"), MAX_PAGE)
        limit = _limit(request.args.get("limit"))
    except params.ParamError as error:
        return _render(
            "admin/review.html", survey, 400, problem=str(error), query=ReviewQuery(), rows=[]
        )
    total = count_matching(survey.id, query)
    rows = page_of(survey.id, query, page, limit)
    args = query.to_args() + ([("limit", str(limit))] if limit != PER_PAGE else [])
    return _render(
        "admin/review.html",
        survey,
        problem=None,
        query=query,
        rows=rows,
        total=total,
        page=page,
        limit=limit,
        pages=max(1, -(-total // limit)),
        units=units_of(survey.id),
        flags=sorted(set(FLAG_NAMES) | ({query.flag} if query.flag else set())),
        page_url=lambda n: url_for("admin.review_list", slug=slug, **_multi(args, page=n)),
        query_args=query.to_args(),
    )


def _multi(pairs: list[tuple[str, str]], **more: Any) -> dict[str, Any]:
    """url_for keywords from (name, value) pairs, with `more` (page=…) added."""
    args: dict[str, Any] = {}
    for name, value in pairs:
        args.setdefault(name, []).append(value)
    args.update({k: v for k, v in more.items() if v})
    return args


def _managed(slug: str) -> Survey:
    survey = visible_survey(slug)
    if not may_manage(current_user, survey):
        abort(403)
    return survey


def _ids(form: MultiDict) -> list[int]:
    ids = []
    for text in form.getlist("ids")[: MAX_IDS + 1]:
        try:
            ids.append(params.whole_number(text, 1, 2**62))
        except params.ParamError:
            abort(400, description=_("Tick the responses in the list."))
    if len(ids) > MAX_IDS:
        abort(400, description=_("Too many responses ticked at once."))
    return ids


def _moved_message(action: str, moved: int) -> str:
    if action == "exclude":
        return _("Responses excluded: %(count)s.", count=moved)
    if action == "accept":
        return _("Responses accepted: %(count)s.", count=moved)
    return _("Responses flagged again: %(count)s.", count=moved)


def _apply(survey: Survey, form: MultiDict, **scope: Any) -> str | None:
    """Take the form's action on `scope` (ids= or query=); the problem, if any."""
    action = form.get("action", "")
    if action not in action_names():
        abort(400, description=_("Choose accept, exclude or flag again."))
    reason = safe_text(form.get("reason", ""))
    try:
        done = review(survey, action, reason, actor=current_user, **scope)
    except ReviewError:
        return _("Give a reason to exclude responses: it is kept in the audit log.")
    if done.moved:
        flash(_moved_message(action, done.moved))
    else:
        flash(_("No response changed: they already had that status."), "error")
    return None


@bp.post("/surveys/<slug>/review")
@login_required
def review_many(slug: str):
    """The ticked responses (`ids`), or all matching the filter (scope=matching)."""
    survey = _managed(slug)
    try:
        query = read_query(request.form)
    except params.ParamError as error:
        abort(400, description=str(error))
    back = url_for("admin.review_list", slug=slug, **_multi(query.to_args()))
    if request.form.get("scope") == "matching":
        problem = _apply(survey, request.form, query=query)
    else:
        ids = _ids(request.form)
        if not ids:
            flash(_("Tick the responses to change, or choose all matching."), "error")
            return redirect(back, code=303)
        problem = _apply(survey, request.form, ids=ids)
    if problem:
        flash(problem, "error")
    return redirect(back, code=303)


def _response(survey: Survey, response_id: int) -> Response:
    response = db.session.get(Response, response_id)
    if response is None or response.survey_id != survey.id:
        abort(404)
    return response


def answer_rows(response: Response, lang: str) -> list[tuple[str, str, str]]:
    """(name, label, answer as text) of the response's version's questions."""
    definition = definition_of(response.version_id)
    rows = []
    answers = response.answers or {}
    for q in definition.questions:
        if q.name not in answers:
            continue
        value = answers[q.name]
        if q.is_repeat and isinstance(value, list):  # a roster: a line per row
            rows += _roster_rows(definition, q, value, lang)
            continue
        if q.is_select and isinstance(value, str | list):  # choice labels, not codes
            names = value if isinstance(value, list) else [value]
            value = [_choice_label(definition, q, n, lang) for n in names]
        rows.append((q.name, definition.text(q.label, lang) or q.name, _as_text(value)))
    shown = {name for name, _label, _value in rows}
    rows += [(k, k, _as_text(v)) for k, v in sorted(answers.items()) if k not in shown]
    return rows


def _roster_rows(
    definition: Definition, roster: Question, rows: list, lang: str
) -> list[tuple[str, str, str]]:
    """A roster's rows, each as "question: answer; …" by label, named members.1, …
    and headed by the roster's word for a row (row_label), else by its label."""
    label = definition.text(roster.raw.get("row_label") or roster.label, lang) or roster.name
    out = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            continue
        parts = []
        for q in roster.questions:
            if q.name not in row:
                continue
            value = row[q.name]
            if q.is_select and isinstance(value, str | list):
                names = value if isinstance(value, list) else [value]
                value = [_choice_label(definition, q, n, lang) for n in names]
            parts.append(f"{definition.text(q.label, lang) or q.name}: {_as_text(value)}")
        out.append((f"{roster.name}.{number}", f"{label} {number}", "; ".join(parts)))
    return out


def _choice_label(definition: Definition, q: Question, name: Any, lang: str) -> str:
    return definition.text((q.choice(str(name)) or {}).get("label"), lang) or str(name)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    return str(value)


# One rule for both methods: with two, an id beyond the int converter's range was a
# 405 to a POST (Werkzeug saw the GET rule's path match first), not a 404.
@bp.route("/surveys/<slug>/review/<int:response_id>", methods=["GET", "POST"])
@login_required
def review_response(slug: str, response_id: int):
    """GET: the response; POST: accept, exclude or flag it again."""
    if request.method == "POST":
        return _review_one(slug, response_id)
    survey = visible_survey(slug)
    response = _response(survey, response_id)
    return _render(
        "admin/review_response.html",
        survey,
        response=response,
        answers=answer_rows(response, g.lang),
        paradata=[(name, getattr(response, name)) for name in PARADATA_COLUMNS],
        events=history(survey, response.id),
    )


def _review_one(slug: str, response_id: int):
    survey = _managed(slug)
    response = _response(survey, response_id)
    problem = _apply(survey, request.form, ids=[response.id])
    if problem:
        flash(problem, "error")
    return redirect(url_for("admin.review_response", slug=slug, response_id=response_id), code=303)
