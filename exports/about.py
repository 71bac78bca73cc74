"""The about sheet: what this workbook is, so a file forwarded by e-mail still says
which survey, which versions, which filters, how many responses of how many, when
(in Vietnam time), by whom, and whether any cell had to be cut."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exports.cells import SafeSheet, print_on_a4
from exports.safe_cells import CUT_MARKER
from survey_engine.localtime import to_local


@dataclass(frozen=True)
class AboutFacts:
    title: str
    slug: str
    versions: list[tuple[int, datetime | None]]  # (number, published at), newest first
    filter_lines: list[str]
    exported_at: datetime  # aware
    lang: str
    codes: bool
    # All responses of the survey, asked for once the export has read its own: a
    # response stored meanwhile then counts in the total, never only in the export.
    count_all: Callable[[], int]
    breakdown: str | None = None
    requested_by: str | None = None
    # Which reviewed responses were counted, in words, and those left out: the total
    # first, then (reason, count) by status and by flag, asked for once at the end.
    view: str = ""
    left_out: Callable[[], list[tuple[str, int]]] | None = None
    # The survey's privacy settings: no paradata at all, or erased this long after close.
    anonymous: bool = False
    retention_days: int | None = None


def write_about(
    sheet: SafeSheet,
    facts: AboutFacts,
    words: dict[str, str],
    exported: int,
    responses_sheets: list[str],
) -> None:
    """Label in column A, value in B (and when each version was published in C)."""
    sheet.ws.set_column(0, 0, 44)
    sheet.ws.set_column(1, 1, 60)
    sheet.ws.set_column(2, 2, 19)
    print_on_a4(sheet.ws)
    rows: list[tuple[Any, ...]] = [
        (words["about_survey"], facts.title),
        (words["about_slug"], facts.slug),
    ]
    rows += [
        (words["about_versions"] if i == 0 else None, number, _local(published))
        for i, (number, published) in enumerate(facts.versions)
    ]
    rows += [
        (words["filters"] if i == 0 else None, line)
        for i, line in enumerate(facts.filter_lines or [words["no_filters"]])
    ]
    rows += [
        (words["about_exported"], exported),
        (words["about_total"], facts.count_all()),
        *_review_rows(facts, words),
        (words["about_exported_at"], _local(facts.exported_at)),
        (words["about_language"], facts.lang),
        (words["about_values"], words["about_codes"] if facts.codes else words["about_labels"]),
        (words["about_breakdown"], facts.breakdown or words["about_none"]),
        (words["about_sheets"], ", ".join(responses_sheets)),
    ]
    if facts.requested_by:
        rows.append((words["about_requested_by"], facts.requested_by))
    if facts.anonymous:
        rows.append((words["about_paradata"], words["about_paradata_none"]))
    elif facts.retention_days is not None:
        kept = words["about_paradata_kept"].format(days=facts.retention_days)
        rows.append((words["about_paradata"], kept))
    sheet.write(0, 0, words["about_title"], "title")
    for row, (label, *values) in enumerate(rows, 1):
        sheet.write(row, 0, label, "bold")
        sheet.write_row(row, values, first_col=1)
    # Last, so that it counts the cuts of every sheet, this one's too.
    row = len(rows) + 1
    sheet.write(row, 0, words["about_cut"].format(marker=CUT_MARKER), "bold")
    sheet.write(row, 1, sheet.cuts.cells)


def _review_rows(facts: AboutFacts, words: dict[str, str]) -> list[tuple[Any, ...]]:
    """The view counted, how many it left out, and why (by status, by flag)."""
    rows: list[tuple[Any, ...]] = []
    if facts.view:
        rows.append((words["about_view"], facts.view))
    if facts.left_out is not None:
        total, *reasons = facts.left_out()
        rows.append((words["about_left_out"], total[1]))
        rows += [
            (words["about_left_why"] if i == 0 else None, label, count)
            for i, (label, count) in enumerate(reasons)
        ]
    return rows


def _local(moment: datetime | None) -> datetime | None:
    """Excel has no time zones: the province's wall-clock time."""
    return None if moment is None else to_local(moment).replace(tzinfo=None)
