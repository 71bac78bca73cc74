"""Counters of the submit path and the queue's state, for /metrics and /healthz.

With Redis the counters live in each survey's `se:{id}:counters` hash, shared by
every web process and worker (the accept script and the drain update them). In
inline mode they are this process's own and restart from zero.
"""

from __future__ import annotations

import time
from collections import Counter

from survey_engine.intake.buffer import (
    SURVEYS_KEY,
    counters_key,
    current_buffer,
    dead_key,
    stream_key,
)
from survey_engine.redis_connections import REDIS_ERRORS

OUTCOMES = ("accepted", "duplicates", "conflicts", "rejected", "stored_directly")
local_counts: Counter[tuple[int, str]] = Counter()


def count(survey_id: int, outcome: str) -> None:
    """Count an outcome the accept script does not count itself."""
    add(survey_id, outcome, 1)


def add(survey_id: int, name: str, n: int) -> None:
    """Add n to a counter (the quality flags: `flag:<name>`)."""
    buffer = current_buffer()
    if buffer is None:
        local_counts[(survey_id, name)] += n
        return
    try:
        buffer.client.hincrby(counters_key(survey_id), name, n)
    except REDIS_ERRORS:
        local_counts[(survey_id, name)] += n


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
            "backlog": backlog,
            "oldest_pending_seconds": max(oldest, 0.0),
            "dead_letters": dead,
            "counters": {k.decode(): int(v) for k, v in counters.items()},
        }
    return {
        "queue": "redis",
        "backlog": sum(s["backlog"] for s in per_survey.values()),
        "oldest_pending_seconds": max(
            (s["oldest_pending_seconds"] for s in per_survey.values()), default=0.0
        ),
        "dead_letters": sum(s["dead_letters"] for s in per_survey.values()),
        "surveys": per_survey,
    }
