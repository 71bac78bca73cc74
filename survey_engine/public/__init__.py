"""The citizen's side: questionnaire pages that work without JavaScript."""

from survey_engine.public import quota_check, routes  # noqa: F401  (registers the routes)
from survey_engine.public.blueprint import bp

__all__ = ["bp"]
