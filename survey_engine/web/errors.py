"""Error pages: JSON under /api/, a plain message page elsewhere; never a traceback."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, request
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from survey_engine.extensions import db
from survey_engine.i18n import UI_LANGUAGES, choose_language
from survey_engine.intake.submission import RETRY_AFTER_SECONDS
from survey_engine.public.rendering import render_message

PAGE_KEYS = {404: "not_found", 413: "too_large", 503: "service_unavailable"}


def register(app: Flask) -> None:
    @app.errorhandler(sa.exc.OperationalError)
    def database_unreachable(error: sa.exc.OperationalError):
        """A web process that never saw the database (started during an outage)."""
        db.session.rollback()
        return http_error(
            ServiceUnavailable(
                "the database cannot be reached; send the same request again later",
                retry_after=int(RETRY_AFTER_SECONDS),
            )
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        headers = {k: v for k, v in error.get_headers() if k == "Retry-After"}
        if request.path.startswith("/api/"):
            if error.response is not None:  # made for it (the data API's 429: api/limits.py)
                return error.response
            return {"error": error.description}, error.code, headers
        key = PAGE_KEYS.get(error.code) if error.code is not None else None
        if key is None or error.code is None:
            return error
        html, status = render_message(choose_language(UI_LANGUAGES, "vi"), key, error.code)
        return html, status, headers
