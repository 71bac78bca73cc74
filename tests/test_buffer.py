"""The Redis Stream buffer in one process: accept -> stream -> drain -> store.

The web side goes through Flask's test client, the worker side is a
workers.drain.Drainer driven by hand (drain_once), so each step of the path and
each failure it promises to survive can be looked at in between. The same file
runs on SQLite and on PostgreSQL; the real-process version is test_faults.py.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.catalog import definition_for, find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.extensions import db
from survey_engine.intake import tallies
from survey_engine.intake.buffer import (
    ACCEPT_SCRIPT,
    GROUP,
    SURVEYS_KEY,
    StreamBuffer,
    dead_key,
    stream_key,
)
from survey_engine.intake.drain import Drainer
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from tests.conftest import (
    BACKEND,
    DEMO_SLUG,
    POSTGRES_URL,
    TEST_REDIS_URL,
    demo_definition,
    make_app,
    new_id,
    seeded_app,
    stored_responses,
    valid_answers,
)

API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
FORM = f"/s/{DEMO_SLUG}"


# -- helpers -----------------------------------------------------------------------------


def survey_id() -> int:
    return find_survey(DEMO_SLUG).id


def stream_client(app: Flask) -> redis.Redis:
    """The app's own Redis client: the one the accept script runs on."""
    return app.extensions["stream_buffer"].client


def drainer_for(app: Flask, name: str = "test-drainer") -> Drainer:
    return Drainer(app, stream_client(app), name=name)


def submit(client, submission_id: str | None = None, answers: dict | None = None):
    return client.post(
        API,
        json={"submission_id": submission_id or new_id(), "answers": answers or valid_answers()},
    )


def assert_tallies_equal_recount() -> None:
    """The tallies table must be what a recount of the responses gives."""
    survey = find_survey(DEMO_SLUG)
    definitions = {v.id: definition_for(v) for v in survey.versions}
    counted = tallies.recount(survey.id, definitions)
    assert tallies.differences(tallies.stored_counts(survey.id), counted) == []


def responses_tally() -> int:
    """Responses as the tallies count them (the (question '', choice '') rows)."""
    stored = tallies.stored_counts(survey_id())
    return sum(n for (_, _, q, c), n in stored.items() if (q, c) == tallies.RESPONSES)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def database_down() -> Iterator[list[float]]:
    """Every new connection of this app's engine fails as an unreachable server would;
    yields the times of the attempts.

    Pooled connections are dropped first, so nothing can slip through an old one.
    """
    engine = db.engine
    attempts: list[float] = []

    def refuse(dialect, _record, _cargs, _cparams):
        attempts.append(time.monotonic())
        raise dialect.loaded_dbapi.OperationalError("database unreachable (test)")

    db.session.remove()
    engine.dispose()
    sa.event.listen(engine, "do_connect", refuse)
    try:
        yield attempts
    finally:
        sa.event.remove(engine, "do_connect", refuse)
        engine.dispose()


def expire_snapshots(app: Flask) -> None:
    """Age every survey snapshot and response count this app holds by one
    SURVEY_CACHE_SECONDS, as the clock would, so that the next request asks the
    database again."""
    period = app.config["SURVEY_CACHE_SECONDS"]
    for name in ("published", "response_counts"):
        cache = app.extensions.get(name, {})
        for key, (looked_up, value) in list(cache.items()):
            cache[key] = (looked_up - period, value)


