#!/usr/bin/env python3
"""The response accumulator's own cost, without the database: N random valid demo
responses in memory, counted in chunks of 5,000 as the dashboard counts them, and
as the workbook does (its sheets' counts only, with a breakdown by district). Best
of three.

    .venv/bin/python benchmarks/accumulator.py [N]      (default 75,000)
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from survey_engine.definition import Definition  # noqa: E402
from survey_engine.definition.fake import fake_answers  # noqa: E402
from survey_engine.definition.merged import MergedSurvey  # noqa: E402
from survey_engine.results.accumulator import Accumulator  # noqa: E402

Row = namedtuple("Row", "id submission_id submitted_at version_id source answers")


def best_of(count: int, make: callable) -> float:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        make()
        seconds.append(time.perf_counter() - started)
    return min(seconds)


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 75_000
    data = json.loads((ROOT / "survey_engine/demo/tro-lai-truong-hoc.json").read_text("utf-8"))
    definition = Definition(data)
    rng = random.Random(1)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        Row(
            i + 1,
            uuid.uuid4(),
            start + timedelta(minutes=i),
            1,
            "fake",
            fake_answers(definition, rng),
        )
        for i in range(size)
    ]
    chunks = [rows[i : i + 5000] for i in range(0, size, 5000)]
    survey = MergedSurvey({1: definition})

    def count(breakdown: str | None) -> None:
        counts = Accumulator(survey, breakdown=breakdown, views=breakdown is None)
        for chunk in chunks:
            counts.add(chunk)

    print(f"{size:,} responses in memory")
    print(f"  the dashboard's counts:               {best_of(3, lambda: count(None)):.2f} s")
    print(f"  the workbook's, by district:          {best_of(3, lambda: count('district')):.2f} s")


if __name__ == "__main__":
    main()
