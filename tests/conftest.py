"""Fixtures: an app on a database of its own, with the demo survey published.

The suite runs on SQLite by default and on PostgreSQL with TEST_DATABASE=postgresql
(`make test` runs both). Redis tests use db 15 of the Redis at TEST_REDIS_URL.
A missing service is an error, never a skip.
"""

from __future__ import annotations

import json
import os
import uuid
from importlib import resources

import flask_migrate
import pytest
import redis
import sqlalchemy as sa
from flask import g, request_started

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import save_definition
from survey_engine.extensions import db
from survey_engine.models import Response

DEMO_SLUG = "tro-lai-truong-hoc"
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TABLES = (
    "upload_chunks",
    "uploads",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "daily_secrets",
    "access_codes",
    "access_code_batches",
    "quota_fills",
    "response_claims",
    "result_states",
    "login_throttles",
    "staff_sessions",
    "export_file_chunks",
    "export_files",
    "audit_events",
    "api_tokens",
    "survey_weightings",
    "survey_shares",
    "users",
    "tallies",
    "responses",
    "survey_versions",
    "surveys",
)


def demo_definition() -> dict:
    text = resources.files("survey_engine").joinpath(f"demo/{DEMO_SLUG}.json").read_text("utf-8")
    return json.loads(text)


def fresh_postgres_database(name: str, create: bool = True) -> str:
    """Drop (and create again) database `name`; returns its URL."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def fresh_database_url(tmp_path, name: str) -> str:
    """An empty database of the backend under test."""
    if BACKEND == "postgresql":
        return fresh_postgres_database(name)
    return f"sqlite:///{tmp_path / (name + '.sqlite3')}"


@pytest.fixture
def empty_database_url(tmp_path) -> str:
    """A database with no tables at all, dropped afterwards."""
    name = f"survey_engine_empty_{os.getpid()}"
    yield fresh_database_url(tmp_path, name)
    if BACKEND == "postgresql":
        fresh_postgres_database(name, create=False)


@pytest.fixture(scope="session")
def migrated_postgres() -> str:
    name = f"survey_engine_test_{os.getpid()}"
    url = fresh_postgres_database(name)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        db.engine.dispose()
    yield url
    fresh_postgres_database(name, create=False)


@pytest.fixture
def database_url(request, tmp_path) -> str:
    """A migrated, empty database: a new SQLite file, or the session's PostgreSQL
    database with every table emptied."""
    if BACKEND != "postgresql":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url = request.getfixturevalue("migrated_postgres")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


TEST_SECRET_KEY = "survey-engine-tests"  # the production shape (REDIS_URL) needs one


def make_app(database_url: str, **config):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "SURVEY_CACHE_SECONDS": 0,
            "SECRET_KEY": TEST_SECRET_KEY,
            **config,
        }
    )


def seeded_app(database_url: str, **config):
    """An app in its context, schema migrated, demo published; cleaned up after."""
    app = make_app(database_url, **config)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        save_definition(demo_definition(), publish=True)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    yield from seeded_app(database_url, EXPORT_DIR=str(tmp_path / "exports"))


@pytest.fixture
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()  # fails loudly when Redis is not running
    yield client
    client.flushdb()
    client.close()


def buffered(database_url: str, tmp_path, **config):
    """The app as in production (submissions through the Redis stream, exports queued
    for the worker), with `config` on top."""
    yield from seeded_app(
        database_url,
        REDIS_URL=TEST_REDIS_URL,
        DRAIN_CLAIM_IDLE_MS=0,
        EXPORT_DIR=str(tmp_path / "exports"),
        **config,
    )


@pytest.fixture
def buffered_app(database_url, redis_client, tmp_path):
    """The app as in production: submissions go through the Redis stream."""
    yield from buffered(database_url, tmp_path)


def forget_login_user_per_request(app):
    """For an autouse fixture: requests made inside a test's app context share it, so
    forget the user Flask-Login keeps in g, and each request loads its own (from its
    session cookie or token), as in production."""

    def forget(sender, **extra):
        g.pop("_login_user", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


@pytest.fixture
def client(app):
    return app.test_client()


def valid_answers() -> dict:
    """A parent in Đà Lạt who wants to be contacted: every page is relevant."""
    return {
        "consent": "OK",
        "district": "da_lat",
        "commune": "dl_p1",
        "role": "parent",
        "children": "2",
        "support": "yes",
        "concerns": ["infection", "transport"],
        "follow_up": "yes",
        "phone": "0912 345 678",
        "comment": "Cần đảm bảo an toàn.",
    }


def new_id() -> str:
    return str(uuid.uuid4())


def stored_responses(survey_slug: str = DEMO_SLUG) -> list[Response]:
    from survey_engine.catalog import find_survey

    survey = find_survey(survey_slug)
    return db.session.scalars(
        sa.select(Response).where(Response.survey_id == survey.id).order_by(Response.id)
    ).all()
