"""The analysts' results dashboard (admin/results.py, results/accumulator.py,
results/dashboard.py, charts.py).

Every number the page shows is checked against a recount done here with pandas,
straight from the responses table: counts, their 95% intervals (against a Wilson
formula written out again below), statistics of numbers, cross-tabs, filters. The
page's own objects are read through Flask's template_rendered signal, so what is
checked is what the request drew.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import template_rendered

from survey_engine.catalog import definition_for, find_survey, save_definition
from survey_engine.definition import Definition
from survey_engine.definition.fake import fake_answers
from survey_engine.extensions import db
from survey_engine.figures import quantile
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.localtime import LOCAL_TIME
from survey_engine.models import Response
from survey_engine.results import live as live_module
from survey_engine.results import saved as saved_module
from survey_engine.results.accumulator import Accumulator, accumulate
from survey_engine.results.charts import Bar, Column, bar_chart, column_chart
from survey_engine.results.dashboard import build_dashboard, tally_counts
from survey_engine.results.responses import CHUNK_SIZE, NO_FILTERS
from survey_engine.results.text_answers import fold
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_staff import PASSWORD, login

COUNT = 3000
ANALYST = "phan-tich@example.org"
URL = f"/admin/surveys/{DEMO_SLUG}/results"
TEXT_URL = f"/admin/surveys/{DEMO_SLUG}/results/text"
SELECTS = ("district", "commune", "role", "levels", "support", "concerns", "follow_up")
NUMBERS = ("children", "school_rating", "recommend")
# The responses spread over ten days before this moment, one every few minutes.
LAST = datetime(2026, 11, 20, 23, 0, tzinfo=LOCAL_TIME)
Z = NormalDist().inv_cdf(0.975)


@pytest.fixture(scope="module")
def fake_sets() -> list[dict]:
    """COUNT answer sets made once per module; each test stores them anew."""
    rng = random.Random(20261120)
    definition = Definition(demo_definition())
    return [fake_answers(definition, rng) for _ in range(COUNT)]


def store(
    answer_sets: list[dict],
    version=None,
    start: int = 0,
    minutes: float = 4.8,
    last: datetime = LAST,
) -> None:
    """Store the answer sets as responses `minutes` apart, the newest at `last`."""
    survey = find_survey(DEMO_SLUG)
    version = version or survey.published_version()
    batch = [
        Submission(
            survey.id,
            version.id,
            uuid.uuid4(),
            answers,
            source="fake",
            submitted_at=(last - timedelta(minutes=(start + i) * minutes)).astimezone(UTC),
        )
        for i, answers in enumerate(answer_sets)
    ]
    for i in range(0, len(batch), 1000):
        persist_batch(batch[i : i + 1000])


@pytest.fixture
def filled(app, fake_sets):
    store(fake_sets)
    share_survey(create_user(ANALYST, PASSWORD, "analyst"), find_survey(DEMO_SLUG))
    return app


@pytest.fixture
def analyst(filled):
    client = filled.test_client()
    assert login(client, ANALYST).status_code == 302
    return client


@contextmanager
def rendered(app) -> Iterator[list[dict]]:
    seen: list[dict] = []

    def record(sender, template, context, **extra):
        seen.append(context)

    template_rendered.connect(record, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(record, app)


def page(client, query: str = "", url: str = URL, status: int = 200) -> dict:
    """GET the page; the context its template was drawn with."""
    with rendered(client.application) as seen:
        reply = client.get(url + query)
    assert reply.status_code == status, reply.get_data(as_text=True)[:2000]
    return {**seen[-1], "html": reply.get_data(as_text=True)}


# -- the recount, done here and nowhere else -------------------------------------------


def recount_frame() -> pd.DataFrame:
    """Every stored response: its answers as columns, and `_day` its Vietnam date."""
    survey = find_survey(DEMO_SLUG)
    rows = db.session.execute(
        sa.select(Response.id, Response.submitted_at, Response.answers)
        .where(Response.survey_id == survey.id)
        .order_by(Response.id)
    ).all()
    frame = pd.DataFrame([row.answers for row in rows])
    frame["_id"] = [row.id for row in rows]
    local = pd.to_datetime(pd.Series([row.submitted_at for row in rows]), utc=True)
    frame["_day"] = local.dt.tz_convert("Asia/Ho_Chi_Minh").dt.date
    frame["_hour"] = local.dt.tz_convert("Asia/Ho_Chi_Minh").dt.floor("h").dt.tz_localize(None)
    return frame


def choice_counts(frame: pd.DataFrame, question: str) -> dict[str, int]:
    column = frame[question].dropna()
    if column.map(lambda v: isinstance(v, list)).any():
        column = column.explode()
    return {str(k): int(v) for k, v in column.value_counts().items()}


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's score interval in its other algebraic form, z from the normal quantile."""
    centre = (k + Z * Z / 2) / (n + Z * Z)
    half = Z * math.sqrt(n) / (n + Z * Z) * math.sqrt(k / n * (1 - k / n) + Z * Z / (4 * n))
    return centre - half, centre + half


