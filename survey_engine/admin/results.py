"""The analysts' results dashboard and the list of free-text answers.

GET /admin/surveys/<slug>/results                  counts, charts, filters, a cross-tab
GET /admin/surveys/<slug>/results/text/<question>  free-text answers, searched and paged

Whoever may see the survey (those it is shared with, and admins) may read its results.
Unfiltered counts come from the tallies table on every request; whatever needs the
responses themselves is counted by the accumulator (results/accumulator.py), through
the cache and saved state the results API reads too (results/live.py). More than
RESULTS_REQUEST_SCAN_ROWS to read is left to a job: the page shows the tallies' counts
and how far the job has come.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_skeleton
from flask import abort, g, render_template, request, url_for
from flask_babel import format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup

from survey_engine import params
from survey_engine.admin.blueprint import bp
from survey_engine.admin.surveys import title_of, visible_survey
from survey_engine.catalog import response_count
from survey_engine.definition.families import SELECT
from survey_engine.definition.merged import MergedSurvey
from survey_engine.figures import Share, WeightedShare
from survey_engine.models import Survey
from survey_engine.results.accumulator import CrossTabSpec
from survey_engine.results.charts import Bar, Column, bar_chart, column_chart
from survey_engine.results.dashboard import (
    Dashboard,
    QuestionResult,
    build_dashboard,
    tally_counts,
)
from survey_engine.results.filters import FilterError, Filters
from survey_engine.results.live import cache_key, cached, counted_view, freshness
from survey_engine.results.over_time import TimeSeries, time_series
from survey_engine.results.quota_fill import quota_views
from survey_engine.results.report import merged_survey
from survey_engine.results.saved import View
from survey_engine.results.text_answers import fold, text_answers
from survey_engine.results.unit_rates import unit_rates
from survey_engine.results.weights import current_weights

REFRESH_SECONDS = 5  # a page that says "Counting…" asks again after this long
MAX_QUERY = 200
MAX_BARS = 15  # a chart with more bars than this shows the most frequent ones
# Paging keeps the newest page * 50 matches while it reads (results/text_answers.py):
# a bound on that memory; searching narrows further than a thousand pages would.
MAX_PAGE = 1000


# -- reading the request ---------------------------------------------------------------


def _filters(merged: MergedSurvey) -> Filters:
    filters = Filters.from_args(request.args, merged)
    if filters.since and filters.until and filters.since > filters.until:
        raise FilterError(
            _(
                "The first day (%(since)s) is after the last (%(until)s).",
                since=filters.since.isoformat(),
                until=filters.until.isoformat(),
            )
        )
    return filters


def _crosstab(merged: MergedSurvey) -> CrossTabSpec | None:
    row, col = request.args.get("row", ""), request.args.get("col", "")
    if not row and not col:
        return None
    if not row or not col:
        raise FilterError(_("Choose a question for the rows and one for the columns."))
    for name in (row, col):
        question = merged.by_name.get(name)
        if question is None or question.type not in SELECT:
            raise FilterError(
                _("A cross-tab needs two select questions; %(name)s is not one.", name=repr(name))
            )
    if row == col:
        raise FilterError(_("Choose two different questions for the cross-tab."))
    return CrossTabSpec(row, col)


def link_args(filters: Filters, **more: Any) -> dict[str, Any]:
    """url_for keywords that repeat the filters (f.district may come twice)."""
    args: dict[str, Any] = {}
    for name, value in filters.to_args():
        args.setdefault(name, []).append(value)
    args.update({k: v for k, v in more.items() if v})
    return args


# -- numbers in the reader's language --------------------------------------------------


def number(value: float | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer():
        return format_decimal(int(value), "#,##0")
    return format_decimal(value, "#,##0.##")


def percent(ratio: float | None) -> str:
    return "–" if ratio is None else format_percent(ratio, "#,##0.0%")


def interval(share: Share | WeightedShare) -> str:
    """'43,1–48,0%': the 95% Wilson interval of a share, in the page's language."""
    bounds = share.interval
    if bounds is None:
        return ""
    low, high = (format_decimal(v * 100, "0.0") for v in bounds)
    return f"{low}–{high}%"


def _tick(moment: datetime, unit: str) -> str:
    day = format_skeleton("Md", moment, locale=get_locale())
    return day if unit == "day" else f"{day} {moment:%H}h"


# -- charts ----------------------------------------------------------------------------


def _bars(
    result_id: str, title: str, shares: list[tuple[str, Share, WeightedShare | None]]
) -> Markup:
    weighted = any(w is not None for _label, _share, w in shares)
    bars = [
        Bar(
            label,
            share.ratio,
            share.interval,
            percent(share.ratio),
            _(
                "%(count)s of %(total)s, 95%% CI %(interval)s",
                count=number(share.count),
                total=number(share.total),
                interval=interval(share),
            )
            + (_("; weighted %(percent)s", percent=percent(w.ratio)) if w is not None else ""),
            w.ratio if w is not None else None,
        )
        for label, share, w in shares
    ]
    desc = _(
        "Bars: the share of each answer, with a line across the bar for its "
        "confidence interval (95%)."
    )
    if weighted:
        desc += " " + _("A mark standing out of the bar shows the weighted share.")
    return bar_chart(f"chart-{result_id}", title, desc, bars)


def _question_chart(result: QuestionResult) -> Markup | None:
    """Bars in the list's order; a long list (communes) shows its most chosen answers,
    and the table under it all of them."""
    rows = list(result.choices or result.distribution)
    if not rows:
        return None
    title = result.label
    if len(rows) > MAX_BARS:
        rows = sorted(rows, key=lambda row: -row.of_answered.count)[:MAX_BARS]
        title = _(
            "%(question)s: the %(count)s most frequent answers",
            question=result.label,
            count=MAX_BARS,
        )
    return _bars(result.name, title, [(row.label, row.of_answered, row.weighted) for row in rows])


