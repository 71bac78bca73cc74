"""What a view of the results leaves out by review status and quality flag, in words
of a file's language: the workbook's about sheet and the report's cover say it alike."""

from __future__ import annotations

from sqlalchemy.orm import Session

from survey_engine.i18n import message
from survey_engine.results.filters import Filters
from survey_engine.results.review_query import FLAG_NAMES, left_out


def left_out_lines(
    survey_id: int, filters: Filters, lang: str, reads: Session | None = None
) -> list[tuple[str, int]]:
    """('', total) of the responses the view's review statuses leave out, then
    (reason, count) by status and by flag, in the file's language."""
    left = left_out(survey_id, filters, reads)
    lines = [("", left.total)]
    lines += [
        (message("review_status_line", lang, status=message(f"review_status_{s}", lang)), n)
        for s, n in left.by_status.items()
    ]
    lines += [
        (message("review_flag_line", lang, flag=flag_label(flag, lang)), n)
        for flag, n in left.by_flag.items()
    ]
    return lines


def flag_label(flag: str, lang: str) -> str:
    """A quality flag in words; its name when it has none."""
    return message(f"review_flag_{flag}", lang) if flag in FLAG_NAMES else flag
