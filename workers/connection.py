"""The Redis connection and RQ queues of a worker or of a web process that enqueues."""

from __future__ import annotations

import redis
from flask import current_app
from rq import Queue

from survey_engine.buffer import connect

QUEUE_NAMES = ("default",)


def _url() -> str:
    url = current_app.config["REDIS_URL"]
    if not url:
        raise RuntimeError("REDIS_URL is not set: without Redis, submissions are stored by "
                           "the web process itself and jobs run in-process (inline mode)")
    return url


def redis_connection() -> redis.Redis:
    """For the drain and commands: short timeouts, a dead Redis is noticed at once."""
    return connect(_url())


def jobs_connection() -> redis.Redis:
    """For RQ, which blocks for minutes waiting for a job: no socket timeout."""
    return redis.Redis.from_url(_url())


def queues(connection: redis.Redis) -> list[Queue]:
    return [Queue(name, connection=connection) for name in QUEUE_NAMES]