def assert_counts_equal(dashboard, frame: pd.DataFrame) -> None:
    assert dashboard.responses == len(frame)
    by_name = {q.name: q for q in dashboard.questions}
    for name in SELECTS:
        result = by_name[name]
        answered = int(frame[name].notna().sum()) if name in frame else 0
        assert result.answered.count == answered, name
        expected = choice_counts(frame, name) if answered else {}
        got = {c.name: c.of_answered.count for c in result.choices if c.of_answered.count}
        assert got == expected, name
        for choice in result.choices:
            assert choice.of_answered.total == answered
            assert choice.of_all.total == len(frame)
            if answered:
                low, high = wilson(choice.of_answered.count, answered)
                assert choice.of_answered.interval == pytest.approx((low, high), abs=1e-12)
                low, high = wilson(choice.of_all.count, len(frame))
                assert choice.of_all.interval == pytest.approx((low, high), abs=1e-12)


# -- counts and intervals --------------------------------------------------------------


def test_the_wilson_interval_is_the_published_one():
    # Brown, Cai & DasGupta's examples: 0 of 10, 5 of 10.
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_unfiltered_counts_and_intervals_equal_a_recount(analyst):
    context = page(analyst)
    dashboard = context["dashboard"]
    assert dashboard.from_tallies and dashboard.responses == COUNT
    assert_counts_equal(dashboard, recount_frame())
    assert 'id="response-count" data-source="tallies">3.000<' in context["html"]


def test_number_statistics_equal_pandas(analyst):
    dashboard = page(analyst)["dashboard"]
    frame = recount_frame()
    by_name = {q.name: q for q in dashboard.questions}
    for name in NUMBERS:
        values = pd.to_numeric(frame[name].dropna())
        stats = by_name[name].numbers
        assert stats.count == len(values) == by_name[name].answered.count
        assert stats.mean == pytest.approx(values.mean(), rel=1e-12)
        assert stats.median == values.median()
        assert (stats.q1, stats.q3) == (values.quantile(0.25), values.quantile(0.75))
        assert (stats.minimum, stats.maximum) == (values.min(), values.max())
        counts = values.value_counts()
        for point in by_name[name].distribution:
            assert point.of_answered.count == counts.get(int(point.name), 0), (name, point)
    assert [p.name for p in by_name["recommend"].distribution] == [str(i) for i in range(11)]
    assert [p.name for p in by_name["school_rating"].distribution] == ["1", "2", "3", "4", "5"]


def test_quantiles_from_frequencies_are_pandas_quantiles():
    rng = random.Random(5)
    for size in (1, 2, 3, 10, 101, 1000):
        values = [rng.choice([0.5, 1, 2, 2, 3.25, 7, 7, 7, 10]) for _ in range(size)]
        frequencies = sorted(pd.Series(values).value_counts().items())
        for p in (0, 0.1, 0.25, 0.5, 0.75, 0.9, 1):
            assert quantile(frequencies, size, p) == pytest.approx(
                pd.Series(values).quantile(p), abs=1e-12
            )


