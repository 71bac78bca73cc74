"""Tallies kept by persist_batch always equal a recount from the responses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import flask_migrate
import sqlalchemy as sa

from survey_engine import MIGRATIONS_DIR
from survey_engine.catalog import definition_for, find_survey, published
from survey_engine.cli import cli
from survey_engine.extensions import db
from survey_engine.intake import tallies
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.models import Tally
from tests.conftest import DEMO_SLUG, demo_definition, make_app


def counts_match(survey) -> list[str]:
    definitions = {v.id: definition_for(v) for v in survey.versions}
    return tallies.differences(
        tallies.stored_counts(survey.id), tallies.recount(survey.id, definitions)
    )


def submission(answers: dict, submission_id: uuid.UUID | None = None) -> Submission:
    survey = published(DEMO_SLUG)
    return Submission(survey.survey_id, survey.version_id, submission_id or uuid.uuid4(), answers)


def tally(question: str, choice: str) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.sum(Tally.count)).where(
                Tally.question == question, Tally.choice == choice
            )
        )
        or 0
    )


def test_persist_counts_each_new_response_once(app):
    repeated = uuid.uuid4()
    answers = {
        "district": "da_lat",
        "role": "parent",
        "support": "yes",
        "concerns": ["infection", "transport"],
    }
    inserted = persist_batch(
        [
            submission(answers, repeated),
            submission(answers, repeated),
            submission({**answers, "district": "bao_loc"}),
        ]
    )
    assert len(inserted.inserted) == 2
    persist_batch([submission(answers, repeated)])  # a redelivery changes nothing
    assert tally("", "") == 2
    assert tally("district", "da_lat") == 1 and tally("district", "bao_loc") == 1
    assert tally("concerns", "transport") == 2 and tally("concerns", "") == 2
    assert tally("comment", "") == 0
    assert counts_match(find_survey(DEMO_SLUG)) == []


def test_recount_command_reports_and_fixes_differences(app):
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["fake-responses", DEMO_SLUG, "--count", "700"]).exit_code == 0
    result = runner.invoke(cli, ["recount", DEMO_SLUG])
    assert result.exit_code == 0, result.output
    assert "700 responses; tallies match" in result.output

    db.session.execute(
        sa.update(Tally)
        .where(Tally.question == "role", Tally.choice == "pupil")
        .values(count=Tally.count + 5)
    )
    db.session.commit()
    result = runner.invoke(cli, ["recount", DEMO_SLUG])
    assert result.exit_code == 1
    assert "role=pupil: table" in result.output
    assert runner.invoke(cli, ["recount", DEMO_SLUG, "--fix"]).exit_code == 0
    assert runner.invoke(cli, ["recount", DEMO_SLUG]).exit_code == 0


def test_upgrading_an_existing_database_counts_its_responses(empty_database_url):
    """Migration 0002 adds the tallies table to a database that already has answers."""
    app = make_app(empty_database_url)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR, revision="0001")
        definition = demo_definition()
        db.session.execute(
            sa.text(
                "INSERT INTO surveys (id, slug, title, status, created_at) "
                "VALUES (1, :slug, '{}', 'published', CURRENT_TIMESTAMP)"
            ),
            {"slug": DEMO_SLUG},
        )
        versions = sa.table(
            "survey_versions",
            sa.column("id"),
            sa.column("survey_id"),
            sa.column("number"),
            sa.column("definition", sa.JSON),
            sa.column("created_at"),
            sa.column("published_at"),
        )
        db.session.execute(
            versions.insert().values(
                id=1,
                survey_id=1,
                number=1,
                definition=definition,
                created_at=sa.func.now(),
                published_at=sa.func.now(),
            )
        )
        responses = sa.table(
            "responses",
            sa.column("survey_id"),
            sa.column("version_id"),
            sa.column("submission_id", sa.Uuid),
            sa.column("submitted_at", sa.DateTime(timezone=True)),
            sa.column("answers", sa.JSON),
            sa.column("source"),
            sa.column("meta", sa.JSON),
        )
        roles = ["parent", "pupil", "parent", "teacher"]
        db.session.execute(
            responses.insert(),
            [
                {
                    "survey_id": 1,
                    "version_id": 1,
                    "submission_id": uuid.uuid4(),
                    "submitted_at": datetime.now(UTC),
                    "source": "web",
                    "meta": {},
                    "answers": {"district": "da_lat", "role": role, "support": "yes"},
                }
                for role in roles
            ],
        )
        db.session.commit()

        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        assert tally("", "") == 4
        assert tally("role", "parent") == 2
        assert counts_match(find_survey(DEMO_SLUG)) == []
        db.session.remove()
        db.engine.dispose()
