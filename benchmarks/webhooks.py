"""The drain's throughput with webhooks: none, a healthy receiver, a refusing one (port
closed) and a hanging one (accepts, never answers). The point: a dead receiver must
not slow the drain, which only writes outbox rows; the worker's sending thread runs
beside it, as in `survey-engine worker`.

The same --count submissions (fake valid answers of the demo survey) are put in the
Redis stream for each case, then drained by a Drainer in batches of DRAIN_BATCH_SIZE
while a webhooks Sender runs in its own thread (as workers/main.py does). Prints the
drain's rows/s per case and, at the end of the drain, the deliveries sent.

    python benchmarks/webhooks.py --count 20000 --port 5342 --rounds 3 \
        --redis redis://127.0.0.1:5349/0 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/se_webhooks_bench

Each round runs every case once (in turn, the order reversed every other round, as
the machine's load drifts); the median rows/s per case is compared.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import flask_migrate
import redis
import sqlalchemy as sa

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import definition_of, published, save_definition
from survey_engine.definition import clean_answers
from survey_engine.definition.fake import fake_answers
from survey_engine.extensions import db
from survey_engine.intake.buffer import SURVEYS_KEY, stream_key
from survey_engine.intake.drain import Drainer
from survey_engine.intake.submission import Submission
from survey_engine.models import DeliveryStatus, WebhookDelivery
from survey_engine.webhooks.endpoints import add_endpoint
from survey_engine.webhooks.sending import Sender

SLUG = "tro-lai-truong-hoc"
CASES = ("none", "healthy", "refused", "hanging")


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def fresh_database(url: str, folder: Path, case: str) -> str:
    if not url.startswith("postgresql"):
        return f"sqlite:///{folder / (case + '.sqlite3')}"
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(url.rsplit("/", 1)[0] + "/template1", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def answer_sets(app, count: int) -> list[dict]:
    definition = definition_of(published(SLUG).version_id)
    rng = random.Random(2022)
    pool = []
    for _ in range(min(count, 2000)):
        cleaned, errors = clean_answers(
            definition, fake_answers(definition, rng), definition.default_language
        )
        assert not errors
        pool.append(cleaned)
    return pool


def run_case(case: str, args, folder: Path, ids: list[uuid.UUID]) -> dict:
    url = fresh_database(args.database, folder, case)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": args.redis,
            "SECRET_KEY": "benchmark",
            "WEBHOOK_ALLOW_LOOPBACK": True,
        }
    )
    receiver = hanging = None
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        text = resources.files("survey_engine").joinpath(f"demo/{SLUG}.json").read_text("utf-8")
        save_definition(json.loads(text), publish=True)
        survey = published(SLUG)
        pool = answer_sets(app, len(ids))
        if case == "healthy":
            receiver = ThreadingHTTPServer(("127.0.0.1", args.port), _Ok)
            receiver.daemon_threads = True
            threading.Thread(target=receiver.serve_forever, daemon=True).start()
        elif case == "hanging":  # connections queue in the backlog; nobody answers
            hanging = socket.create_server(("127.0.0.1", args.port), backlog=1024)
        if case != "none":
            add_endpoint(survey.survey_id, f"http://127.0.0.1:{args.port}/hook", "benchmark")
        client = redis.Redis.from_url(args.redis)
        client.flushdb()
        key = stream_key(survey.survey_id)
        pipe = client.pipeline(transaction=False)
        for i, submission_id in enumerate(ids):
            entry = Submission(
                survey.survey_id, survey.version_id, submission_id, pool[i % len(pool)]
            )
            pipe.xadd(key, {"submission": entry.to_json()})
            if i % 1000 == 999:
                pipe.execute()
        pipe.sadd(SURVEYS_KEY, survey.survey_id)
        pipe.execute()
        db.session.remove()
    drainer = Drainer(app, app.extensions["stream_buffer"].client, name="benchmark")
    sender = Sender(app, poll=0.2)
    stop = threading.Event()
    sending = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    sending.start()
    with app.app_context():
        started = time.perf_counter()
        stored = 0
        while True:
            moved = drainer.drain_once()
            if not moved:
                break
            stored += moved
        seconds = time.perf_counter() - started
        db.session.remove()
        counts = dict(
            db.session.execute(
                sa.select(WebhookDelivery.status, sa.func.count()).group_by(WebhookDelivery.status)
            ).all()
        )
        db.session.remove()
    stop.set()
    sending.join(timeout=30)
    if receiver is not None:
        receiver.shutdown()
        receiver.server_close()
    if hanging is not None:
        hanging.close()
    client.flushdb()
    client.close()
    with app.app_context():
        db.engine.dispose()
    return {
        "rows": stored,
        "seconds": seconds,
        "delivered": counts.get(DeliveryStatus.DELIVERED, 0),
        "pending": counts.get(DeliveryStatus.PENDING, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", default="sqlite", help="a PostgreSQL URL (its database is dropped) or sqlite"
    )
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:5349/0", help="a Redis of its own: flushed!"
    )
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=5342)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    ids = [uuid.uuid4() for _ in range(args.count)]
    cases = args.cases.split(",")
    rates: dict[str, list[float]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for case in cases if round_ % 2 == 0 else cases[::-1]:
                r = run_case(case, args, Path(folder), ids)
                rates[case].append(r["rows"] / r["seconds"])
                print(
                    f"round {round_ + 1} {case:>8}: {r['rows']:>7} rows in {r['seconds']:6.2f} s"
                    f" = {r['rows'] / r['seconds']:8.0f} rows/s; deliveries when the drain"
                    f" ended: {r['delivered']} delivered, {r['pending']} waiting",
                    flush=True,
                )
    medians = {case: statistics.median(values) for case, values in rates.items()}
    base = medians.get("none")
    print(f"\ndrain rows/s, median of {args.rounds} round(s), {args.count} submissions:")
    for case, rate in medians.items():
        relative = f"{rate / base:5.2f}x" if base else ""
        print(f"  {case:>8} {rate:8.0f}  {relative}")


if __name__ == "__main__":
    main()