def test_time_series_pages_matrix_and_rank_equal_a_recount(analyst):
    context = page(analyst, "?by=day")
    dashboard, series = context["dashboard"], context["series"]
    frame = recount_frame()
    days = frame["_day"].value_counts()
    assert series.unit == "day"
    assert {moment.date(): n for moment, n in series.points if n} == {
        day: int(n) for day, n in days.items()
    }
    hourly = page(analyst, "?by=hour")["series"]
    assert sum(n for _, n in hourly.points) == COUNT
    assert {m: n for m, n in hourly.points if n} == {
        h.to_pydatetime(): int(n) for h, n in frame["_hour"].value_counts().items()
    }
    # No hour is missing between the first and the last: a quiet hour is a 0.
    assert all(
        b[0] - a[0] == timedelta(hours=1)
        for a, b in zip(hourly.points, hourly.points[1:], strict=False)
    )

    pages = {p.name: p for p in dashboard.pages}
    assert pages["about_you"].reached.count == COUNT
    assert pages["contact"].reached.count == int((frame["follow_up"] == "yes").sum())
    contact = [c for c in ("phone", "email", "comment") if c in frame]
    assert pages["contact"].answered.count == int(frame[contact].notna().any(axis=1).sum())

    by_name = {q.name: q for q in dashboard.questions}
    grid = pd.DataFrame(frame["measures"].dropna().tolist())
    for row in by_name["measures"].matrix:
        assert row.answered == int(grid[row.name].notna().sum())
        for cell in row.cells:
            assert cell.of_answered.count == int((grid[row.name] == cell.name).sum())
    ranks = pd.DataFrame(frame["priorities"].dropna().tolist())
    for item in by_name["priorities"].rank:
        positions = [(ranks[c] == item.name).sum() * (c + 1) for c in ranks.columns]
        assert item.mean_position == pytest.approx(sum(positions) / len(ranks))
        assert item.first.count == int((ranks[0] == item.name).sum())


def test_crosstab_equals_a_pandas_crosstab(analyst):
    crosstab = page(analyst, "?row=district&col=support")["dashboard"].crosstab
    frame = recount_frame()
    expected = pd.crosstab(frame["district"], frame["support"])
    row_pct = pd.crosstab(frame["district"], frame["support"], normalize="index")
    col_pct = pd.crosstab(frame["district"], frame["support"], normalize="columns")
    assert crosstab.total == len(frame[["district", "support"]].dropna())
    for row in expected.index:
        for col in expected.columns:
            assert crosstab.count(row, col) == expected.loc[row, col]
            share = crosstab.row_share(row, col)
            assert share.ratio == pytest.approx(row_pct.loc[row, col], abs=1e-12)
            assert share.interval == pytest.approx(wilson(share.count, share.total), abs=1e-12)
            share = crosstab.col_share(row, col)
            assert share.ratio == pytest.approx(col_pct.loc[row, col], abs=1e-12)
    # A select_multiple: a respondent counts under each choice they made.
    crosstab = page(analyst, "?row=concerns&col=district")["dashboard"].crosstab
    both = frame[["concerns", "district"]].dropna()
    exploded = both.explode("concerns")
    expected = pd.crosstab(exploded["concerns"], exploded["district"])
    for row in expected.index:
        assert crosstab.row_totals[row] == int((exploded["concerns"] == row).sum())
        for col in expected.columns:
            assert crosstab.count(row, col) == expected.loc[row, col]
            assert crosstab.col_share(row, col).total == int((both["district"] == col).sum())
    assert crosstab.total == len(both)


