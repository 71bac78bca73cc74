"""Problems shown to staff: the first MAX_LISTED_PROBLEMS, then how many more.

Why: a page listing 2.1 million problems helps nobody and weighed 162 MB; the upload
page, the import command and the XLSForm reader all list problems this one way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

MAX_LISTED_PROBLEMS = 100  # problems listed; the rest are counted


def N_(text: str) -> str:
    """Marks a problem's text for `make translations`; translated where it is shown."""
    return text


def grouped(number: int) -> str:
    """A number as English groups its digits (the command line, the API, the logs)."""
    return f"{number:,}"


class Count(int):
    """A number in a problem's parameters: its digits grouped as the reader's language
    groups them, 1,000,000 in English but 1.000.000 on a Vietnamese page, where a
    comma marks decimals (in_language's `number`)."""

    def __str__(self) -> str:
        return grouped(self)


class Problem(str):
    """A definition problem: its English text (what the command line, the API and the
    logs show), plus the path, the untranslated text and its parameters, so that a
    staff page can say it in its own language (`in_language`).

    A parameter, or the path, may itself be a Problem (an XLSForm's "survey sheet,
    row 3", a validator's problem the XLSForm reader locates): it is said in the same
    language."""

    path: str
    template: str
    params: Mapping[str, Any]

    @classmethod
    def of(cls, path: str, template: str, params: Mapping[str, Any] | None = None) -> Problem:
        params = dict(params or {})
        text = template % params if params else template
        problem = cls(f"{path}: {text}" if path else text)
        problem.path, problem.template, problem.params = path, template, params
        return problem

    def in_language(
        self, gettext: Callable[..., str], number: Callable[[int], str] = grouped
    ) -> str:
        """The problem through `gettext(template, **params)`, its Counts through
        `number`; a path that is plain text stays as it is (it names the definition's
        own keys)."""
        params = {key: _said(value, gettext, number) for key, value in self.params.items()}
        text = gettext(self.template, **params)
        path = _said(self.path, gettext, number)
        return f"{path}: {text}" if path else text


class Refusal(ValueError):
    """An error whose reason staff read: `problem`, English as str() (the command line,
    the logs), in a staff page's language through `problem.in_language`; `text` is
    marked with N_() and may hold %(name)s placeholders for `params`."""

    def __init__(self, text: str, /, **params: Any) -> None:
        self.problem: Problem = problem(text, **params)
        super().__init__(str(self.problem))


def problem(template: str, /, **params: Any) -> Problem:
    """A Problem without a path: `template` marked with N_(), its %(name)s parameters."""
    return Problem.of("", template, params)


def _said(value: Any, gettext: Callable[..., str], number: Callable[[int], str]) -> Any:
    if isinstance(value, Problem):
        return value.in_language(gettext, number)
    return number(int(value)) if isinstance(value, Count) else value


def in_language(
    problems: Iterable[str], gettext: Callable[..., str], number: Callable[[int], str] = grouped
) -> list[str]:
    """Problems in the language `gettext` speaks, numbers as `number` writes them; text
    that is no Problem (a library's own message) stays as it is."""
    return [_said(p, gettext, number) for p in problems]


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
