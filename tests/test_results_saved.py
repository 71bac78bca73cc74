"""The dashboard's counts saved in the database (results/saved.py, results/codec.py):
a restarted app carries on from them, the workers read on between drain batches, a
view with too much to read is counted by a job while the page says how far.

Each check compares with a scan from scratch (accumulate) over the same responses,
and counts the rows read through saved.response_chunks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.catalog import find_survey, save_definition, set_status
from survey_engine.definition.merged import MergedSurvey
from survey_engine.extensions import db
from survey_engine.jobs import advance_saved_results
from survey_engine.localtime import LOCAL_TIME, aware
from survey_engine.models import Response, ResultState
from survey_engine.results import saved as saved_module
from survey_engine.results.accumulator import Accumulator, accumulate
from survey_engine.results.codec import decode, decode_state, encode, encode_state
from survey_engine.results.dashboard import build_dashboard, tally_counts
from survey_engine.results.report import merged_survey, results_json
from survey_engine.results.saved import View
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import DEMO_SLUG, TEST_REDIS_URL, demo_definition, make_app
from tests.test_results import (  # noqa: F401 (fixtures)
    ANALYST,
    COUNT,
    VIEWS,
    analyst,
    fake_sets,
    filled,
    page,
    state,
    store,
    watch_reads,
)
from tests.test_staff import PASSWORD, csrf_token, login
from workers.main import run_worker


def restarted(database_url: str, **config):
    """A new app on the same database (a restart: empty caches), signed in."""
    app = make_app(database_url, **config)
    client = app.test_client()
    with app.app_context():
        assert login(client, ANALYST).status_code == 302
    return app, client


def full_scan(context: dict) -> Accumulator:
    survey = find_survey(DEMO_SLUG)
    return accumulate(survey.id, context["merged"], context["filters"], context["crosstab_spec"])


def assert_as_a_full_scan(context: dict) -> None:
    """The page's numbers are those of a scan from scratch."""
    fresh = full_scan(context)
    counts = None if context["filters"] else tally_counts(find_survey(DEMO_SLUG).id)
    assert context["counting"] is None
    assert context["dashboard"] == build_dashboard(
        context["merged"], fresh, context["lang"], context["dashboard"].all_responses, counts
    )


def saved_states() -> dict[str, ResultState]:
    db.session.expire_all()
    return {row.view_key: row for row in db.session.scalars(sa.select(ResultState))}


# -- the codec -------------------------------------------------------------------------


def test_a_scan_comes_back_from_json_as_it_was(filled, fake_sets):
    survey = find_survey(DEMO_SLUG)
    merged = merged_survey(survey)
    for view in (View(), View(crosstab=saved_module.CrossTabSpec("district", "support"))):
        scan = accumulate(survey.id, merged, view.filters, view.crosstab)
        text = json.dumps(encode_state(scan, omit=saved_module.CONTEXT_FIELDS))
        back = decode_state(Accumulator, json.loads(text), survey=merged, crosstab=view.crosstab)
        assert state(back) == state(scan)
        assert back.first.tzinfo == scan.first.tzinfo == LOCAL_TIME
        # Float keys stay floats, datetime keys datetimes, tuple keys tuples.
        assert all(isinstance(k, float) for c in back.values.values() for k in c)
        assert all(isinstance(k, datetime) for k in back.hours)
        assert all(isinstance(k, tuple) for k in back.counts)


KEYS = st.one_of(
    st.text(max_size=8),
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.sampled_from([None, UTC, LOCAL_TIME])),
    st.tuples(st.text(max_size=4), st.text(max_size=4)),
)
VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.datetimes(timezones=st.sampled_from([None, UTC, LOCAL_TIME])),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
        st.builds(Counter, st.dictionaries(KEYS, st.integers(), max_size=4)),
        st.tuples(inner, inner),
    ),
    max_leaves=12,
)


