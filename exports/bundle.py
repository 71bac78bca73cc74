"""A survey with rosters exports 1:n: the responses' file and one file per roster (a
line per row, keyed by response_id and row), zipped together. The CSV, .sav, .dta
and R exports all do so, under the same names, so an analyst joins them alike."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

from exports.columns import RosterRows

MAIN_STEM = "responses"  # responses.csv, responses.sav, ...


def roster_stems(rosters: Iterable[RosterRows]) -> list[str]:
    """Each roster's file name without its ending: the roster's name ("members"), or
    "members_rows" should it be the responses' own."""
    return [
        f"{r.roster.name}_rows" if r.roster.name == MAIN_STEM else r.roster.name for r in rosters
    ]


def zip_files(path: Path, files: Iterable[tuple[Path, str]]) -> None:
    """Write the .zip at `path` of each (file, name in the zip)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file, name in files:
            bundle.write(file, name)
