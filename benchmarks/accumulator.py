#!/usr/bin/env python3
"""The response accumulator's own cost, without the database: N random valid demo
responses in memory, counted in chunks of 5,000 as the dashboard counts them, and
as the workbook does (its sheets' counts only, with a breakdown by district); each
also with raking weights on role and district (the weighted sums beside the counts),
side by side. Best of three.

    .venv/bin/python benchmarks/accumulator.py [N]      (default 75,000)
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections import Counter, namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from survey_engine.definition import Definition  # noqa: E402
from survey_engine.definition.fake import fake_answers  # noqa: E402
from survey_engine.definition.merged import MergedSurvey  # noqa: E402
from survey_engine.raking import rake  # noqa: E402
from survey_engine.results.accumulator import Accumulator  # noqa: E402
from survey_engine.results.weights import CellWeights  # noqa: E402

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

    weights = _weights(rows)

    def count(breakdown: str | None, weighted: bool = False) -> None:
        counts = Accumulator(
            survey,
            breakdown=breakdown,
            views=breakdown is None,
            weights=weights if weighted else None,
        )
        for chunk in chunks:
            counts.add(chunk)

    print(f"{size:,} responses in memory                 unweighted  weighted")
    for name, breakdown in (
        ("the dashboard's counts", None),
        ("the workbook's, by district", "district"),
    ):
        plain = best_of(3, lambda b=breakdown: count(b))
        weighted = best_of(3, lambda b=breakdown: count(b, True))
        print(f"  {name:<36} {plain:8.2f} s {weighted:8.2f} s")


def _weights(rows: list) -> CellWeights:
    """Raking weights to a planted margin: half the respondents parents, a third in Đà Lạt."""
    cells = Counter((r.answers["role"], r.answers["district"]) for r in rows)
    roles = {"parent": 0.5, "pupil": 0.2, "teacher": 0.2, "other": 0.1}
    districts = sorted({d for _, d in cells})
    shares = {d: (1 / 3 if d == "da_lat" else 2 / 3 / (len(districts) - 1)) for d in districts}
    result = rake(cells, [roles, shares])
    return CellWeights(
        ("role", "district"), result.weights, result.factors, result.scale, None, "bench"
    )


if __name__ == "__main__":
    main()