def _series_chart(series: TimeSeries) -> Markup:
    unit_text = _("per hour") if series.unit == "hour" else _("per day")
    fmt = "%Y-%m-%d %H:00" if series.unit == "hour" else "%Y-%m-%d"
    columns = [
        Column(n, f"{moment.strftime(fmt)}: {number(n)}", _tick(moment, series.unit))
        for moment, n in series.points
    ]
    return column_chart(
        "chart-over-time",
        _("Responses %(unit)s", unit=unit_text),
        _(
            "Columns: responses %(unit)s, Vietnam time, from %(first)s to %(last)s.",
            unit=unit_text,
            first=series.points[0][0].strftime(fmt) if series.points else "",
            last=series.points[-1][0].strftime(fmt) if series.points else "",
        ),
        columns,
        number,
    )


def _pages_chart(dashboard: Dashboard) -> Markup:
    shares: list[tuple[str, Share, WeightedShare | None]] = []
    for page in dashboard.pages:
        shares.append((_("%(page)s: reached", page=page.title), page.reached, None))
        shares.append((_("%(page)s: answered", page=page.title), page.answered, None))
    return _bars("pages", _("Completion by page"), shares)


# -- pages -----------------------------------------------------------------------------


def _render(template: str, survey: Survey, status: int = 200, **context: Any):
    html = render_template(
        template,
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        number=number,
        percent=percent,
        interval=interval,
        **context,
    )
    return html, status


@bp.get("/surveys/<slug>/results")
@login_required
def results(slug: str):
    survey = visible_survey(slug)
    merged = merged_survey(survey)
    if merged is None:
        return _render("admin/results.html", survey, merged=None, problem=None)
    try:
        filters = _filters(merged)
        crosstab = _crosstab(merged)
    except FilterError as error:
        return _render(
            "admin/results.html",
            survey,
            400,
            merged=merged,
            problem=error.problem.in_language(_),
            filters=Filters(),
            crosstab_spec=None,
            unit="auto",
        )
    unit = request.args.get("by", "auto")
    unit = unit if unit in ("hour", "day") else "auto"
    count = response_count(survey.id)
    view = View(filters, crosstab, current_weights(survey.id))
    counted, counting = counted_view(survey, merged, view, count)
    # Unfiltered, the counts are the tallies': current to the last stored response.
    counts = None if filters else tally_counts(survey.id)
    dashboard = build_dashboard(merged, counted, g.lang, count, counts)
    series = time_series(dashboard.hours, unit)
    charts = {result.name: _question_chart(result) for result in dashboard.questions}
    keep: dict[str, Any] = {"row": crosstab.row, "col": crosstab.col} if crosstab else {}
    by: dict[str, Any] = {"by": unit} if unit != "auto" else {}
    return _render(
        "admin/results.html",
        survey,
        merged=merged,
        problem=None,
        filters=filters,
        crosstab_spec=crosstab,
        unit=unit,
        dashboard=dashboard,
        quotas=quota_views(survey.id, merged, g.lang),
        series=series,
        counting=counting,
        refresh_seconds=REFRESH_SECONDS,
        charts=charts,
        max_bars=MAX_BARS,
        series_chart=_series_chart(series) if series.points else None,
        pages_chart=_pages_chart(dashboard) if dashboard.responses and not counting else None,
        selects=merged.select_questions(),
        text_fields=merged.text_fields(),
        described=filters.describe(merged, g.lang),
        link_args=link_args,
        clear_url=url_for("admin.results", slug=slug, **keep, **by),
        unit_url=lambda value: url_for(
            "admin.results", slug=slug, **link_args(filters, **keep, by=value)
        ),
        local_time=lambda moment: moment.strftime("%Y-%m-%d %H:%M") if moment else "",
        unit_rates=unit_rates(survey.id),
    )


def _field_label(merged: MergedSurvey, name: str) -> str:
    question = merged.by_name.get(name)
    if question is not None:
        return merged.label(question, g.lang)
    selected = merged.other_fields[name]
    return _("%(question)s: other answers", question=merged.label(selected, g.lang))


@bp.get("/surveys/<slug>/results/text/<question>", endpoint="text_answers")
@login_required
def text_answers_page(slug: str, question: str):
    survey = visible_survey(slug)
    merged = merged_survey(survey)
    if merged is None or question not in merged.text_fields():
        abort(404)
    filters, query = Filters(), request.args.get("q", "").strip()[:MAX_QUERY]
    try:
        filters = _filters(merged)
        page = params.page_number(request.args.get("page"), MAX_PAGE)
    except (FilterError, params.ParamError) as error:
        return _render(
            "admin/text_answers.html",
            survey,
            400,
            merged=merged,
            problem=error.problem.in_language(_) if isinstance(error, FilterError) else str(error),
            question=question,
            label=_field_label(merged, question),
            filters=filters,
            query=query if isinstance(error, params.ParamError) else "",
            link_args=link_args,
        )
    count = response_count(survey.id)
    answers = cached(
        cache_key("text", survey, merged, filters, question, fold(query), page),
        freshness(survey, count),
        lambda _: text_answers(survey.id, question, filters, query, page),
    )
    return _render(
        "admin/text_answers.html",
        survey,
        merged=merged,
        problem=None,
        question=question,
        label=_field_label(merged, question),
        filters=filters,
        query=query,
        answers=answers,
        link_args=link_args,
        described=filters.describe(merged, g.lang),
    )
