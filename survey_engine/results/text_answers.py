"""Free-text answers (text questions and 'other' texts): searched as people type on a
phone, paged newest first, read chunk by chunk."""

from __future__ import annotations

import math
import unicodedata
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from survey_engine.localtime import to_local
from survey_engine.replica import reading
from survey_engine.results.filters import Filters
from survey_engine.results.responses import NO_FILTERS, response_chunks

TEXT_PAGE_SIZE = 50


def fold(text: str) -> str:
    """For searching as people type on a phone: without case and Vietnamese tone marks
    ('dam bao' finds 'Đảm bảo')."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.replace("đ", "d")


@dataclass(frozen=True)
class TextAnswer:
    response_id: int
    submitted_at: datetime  # local time
    text: str


@dataclass(frozen=True)
class TextPage:
    total: int  # answers that match, over every page
    page: int
    per_page: int
    items: tuple[TextAnswer, ...]  # newest first

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def text_answers(
    survey_id: int,
    field_name: str,
    filters: Filters = NO_FILTERS,
    query: str = "",
    page: int = 1,
    per_page: int = TEXT_PAGE_SIZE,
) -> TextPage:
    """One page of the answers to a text field that contain `query`, newest first.

    The chunks come oldest first; only the newest page * per_page matches are kept
    as they go, so memory follows the page asked for, not the number of answers."""
    needle = fold(query.strip())
    kept: deque[TextAnswer] = deque(maxlen=page * per_page)
    total = 0
    with reading() as reads:
        for chunk in response_chunks(survey_id, filters, reads=reads):
            for row in chunk:
                value = (row.answers or {}).get(field_name)
                if value is None:
                    continue
                text = str(value)
                if not text.strip() or (needle and needle not in fold(text)):
                    continue
                total += 1
                kept.append(TextAnswer(row.id, to_local(row.submitted_at), text))
    newest_first = list(kept)[::-1]
    start = (page - 1) * per_page
    return TextPage(total, page, per_page, tuple(newest_first[start : start + per_page]))
