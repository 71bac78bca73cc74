#!/usr/bin/env python3
"""The results dashboard after a restart, today's path against saved state, in one run.

    .venv/bin/python benchmarks/results.py [--sizes 100000,500000,1000000] [--rebuild]

Data: the demo survey (tro-lai-truong-hoc) with N responses in a PostgreSQL database
bench_results_<N> at 127.0.0.1:5432 (user postgres), built once and kept for the next
run (--rebuild builds it again): 5,000 answer sets drawn by survey_engine's own
fake_answers, repeated with new submission ids over ten days, written by COPY; the
tallies computed in bulk from the sets (what `survey-engine recount --fix` would
write), then VACUUM ANALYZE (what autovacuum does after a load).

Every measurement runs in a fresh process (a restart: empty caches), signed in as an
admin through the test client (the request's own work, no gunicorn):

  before   today's path: accumulate() in the request, no saved state: the first
           unfiltered view, a second one, a filtered view (f.district=da_lat);
  cold     the new path with nothing saved yet (just deployed): the first unfiltered and
           the filtered view, which (over RESULTS_REQUEST_SCAN_ROWS) ask for a job and
           say "Counting…" (the job is not started here);
  job      that job (jobs.count_results_job), unfiltered then filtered, as a worker runs it;
  after    the new path, restarted with the states saved: the same three views.

Peak RSS is the process's VmHWM (ru_maxrss). Prints a table; --json FILE keeps it.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from survey_engine import MIGRATIONS_DIR, create_app  # noqa: E402
from survey_engine.catalog import find_survey, save_definition  # noqa: E402
from survey_engine.definition import Definition  # noqa: E402
from survey_engine.definition.fake import fake_answers  # noqa: E402
from survey_engine.extensions import db  # noqa: E402
from survey_engine.intake import tallies  # noqa: E402
from survey_engine.jobs import count_results_job  # noqa: E402
from survey_engine.models import ResultState  # noqa: E402
from survey_engine.results import live as results_live  # noqa: E402
from survey_engine.results.accumulator import accumulate  # noqa: E402
from survey_engine.results.filters import Filters  # noqa: E402
from survey_engine.results.report import merged_survey  # noqa: E402
from survey_engine.results.saved import View  # noqa: E402
from survey_engine.staff.accounts import create_user  # noqa: E402
from tests.conftest import demo_definition  # noqa: E402

SLUG = "tro-lai-truong-hoc"
ADMIN, PASSWORD = "bench-admin@example.org", "bench-password-123"
BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
FILTER = "?f.district=da_lat"
SETS = 5_000
LAST = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
SPAN = timedelta(days=10)


def db_url(size: int) -> str:
    return f"{BASE_URL}bench_results_{size}"


# -- the data -------------------------------------------------------------------------


def stored(size: int) -> int | None:
    """Responses in the kept database, None if there is none."""
    engine = sa.create_engine(BASE_URL + "postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": f"bench_results_{size}"}
        )
    engine.dispose()
    if not exists:
        return None
    engine = sa.create_engine(db_url(size))
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    sa.text(
                        "SELECT coalesce(sum(count), 0) FROM tallies WHERE question = '' "
                        "AND choice = ''"
                    )
                )
                or 0
            )
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def build(size: int) -> float:
    """A fresh database with the demo survey and `size` responses; returns seconds."""
    started = time.perf_counter()
    admin = sa.create_engine(BASE_URL + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "bench_results_{size}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "bench_results_{size}"'))
    admin.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url(size)})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        save_definition(demo_definition(), publish=True)
        create_user(ADMIN, PASSWORD, "admin")
        db.session.commit()
        survey = find_survey(SLUG)
        version = survey.published_version()
        definition = Definition(version.definition)
        rng = random.Random(20261204)
        sets = [fake_answers(definition, rng) for _ in range(SETS)]
        texts = [json.dumps(answers, ensure_ascii=False) for answers in sets]
        step = SPAN / size
        raw = db.engine.raw_connection()
        with raw.cursor() as cursor:
            with cursor.copy(
                "COPY responses (survey_id, version_id, submission_id, "
                "submitted_at, answers, source, meta) FROM STDIN"
            ) as copy:
                for i in range(size):
                    copy.write_row(
                        (
                            survey.id,
                            version.id,
                            uuid.uuid4(),
                            LAST - step * (size - i),
                            texts[i % SETS],
                            "fake",
                            "{}",
                        )
                    )
        raw.commit()
        raw.close()
        uses = Counter(i % SETS for i in range(size))
        counted: Counter = Counter()
        for index, n in uses.items():
            for question, choice in tallies.keys_of(definition, sets[index]):
                counted[(survey.id, version.id, question, choice)] += n
        tallies.replace_counts(survey.id, counted)
        db.session.commit()
        db.engine.dispose()
    vacuum = sa.create_engine(db_url(size), isolation_level="AUTOCOMMIT")
    with vacuum.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    vacuum.dispose()
    return time.perf_counter() - started


# -- one measurement, in a child process ----------------------------------------------


def measure(mode: str, size: int) -> dict:
    """Run in the child: time the views of `mode`; returns figures for the table."""
    config = {"SQLALCHEMY_DATABASE_URI": db_url(size), "SECRET_KEY": "bench"}
    app = create_app(config)
    out: dict = {"mode": mode, "size": size}
    with app.app_context():
        survey = find_survey(SLUG)
        if mode in ("before", "cold"):
            db.session.execute(sa.delete(ResultState).where(ResultState.survey_id == survey.id))
            db.session.commit()
        if mode == "before":  # today's code: the whole scan in the request

            def prepare(survey_id, merged, view, previous, budget):
                return accumulate(survey_id, merged, view.filters, view.crosstab, previous)

            results_live.prepare = prepare
        if mode == "cold":  # the job is measured on its own ("job"), not here
            results_live.enqueue_background = lambda *args, **kwargs: None
        if mode == "job":
            filtered = Filters.from_args(
                MultiDict([("f.district", "da_lat")]), merged_survey(survey)
            )
            for name, view in (("unfiltered", View()), ("filtered", View(filtered))):
                started, cpu = time.perf_counter(), time.process_time()
                count_results_job(survey.id, view.to_json())
                out[name] = time.perf_counter() - started
                out[name + "_cpu"] = time.process_time() - cpu
            out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return out
        db.session.remove()
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    reply = client.post(
        "/admin/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token}
    )
    assert reply.status_code == 302, reply.status_code
    url = f"/admin/surveys/{SLUG}/results"
    for name, query in (("first", ""), ("second", ""), ("filtered", FILTER)):
        started, cpu = time.perf_counter(), time.process_time()
        reply = client.get(url + query)
        out[name] = time.perf_counter() - started
        out[name + "_cpu"] = time.process_time() - cpu
        html = reply.get_data(as_text=True)
        assert reply.status_code == 200, (reply.status_code, html[:500])
        out[name + "_counting"] = 'id="counting"' in html
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child(mode: str, size: int) -> dict:
    reply = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--sizes", str(size)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if reply.returncode:
        raise RuntimeError(f"{mode} {size} failed:\n{reply.stderr[-3000:]}")
    return json.loads(reply.stdout.strip().splitlines()[-1])


# -- the table ------------------------------------------------------------------------


def seconds(run: dict, name: str) -> str:
    mark = " (Counting…)" if run.get(name + "_counting") else ""
    return f"{run[name]:.2f} s{mark}"


def table(rows: list[dict]) -> str:
    out = io.StringIO()
    out.write(
        "| responses | path | first unfiltered view | second view | filtered view "
        "| peak RSS |\n|---|---|---|---|---|---|\n"
    )
    for row in rows:
        size = f"{row['size']:,}"
        b, c, j, a = row["before"], row["cold"], row["job"], row["after"]
        out.write(
            f"| {size} | today: full scan in the request | {seconds(b, 'first')} | "
            f"{seconds(b, 'second')} | {seconds(b, 'filtered')} | "
            f"{b['rss_mib']:.1f} MiB |\n"
        )
        out.write(
            f"| {size} | new, nothing saved yet | {seconds(c, 'first')} | "
            f"{seconds(c, 'second')} | {seconds(c, 'filtered')} | "
            f"{c['rss_mib']:.1f} MiB |\n"
        )
        out.write(
            f"| {size} | the job (worker) | {j['unfiltered']:.2f} s | | "
            f"{j['filtered']:.2f} s | {j['rss_mib']:.1f} MiB |\n"
        )
        out.write(
            f"| {size} | new, restarted with saved state | {seconds(a, 'first')} | "
            f"{seconds(a, 'second')} | {seconds(a, 'filtered')} | "
            f"{a['rss_mib']:.1f} MiB |\n"
        )
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,500000,1000000")
    parser.add_argument("--rebuild", action="store_true", help="build the databases anew")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(measure(args.child, sizes[0])))
        return
    rows = []
    for size in sizes:
        if args.rebuild or stored(size) != size:
            print(f"building {size:,} responses…", flush=True)
            print(f"  built in {build(size):.0f} s", flush=True)
        row = {"size": size}
        for mode in ("before", "cold", "job", "after"):
            row[mode] = child(mode, size)
            print(f"  {size:,} {mode}: {row[mode]}", flush=True)
        rows.append(row)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