def metrics_text(client) -> str:
    """GET /metrics as the scraper does: the one place its credentials go."""
    reply = client.get("/metrics")
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text, 0 when the series is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^survey_engine_{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def unreachable_database_url(tmp_path) -> str:
    """A database of the backend under test that cannot be reached: a PostgreSQL port
    nobody listens on, or an SQLite file in a directory that does not exist."""
    if BACKEND == "postgresql":
        return (
            sa.make_url(POSTGRES_URL).set(port=closed_port()).render_as_string(hide_password=False)
        )
    return f"sqlite:///{tmp_path / 'no-such-directory' / 'x.sqlite3'}"


@pytest.fixture
def redis_down_app(database_url) -> Iterator[Flask]:
    """The app with REDIS_URL set, but nothing listens there: Redis is down."""
    yield from seeded_app(database_url, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")


# -- the happy path ----------------------------------------------------------------------


def test_accepted_goes_to_the_stream_and_the_drain_stores_it_with_tallies(buffered_app) -> None:
    """202 means buffered; the drain stores responses and tallies in one go."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    ids = [new_id() for _ in range(3)]
    for submission_id in ids:
        reply = submit(client, submission_id)
        assert reply.status_code == 202
        assert reply.get_json() == {"status": "accepted", "submission_id": submission_id}
    key = stream_key(survey_id())
    # Accepted means buffered, not stored: nothing is in the database yet.
    assert redis_client.xlen(key) == 3
    assert stored_responses() == []

    assert drainer_for(buffered_app).drain_once() == 3
    assert redis_client.xlen(key) == 0  # acknowledged and deleted
    assert redis_client.xpending(key, GROUP)["pending"] == 0
    rows = stored_responses()
    assert sorted(str(r.submission_id) for r in rows) == sorted(ids)
    assert all(r.source == "api" and r.answers["support"] == "yes" for r in rows)
    assert responses_tally() == 3
    assert_tallies_equal_recount()
    assert drainer_for(buffered_app).drain_once() == 0  # nothing left


def test_duplicate_and_conflict_are_answered_before_the_stream(buffered_app) -> None:
    """The accept script keeps retries out of the stream, so workers never see them."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    submission_id = new_id()
    assert submit(client, submission_id).status_code == 202
    key = stream_key(survey_id())
    assert redis_client.xlen(key) == 1

    again = submit(client, submission_id)
    assert again.status_code == 202
    assert again.get_json() == {
        "status": "accepted",
        "submission_id": submission_id,
        "duplicate": True,
    }
    other = submit(client, submission_id, {**valid_answers(), "support": "no"})
    assert other.status_code == 409
    assert redis_client.xlen(key) == 1  # neither reached the stream

    drainer_for(buffered_app).drain_once()
    [row] = stored_responses()
    assert row.answers["support"] == "yes"
    # Still a duplicate once stored and gone from the stream.
    assert submit(client, submission_id).get_json().get("duplicate") is True
    assert redis_client.xlen(key) == 0


def test_a_batch_stored_but_not_acknowledged_is_stored_once_when_claimed(buffered_app) -> None:
    """A worker that dies between COMMIT and XACK: the next one stores nothing twice."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    for _ in range(4):
        submit(client)
    sid = survey_id()
    key = stream_key(sid)
    drainer = drainer_for(buffered_app)
    drainer._ensure_group(sid)
    reply = redis_client.xreadgroup(GROUP, "dies-after-commit", {key: ">"}, count=10)
    entries = reply[0][1]
    assert len(entries) == 4
    persist_batch([Submission.from_json(fields[b"submission"]) for _, fields in entries])
    assert len(stored_responses()) == 4

    assert drainer.drain_once() == 4  # claimed (idle >= 0 ms) and stored again: skipped
    assert redis_client.xlen(key) == 0
    assert len(stored_responses()) == 4
    assert responses_tally() == 4
    assert_tallies_equal_recount()


def test_a_new_web_process_answers_every_thread_of_its_first_requests(buffered_app) -> None:
    """gunicorn's threads all submit at a fresh process's first requests, while its
    buffer is still being made: each is accepted, none answered 500 by a half-made
    buffer (seen once in the quota race under load; the script's registration is
    slowed here so that every run meets that moment)."""

    class SlowToRegister(redis.Redis):
        def register_script(self, script):
            if script == ACCEPT_SCRIPT:
                time.sleep(0.2)
            return super().register_script(script)

    buffered_app.extensions["stream_buffer"] = StreamBuffer(
        lambda: SlowToRegister.from_url(buffered_app.config["REDIS_URL"])
    )
    ids = [new_id() for _ in range(16)]

    def arrive(nth: int) -> int:  # one every 25 ms: some while the buffer is half made
        time.sleep(nth * 0.025)
        return submit(buffered_app.test_client(), ids[nth]).status_code

    with ThreadPoolExecutor(len(ids)) as pool:
        statuses = list(pool.map(arrive, range(len(ids))))
    assert statuses == [202] * len(ids)
    assert drainer_for(buffered_app).drain_once() == len(ids)
    assert sorted(str(r.submission_id) for r in stored_responses()) == sorted(ids)


# -- Redis or the database down ----------------------------------------------------------


def test_redis_down_falls_back_to_the_database(redis_down_app) -> None:
    """Without Redis the web tier stores directly, and /metrics says how often."""
    client = redis_down_app.test_client()
    before = metric(
        metrics_text(client), "submissions_total", survey=DEMO_SLUG, outcome="stored_directly"
    )
    submission_id = new_id()
    reply = submit(client, submission_id)
    assert reply.status_code == 202
    assert reply.get_json() == {"status": "accepted", "submission_id": submission_id}
    [row] = stored_responses()
    assert str(row.submission_id) == submission_id
    assert_tallies_equal_recount()
    # Without Redis, duplicates and conflicts are judged against the database.
    assert submit(client, submission_id).get_json().get("duplicate") is True
    assert submit(client, submission_id, {**valid_answers(), "support": "no"}).status_code == 409
    assert len(stored_responses()) == 1

    text = metrics_text(client)
    after = metric(text, "submissions_total", survey=DEMO_SLUG, outcome="stored_directly")
    assert after == before + 1
    assert 'survey_engine_up{component="redis"} 0' in text
    assert 'survey_engine_up{component="database"} 1' in text
    health = client.get("/healthz")
    assert health.status_code == 200  # the database can still take submissions
    assert health.get_json()["queue"] == "unreachable"


def test_redis_and_database_down_is_503_and_the_form_keeps_every_answer(redis_down_app) -> None:
    """Nothing can hold the submission: say so (503, Retry-After), lose no typing."""
    client = redis_down_app.test_client()
    assert client.get(FORM).status_code == 200  # the survey snapshot is now in memory
    submission_id = new_id()
    form = {
        "submission_id": submission_id,
        "consent": "OK",
        "district": "bao_lam",
        "commune": "blm_loc_an",
        "role": "parent",
        "children": "3",
        "support": "no",
        "concerns": ["transport", "other"],
        "concerns_other": "Đường đèo",
        "follow_up": "yes",
        "phone": "0912345678",
        "comment": "Xin giữ nguyên ý kiến này.",
    }
    with database_down():
        reply = submit(client, submission_id)
        assert reply.status_code == 503
        assert reply.headers["Retry-After"].isdigit()
        assert reply.get_json()["submission_id"] == submission_id

        page = client.post(FORM, data=form)
        html = page.get_data(as_text=True)
        assert page.status_code == 503
        assert page.headers["Retry-After"].isdigit()
        assert "Hệ thống đang bận" in html
        assert f'name="submission_id" value="{submission_id}"' in html
        assert re.search(r'<option value="bao_lam" selected>', html)
        assert re.search(r'value="parent" checked', html)
        assert re.search(r'value="no" checked', html)
        assert re.search(r'value="transport" checked', html)
        assert re.search(r'value="other" checked', html)
        assert 'value="3"' in html
        assert 'value="Đường đèo"' in html
        assert "Xin giữ nguyên ý kiến này.</textarea>" in html

        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["database"] == "unreachable"
    assert stored_responses() == []  # a 503 stored nothing
    assert client.post(FORM, data=form).status_code == 303  # sent again later: it counts
    assert len(stored_responses()) == 1


def test_while_the_database_is_down_the_snapshot_is_served_and_asked_for_rarely(
    buffered_app,
) -> None:
    """Submissions keep flowing into Redis on the last snapshot of the survey, and the
    database is tried once per SURVEY_CACHE_SECONDS, not by every request (each try
    can cost a connect timeout when the host is gone)."""
    client = buffered_app.test_client()
    # Nothing goes stale by itself during the test, however slow the machine: the
    # periods pass when the test says so (expire_snapshots), not on the clock.
    buffered_app.config["SURVEY_CACHE_SECONDS"] = 3600
    assert client.get(FORM).status_code == 200
    expire_snapshots(buffered_app)  # the snapshot is stale now
    with database_down() as attempts:
        assert [submit(client).status_code for _ in range(5)] == [202] * 5
        assert len(attempts) == 1  # the first request tried; the others trusted the snapshot
        expire_snapshots(buffered_app)  # another period has passed
        assert submit(client).status_code == 202
        assert len(attempts) == 2
    assert stream_client(buffered_app).xlen(stream_key(survey_id())) == 6


def test_a_process_that_never_saw_the_database_answers_503_not_500(redis_down_app) -> None:
    """A web worker (re)started during a database outage has no snapshot to serve."""
    client = redis_down_app.test_client()
    with database_down():
        page = client.get(FORM)
        assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
        assert "Hệ thống đang bận" in page.get_data(as_text=True)
        reply = submit(client)
        assert reply.status_code == 503 and reply.is_json
        assert reply.headers["Retry-After"].isdigit()
    assert client.get(FORM).status_code == 200  # and it recovers by itself


def test_a_survey_with_a_response_limit_keeps_accepting_while_the_database_is_down(
    buffered_app,
) -> None:
    """The limit's count comes from the database: its last value stands during an outage."""
    limited = {**demo_definition(), "slug": "gioi-han", "settings": {"max_responses": 100}}
    save_definition(limited, publish=True)
    client = buffered_app.test_client()
    url = "/api/v1/surveys/gioi-han/responses"
    assert (
        client.post(url, json={"submission_id": new_id(), "answers": valid_answers()}).status_code
        == 202
    )
    with database_down():
        reply = client.post(url, json={"submission_id": new_id(), "answers": valid_answers()})
        assert reply.status_code == 202, reply.get_json()


# -- entries that cannot be stored -------------------------------------------------------


def test_an_unreadable_entry_is_dead_lettered_listed_and_replayed(buffered_app) -> None:
    """A bad entry must not block the stream, and staff can see and replay it."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    submit(client)
    sid = survey_id()
    redis_client.sadd(SURVEYS_KEY, sid)
    bad_id = redis_client.xadd(stream_key(sid), {"submission": "{not json"})
    submit(client)

    drainer_for(buffered_app).drain_once()
    assert len(stored_responses()) == 2  # the readable ones are not held up
    assert redis_client.xlen(stream_key(sid)) == 0
    [(_, fields)] = redis_client.xrange(dead_key(sid))
    assert fields[b"submission"] == b"{not json"
    assert fields[b"original_id"] == bad_id
    assert fields[b"reason"].startswith(b"unreadable entry")

    runner = buffered_app.test_cli_runner()
    listed = runner.invoke(cli, ["dead-letters", DEMO_SLUG])
    assert listed.exit_code == 0, listed.output
    assert f"{DEMO_SLUG}: 1 dead letter(s)" in listed.output
    assert "unreadable entry" in listed.output

    replayed = runner.invoke(cli, ["dead-letters", DEMO_SLUG, "--replay"])
    assert replayed.exit_code == 0, replayed.output
    assert "1 put back in the stream" in replayed.output
    assert redis_client.xlen(dead_key(sid)) == 0
    [(_, fields)] = redis_client.xrange(stream_key(sid))
    assert fields[b"submission"] == b"{not json"


def test_an_entry_delivered_too_often_is_buried(buffered_app) -> None:
    """An entry that keeps killing workers: every delivery counts, then it is set aside."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    submission_id = new_id()
    submit(client, submission_id)
    sid = survey_id()
    key = stream_key(sid)
    drainer = drainer_for(buffered_app)
    drainer._ensure_group(sid)
    [[_, [(entry_id, _)]]] = redis_client.xreadgroup(GROUP, "crashes", {key: ">"}, count=10)
    for _ in range(buffered_app.config["DRAIN_MAX_DELIVERIES"]):
        redis_client.xclaim(key, GROUP, "crashes", min_idle_time=0, message_ids=[entry_id])
    [pending] = redis_client.xpending_range(key, GROUP, min="-", max="+", count=10)
    assert pending["times_delivered"] == buffered_app.config["DRAIN_MAX_DELIVERIES"] + 1

    drainer.drain_once()
    assert redis_client.xlen(key) == 0
    assert redis_client.xpending(key, GROUP)["pending"] == 0
    [(_, fields)] = redis_client.xrange(dead_key(sid))
    assert fields[b"original_id"] == entry_id
    assert re.match(rb"delivered \d+ times without being stored", fields[b"reason"])
    assert Submission.from_json(fields[b"submission"]).submission_id == uuid.UUID(submission_id)
    assert stored_responses() == []


def bury_by_overdelivery(app: Flask, submission_id: str) -> None:
    """Submit, then have the entry delivered once too often: the drain buries it."""
    client = app.test_client()
    redis_client = stream_client(app)
    assert submit(client, submission_id).status_code == 202
    key = stream_key(survey_id())
    drainer = drainer_for(app)
    drainer._ensure_group(survey_id())
    [[_, [(entry_id, _)]]] = redis_client.xreadgroup(GROUP, "crashes", {key: ">"}, count=10)
    for _ in range(app.config["DRAIN_MAX_DELIVERIES"]):
        redis_client.xclaim(key, GROUP, "crashes", min_idle_time=0, message_ids=[entry_id])
    drainer.drain_once()
    assert redis_client.xlen(key) == 0


def test_a_replayed_dead_letter_is_stored_once(buffered_app) -> None:
    """`dead-letters --replay` puts a buried submission back; the drain stores it, once,
    with its tallies; replaying a copy of one already stored adds nothing."""
    redis_client = stream_client(buffered_app)
    sid = survey_id()
    submission_id = new_id()
    bury_by_overdelivery(buffered_app, submission_id)
    [(_, fields)] = redis_client.xrange(dead_key(sid))
    assert stored_responses() == []

    runner = buffered_app.test_cli_runner()
    replayed = runner.invoke(cli, ["dead-letters", DEMO_SLUG, "--replay"])
    assert replayed.exit_code == 0, replayed.output
    assert "1 put back in the stream" in replayed.output
    assert drainer_for(buffered_app, "after-replay").drain_once() == 1
    [row] = stored_responses()
    assert str(row.submission_id) == submission_id and row.answers["support"] == "yes"
    assert redis_client.xlen(stream_key(sid)) == 0
    assert redis_client.xlen(dead_key(sid)) == 0
    assert responses_tally() == 1
    assert_tallies_equal_recount()

    # The same letter again (it was stored, then buried by a worker that never saw
    # its commit): replayed, it is skipped as stored, not stored twice nor buried.
    redis_client.xadd(dead_key(sid), fields)
    assert runner.invoke(cli, ["dead-letters", DEMO_SLUG, "--replay"]).exit_code == 0
    assert drainer_for(buffered_app, "second-replay").drain_once() == 1
    assert len(stored_responses()) == 1
    assert redis_client.xlen(stream_key(sid)) == 0
    assert redis_client.xlen(dead_key(sid)) == 0
    assert responses_tally() == 1
    assert_tallies_equal_recount()


def test_a_batch_with_one_bad_reference_stores_the_rest_and_buries_that_one(buffered_app) -> None:
    """One entry the database refuses (FK; on SQLite, a failed definition lookup)
    must not hold up the other entries of its batch."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    good = [new_id() for _ in range(3)]
    submit(client, good[0])
    submit(client, good[1])
    sid = survey_id()
    orphan = Submission(sid, 999_999, uuid.uuid4(), valid_answers())  # no such version
    redis_client.xadd(stream_key(sid), {"submission": orphan.to_json()})
    submit(client, good[2])

    assert drainer_for(buffered_app).drain_once() == 4
    assert sorted(str(r.submission_id) for r in stored_responses()) == sorted(good)
    assert redis_client.xlen(stream_key(sid)) == 0
    [(_, fields)] = redis_client.xrange(dead_key(sid))
    assert Submission.from_json(fields[b"submission"]).submission_id == orphan.submission_id
    assert fields[b"reason"].startswith(b"cannot be stored")
    assert responses_tally() == 3
    assert_tallies_equal_recount()


# -- what the operators see ---------------------------------------------------------------


def test_healthz_reports_the_queue_backlog_and_oldest_pending(buffered_app) -> None:
    """Operators see how much waits and for how long, before citizens notice."""
    client = buffered_app.test_client()
    # /metrics adds this process's own counts (kept while Redis was down) to Redis's.
    accepted = metric(
        metrics_text(client), "submissions_total", survey=DEMO_SLUG, outcome="accepted"
    )
    submit(client)
    submit(client)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["queue"] == "redis"
    assert body["backlog"] == 2
    assert 0 <= body["oldest_pending_seconds"] < 60
    assert body["dead_letters"] == 0

    drainer_for(buffered_app).drain_once()
    body = client.get("/healthz").get_json()
    assert body["backlog"] == 0 and body["oldest_pending_seconds"] == 0
    text = metrics_text(client)
    assert metric(text, "backlog", survey=DEMO_SLUG) == 0
    assert metric(text, "persisted_total", survey=DEMO_SLUG) == 2
    assert metric(text, "submissions_total", survey=DEMO_SLUG, outcome="accepted") == accepted + 2


def test_healthz_is_degraded_but_200_while_redis_is_down(redis_down_app) -> None:
    """Redis refuses connections (nothing listens on its port): the database still
    takes submissions, so the node stays in service, but says it is degraded."""
    health = redis_down_app.test_client().get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "degraded", "database": "ok", "queue": "unreachable"}


def test_healthz_is_degraded_but_200_while_the_database_is_unreachable(
    redis_client, tmp_path
) -> None:
    """The database cannot be reached at all: Redis still holds submissions."""
    app = make_app(unreachable_database_url(tmp_path), REDIS_URL=TEST_REDIS_URL)
    health = app.test_client().get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {
        "status": "degraded",
        "database": "unreachable",
        "queue": "redis",
        "backlog": 0,
        "oldest_pending_seconds": 0,
        "dead_letters": 0,
    }


def test_healthz_is_degraded_and_503_with_neither_store(tmp_path) -> None:
    app = make_app(
        unreachable_database_url(tmp_path), REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"
    )
    health = app.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {
        "status": "degraded",
        "database": "unreachable",
        "queue": "unreachable",
    }


def series(text: str) -> dict[str, float]:
    """Every sample of the Prometheus text that names the demo survey or a component,
    keyed by its series line without the value."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("survey_engine_") and (
            f'survey="{DEMO_SLUG}"' in line or "component=" in line
        ):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_every_metrics_series_counts_what_really_happened(buffered_app) -> None:
    """Each series /metrics exposes, after real submissions through the API and the
    form, a real drain and a real dead letter: every number is the one expected."""
    client = buffered_app.test_client()
    redis_client = stream_client(buffered_app)
    sid = survey_id()
    # Counts this process kept while Redis was down in earlier tests add to Redis's.
    before = series(metrics_text(client))
    # A bad entry put in the stream two minutes ago: the oldest one waiting.
    two_minutes_ago = int(time.time() * 1000) - 120_000
    redis_client.sadd(SURVEYS_KEY, sid)
    redis_client.xadd(stream_key(sid), {"submission": "{not json"}, id=f"{two_minutes_ago}-0")
    ids = [new_id() for _ in range(3)]
    assert [submit(client, i).status_code for i in ids] == [202] * 3
    assert submit(client, ids[0]).get_json()["duplicate"] is True
    assert submit(client, ids[0], {**valid_answers(), "support": "no"}).status_code == 409
    assert submit(client, answers={"district": "paris"}).status_code == 422
    assert (
        client.post(FORM, data={"submission_id": new_id(), "district": "paris"}).status_code == 422
    )

    text = metrics_text(client)
    for family, kind in (
        ("submissions_total", "counter"),
        ("persisted_total", "counter"),
        ("responses", "gauge"),
        ("backlog", "gauge"),
        ("oldest_pending_seconds", "gauge"),
        ("dead_letters", "gauge"),
        ("up", "gauge"),
    ):
        assert f"# TYPE survey_engine_{family} {kind}\n" in text, family
        assert f"# HELP survey_engine_{family} " in text, family
    waiting = series(text)
    label = f'survey="{DEMO_SLUG}"'

    def grew(now: dict[str, float], outcome: str) -> float:
        name = f'survey_engine_submissions_total{{{label},outcome="{outcome}"}}'
        return now.get(name, 0) - before.get(name, 0)

    assert {
        o: grew(waiting, o)
        for o in ("accepted", "duplicates", "conflicts", "rejected", "stored_directly")
    } == {"accepted": 3, "duplicates": 1, "conflicts": 1, "rejected": 2, "stored_directly": 0}
    assert waiting[f"survey_engine_backlog{{{label}}}"] == 4  # 3 and the bad entry
    oldest = waiting[f"survey_engine_oldest_pending_seconds{{{label}}}"]
    assert 120 <= oldest < 120 + 60
    assert waiting[f"survey_engine_dead_letters{{{label}}}"] == 0
    assert f"survey_engine_persisted_total{{{label}}}" not in waiting  # nothing stored yet
    assert f"survey_engine_responses{{{label}}}" not in waiting
    assert waiting['survey_engine_up{component="database"}'] == 1
    assert waiting['survey_engine_up{component="redis"}'] == 1

    assert drainer_for(buffered_app).drain_once() == 4
    drained = series(metrics_text(client))
    assert drained[f"survey_engine_persisted_total{{{label}}}"] == 3
    assert drained[f"survey_engine_responses{{{label}}}"] == 3 == len(stored_responses())
    assert drained[f"survey_engine_backlog{{{label}}}"] == 0
    assert drained[f"survey_engine_oldest_pending_seconds{{{label}}}"] == 0
    assert drained[f"survey_engine_dead_letters{{{label}}}"] == 1
    assert grew(drained, "accepted") == 3  # the drain counts what it stored apart


def test_inline_metrics_count_submissions_and_stored_responses(app) -> None:
    """Without Redis: this process's counters, the tallies, and no Redis component."""
    client = app.test_client()
    before = series(metrics_text(client))
    submission_id = new_id()
    assert submit(client, submission_id).status_code == 202
    assert submit(client, submission_id).get_json()["duplicate"] is True
    assert submit(client, answers={"district": "paris"}).status_code == 422
    text = metrics_text(client)
    after = series(text)
    label = f'survey="{DEMO_SLUG}"'
    for outcome, grown in (("accepted", 1), ("duplicates", 1), ("rejected", 1)):
        name = f'survey_engine_submissions_total{{{label},outcome="{outcome}"}}'
        assert after.get(name, 0) - before.get(name, 0) == grown, outcome
    assert after[f"survey_engine_responses{{{label}}}"] == 1
    assert after['survey_engine_up{component="database"}'] == 1
    assert 'component="redis"' not in text


def test_a_stream_entry_reads_back_as_the_submission_it_was_made_from() -> None:
    """The web tier writes the entry with orjson, the drain reads it with the standard
    library: Vietnamese text, numbers at their limits, times and the access-mode fields
    come back equal, not merely parseable."""
    from datetime import UTC, datetime

    from survey_engine.definition.answer_types import MAX_SAFE_INTEGER
    from survey_engine.intake.submission import QuotaPlace

    submission = Submission(
        7,
        8,
        uuid.uuid4(),
        {
            **valid_answers(),
            "comment": 'Cần "đảm bảo" an toàn.\nDòng hai\ttab \\ \u2028 😀',
            "children": MAX_SAFE_INTEGER,
            "tiny": 1e-07,
            "huge": 1e16,
            "half": 0.5,
            "matrix": {"r1": "yes", "r2": "no"},
        },
        source="api",
        meta={"lang": "vi", "link_code": True},
        submitted_at=datetime(2026, 12, 5, 7, 30, 1, 123456, tzinfo=UTC),
        paradata={
            "started_at": datetime(2026, 12, 5, 7, 20, tzinfo=UTC),
            "duration_seconds": 601,
            "device_class": "phone",
            "browser": "Chrome",
            "network_key": "a" * 64,
            "device_hash": None,
        },
        flags=[{"flag": "no_device", "reason": "no device token: cookies off or a script"}],
        unit="Phường 1",
        claims=("device:" + "b" * 64,),
        quotas=(QuotaPlace("by_district", "da_lat", 100),),
        code_id=None,
        replace_claims=True,
        claim_holder=uuid.uuid4(),
    )
    assert Submission.from_json(submission.to_json()) == submission
    # The text an older release's drain reads too: str() of the ids, isoformat() dates.
    entry = json.loads(submission.to_json())
    assert entry["submission_id"] == str(submission.submission_id)
    assert entry["claim_holder"] == str(submission.claim_holder)
    assert entry["submitted_at"] == "2026-12-05T07:30:01.123456+00:00"
    assert entry["paradata"]["started_at"] == "2026-12-05T07:20:00+00:00"


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_ANSWER = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_TEXT, _ANSWER, max_size=8))
def test_the_answers_digest_is_the_sha1_of_the_canonical_json_rows_were_digested_in(
    answers: dict,
) -> None:
    """answers_digest writes with orjson where it gives json.dumps's bytes: any answers,
    Vietnamese, quotes, controls, nested, with floats (1e-05 vs 0.00001) or without, must
    give the digest that stored rows and Redis's ids already hold."""
    import hashlib
    import json

    from survey_engine.intake.submission import answers_digest

    canonical = json.dumps(answers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert answers_digest(answers) == hashlib.sha1(canonical.encode()).hexdigest()
