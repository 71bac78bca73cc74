"""The results as the dashboard and the results API read them, within a request's budget.

A view's counts (results/accumulator.py) are kept in an in-process cache until the
survey's response count moves on (or staff review its responses: a new key), then
carried on over the responses stored since, or
from the state saved in the database (results/saved.py) after a restart. When more than
RESULTS_REQUEST_SCAN_ROWS responses are left to read, a job counts them and the caller
gets an empty accumulator and how far that job has come: the page and the API then
show the tallies' counts and say the rest is being counted. One cache for both, so
they show the same numbers and neither reads a million responses in a request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import current_app

from survey_engine.definition.merged import MergedSurvey
from survey_engine.models import Survey
from survey_engine.queue import enqueue_background
from survey_engine.replica import reading
from survey_engine.results.accumulator import Accumulator
from survey_engine.results.responses import newest_id
from survey_engine.results.review import review_stamp
from survey_engine.results.saved import Counting, View, prepare

CACHE_ENTRIES = 32  # RESULTS_CACHE_ENTRIES overrides; each entry is counters, not rows
COUNT_JOB_TIMEOUT = 3 * 3600  # seconds: a million responses take about a minute
_cache_lock = threading.Lock()


def cached(key: tuple, count: Any, compute: Callable[[Any], Any]) -> Any:
    """What a view (`key`) shows, kept until the survey's response count moves on.
    Then compute(previous) makes it anew, `previous` being what the view showed at the
    older count (None if nothing), for a scan to carry on from; it is replaced, never
    changed, as other requests may be reading it. An app's own dict, one entry per
    view, least recently used dropped first; a Counting (not ready) is not kept."""
    cache: OrderedDict = current_app.extensions.setdefault("results_cache", OrderedDict())
    with _cache_lock:
        held = cache.get(key)
        if held is not None:
            cache.move_to_end(key)
            if held[0] == count:
                return held[1]
    # Outside the lock: two requests may both compute it, once.
    value = compute(held[1] if held else None)
    if isinstance(value, Counting):  # not ready: ask again next time
        return value
    with _cache_lock:
        cache[key] = (count, value)
        cache.move_to_end(key)
        limit = current_app.config.get("RESULTS_CACHE_ENTRIES", CACHE_ENTRIES)
        while len(cache) > limit:
            cache.popitem(last=False)
    return value


def freshness(survey: Survey, count: int) -> tuple[int, int]:
    """What a cached view is valid for: the response count and the newest response's
    id. The count alone stays the same when a later answer replaces an earlier one
    (intake/replace.py excludes it as the new one is stored). The newest id is read
    where the view's scan reads (a lagging replica's), so a view counted before the
    replica replayed the newest responses is counted again once it has."""
    with reading() as reads:
        return count, newest_id(survey.id, reads)


def cache_key(kind: str, survey: Survey, merged: MergedSurvey, *more: Any) -> tuple:
    """The cache's key of one view of `survey` at its published versions and its
    latest review: a review changes responses below the ids a view has read, so what
    was counted before it is not carried on (results/review.py)."""
    # created_at: SQLite may give a deleted survey's id to the next one.
    stamp = review_stamp(survey)
    return (kind, survey.id, survey.created_at, merged.version_ids, stamp, *more)


def counted_view(
    survey: Survey, merged: MergedSurvey, view: View, count: int
) -> tuple[Accumulator, Counting | None]:
    """The view's accumulator, from this process's cache, the saved state and the
    responses stored since (`count`: the survey's response count now); or, when more
    than RESULTS_REQUEST_SCAN_ROWS are left to read, an empty accumulator and how far
    the job counting them has come (queued here if none is)."""
    budget = current_app.config["RESULTS_REQUEST_SCAN_ROWS"]
    got = cached(
        cache_key("counts", survey, merged, view.filters, view.crosstab, view.weights),
        freshness(survey, count),
        lambda previous: prepare(survey.id, merged, view, previous, budget),
    )
    if not isinstance(got, Counting):
        return got, None
    if got.start_job:
        enqueue_background(
            "survey_engine.jobs.count_results_job",
            survey.id,
            view.to_json(),
            job_timeout=COUNT_JOB_TIMEOUT,
        )
    return Accumulator(merged, view.crosstab, weights=view.weights), got