def test_the_page_shows_the_numbers_it_counted(analyst):
    html = page(analyst, "?row=district&col=support")["html"]
    frame = recount_frame()
    da_lat = int((frame["district"] == "da_lat").sum())
    shown = f"{da_lat:,}".replace(",", ".")  # Vietnamese: 1.234
    assert f'<th scope="row">Thành phố Đà Lạt</th><td class="num">{shown}</td>' in html
    assert html.count('role="img"') >= 10 and "<title id=" in html and "<desc id=" in html
    assert 'id="crosstab-count"' in html and 'id="crosstab-row"' in html


# -- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "?f.district=da_lat",
        "?f.district=da_lat&f.district=bao_loc&f.support=no",
        "?f.concerns=transport",
        "?from=2026-11-14&to=2026-11-16",
        "?f.role=parent&from=2026-11-18",
    ],
)
def test_filters_change_the_counts_as_the_recount_does(analyst, query):
    dashboard = page(analyst, query)["dashboard"]
    assert not dashboard.from_tallies and dashboard.all_responses == COUNT
    frame = recount_frame()
    keep = pd.Series(True, index=frame.index)
    for key in dict.fromkeys(re.findall(r"[?&]f\.(\w+)=", query)):
        values = re.findall(rf"f\.{key}=(\w+)", query)
        if key == "concerns":
            keep &= frame[key].map(
                lambda v, values=values: isinstance(v, list) and any(x in values for x in v)
            )
        else:
            keep &= frame[key].isin(values)
    since = re.search(r"from=([\d-]+)", query)
    until = re.search(r"to=([\d-]+)", query)
    if since:
        keep &= frame["_day"] >= date.fromisoformat(since.group(1))
    if until:
        keep &= frame["_day"] <= date.fromisoformat(until.group(1))
    expected = frame[keep]
    assert 0 < len(expected) < COUNT
    assert_counts_equal(dashboard, expected)
    numbers = {q.name: q.numbers for q in dashboard.questions}
    assert numbers["school_rating"].mean == pytest.approx(
        pd.to_numeric(expected["school_rating"].dropna()).mean()
    )


def test_the_filter_form_carries_the_filters(analyst):
    html = page(analyst, "?f.district=da_lat&from=2026-11-14&row=district&col=support")["html"]
    assert '<option value="da_lat" selected>' in html
    assert 'name="from" value="2026-11-14"' in html
    assert '<input type="hidden" name="f.district" value="da_lat">' in html  # cross-tab form
    assert '<input type="hidden" name="row" value="district">' in html  # filter form


@pytest.mark.parametrize(
    "query, words",
    [
        ("?f.nope=1", "nope"),
        ("?f.comment=x", "comment"),
        ("?f.district=nowhere", "nowhere"),
        ("?from=yesterday", "yesterday"),
        ("?from=2026-11-20&to=2026-11-01", "2026-11-20"),
        ("?row=district&col=comment", "comment"),
        ("?row=district&col=district", "different"),
        ("?row=district", "columns"),
    ],
)
def test_bad_filters_are_a_400_that_says_why(analyst, query, words):
    analyst.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the message asserted in English
    context = page(analyst, query, status=400)
    assert 'role="alert"' in context["html"] and words in context["html"]
    page(analyst, "?f.nope=1", url=f"{TEXT_URL}/comment", status=400)


def test_unknown_text_field_is_404(analyst):
    assert analyst.get(f"{TEXT_URL}/district").status_code == 404
    assert analyst.get(f"{TEXT_URL}/nothing").status_code == 404
    assert analyst.get(f"{TEXT_URL}/concerns_other").status_code == 200


# -- where the numbers come from, and the cache ----------------------------------------


