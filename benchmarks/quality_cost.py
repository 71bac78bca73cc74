"""What the quality checks cost PostgreSQL per stored row when small batches arrive
from one busy network key (the campaign's shape: every submission from 127.0.0.1, a
device token each, 5,000 answer sets reused).

Stores --rows responses through persist_batch in batches of --batch into a fresh
schema of --database (dropped and migrated again), and prints, per --every rows, the
PostgreSQL backend's CPU time per stored row (from /proc/<backend pid>/stat) and the
wall time of each quality step per batch.

    python benchmarks/quality_cost.py --database postgresql+psycopg://postgres@127.0.0.1:5432/se_drain
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import flask_migrate
import sqlalchemy as sa

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import definition_of, published, save_definition
from survey_engine.definition import clean_answers
from survey_engine.definition.fake import fake_answers
from survey_engine.extensions import db
from survey_engine.intake import quality, quality_burst, quality_network
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission

SLUG = "tro-lai-truong-hoc"
NAT = "b" * 64
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """utime + stime of a PostgreSQL backend, in seconds (it runs on this machine)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def timed(store: dict[str, float], name: str, module: Any, attr: str) -> None:
    original = getattr(module, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            store[name] += time.perf_counter() - started

    setattr(module, attr, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--rows", type=int, default=30000)
    parser.add_argument("--batch", type=int, default=30)
    parser.add_argument("--every", type=int, default=5000)
    parser.add_argument("--answer-sets", type=int, default=5000)
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE responses at each --every (what autovacuum would do; it is off on CI)",
    )
    args = parser.parse_args()

    engine = sa.create_engine(args.database)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database, "SECRET_KEY": "x"})
    steps: dict[str, float] = defaultdict(float)
    timed(steps, "speeders", quality, "_speeders")
    timed(steps, "devices", quality_network, "device_duplicates")
    timed(steps, "network", quality_network, "network_duplicates")
    timed(steps, "bursts", quality_burst, "bursts")
    if hasattr(quality_burst, "look_back"):
        timed(steps, "look_back", quality_burst, "look_back")
    timed(steps, "flag_earlier", quality, "_flag_earlier")
    timed(steps, "check_batch", quality, "check_batch")
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        text = resources.files("survey_engine").joinpath(f"demo/{SLUG}.json").read_text("utf-8")
        import json

        save_definition(json.loads(text), publish=True)
        survey = published(SLUG)
        assert survey is not None
        definition = definition_of(survey.version_id)
        rng = random.Random(2022)
        pool = []
        for _ in range(args.answer_sets):
            cleaned, errors = clean_answers(
                definition, fake_answers(definition, rng), definition.default_language
            )
            assert not errors
            pool.append(cleaned)
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.commit()
        start = datetime.now(UTC) - timedelta(seconds=args.rows * 0.05)
        cpu0, wall0, batches = backend_cpu(pid), time.perf_counter(), 0
        print(f"{'rows':>7} {'pg µs/row':>10} {'wall ms/batch':>14}  per batch ms: steps")
        for first in range(0, args.rows, args.batch):
            batch = [
                Submission(
                    survey.survey_id,
                    survey.version_id,
                    uuid.uuid4(),
                    pool[i % len(pool)],
                    submitted_at=start + timedelta(seconds=i * 0.05),
                    paradata={
                        "duration_seconds": rng.randint(120, 900),
                        "device_hash": uuid.uuid4().hex,
                        "network_key": NAT,
                        "started_at": start,
                    },
                )
                for i in range(first, min(first + args.batch, args.rows))
            ]
            persist_batch(batch)
            batches += 1
            done = first + len(batch)
            if done % args.every == 0 or done == args.rows:
                assert db.session.scalar(sa.text("SELECT pg_backend_pid()")) == pid
                db.session.commit()
                cpu = backend_cpu(pid) - cpu0
                wall = time.perf_counter() - wall0
                per = ", ".join(f"{k} {v * 1000 / batches:.1f}" for k, v in steps.items())
                print(
                    f"{done:>7} {cpu * 1e6 / (batches * args.batch):>10.0f} "
                    f"{wall * 1000 / batches:>14.1f}  {per}",
                    flush=True,
                )
                if args.analyze:
                    db.session.execute(sa.text("ANALYZE responses"))
                    db.session.commit()
                cpu0, wall0, batches = backend_cpu(pid), time.perf_counter(), 0
                steps.clear()


if __name__ == "__main__":
    main()
