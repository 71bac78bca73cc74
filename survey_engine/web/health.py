"""GET /healthz: can this web node take submissions, and how much is waiting.

A load balancer polls it every second or two on every node, so it costs one
`SELECT 1` and the queue's figures from Redis, nothing else: no session, no survey,
no staff lookup (tests/test_nodes.py counts the statements). With DATABASE_READ_URL,
also the read replica's state and lag (replica.py, one query on the replica); they
never change the status code: submissions do not touch the replica, and the reads
that do fall back to the primary.

- 200: the node takes submissions (`status` "ok", or "degraded" when one of the
  database and Redis is down but the other can still hold a submission);
- 503: it can store a submission nowhere: take it out of rotation;
- 404 with `status` "draining": the file named by HEALTH_DRAIN_FILE exists. The
  operator is about to stop this node (a restart, a release): the balancer sends it
  no new requests while the ones in flight finish. 404 is what HAProxy's
  `http-check disable-on-404` reads as "drain" (the server stays up for connections
  already open, takes no new ones); any other balancer sees a failed check and
  stops routing to it too. docs/deployment.md has the procedure.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Blueprint, current_app

from survey_engine.extensions import db
from survey_engine.intake.counters import queue_state
from survey_engine.redis_connections import REDIS_ERRORS
from survey_engine.replica import replica_of

bp = Blueprint("health", __name__)


def draining() -> bool:
    """The drain file exists (one stat per poll; unset setting: never draining)."""
    path = current_app.config.get("HEALTH_DRAIN_FILE")
    return path is not None and os.path.exists(path)


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
    if draining():
        body["status"] = "draining"
        return body, 404, {"Cache-Control": "no-store"}
    return body, 200 if can_accept else 503, {"Cache-Control": "no-store"}
