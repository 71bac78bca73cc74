"""The citizen's side: questionnaire pages that work without JavaScript."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from survey_engine.public import routes  # noqa: E402,F401
