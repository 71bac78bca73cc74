"""Who calls the staff side of the API, and which survey they may read.

The 401/404 contract of the data API (docs/api.md): no valid credentials is 401; a
survey that does not exist and one not shared with the caller are the same 404, so a
token cannot be used to find out which slugs exist. (The results endpoint keeps its
older, documented 403 for a survey not shared.)
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from survey_engine.catalog import find_survey
from survey_engine.models import Survey, User
from survey_engine.staff.accounts import may_see, user_for_token

UNAUTHORIZED_TEXT = "sign in, or send Authorization: Bearer <token>"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="survey-engine"'}
NOT_VISIBLE_TEXT = "no survey with this slug that your account may see"


def staff_user() -> User | None:
    """The caller: a valid `Authorization: Bearer` token, else a staff session.

    A token that is sent but not valid is refused even with a session beside it.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return user_for_token(token.strip())
    return current_user if current_user.is_authenticated else None


def visible_survey(user: User, slug: str) -> Survey | None:
    """The survey if it exists and `user` may see its results, else None (one 404)."""
    survey = find_survey(slug)
    if survey is None or not may_see(user, survey):
        return None
    return survey


def unauthorized():
    return {"error": UNAUTHORIZED_TEXT}, 401, CHALLENGE
