"""Counters of the submit path and the queue's state, for /metrics and /healthz.

With Redis the counters live in each survey's `se:{id}:counters` hash, shared by
every web process and worker (the accept script and the drain update them). In
inline mode they are this process's own and restart from zero.
"""

from __future__ import annotations

import time
from collections import Counter

import redis
import sqlalchemy as sa
from flask import Blueprint, Response

from survey_engine.buffer import (
    SURVEYS_KEY,
    counters_key,
    current_buffer,
    dead_key,
    stream_key,
)
from survey_engine.extensions import db
from survey_engine.models import Survey, Tally

bp = Blueprint("metrics", __name__)

OUTCOMES = ("accepted", "duplicates", "conflicts", "rejected", "stored_directly")
_local: Counter[tuple[int, str]] = Counter()


def count(survey_id: int, outcome: str) -> None:
    """Count an outcome the accept script does not count itself."""
    buffer = current_buffer()
    if buffer is None:
        _local[(survey_id, outcome)] += 1
        return
    try:
        buffer.client.hincrby(counters_key(survey_id), outcome, 1)
    except redis.RedisError:
        _local[(survey_id, outcome)] += 1


def queue_state() -> dict:
    """Backlog, oldest waiting entry and dead letters over all surveys' streams."""
    buffer = current_buffer()
    if buffer is None:
        return {"queue": "inline", "backlog": 0, "oldest_pending_seconds": 0, "dead_letters": 0}
    client = buffer.client
    per_survey = {}
    now_ms = time.time() * 1000
    for raw in client.smembers(SURVEYS_KEY):
        survey_id = int(raw)
        pipe = client.pipeline(transaction=False)
        pipe.xlen(stream_key(survey_id))
        pipe.xrange(stream_key(survey_id), count=1)
        pipe.xlen(dead_key(survey_id))
        pipe.hgetall(counters_key(survey_id))
        backlog, first, dead, counters = pipe.execute()
        oldest = (now_ms - int(first[0][0].split(b"-")[0])) / 1000 if first else 0.0
        per_survey[survey_id] = {
            "backlog": backlog, "oldest_pending_seconds": max(oldest, 0.0),
            "dead_letters": dead,
            "counters": {k.decode(): int(v) for k, v in counters.items()},
        }
    return {
        "queue": "redis",
        "backlog": sum(s["backlog"] for s in per_survey.values()),
        "oldest_pending_seconds": max((s["oldest_pending_seconds"]
                                       for s in per_survey.values()), default=0.0),
        "dead_letters": sum(s["dead_letters"] for s in per_survey.values()),
        "surveys": per_survey,
    }


@bp.get("/metrics")
def metrics() -> Response:
    lines: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        lines.extend([f"# HELP survey_engine_{name} {text}", f"# TYPE survey_engine_{name} {kind}"])

    slugs: dict[int, str] = {}
    stored: dict[int, int] = {}
    try:
        slugs = dict(db.session.execute(sa.select(Survey.id, Survey.slug)).all())
        stored = dict(db.session.execute(
            sa.select(Tally.survey_id, sa.func.sum(Tally.count))
            .where(Tally.question == "", Tally.choice == "").group_by(Tally.survey_id)).all())
        database_up = 1
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database_up = 0
    try:
        state = queue_state()
        redis_up = 1
    except redis.RedisError:
        state, redis_up = {"surveys": {}}, 0

    def label(survey_id: int) -> str:
        return f'survey="{slugs.get(survey_id, survey_id)}"'

    counters: Counter[tuple[int, str]] = Counter(_local)
    for survey_id, survey in state.get("surveys", {}).items():
        for outcome, value in survey["counters"].items():
            counters[(survey_id, outcome)] += value

    family("submissions_total", "counter",
           "Submissions by outcome: accepted, duplicates, conflicts, rejected (invalid), "
           "stored_directly (Redis was unavailable or inline mode).")
    for (survey_id, outcome), value in sorted(counters.items()):
        if outcome in OUTCOMES:
            lines.append(f'survey_engine_submissions_total{{{label(survey_id)},'
                         f'outcome="{outcome}"}} {value}')
    family("persisted_total", "counter", "Submissions stored by the drain workers.")
    for (survey_id, outcome), value in sorted(counters.items()):
        if outcome == "persisted":
            lines.append(f"survey_engine_persisted_total{{{label(survey_id)}}} {value}")
    family("responses", "gauge", "Responses stored in the database (from the tallies).")
    for survey_id, value in sorted(stored.items()):
        lines.append(f"survey_engine_responses{{{label(survey_id)}}} {value}")
    for name, key, text in (
        ("backlog", "backlog", "Submissions buffered in Redis, not yet stored."),
        ("oldest_pending_seconds", "oldest_pending_seconds",
         "Age of the oldest buffered submission."),
        ("dead_letters", "dead_letters", "Submissions that could not be stored."),
    ):
        family(name, "gauge", text)
        for survey_id, survey in sorted(state.get("surveys", {}).items()):
            lines.append(f"survey_engine_{name}{{{label(survey_id)}}} {survey[key]}")
    family("up", "gauge", "Whether this web process reaches its database and Redis.")
    lines.append(f'survey_engine_up{{component="database"}} {database_up}')
    if current_buffer() is not None:
        lines.append(f'survey_engine_up{{component="redis"}} {redis_up}')
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
