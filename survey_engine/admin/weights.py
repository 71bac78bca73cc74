"""A survey's weighting (editors and admins of the survey): upload population margins
(CSV or XLSX), choose the bounds, see how the raking went; or stop weighting. Every
change is audited, and every output weights alike from then on (results/weights.py).
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import managed_survey, title_of
from survey_engine.extensions import db
from survey_engine.localtime import local_text
from survey_engine.models import Survey, SurveyWeighting
from survey_engine.results.margins import MAX_MARGINS_BYTES, MarginsError, read_margins
from survey_engine.results.report import merged_survey
from survey_engine.results.weights import (
    DEFAULT_BOUNDS,
    MAX_BOUND,
    MIN_BOUND,
    WeightsError,
    compute_weights,
    remove_weights,
)
from survey_engine.staff import audit

BOUND_FIELDS = ("low", "high")


def _page(survey: Survey, problems: list[str] | None = None, bounds: tuple[str, str] | None = None):
    row = db.session.get(SurveyWeighting, survey.id)
    merged = merged_survey(survey)
    html = render_template(
        "admin/weights.html",
        survey=survey,
        title=title_of(survey, g.lang),
        weighting=row,
        labels={q.name: merged.label(q, g.lang) for q in merged.questions} if merged else {},
        categories={q.name: merged.choice_labels(q, g.lang, []) for q in merged.questions}
        if merged
        else {},
        published=merged is not None,
        problems=problems or [],
        bounds=bounds
        or tuple(f"{b:g}" for b in (row.bounds if row and row.bounds else DEFAULT_BOUNDS)),
        limits=(MIN_BOUND, MAX_BOUND),
        max_kb=MAX_MARGINS_BYTES // 1000,
        local_time=local_text,
    )
    return html, 422 if problems else 200


def _bounds(low: str, high: str) -> tuple[float, float] | None:
    """The form's bounds (compute_weights checks their range); None when both are
    empty (no bounds)."""
    if not low.strip() and not high.strip():
        return None
    try:
        return float(low.replace(",", ".")), float(high.replace(",", "."))
    except ValueError:
        raise ValueError(_("The bounds must be numbers, e.g. 0.2 and 5.")) from None


@bp.route("/surveys/<slug>/weights", methods=["GET", "POST"])
@login_required
def weights(slug: str):
    survey = managed_survey(slug)
    if request.method == "GET":
        return _page(survey)
    if request.form.get("action") == "remove":
        if remove_weights(survey.id):
            audit.record("weighted", survey, removed=True)
            db.session.commit()
            flash(_("The survey is no longer weighted."))
        return redirect(url_for("admin.weights", slug=slug))
    low, high = (request.form.get(name, "")[:20] for name in BOUND_FIELDS)
    merged = merged_survey(survey)
    upload = request.files.get("margins")
    if merged is None:
        return _page(survey, [_("Publish the survey first: weights apply to its responses.")])
    if upload is None or not upload.filename:
        return _page(survey, [_("Choose a margins file (CSV or XLSX).")], (low, high))
    try:
        bounds = _bounds(low, high)
        margins = read_margins(upload.read(MAX_MARGINS_BYTES + 1), upload.filename, merged)
        row = compute_weights(survey, margins, bounds, computed_by=current_user.email)
    except MarginsError as error:
        return _page(survey, error.texts(g.lang), (low, high))
    except WeightsError as error:
        return _page(survey, [error.text(g.lang)], (low, high))
    except ValueError as error:  # the form's bounds
        return _page(survey, [str(error)], (low, high))
    audit.record("weighted", survey, variables=list(margins.variables), bounds=row.bounds)
    db.session.commit()
    flash(
        _(
            "Weights computed for %(n)s responses: effective n %(effective)s.",
            n=row.report["responses"],
            effective=round(row.report["effective_n"]),
        )
    )
    return redirect(url_for("admin.weights", slug=slug))
