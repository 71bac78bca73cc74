"""DATABASE_READ_URL against a real streaming replica (no mocks).

A primary and a hot standby of its own (tests/pg_replica.py: Debian's initdb,
pg_basebackup -R, on ports 5440 and 5441) hold the app's database. Submissions are
stored on the primary; the dashboard's scans and the exports read the replica, the
tallies (the dashboard's headline) the primary. Pausing the replica's replay shows
which read where: the export and the filtered view lack the newest response while
the headline has it. Stopping the replica sends those reads to the primary, and
/healthz says so and stays 200.

Marked `replica`: they start PostgreSQL servers of their own, so `make test` runs
them in its PostgreSQL pass only. Missing PostgreSQL binaries fail them, never skip.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import find_survey
from survey_engine.cli import cli
from survey_engine.config import ConfigError
from survey_engine.exporting.files import path_of, start_export
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.extensions import db
from survey_engine.jobs import advance_saved_results
from survey_engine.models import ResultState
from survey_engine.replica import replica_of
from survey_engine.staff.accounts import create_token, create_user
from tests.conftest import DEMO_SLUG, TABLES, make_app, new_id, seeded_app, valid_answers
from tests.pg_replica import ReplicatedPostgres

PRIMARY_PORT, REPLICA_PORT = 5440, 5441  # this helper's private range: 5440-5449
DATABASE = "survey_engine"
ADMIN = "replica-admin@example.org"
RESULTS = f"/api/v1/surveys/{DEMO_SLUG}/results"
FILTERED = RESULTS + "?f.district=da_lat"  # a view the tallies do not hold


@pytest.fixture(scope="session")
def pg_pair() -> Iterator[ReplicatedPostgres]:
    """The primary and its replica, the schema migrated on the primary (and so
    replayed on the replica); stopped and deleted after the session."""
    pair = ReplicatedPostgres(primary_port=PRIMARY_PORT, replica_port=REPLICA_PORT)
    try:
        pair.start()
        pair.primary.query(f'CREATE DATABASE "{DATABASE}"')
        app = create_app({"SQLALCHEMY_DATABASE_URI": pair.primary.url(DATABASE)})
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS_DIR)
            db.engine.dispose()
        yield pair
    finally:
        pair.close()


@pytest.fixture
def replicated(pg_pair, tmp_path) -> Iterator[tuple[Flask, dict[str, str]]]:
    """The app on the pair (inline mode: each submission stored on the primary), the
    demo survey published, and an admin's bearer token header."""
    primary = pg_pair.primary.url(DATABASE)
    engine = sa.create_engine(primary)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    app_in_context = seeded_app(
        primary,
        DATABASE_READ_URL=pg_pair.replica.url(DATABASE),
        EXPORT_DIR=str(tmp_path / "exports"),
        LIMIT_DEVICE_PER_10_MINUTES=0,
    )
    app = next(app_in_context)
    token = create_token(create_user(ADMIN, "a long enough password 1", "admin"))
    db.session.commit()
    pg_pair.wait_replayed()
    yield app, {"Authorization": f"Bearer {token}"}
    replica = replica_of(app)
    assert replica is not None
    replica.engine.dispose()
    next(app_in_context, None)


def submit(app: Flask, elsewhere: bool = False) -> None:
    """Store a response on the primary: from Đà Lạt, or (`elsewhere`) from Bảo Lộc."""
    answers = valid_answers()
    if elsewhere:
        answers.update(district="bao_loc", commune="bl_p1")
    reply = app.test_client().post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": answers},
    )
    assert reply.status_code == 202, reply.get_data(as_text=True)


