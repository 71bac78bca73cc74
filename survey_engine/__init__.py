"""survey-engine: the Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from survey_engine import admin, api, replica
from survey_engine.api import bp as api_bp
from survey_engine.config import Config, check_settings, engine_options
from survey_engine.extensions import babel, db, migrate
from survey_engine.i18n import DEFAULT_LANGUAGE, TRANSLATIONS_DIR, request_language
from survey_engine.intake import buffer
from survey_engine.public import bp as public_bp
from survey_engine.web import (
    converters,
    cookie_session,
    errors,
    health,
    metrics,
    security,
    static_files,
)

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


class ReadableJSON(DefaultJSONProvider):
    """Vietnamese stays readable in JSON, and answers keep the definition's order."""

    ensure_ascii = False
    sort_keys = False


class SurveyEngine(Flask):
    """Flask, asking once per function whether a hook or view is a coroutine function.

    Flask asks inspect on every call of every hook and view (seven a submission, a
    few percent of its cost); the answer cannot change for a function object."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._synced[func]
        except KeyError:
            synced = self._synced[func] = super().ensure_sync(func)
            return synced
        except TypeError:  # an unhashable callable: as Flask does
            return super().ensure_sync(func)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app; `overrides` lets tests point it at their own database."""
    # templates/: the package's link to the repository's templates/ in a checkout,
    # the real folder in an installed wheel.
    app = SurveyEngine(__name__, template_folder="templates", instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_object(Config(app.instance_path))
    if overrides:
        app.config.update(overrides)
    check_settings(app.config)
    if app.config["TRUSTED_PROXIES"]:
        # Each trusted proxy appends one address: the client is that many from the end.
        hops = app.config["TRUSTED_PROXIES"]
        # Flask's documented way to wrap the WSGI app; mypy sees a method replaced.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    )

    app.json = ReadableJSON(app)
    cookie_session.init_app(app)

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    replica.init_app(app)
    # The interface's words: templates' _() in the language the routes chose (g.lang).
    babel.init_app(
        app,
        locale_selector=request_language,
        default_locale=DEFAULT_LANGUAGE,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )

    # Before any rule is added: ids and names in URLs that the database can look up.
    converters.init_app(app)
    buffer.init_app(app)
    static_files.init_app(app)
    security.init_app(app)
    app.register_blueprint(public_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health.bp)
    metrics.init_app(app)
    app.register_blueprint(admin.bp)
    admin.init_app(app)
    api.init_app(app)
    errors.register(app)
    return app


def _sqlite_pragmas(connection, _record) -> None:
    """The embedded mode's SQLite in WAL mode: an export or a dashboard reading for
    seconds no longer holds up the submissions being stored meanwhile (readers and
    the writer stop blocking each other), and a writer waits its turn for up to 5 s
    instead of failing at once."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
