"""Fixtures: an app on a database of its own, with the demo survey published."""

from __future__ import annotations

import json
import uuid
from importlib import resources

import flask_migrate
import pytest
import sqlalchemy as sa

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.extensions import db
from survey_engine.models import Response
from survey_engine.surveys import save_definition

DEMO_SLUG = "tro-lai-truong-hoc"


def demo_definition() -> dict:
    text = resources.files("survey_engine").joinpath(f"demo/{DEMO_SLUG}.json").read_text("utf-8")
    return json.loads(text)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def app(database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        save_definition(demo_definition(), publish=True)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def valid_answers() -> dict:
    return {"district": "da_lat", "role": "parent", "children": "2", "support": "yes",
            "concerns": ["infection", "transport"], "comment": "Cần đảm bảo an toàn."}


def new_id() -> str:
    return str(uuid.uuid4())


def stored_responses(survey_slug: str = DEMO_SLUG) -> list[Response]:
    from survey_engine.surveys import find_survey

    survey = find_survey(survey_slug)
    return db.session.scalars(
        sa.select(Response).where(Response.survey_id == survey.id).order_by(Response.id)
    ).all()
