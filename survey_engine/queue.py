"""Background jobs by name: queued for the workers, or run here in inline mode.

Web code and services name a job by its dotted path ("survey_engine.jobs.run_export_job")
and never import the worker: the worker imports them, not the other way round. The
Redis connections and RQ queues of a worker are made here too.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue
from rq.utils import import_attribute

from survey_engine.extensions import db
from survey_engine.redis_connections import BufferClient, buffer_client, jobs_client

QUEUE_NAMES = ("default",)
log = logging.getLogger(__name__)


def _url() -> str:
    url = current_app.config["REDIS_URL"]
    if not url:
        raise RuntimeError(
            "REDIS_URL is not set: without Redis, submissions are stored by "
            "the web process itself and jobs run in-process (inline mode)"
        )
    return url


def redis_connection() -> BufferClient:
    """The buffer's Redis, for the drain and commands: short timeouts, a dead Redis is
    noticed at once."""
    _url()
    return buffer_client(current_app.config)


def jobs_connection(blocking: bool = False) -> redis.Redis:
    """RQ's Redis (RQ_REDIS_URL, else REDIS_URL). `blocking` for RQ's worker, which waits
    minutes for a job: no socket timeout."""
    _url()
    return jobs_client(current_app.config, blocking=blocking)


def queues(connection: redis.Redis) -> list[Queue]:
    return [Queue(name, connection=connection) for name in QUEUE_NAMES]


def enqueue(job: str, *args: Any, job_timeout: int | None = None, **kwargs: Any) -> Any:
    """Queue the job named `job` (a dotted path in survey_engine.jobs); in inline mode (no
    REDIS_URL) run it here and now and return its result.

    job_timeout: seconds before RQ stops the job (RQ's default: 180).
    """
    if not job.startswith("survey_engine.jobs."):
        raise ValueError(f"not a job of survey_engine.jobs: {job!r}")
    if not current_app.config["REDIS_URL"]:
        return import_attribute(job)(*args, **kwargs)
    return queues(jobs_connection())[0].enqueue(job, *args, job_timeout=job_timeout, **kwargs)


def enqueue_background(job: str, *args: Any, job_timeout: int | None = None, **kwargs: Any) -> Any:
    """As enqueue, but in inline mode the job runs in a thread of this process, not in
    the request: for jobs that may take minutes (counting a million responses), which
    save their own progress, so a process that ends mid-way loses nothing but time.
    The thread is kept in app.extensions["background_jobs"] (tests join it)."""
    if current_app.config["REDIS_URL"]:
        return enqueue(job, *args, job_timeout=job_timeout, **kwargs)
    if not job.startswith("survey_engine.jobs."):
        raise ValueError(f"not a job of survey_engine.jobs: {job!r}")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=_run_in_thread,
        args=(app, job, args, kwargs),
        name=job.rsplit(".", 1)[-1],
        daemon=True,
    )
    threads = app.extensions.setdefault("background_jobs", [])
    threads[:] = [t for t in threads if t.is_alive()] + [thread]
    thread.start()
    return thread


def _run_in_thread(app: Flask, job: str, args: tuple, kwargs: dict) -> None:
    with app.app_context():
        try:
            import_attribute(job)(*args, **kwargs)
        except Exception:
            log.exception("background job %s failed", job)
        finally:
            db.session.remove()
