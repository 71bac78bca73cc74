#!/usr/bin/env python3
"""Exports of a survey with a roster (issue 15): households and their members, 1:n.

    .venv/bin/python benchmarks/roster_export.py [--households 10000] [--members 4]
                                                 [--workdir DIR]

Builds once, in a SQLite file under --workdir, the household survey of the tests
(tests/roster_survey.py) with N households of M members each, then times each
export (xlsx with its roster sheet, the CSV .zip, the .sav and .dta .zip, the R
bundle) one after another in this process. Prints seconds, responses/s, roster
lines/s and the file's size.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ("xlsx", "csv", "sav", "dta", "r")
INSERT_BATCH = 2_000


def household(rng: random.Random, members: int) -> dict:
    """A household's stored answers (typed, as clean_answers leaves them)."""
    rows = []
    for _ in range(members):
        age = rng.randint(0, 90)
        row = {
            "member_name": rng.choice(["Nguyễn Thị Lan", "Trần Văn Minh", "K'Sor H'Hen"]),
            "sex": rng.choice(["female", "male"]),
            "age": age,
        }
        if 5 <= age <= 18:
            row["in_school"] = rng.choice(["yes", "no"])
        if rng.random() < 0.7:
            row["languages"] = rng.sample(["vi", "koho", "en"], rng.randint(1, 2))
        rows.append(row)
    return {
        "district": rng.choice(["da_lat", "bao_loc"]),
        "size": members,
        "members": rows,
        "comment": "Nhà gần trường",
    }


def build(url: str, households: int, members: int) -> None:
    import flask_migrate
    import sqlalchemy as sa

    from survey_engine import MIGRATIONS_DIR, create_app
    from survey_engine.catalog import save_definition
    from survey_engine.extensions import db
    from survey_engine.models import Response
    from tests.roster_survey import household_definition

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        survey = save_definition(household_definition(), publish=True)
        version = survey.published_version()
        rng = random.Random(15)
        now = datetime.now(UTC)
        for first in range(0, households, INSERT_BATCH):
            rows = [
                {
                    "survey_id": survey.id,
                    "version_id": version.id,
                    "submission_id": uuid.UUID(int=rng.getrandbits(128)),
                    "submitted_at": now - timedelta(seconds=households - n),
                    "answers": household(rng, members),
                    "source": "web",
                    "meta": {},
                }
                for n in range(first, min(first + INSERT_BATCH, households))
            ]
            db.session.execute(sa.insert(Response), rows)
            db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=ROOT / "instance" / "bench-roster")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db_file = args.workdir / f"households-{args.households}x{args.members}.sqlite3"
    url = f"sqlite:///{db_file}"
    if not db_file.exists():
        started = time.perf_counter()
        build(url, args.households, args.members)
        print(f"built {args.households:,} households in {time.perf_counter() - started:.0f} s")

    from survey_engine import create_app
    from survey_engine.catalog import find_survey
    from survey_engine.exporting.survey_file import export_survey
    from tests.roster_survey import HOUSEHOLD_SLUG

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    lines = args.households * args.members
    print(f"{args.households:,} households x {args.members} members = {lines:,} roster lines")
    print(f"{'format':8} {'seconds':>8} {'responses/s':>12} {'lines/s':>10} {'MiB':>7}")
    with app.app_context():
        survey = find_survey(HOUSEHOLD_SLUG)
        for fmt in FORMATS:
            out = args.workdir / f"out-{fmt}"
            started = time.perf_counter()
            count = export_survey(survey, out, fmt)
            seconds = time.perf_counter() - started
            size = out.stat().st_size / 2**20
            print(
                f"{fmt:8} {seconds:8.2f} {count / seconds:12,.0f} {lines / seconds:10,.0f}"
                f" {size:7.1f}"
            )


if __name__ == "__main__":
    main()
