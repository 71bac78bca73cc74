"""GET /healthz: is the database reachable, what buffers submissions, how much waits."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint

from survey_engine.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database = "unreachable"
    # Inline mode persists each submission before answering: nothing is ever waiting.
    healthy = database == "ok"
    body = {"status": "ok" if healthy else "degraded", "database": database,
            "queue": "inline", "backlog": 0}
    return body, 200 if healthy else 503