def test_unfiltered_counts_come_from_the_tallies(analyst):
    frame = recount_frame()
    da_lat = int((frame["district"] == "da_lat").sum())
    page(analyst)  # the cache is warm for the unfiltered view

    statements: list[str] = []

    def watch(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", watch)
    try:
        counts = tally_counts(find_survey(DEMO_SLUG).id)
        page(analyst)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", watch)
    # Neither the counts nor a warm page read a single response: the newest id (an
    # index lookup, live.freshness) is all a warm page asks of the responses table.
    assert statements and not [
        s for s in statements if re.search(r"\bresponses\b", s) and "max(responses.id)" not in s
    ]
    assert counts[("district", "da_lat")] == da_lat and counts[("", "")] == COUNT

    # Rows taken from the responses table behind the tallies' back, and the cache
    # emptied: the unfiltered counts (the tallies) do not move; views counted from
    # the responses do.
    doomed = frame.loc[frame["district"] == "da_lat", "_id"].tolist()
    db.session.execute(sa.delete(Response).where(Response.id.in_(doomed)))
    db.session.commit()
    analyst.application.extensions["results_cache"].clear()
    dashboard = page(analyst)["dashboard"]
    district = {q.name: q for q in dashboard.questions}["district"]
    assert dashboard.responses == COUNT
    assert {c.name: c.of_answered.count for c in district.choices}["da_lat"] == da_lat
    numbers = {q.name: q.numbers for q in dashboard.questions}  # these are the scan's
    assert numbers["school_rating"].count == int(
        frame.loc[frame["district"] != "da_lat", "school_rating"].notna().sum()
    )
    assert page(analyst, "?f.district=da_lat")["dashboard"].responses == 0
    assert page(analyst, "?f.district=bao_loc")["dashboard"].responses == int(
        (frame["district"] == "bao_loc").sum()
    )


def test_the_cache_serves_until_a_new_response_arrives(analyst, monkeypatch, fake_sets):
    calls: list[tuple] = []
    prepare = live_module.prepare

    def counted(*args, **kwargs):
        calls.append(args)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(live_module, "prepare", counted)
    query = "?f.district=da_lat"
    first = page(analyst, query)["dashboard"]
    assert page(analyst, query)["dashboard"].responses == first.responses
    assert len(calls) == 1  # the second view was the cache's

    answers = next(a for a in fake_sets if a["district"] == "da_lat")
    store([answers])
    second = page(analyst, query)["dashboard"]
    assert len(calls) == 2
    assert second.responses == first.responses + 1
    assert second.all_responses == COUNT + 1
    support = {q.name: q for q in second.questions}["support"]
    before = {q.name: q for q in first.questions}["support"]
    assert {c.name: c.of_answered.count for c in support.choices}[answers["support"]] == {
        c.name: c.of_answered.count for c in before.choices
    }[answers["support"]] + 1
    # The cache stays bounded, and an old count's entries go when a new one comes.
    cache = analyst.application.extensions["results_cache"]
    # (The count with the newest id: live.freshness; here the ids run 1..COUNT + 1.)
    assert [count for (count, _newest), _ in cache.values()] == [COUNT + 1]
    for district in ("bao_loc", "duc_trong", "di_linh", "bao_lam", "lam_ha"):
        page(analyst, f"?f.district={district}")
    monkeypatch.setitem(analyst.application.config, "RESULTS_CACHE_ENTRIES", 3)
    page(analyst, "?f.district=cat_tien")
    assert len(cache) == 3


# -- scans carried on from the last one -------------------------------------------------

# Unfiltered; a choice; a cross-tab in a date range; both kinds of filter and a date
# range the new responses (submitted after LAST) fall outside.
VIEWS = (
    "",
    "?f.district=da_lat",
    "?from=2026-11-14&row=district&col=support",
    "?f.role=parent&to=2026-11-15&row=concerns&col=district",
)


def watch_reads(monkeypatch) -> list[tuple[int, list[int]]]:
    """(after_id, the ids it yielded) of each pass the dashboard makes from now on."""
    passes: list[tuple[int, list[int]]] = []
    original = saved_module.response_chunks

    def counted(survey_id, filters=NO_FILTERS, chunk_size=CHUNK_SIZE, after_id=0, reads=None):
        ids: list[int] = []
        passes.append((after_id, ids))
        for chunk in original(survey_id, filters, chunk_size, after_id=after_id, reads=reads):
            ids.extend(row.id for row in chunk)
            yield chunk

    monkeypatch.setattr(saved_module, "response_chunks", counted)
    return passes


def cached_scans(app) -> dict[tuple, Accumulator]:
    return {
        key: scan
        for key, (_, scan) in app.extensions["results_cache"].items()
        if key[0] == "counts"
    }


def state(scan: Accumulator) -> dict:
    return {f.name: getattr(scan, f.name) for f in dataclasses.fields(scan) if f.name != "survey"}


def assert_as_a_full_scan(app, context: dict) -> None:
    """The page's numbers, and the scan cached for it, are those of a scan from scratch."""
    merged, filters, spec = context["merged"], context["filters"], context["crosstab_spec"]
    survey = find_survey(DEMO_SLUG)
    fresh = accumulate(survey.id, merged, filters, spec)
    counts = None if filters else tally_counts(survey.id)
    assert context["dashboard"] == build_dashboard(
        merged, fresh, context["lang"], context["dashboard"].all_responses, counts
    )
    # key: kind, survey id, created_at, versions, review stamp, then the view
    [scan] = [scan for key, scan in cached_scans(app).items() if key[5:7] == (filters, spec)]
    assert state(scan) == state(fresh)


def newest_response_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(Response.id)))


