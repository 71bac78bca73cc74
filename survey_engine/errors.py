"""Error pages: JSON under /api/, a plain message page elsewhere; never a traceback."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from survey_engine.i18n import UI_LANGUAGES, choose_language
from survey_engine.public.routes import render_message

PAGE_KEYS = {404: "not_found", 413: "too_large"}


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return {"error": error.description}, error.code
        key = PAGE_KEYS.get(error.code)
        if key is None:
            return error
        return render_message(choose_language(UI_LANGUAGES, "vi"), key, error.code)
