"""1,000 concurrent submissions into a stratum with 100 places leave exactly 100.

A real gunicorn (threaded workers, on a port of 7500-7599) takes the submissions
from 48 client threads at once: (a) with Redis, the accept script grants the places
and the drain stores them; (b) without Redis, on PostgreSQL, each request's own
transaction takes a place with a conditional UPDATE. Either way: exactly 100 stored,
900 answered 410, and a stratum beside it untouched.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from survey_engine.intake.drain import Drainer
from tests.conftest import (
    DEMO_SLUG,
    TEST_REDIS_URL,
    fresh_postgres_database,
    new_id,
    seeded_app,
    stored_responses,
)
from tests.test_quotas import answers, district_role, fills, publish_quotas, strata

BIN = Path(sys.executable).parent
PORTS = range(7500, 7600)
API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
CROWD = 1000
PLACES = 100
BESIDE = 40  # submissions into another stratum during the race: all taken


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 7500-7599")


def post(port: int, body: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", API, json.dumps(body), {"Content-Type": "application/json"})
        reply = conn.getresponse()
        reply.read()
        return reply.status
    finally:
        conn.close()


@contextmanager
def gunicorn(database_url: str, logs: Path, redis_url: str | None = None) -> Iterator[int]:
    """gunicorn as in production (3 workers of 8 threads); yields its port."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    # Every client is 127.0.0.1: the circuit breakers' network and survey limits out of
    # reach (they are still checked on every submission), so that quotas alone refuse.
    env.update(LIMIT_NETWORK_PER_MINUTE=str(10**9), LIMIT_SURVEY_PER_MINUTE=str(10**9))
    if redis_url:
        env.update(REDIS_URL=redis_url, SECRET_KEY="quota-race")  # production needs a key
    port = _free_port()
    with (logs / "gunicorn.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                BIN / "gunicorn",
                *("--workers", "3", "--threads", "8", "--worker-class", "gthread"),
                *("-b", f"127.0.0.1:{port}", "--no-control-socket"),
                "survey_engine:create_app()",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((logs / "gunicorn.log").read_text())
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def race(port: int) -> tuple[Counter, Counter]:
    """CROWD submissions into da_lat|parent and BESIDE into bao_loc|teacher, all at
    once; the statuses of each."""
    bodies = [("crowd", answers()) for _ in range(CROWD)]
    for i in range(BESIDE):  # spread among the crowd, not after it
        bodies.insert(i * (CROWD // BESIDE + 1), ("beside", answers("bao_loc", "teacher")))
    started = time.perf_counter()
    with ThreadPoolExecutor(48) as pool:
        statuses = list(
            pool.map(
                lambda item: (item[0], post(port, {"submission_id": new_id(), "answers": item[1]})),
                bodies,
            )
        )
    seconds = time.perf_counter() - started
    rate = len(bodies) / seconds
    print(f"quota race: {len(bodies)} submissions in {seconds:.1f} s ({rate:.0f}/s)")
    crowd = Counter(status for who, status in statuses if who == "crowd")
    beside = Counter(status for who, status in statuses if who == "beside")
    return crowd, beside


def test_through_redis_exactly_the_places_are_stored(buffered_app, tmp_path) -> None:
    publish_quotas(district_role(PLACES))
    database_url = buffered_app.config["SQLALCHEMY_DATABASE_URI"]
    with gunicorn(database_url, tmp_path, redis_url=TEST_REDIS_URL) as port:
        crowd, beside = race(port)
    assert crowd == {202: PLACES, 410: CROWD - PLACES}
    assert beside == {202: BESIDE}
    drainer = Drainer(buffered_app, buffered_app.extensions["stream_buffer"].client, name="t")
    while drainer.drain_once():
        pass
    assert strata(stored_responses()) == {"da_lat|parent": PLACES, "bao_loc|teacher": BESIDE}
    assert fills() == {
        "district_role|da_lat|parent": PLACES,
        "district_role|bao_loc|teacher": BESIDE,
    }


@pytest.fixture
def postgres_app(tmp_path):
    """The app on a PostgreSQL database of its own, whatever the backend under test:
    the database path's guarantee is a row lock SQLite does not have."""
    name = f"survey_engine_quotas_{os.getpid()}"
    url = fresh_postgres_database(name)
    yield from seeded_app(url)
    fresh_postgres_database(name, create=False)


def test_on_the_database_path_exactly_the_places_are_stored(postgres_app, tmp_path) -> None:
    # The per-stratum limit overrides the quota's own.
    publish_quotas(district_role(5000, **{"da_lat|parent": PLACES}))
    with gunicorn(postgres_app.config["SQLALCHEMY_DATABASE_URI"], tmp_path) as port:
        crowd, beside = race(port)
    assert crowd == {202: PLACES, 410: CROWD - PLACES}
    assert beside == {202: BESIDE}
    assert strata(stored_responses()) == {"da_lat|parent": PLACES, "bao_loc|teacher": BESIDE}
    assert fills() == {
        "district_role|da_lat|parent": PLACES,
        "district_role|bao_loc|teacher": BESIDE,
    }
