"""The audit log: every staff action that creates, publishes, closes, exports or
deletes something, or changes who may do what.

record() commits its row by itself, after the action it describes has been
committed: a failed action leaves no entry, and an entry is never lost with a
rolled-back request.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_login import current_user

from survey_engine.extensions import db
from survey_engine.models import AuditEvent, Survey, User

# What the log can say, in the order the audit page offers them as a filter.
ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "sessions_ended",
    "survey_created",
    "version_uploaded",
    "survey_edited",
    "published",
    "closed",
    "reopened",
    "archived",
    "duplicated",
    "deleted",
    "exported",
    "responses_accepted",
    "responses_excluded",
    "responses_flagged",
    "user_created",
    "role_changed",
    "password_reset",
    "password_changed",
    "user_unlocked",
    "user_deleted",
    "shared",
    "unshared",
    "token_created",
    "token_revoked",
    "codes_created",
    "codes_downloaded",
    "paradata_purged",
    "weighted",
    "webhook_added",
    "webhook_removed",
    "webhook_secret_shown",
    "webhook_secret_renewed",
    "webhook_replayed",
)
COMMAND_LINE = "command line"  # the actor of `survey-engine …` commands
ANONYMOUS = "anonymous"  # the actor of a web request nobody is signed in to (a failed login)


def record(
    action: str,
    survey: Survey | str | None = None,
    actor: User | None = None,
    actor_name: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Log `action` by `actor` (default: the signed-in user; outside a request,
    `actor_name` if given, e.g. the workers, else the command line)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    in_request = has_request_context()
    if actor is None and in_request and current_user.is_authenticated:
        actor = current_user
    slug = survey.slug if isinstance(survey, Survey) else survey
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor=actor.email if actor else actor_name or (ANONYMOUS if in_request else COMMAND_LINE),
        action=action,
        survey_slug=slug,
        detail=detail,
    )
    db.session.add(event)
    db.session.commit()
    return event
