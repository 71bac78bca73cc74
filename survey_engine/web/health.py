"""GET /healthz: can this web node take submissions, and how much is waiting.

With DATABASE_READ_URL, also the read replica's state and lag (replica.py). It never
changes the status code: submissions do not touch the replica, and the reads that do
fall back to the primary."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app

from survey_engine.extensions import db
from survey_engine.intake.counters import queue_state
from survey_engine.redis_connections import REDIS_ERRORS
from survey_engine.replica import replica_of

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
    replica = replica_of(current_app)
    if replica is not None:
        body.update(replica.health())
    return body, 200 if can_accept else 503
