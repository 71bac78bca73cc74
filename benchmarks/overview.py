#!/usr/bin/env python3
"""The staff overview (/admin/) with many surveys: its time and its "responses today"
query plan on PostgreSQL.

    .venv/bin/python benchmarks/overview.py DATABASE_URL [--surveys 500] [--responses 600000]

DATABASE_URL names an empty PostgreSQL database (it is migrated here, then filled):
SURVEYS published surveys, RESPONSES responses spread over them and over the last 60
days (so about 1/60 are today's), written by one INSERT ... SELECT, then ANALYZE. Then,
signed in as an admin through the test client (the request's own work, no gunicorn):
the first page of the overview, the median of 5 after a warm-up, its query count, and
EXPLAIN (ANALYZE, BUFFERS) of the "responses today" query as the page sends it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from survey_engine import MIGRATIONS_DIR, create_app  # noqa: E402
from survey_engine.catalog import save_definition  # noqa: E402
from survey_engine.extensions import db  # noqa: E402
from survey_engine.staff.accounts import create_user  # noqa: E402
from tests.test_overview import small_definition  # noqa: E402
from tests.test_staff import PASSWORD, login  # noqa: E402

ADMIN = "bench-admin@example.org"


def fill(surveys: int, responses: int) -> None:
    if db.session.scalar(sa.text("SELECT count(*) FROM surveys")) >= surveys:
        return  # filled by an earlier run
    for n in range(surveys):
        save_definition(small_definition(f"khao-sat-{n:04}", f"Khảo sát số {n}"), publish=True)
    db.session.execute(
        sa.text(
            """
            INSERT INTO responses (survey_id, version_id, submission_id, submitted_at,
                                   answers, source, meta, status, flags)
            SELECT v.survey_id, v.id, gen_random_uuid(),
                   now() - ((g::bigint * 7919) % 5184000) * interval '1 second',
                   '{"q1": "ý kiến"}', 'web', '{}', 'unreviewed', '[]'
            FROM generate_series(1, :responses) AS g
            JOIN survey_versions v ON v.survey_id = (SELECT min(id) FROM surveys) + g % :surveys
            """
        ),
        {"responses": responses, "surveys": surveys},
    )
    create_user(ADMIN, PASSWORD, "admin")
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--surveys", type=int, default=500)
    parser.add_argument("--responses", type=int, default=600_000)
    args = parser.parse_args()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url,
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key-overview",
        }
    )
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        fill(args.surveys, args.responses)
        client = app.test_client()
        assert login(client, ADMIN).status_code == 302
        statements: list[tuple[str, object]] = []

        def count(conn, cursor, statement, parameters, *rest):
            statements.append((statement, parameters))

        client.get("/admin/")  # warm: connections, templates, translations
        times = []
        for _ in range(5):
            statements.clear()
            sa.event.listen(db.engine, "before_cursor_execute", count)
            started = time.perf_counter()
            page = client.get("/admin/")
            times.append(time.perf_counter() - started)
            sa.event.remove(db.engine, "before_cursor_execute", count)
            assert page.status_code == 200
        listed = page.get_data(as_text=True).count("<tr data-slug=")
        print(f"overview, {args.surveys} surveys, {args.responses:,} responses: {listed} listed,")
        print(f"  median {statistics.median(times) * 1000:.0f} ms, {len(statements)} queries")
        [(today, parameters)] = [s for s in statements if "submitted_at" in s[0]]
        with db.engine.connect() as connection:
            plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + today, parameters)
            print("\n".join(row[0] for row in plan))


if __name__ == "__main__":
    main()