def test_new_responses_are_counted_on_from_the_last_scan(analyst, monkeypatch, fake_sets):
    for query in VIEWS:
        page(analyst, query)
    app = analyst.application
    before = {key: (scan, copy.deepcopy(state(scan))) for key, scan in cached_scans(app).items()}
    assert len(before) == len(VIEWS)
    last_id = newest_response_id()
    reads = watch_reads(monkeypatch)
    new = 150
    store(fake_sets[:new], start=-new)  # after LAST, so the date ranges tell them apart
    contexts = [page(analyst, query) for query in VIEWS]

    # Each view read the responses stored since its last pass, and nothing else.
    assert [after for after, _ in reads] == [last_id] * len(VIEWS)
    assert reads[0][1] == list(range(last_id + 1, last_id + new + 1))
    assert all(set(ids) <= set(reads[0][1]) for _, ids in reads)
    assert reads[-1][1] == []  # the new ones are after its date range
    assert contexts[0]["dashboard"].responses == COUNT + new
    # The scans another request may still be reading were copied, not added to.
    for key, (scan, counted) in before.items():
        assert state(scan) == counted and cached_scans(app)[key] is not scan
    for context in contexts:
        assert_as_a_full_scan(app, context)


@pytest.mark.parametrize("change", ["late", "deleted"])
def test_a_response_committed_late_or_deleted_below_the_last_read_means_a_rescan(
    analyst, monkeypatch, fake_sets, change
):
    """Two drain workers: the one with the lower ids may commit after a view read past
    them. A scan carried on from there would miss that response for good."""
    app = analyst.application
    # Submitted on 15 November, inside every view's date range.
    noon = datetime(2026, 11, 15, 12, tzinfo=LOCAL_TIME).astimezone(UTC)
    below = db.session.scalar(
        sa.select(sa.func.min(Response.id)).where(
            Response.submitted_at.between(noon - timedelta(hours=1), noon)
        )
    )
    row = dict(
        db.session.execute(sa.select(Response.__table__).where(Response.id == below))
        .mappings()
        .one()
    )
    if change == "late":  # not committed yet when the views are first drawn
        db.session.execute(sa.delete(Response).where(Response.id == below))
        db.session.commit()
    for query in VIEWS:
        page(analyst, query)
    reads = watch_reads(monkeypatch)
    if change == "late":
        db.session.execute(sa.insert(Response.__table__).values(**row))
    else:
        db.session.execute(sa.delete(Response).where(Response.id == below))
    db.session.commit()
    store(fake_sets[:1], start=-1)  # and the count moves on

    contexts = [page(analyst, query) for query in VIEWS]
    assert [after for after, _ in reads] == [0] * len(VIEWS)  # from scratch, every view
    stored = len(recount_frame())
    assert stored == (COUNT + 1 if change == "late" else COUNT)
    for context in contexts:
        assert_as_a_full_scan(app, context)
    [unfiltered] = [
        scan for key, scan in cached_scans(app).items() if key[5:7] == (NO_FILTERS, None)
    ]
    assert unfiltered.responses == stored
    assert unfiltered.last_id == newest_response_id() and unfiltered.seen == stored


