"""JSON API, version 1."""

from survey_engine.api import data, openapi, routes, uploads  # noqa: F401  (registers the routes)
from survey_engine.api.blueprint import bp
from survey_engine.api.limits import init_app

__all__ = ["bp", "init_app"]
