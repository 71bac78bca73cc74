"""The .csv export: the responses sheet as UTF-8 with a BOM, so Excel reads Vietnamese."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from exports.columns import RowMaker
from exports.safe_cells import csv_safe


def write_csv(path: Path, rows: RowMaker, responses: Iterable[list[Any]]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_safe(c.header) for c in rows.columns])
        for chunk in responses:
            for response in chunk:
                count += 1
                writer.writerow([_cell(v) for v in rows.row(response)])
    return count


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return csv_safe(value)