# -- free text -------------------------------------------------------------------------


def test_text_answers_are_searched_without_tone_marks_and_paged(analyst):
    frame = recount_frame()
    comments = frame[["_id", "comment"]].dropna()
    matching = comments[comments["comment"].str.lower().str.contains("đảm bảo")]
    assert fold("Đảm BẢO") == "dam bao"
    first = page(analyst, "?q=dam+bao", url=f"{TEXT_URL}/comment")
    answers = first["answers"]
    assert answers.total == len(matching) > 50
    assert [a.response_id for a in answers.items] == sorted(matching["_id"], reverse=True)[:50]
    last = page(analyst, f"?q=dam+bao&page={answers.pages}", url=f"{TEXT_URL}/comment")
    assert [a.response_id for a in last["answers"].items] == sorted(matching["_id"], reverse=True)[
        (answers.pages - 1) * 50 :
    ]
    everything = page(analyst, "", url=f"{TEXT_URL}/comment")["answers"]
    assert everything.total == len(comments)
    filtered = page(analyst, "?f.district=da_lat", url=f"{TEXT_URL}/comment")["answers"]
    assert filtered.total == int(frame.loc[frame["district"] == "da_lat", "comment"].notna().sum())
    assert 'rel="next"' in first["html"]
    other = page(analyst, "", url=f"{TEXT_URL}/concerns_other")["answers"]
    assert other.total == int(frame["concerns_other"].notna().sum()) > 0


# -- several versions ------------------------------------------------------------------


def test_several_published_versions_count_together(analyst, fake_sets):
    data = copy.deepcopy(demo_definition())
    data["choice_lists"]["support"].append({"name": "later", "label": {"vi": "Để sau"}})
    data["pages"][1]["questions"] = [
        q for q in data["pages"][1]["questions"] if q["name"] != "recommend"
    ]
    save_definition(data, publish=True)
    survey = find_survey(DEMO_SLUG)
    v2 = survey.published_version()
    assert v2.number == 2
    definition = definition_for(v2)
    rng = random.Random(2)
    newer = []
    while len(newer) < 200:
        answers = fake_answers(definition, rng)
        if len(newer) < 50:
            answers["support"] = "later"
        newer.append(answers)
    store(newer, v2, start=COUNT)

    frame = recount_frame()
    for query in ("", "?f.role=parent"):
        dashboard = page(analyst, query)["dashboard"]
        expected = frame if not query else frame[frame["role"] == "parent"]
        assert_counts_equal(dashboard, expected)
        by_name = {q.name: q for q in dashboard.questions}
        # The answers to version 1's question still count; version 2's choice too.
        assert by_name["recommend"].numbers.count == int(expected["recommend"].notna().sum())
        later = {c.name: c for c in by_name["support"].choices}["later"]
        assert later.of_answered.count == int((expected["support"] == "later").sum())
    assert later.label == "Để sau"


# -- escaping --------------------------------------------------------------------------


