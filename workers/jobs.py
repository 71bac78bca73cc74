"""Job functions. Each one runs inside an app context; in inline mode the caller's."""

from __future__ import annotations

from pathlib import Path

from flask import has_app_context

from exports import export_survey
from survey_engine.surveys import find_survey


def export_job(slug: str, path: str, fmt: str = "xlsx", lang: str | None = None) -> int:
    """Export one survey to `path`; returns the number of responses written."""
    if not has_app_context():
        from survey_engine import create_app

        with create_app().app_context():
            return export_job(slug, path, fmt, lang)
    survey = find_survey(slug)
    if survey is None:
        raise LookupError(f"no survey with slug {slug!r}")
    return export_survey(survey, Path(path), fmt, lang)
