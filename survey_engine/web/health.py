"""GET /healthz: can this web node take submissions, and how much is waiting."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint

from survey_engine.extensions import db
from survey_engine.intake.counters import queue_state
from survey_engine.redis_connections import REDIS_ERRORS

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database = "unreachable"
    try:
        state = queue_state()
        state.pop("surveys", None)
    except REDIS_ERRORS:
        state = {"queue": "unreachable"}
    queue = state.pop("queue")
    # Either store can hold a submission; the node is only unusable without both.
    can_accept = database == "ok" or queue == "redis"
    healthy = database == "ok" and queue in ("redis", "inline")
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "queue": queue,
        **state,
    }
    return body, 200 if can_accept else 503