def same(a, b) -> bool:
    """Equal, NaN equal to NaN, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime):
        return a == b and a.tzinfo == b.tzinfo
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            any(same(k, j) for j in b) and same(v, b[k]) for k, v in a.items()
        )
    return a == b


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_any_value_of_those_kinds_round_trips_through_json(value):
    assert same(decode(json.loads(json.dumps(encode(value), allow_nan=False))), value)


def test_the_codec_follows_the_fields_of_whatever_dataclass():
    @dataclasses.dataclass
    class Other:
        context: object = None
        total: int = 0
        by_day: dict[str, Counter] = dataclasses.field(default_factory=dict)

    other = Other("ignored", 3, {"a": Counter({(1.5, "x"): 2})})
    back = decode_state(Other, encode_state(other, omit=("context",)), context="given")
    assert (back.context, back.total, back.by_day) == ("given", 3, other.by_day)


# -- a restart -------------------------------------------------------------------------


def test_a_restarted_app_shows_every_view_from_saved_state_without_reading_old_responses(
    analyst, database_url, monkeypatch, fake_sets
):
    for query in VIEWS:
        page(analyst, query)
    states = saved_states()
    assert len(states) == len(VIEWS) and "" in states
    newest = db.session.scalar(sa.select(sa.func.max(Response.id)))
    assert {row.last_id for row in states.values()} == {newest}
    assert states[""].seen == COUNT

    app, client = restarted(database_url)
    reads = watch_reads(monkeypatch)
    for query in VIEWS:
        context = page(client, query)
        assert_as_a_full_scan(context)
    assert reads == []  # nothing read: all from the saved states

    # New responses: only they are read, and the figures are a full recount's.
    store(fake_sets[:120], start=-120)
    app, client = restarted(database_url)
    reads = watch_reads(monkeypatch)
    for query in VIEWS:
        assert_as_a_full_scan(page(client, query))
    assert [after for after, _ in reads] == [newest] * len(VIEWS)
    assert reads[0][1] == list(range(newest + 1, newest + 121))
    assert saved_states()[""].seen == COUNT + 120


@pytest.mark.parametrize("change", ["new version", "deleted"])
def test_a_new_version_or_deleted_responses_start_over(
    analyst,
    database_url,
    monkeypatch,
    fake_sets,
    change,
):
    page(analyst)
    if change == "new version":
        definition = demo_definition()
        definition["title"] = {"vi": "Phiên bản mới", "en": "A new version"}
        save_definition(definition, publish=True)
    else:
        doomed = db.session.scalar(sa.select(sa.func.min(Response.id)))
        db.session.execute(sa.delete(Response).where(Response.id == doomed))
        db.session.commit()
    store(fake_sets[:1], start=-1)
    app, client = restarted(database_url)
    reads = watch_reads(monkeypatch)
    context = page(client)
    assert [after for after, _ in reads] == [0]  # from the first response
    assert_as_a_full_scan(context)
    row = saved_states()[""]
    assert row.seen == (COUNT + 1 if change == "new version" else COUNT)
    assert list(row.versions) == list(context["merged"].version_ids)


# -- the workers read on ---------------------------------------------------------------


def test_the_workers_read_on_saved_views_a_bounded_share_at_a_time(analyst, fake_sets):
    for query in VIEWS[:2]:
        page(analyst, query)
    before = saved_states()[""].last_id
    store(fake_sets[:150], start=-150)
    newest = db.session.scalar(sa.select(sa.func.max(Response.id)))
    assert advance_saved_results(100) == 100  # the unfiltered view, used last... or not
    assert advance_saved_results(10_000) > 0
    assert advance_saved_results(10_000) == 0  # nothing left behind
    states = saved_states()
    assert {row.last_id for row in states.values()} == {newest}
    assert states[""].seen == COUNT + 150 > before
    survey = find_survey(DEMO_SLUG)
    merged = merged_survey(survey)
    for row in states.values():
        view = View.from_json(row.view, merged)
        scan = saved_module.load(survey.id, merged, view)
        assert state(scan) == state(accumulate(survey.id, merged, view.filters, view.crosstab))


def test_the_workers_leave_views_nobody_asked_for_in_a_month(analyst, fake_sets):
    page(analyst)
    page(analyst, VIEWS[1])
    long_ago = datetime.now(UTC) - timedelta(days=31)
    db.session.execute(
        sa.update(ResultState).where(ResultState.view_key != "").values(used_at=long_ago)
    )
    db.session.commit()
    before = {key: row.last_id for key, row in saved_states().items()}
    store(fake_sets[:10], start=-10)
    advance_saved_results(1000)
    after = {key: (row.last_id, row.used_at) for key, row in saved_states().items()}
    [old_key] = [key for key in before if key]
    assert after[old_key][0] == before[old_key]  # left as it was
    assert after[""][0] > before[""]
    page(analyst, VIEWS[1])  # asked for again: read on, and used now
    row = saved_states()[old_key]
    assert row.last_id == after[""][0] and aware(row.used_at) > long_ago + timedelta(days=30)


def test_the_drain_reads_on_between_batches_without_any_request(
    analyst, database_url, redis_client, fake_sets
):
    page(analyst)
    before = saved_states()[""].last_id
    store(fake_sets[:150], start=-150)
    app = make_app(database_url, REDIS_URL=TEST_REDIS_URL)
    run_worker(app, burst=True, jobs=False)  # its idle share, when caught up
    row = saved_states()[""]
    assert row.seen == COUNT + 150 and row.last_id > before
    assert row.last_id == db.session.scalar(sa.select(sa.func.max(Response.id)))


# -- too much to read in a request -----------------------------------------------------


def test_an_unfiltered_view_over_budget_shows_the_tallies_and_is_counted_by_a_job(
    database_url, redis_client, filled
):
    share = dict(
        REDIS_URL=TEST_REDIS_URL, RESULTS_REQUEST_SCAN_ROWS=1000, RESULTS_JOB_STEP_ROWS=700
    )
    app, client = restarted(database_url, **share)
    with app.app_context():
        context = page(client)
        counting = context["counting"]
        assert (counting.counted, counting.total, counting.start_job) == (0, COUNT, True)
        assert 'id="counting"' in context["html"] and 'http-equiv="refresh"' in context["html"]
        assert "Đang đếm 3.000 câu trả lời: 0,0%" in context["html"]
        # What the tallies hold is shown at once: the counts of choices.
        dashboard = context["dashboard"]
        assert dashboard.from_tallies and dashboard.responses == COUNT
        assert dashboard.questions[1].choices and dashboard.hours == {}
        assert redis_client.llen("rq:queue:default") == 1
        page(client)  # asked again while the job is queued: not queued twice
        assert redis_client.llen("rq:queue:default") == 1

        run_worker(app, burst=True)
        final = page(client)
        assert_as_a_full_scan(final)
        assert saved_states()[""].queued_at is None


def test_a_filtered_view_over_budget_says_so_until_the_job_in_a_thread_is_done(
    database_url, filled
):
    """Inline mode (no Redis): the job runs in a thread of the web process."""
    app, client = restarted(database_url, RESULTS_REQUEST_SCAN_ROWS=1000, RESULTS_JOB_STEP_ROWS=500)
    with app.app_context():
        context = page(client, "?f.district=da_lat")
        assert context["counting"] is not None and context["counting"].total == COUNT
        assert 'id="response-count"' in context["html"]
        assert 'id="no-responses"' not in context["html"]
        for thread in app.extensions["background_jobs"]:
            thread.join(60)
        assert_as_a_full_scan(page(client, "?f.district=da_lat"))


def test_a_job_half_way_shows_its_progress_and_a_stale_one_is_queued_again(database_url, filled):
    survey = find_survey(DEMO_SLUG)
    merged: MergedSurvey = merged_survey(survey)
    step = saved_module.advance(survey.id, merged, View(), None, max_rows=1200)
    saved_module.save(survey.id, merged, View(), step.scan, queued=True)
    db.session.commit()
    app, client = restarted(database_url, RESULTS_REQUEST_SCAN_ROWS=1000)
    with app.app_context():
        counting = page(client)["counting"]
        assert (counting.counted, counting.total, counting.start_job) == (1200, COUNT, False)
        assert "background_jobs" not in app.extensions  # the job in charge is not doubled
        db.session.execute(
            sa.update(ResultState).values(
                queued_at=datetime.now(UTC) - timedelta(hours=1),
                updated_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
        db.session.commit()
        assert page(client)["counting"].start_job  # nothing heard for an hour: again
        for thread in app.extensions["background_jobs"]:
            thread.join(60)
        assert_as_a_full_scan(page(client))


API = f"/api/v1/surveys/{DEMO_SLUG}/results"


def test_the_api_over_budget_answers_202_with_the_tallies_until_the_job_is_done(
    database_url, redis_client, monkeypatch, filled
):
    """The results API reads through the dashboard's cache and saved state, within the
    same budget: over it, 202 with what the tallies know and the job's progress."""
    app, client = restarted(
        database_url,
        REDIS_URL=TEST_REDIS_URL,
        RESULTS_REQUEST_SCAN_ROWS=1000,
        RESULTS_JOB_STEP_ROWS=500,
    )
    with app.app_context():
        reads = watch_reads(monkeypatch)
        reply = client.get(API)
        assert reply.status_code == 202 and reply.headers["Retry-After"] == "5"
        body = reply.get_json()
        assert (body["status"], body["complete"]) == ("counting", False)
        assert body["progress"] == {"counted": 0, "total": COUNT, "ratio": 0.0}
        tallies = tally_counts(find_survey(DEMO_SLUG).id)
        assert body["responses"] == COUNT and body["pages"] == {}
        district = body["questions"]["district"]
        assert district["answered"] == tallies[("district", "")]
        assert district["counts"] == {
            choice: n for (q, choice), n in tallies.items() if q == "district" and choice and n
        }
        filtered = client.get(API + "?f.district=da_lat")
        assert filtered.status_code == 202
        assert filtered.get_json()["responses"] is None
        assert filtered.get_json()["questions"] == {}
        assert reads == []  # no request read a response: the jobs will
        assert redis_client.llen("rq:queue:default") == 2
        run_worker(app, burst=True)
        assert reads
        reads.clear()

        done = client.get(API)
        assert done.status_code == 200 and "Retry-After" not in done.headers
        body = done.get_json()
        assert (body["status"], body["complete"]) == ("complete", True)
        assert "progress" not in body and body["pages"]
        context = page(client)  # the dashboard: from the same cache, nothing read again
        assert_as_a_full_scan(context)
        assert body.pop("quotas") == {}  # the API's own addition: the demo has none
        assert body == results_json(
            DEMO_SLUG, context["merged"], context["filters"], context["dashboard"]
        )
        assert reads == []  # the API and the page: the saved state, nothing read again


def test_deleting_the_survey_deletes_its_saved_states(analyst, database_url, fake_sets):
    page(analyst)
    assert saved_states()
    survey = find_survey(DEMO_SLUG)
    admin_email = "quan-tri@example.org"
    create_user(admin_email, PASSWORD, "admin")
    share_survey(create_user("x@example.org", PASSWORD, "analyst"), survey)
    client = analyst.application.test_client()
    assert login(client, admin_email).status_code == 302
    set_status(survey, "closed")
    reply = client.post(
        f"/admin/surveys/{DEMO_SLUG}/delete",
        data={"confirm_slug": DEMO_SLUG, "csrf_token": csrf_token(client)},
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)[:500]
    assert saved_states() == {}
