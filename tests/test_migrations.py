"""The migrations build the schema the models describe.

A column, index or constraint added to models.py without a migration works in the
tests' SQLite files (db.create_all) and breaks a province's PostgreSQL upgrade; one
added to a migration but not to the models is never read. Alembic's own comparison
(what `flask db migrate` would write) must find nothing to do.
"""

from __future__ import annotations

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.extensions import db


def test_the_migrations_build_the_schema_the_models_describe(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == []
