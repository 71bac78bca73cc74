"""The data API reads the responses from the read replica, as the exports do: while
the replica's replay is paused a page and the CSV lack the newest response, and the
cursor of that page finds it once replayed (nothing skipped, nothing twice).

Marked `replica`: a PostgreSQL primary and hot standby of its own (tests/pg_replica.py)
on ports 5330 and 5331, so `make test` runs it in its PostgreSQL pass only."""

from __future__ import annotations

from collections.abc import Iterator

import flask_migrate
import pytest

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.extensions import db
from tests.conftest import DEMO_SLUG
from tests.pg_replica import ReplicatedPostgres
from tests.test_replica import DATABASE, replicated, submit  # noqa: F401 (a fixture)

RESPONSES = f"/api/v1/surveys/{DEMO_SLUG}/responses"


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[ReplicatedPostgres]:
    """test_replica's pair, on ports of this module's own."""
    pair = ReplicatedPostgres(primary_port=5330, replica_port=5331)
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


@pytest.mark.replica
def test_pages_and_csv_read_the_replica(replicated, pg_pair):  # noqa: F811
    app, headers = replicated
    client = app.test_client()
    submit(app)
    submit(app, elsewhere=True)
    pg_pair.wait_replayed()
    pg_pair.pause_replay()
    try:
        submit(app)  # on the primary, not yet on the replica
        pg_pair.wait_received()
        page = client.get(RESPONSES, headers=headers).get_json()
        assert [r["id"] for r in page["responses"]] == [1, 2]
        assert page["more"] is False
        text = client.get(RESPONSES, headers={**headers, "Accept": "text/csv"}).get_data()
        assert len(text.decode("utf-8").strip().splitlines()) == 1 + 2
    finally:
        pg_pair.resume_replay()
    pg_pair.wait_replayed()
    later = client.get(f"{RESPONSES}?cursor={page['next_cursor']}", headers=headers).get_json()
    assert [r["id"] for r in later["responses"]] == [3]