def results(app: Flask, headers: dict[str, str], url: str = RESULTS) -> dict:
    reply = app.test_client().get(url, headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return reply.get_json()


def headline(app: Flask, headers: dict[str, str]) -> int:
    """The dashboard's unfiltered response count: the tallies', on the primary."""
    return results(app, headers)["responses"]


def scanned(app: Flask, headers: dict[str, str]) -> int:
    """A filtered view's count: the accumulator's, from a scan of the responses."""
    return results(app, headers, FILTERED)["responses"]


def csv_rows(path: Path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return len(list(csv.reader(handle))) - 1  # the header


def exported_rows(app: Flask, tmp_path: Path) -> dict[str, int]:
    """Responses in the file of each way to export: the function, the CLI and the
    staff pages' export job (which inline mode runs at once)."""
    survey = find_survey(DEMO_SLUG)
    assert survey is not None
    direct = tmp_path / f"direct-{new_id()}.csv"
    export_survey(survey, direct, "csv")
    command = tmp_path / f"command-{new_id()}.csv"
    ran = app.test_cli_runner().invoke(
        cli, ["export", DEMO_SLUG, "-o", str(command), "--format", "csv"], catch_exceptions=False
    )
    assert ran.exit_code == 0, ran.output
    user = create_user(f"exporter-{new_id()}@example.org", "a long enough password 1", "admin")
    job = start_export(survey, user, ExportOptions(fmt="csv"))
    assert job.status == "done", job.error
    return {
        "function": csv_rows(direct),
        "command": csv_rows(command),
        "job": csv_rows(path_of(job)),
    }


def health(app: Flask) -> dict:
    reply = app.test_client().get("/healthz")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return reply.get_json()


@pytest.mark.replica
def test_a_response_stored_on_the_primary_reaches_the_dashboard_once_replayed(replicated, pg_pair):
    app, headers = replicated
    assert scanned(app, headers) == 0
    submit(app)
    pg_pair.wait_replayed()
    assert scanned(app, headers) == 1
    assert headline(app, headers) == 1
    submit(app)
    pg_pair.wait_replayed()
    assert scanned(app, headers) == 2  # the saved view carried on over the new one


@pytest.mark.replica
def test_scans_and_exports_read_the_replica_the_headline_the_primary(replicated, pg_pair, tmp_path):
    app, headers = replicated
    submit(app)
    submit(app)
    pg_pair.wait_replayed()
    assert scanned(app, headers) == 2
    caught_up(app, pg_pair)

    pg_pair.pause_replay()
    try:
        submit(app)  # committed on the primary, not yet applied on the replica
        pg_pair.wait_received()  # (received: else it would not lag yet, only be behind)
        assert headline(app, headers) == 3  # the tallies: fresh, from the primary
        assert scanned(app, headers) == 2  # the scan: the replica's, one behind
        assert exported_rows(app, tmp_path) == {"function": 2, "command": 2, "job": 2}
        shown = health(app)
        assert shown["status"] == "ok"
        assert shown["replica"] == "ok"
        assert shown["replica_streaming"] is True
        assert shown["replica_lag_seconds"] > 0  # received, not yet replayed
    finally:
        pg_pair.resume_replay()
    pg_pair.wait_replayed()

    assert scanned(app, headers) == 3
    assert exported_rows(app, tmp_path) == {"function": 3, "command": 3, "job": 3}
    caught_up(app, pg_pair)


def caught_up(app: Flask, pg_pair: ReplicatedPostgres) -> None:
    """/healthz comes to say lag 0: streaming, all received replayed (the primary's own
    background WAL may be in flight for a moment, hence the wait)."""
    pg_pair.wait(lambda: health(app)["replica_lag_seconds"] == 0, "/healthz to show lag 0")
    assert health(app)["replica_streaming"] is True


def saved_counts() -> set[int]:
    """How many responses each saved dashboard view has counted (on the primary)."""
    db.session.commit()  # a fresh look
    return set(db.session.scalars(sa.select(ResultState.seen)))


@pytest.mark.replica
def test_the_workers_catch_up_reads_the_replica(replicated, pg_pair):
    app, headers = replicated
    submit(app)
    pg_pair.wait_replayed()
    assert scanned(app, headers) == 1 and headline(app, headers) == 1
    assert saved_counts() == {1}

    pg_pair.pause_replay()
    try:
        submit(app)
        advance_saved_results(1000)  # what a worker does between drain batches
        assert saved_counts() == {1}  # the replica has not replayed the new one
    finally:
        pg_pair.resume_replay()
    pg_pair.wait_replayed()
    advance_saved_results(1000)
    assert saved_counts() == {2}


@pytest.mark.replica
def test_a_stopped_replica_sends_the_reads_to_the_primary(replicated, pg_pair, tmp_path):
    app, headers = replicated
    submit(app)
    pg_pair.wait_replayed()
    assert scanned(app, headers) == 1  # the replica's pool holds a connection now
    assert fallbacks(app) == 0

    pg_pair.replica.stop()
    try:
        submit(app)
        submit(app, elsewhere=True)
        assert scanned(app, headers) == 2  # read on the primary
        assert headline(app, headers) == 3
        assert exported_rows(app, tmp_path) == {"function": 3, "command": 3, "job": 3}
        shown = health(app)  # 200: submissions never need the replica
        assert shown["status"] == "ok"
        assert shown["database"] == "ok"
        assert shown["replica"] == "unreachable"
        assert "replica_lag_seconds" not in shown
        assert fallbacks(app) >= 4  # the view, its freshness check, three exports
    finally:
        pg_pair.replica.start()
        pg_pair.wait_streaming()


def fallbacks(app: Flask) -> int:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    found = re.search(r"^survey_engine_replica_fallbacks_total (\d+)$", text, re.M)
    assert found, text
    return int(found.group(1))


# -- without a replica: both backends ---------------------------------------------------


def test_without_a_read_url_every_read_is_the_primarys_and_healthz_names_no_replica(client):
    shown = client.get("/healthz").get_json()
    assert "replica" not in shown and "replica_lag_seconds" not in shown
    assert "replica_fallbacks" not in client.get("/metrics").get_data(as_text=True)


@pytest.mark.parametrize("url", ["sqlite:///replica.sqlite3", "mysql://db/survey"])
def test_a_read_url_that_is_not_postgresql_is_refused_at_startup(database_url, url):
    with pytest.raises(ConfigError, match="DATABASE_READ_URL"):
        make_app(database_url, DATABASE_READ_URL=url)


def test_a_postgres_read_url_is_driven_by_psycopg_like_the_primary(database_url):
    app = make_app(database_url, DATABASE_READ_URL="postgres://reader@127.0.0.1:5449/x")
    replica = replica_of(app)
    assert replica is not None
    assert replica.engine.url.drivername == "postgresql+psycopg"
    assert replica.engine.url.port == 5449
    assert replica.engine.pool._pre_ping  # a dead pooled connection is noticed at checkout