def test_labels_and_answers_are_escaped_in_svg_and_html(analyst):
    data = copy.deepcopy(demo_definition())
    data["choice_lists"]["districts"][0]["label"] = {
        "vi": "<script>alert('x')</script>",
        "en": "<b>Da Lat</b>",
    }
    data["pages"][0]["questions"][3]["label"] = {"vi": 'Huyện "<img src=x onerror=alert(1)>"'}
    save_definition(data, publish=True)
    survey = find_survey(DEMO_SLUG)
    version = survey.published_version()
    answers = {
        **fake_answers(definition_for(version), random.Random(1)),
        "district": "da_lat",
        "commune": "dl_p1",
        "follow_up": "yes",
        "phone": "0912345678",
        "comment": "<script>alert('comment')</script>",
    }
    store([answers], version, start=COUNT)
    html = page(analyst, "?row=district&col=support")["html"]
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    svg = re.search(r'<svg[^>]*id="chart-district".*?</svg>', html, re.S).group(0)
    assert "&lt;script&gt;" in svg and "&lt;img src=x" in svg
    text = page(analyst, "?q=alert", url=f"{TEXT_URL}/comment")["html"]
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#39;comment" in text


def test_charts_escape_and_describe_themselves():
    svg = bar_chart(
        'x"><script>',
        "<t>",
        "<d>",
        [
            Bar("<script>alert(1)</script>", 0.5, (0.4, 0.6), "50%", "<1 of 2>"),
            Bar("", None, None, "–"),
        ],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'role="img"' in svg and "<title id=" in svg and "&lt;t&gt;" in svg
    assert 'id="x---script-"' in svg
    assert 'width="40%"' in svg  # half of the track (80% of the width)
    columns = column_chart("c", "T", "D", [Column(3, "<a>", "<t>"), Column(0, "b")])
    assert "<a>" not in columns and "&lt;a&gt;" in columns and "&lt;t&gt;" in columns


def test_before_publishing_there_is_nothing_to_show(filled):
    save_definition({**demo_definition(), "slug": "nhap"})
    share_survey(create_user("nhap@example.org", PASSWORD, "analyst"), find_survey("nhap"))
    client = filled.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, "nhap@example.org").status_code == 302
    reply = client.get("/admin/surveys/nhap/results")
    assert reply.status_code == 200 and "published" in reply.get_data(as_text=True)
    assert client.get("/admin/surveys/nhap/results/text/comment").status_code == 404


def test_filters_that_keep_nothing_show_an_empty_page(analyst):
    context = page(analyst, "?from=2030-01-01&row=district&col=support")
    assert context["dashboard"].responses == 0 and context["dashboard"].all_responses == COUNT
    assert 'id="no-responses"' in context["html"]
    assert context["dashboard"].crosstab.total == 0


def test_the_dashboard_offers_an_export_of_what_it_shows(analyst):
    html = page(analyst, "?f.district=da_lat&from=2020-01-01")["html"]
    link = re.search(r'id="export-these" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith(f"/admin/surveys/{DEMO_SLUG}/exports?")
    assert "f.district=da_lat" in link and "from=2020-01-01" in link
    # The exports page carries those filters into the export it starts.
    form = analyst.get(link).get_data(as_text=True)
    assert 'name="f.district" value="da_lat"' in form


def test_rows_behind_the_tallies_back_leave_the_dashboard_readable(filled, analyst):
    """Responses restored straight into the table, before `recount --fix`: the tallies
    count fewer than the rows. The page still draws (no interval where a share would
    pass 100%); it was a 500 (math domain error in the Wilson interval)."""
    survey = find_survey(DEMO_SLUG)
    row = db.session.scalars(
        sa.select(Response)
        .where(Response.survey_id == survey.id, Response.answers["priorities"].is_not(None))
        .limit(1)
    ).one()
    db.session.execute(
        sa.insert(Response),
        [
            {
                "survey_id": survey.id,
                "version_id": row.version_id,
                "submission_id": uuid.uuid4(),
                "answers": row.answers,
                "source": "api",
                "meta": {},
                "submitted_at": row.submitted_at,
            }
            for _ in range(COUNT + 100)
        ],
    )  # one answer set, more often than all tallied ones
    db.session.commit()
    context = page(analyst)
    assert context["dashboard"].responses == COUNT  # the tallies, not yet recounted
    assert "<svg" in context["html"]
