"""Problems shown to staff: the first MAX_LISTED_PROBLEMS, then how many more.

Why: a page listing 2.1 million problems helps nobody and weighed 162 MB; the upload
page, the import command and the XLSForm reader all list problems this one way.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_LISTED_PROBLEMS = 100  # problems listed; the rest are counted


class ProblemList:
    """Problems as they are found: the first MAX_LISTED_PROBLEMS kept, all counted."""

    def __init__(self, problems: Iterable[str] = (), total: int | None = None) -> None:
        self.listed: list[str] = []
        self.total = 0
        for problem in problems:
            self.add(problem)
        self.total = max(total or 0, self.total)

    def add(self, text: str) -> None:
        """Count one more problem; keep its text while fewer than the limit are kept."""
        self.total += 1
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(text)

    @property
    def more(self) -> int:
        """How many problems were counted but not listed."""
        return self.total - len(self.listed)
