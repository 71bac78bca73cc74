"""The paradata a request gives beside the answers (docs/privacy.md): the device class
and browser family of its User-Agent, the pages the page's script counted, and the
time from the first view to the submission. Each is cut to what it can honestly be:
whatever a client sends, no value is stored that the page could not have produced.

The device token, network key and first-view time are respondent.py's; an anonymous
survey keeps none of these (intake/submit.py leaves its paradata empty).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from survey_engine.useragent import describe

MAX_DURATION = timedelta(days=7)  # as respondent.STARTED_MAX_AGE: older is unknown
PAGES_FIELD_LENGTH = 6  # digits of the hidden field `pages` read at all


def client_paradata(
    user_agent: str | None, pages: str | None = None, page_count: int | None = None
) -> dict:
    """device_class and browser from `user_agent`; pages_visited from the hidden field
    `pages` of a questionnaire with `page_count` pages (absent for the API)."""
    agent = describe(user_agent)
    paradata: dict = {"device_class": agent.device_class, "browser": agent.browser}
    if page_count is not None:
        paradata["pages_visited"] = pages_visited(pages, page_count)
    return paradata


def pages_visited(value: str | None, page_count: int) -> int | None:
    """The script's count, clamped to 0..page_count; None without one (no JavaScript,
    or not a number)."""
    text = (value or "").strip()
    if not text or len(text) > PAGES_FIELD_LENGTH or not (text.isascii() and text.isdigit()):
        return None
    return min(int(text), max(page_count, 0))


def duration_seconds(started_at: datetime | None, submitted_at: datetime) -> int | None:
    """Whole seconds from the first view to the submission, clamped to 0..7 days (a
    clock that went back is 0); None when the first view is unknown."""
    if started_at is None:
        return None
    seconds = (submitted_at - started_at).total_seconds()
    return int(min(max(seconds, 0), MAX_DURATION.total_seconds()))
