"""The survey sheet's rows as pages: a group is a page, a group inside a group a page
of its own, questions outside any group a page between them (xlsform.py reads the
other sheets).

Why a module of its own: how groups nest into pages is one decision, written once,
apart from reading cells (xlsform_rows.py) and sheets (xlsform.py).
"""

from __future__ import annotations

import re

from survey_engine.definition.xlsform_rows import RowReader
from survey_engine.definition.xlsform_sheets import (
    PLAIN_COLUMNS,
    TEXT_COLUMNS,
    Header,
    cell_text,
    expression_text,
)


class PageBuilder(RowReader):
    """Pages from the survey sheet; which row each page and question came from."""

    def __init__(self) -> None:
        super().__init__()
        self.question_rows: dict[tuple[int, ...], int] = {}  # (page, question[, row question])
        self.page_rows: dict[int, int] = {}

    def rows(self, sheet) -> tuple[Header, list[tuple[int, tuple]]]:
        """The sheet's header and non-blank rows (the reader's: bounded, read once)."""
        raise NotImplementedError

    def survey(self, sheet) -> list[dict]:
        """The pages: one per group, a group inside a group a page of its own (shown
        when both are relevant), the rest of a group after an inner one a page again;
        questions outside any group a page between them. An empty page is none.

        A repeat is a roster question on the page it is on; the rows up to its end
        repeat are its row questions, and a group inside it only adds its relevant
        to theirs (a row is shown whole)."""
        header, body = self.rows(sheet)
        pages: list[dict] = []
        stack: list[tuple[str, int, dict | None]] = []  # open groups/repeats
        current: dict | None = None  # the page questions go to
        pending: dict | None = None  # the page the next question opens (a group's)
        for number, row in body:
            if self.comment_row(header, row):
                self.note("survey", number, None, "skipped: no type, name or label (a comment)")
                continue
            texts, plain, _ = self.cells(
                "survey",
                header,
                number,
                row,
                TEXT_COLUMNS,
                ("type", "name", "required", "parameters") + PLAIN_COLUMNS,
            )
            raw_type = cell_text(plain.get("type"))
            if raw_type is None:
                self.problem("survey", number, "type", "is empty")
                continue
            kind = re.sub(r"[\s_]+", " ", raw_type.lower())
            name = cell_text(plain.get("name"))
            roster = _open_roster(stack)
            if kind in ("end group", "end repeat"):
                if self.end(number, kind, raw_type, stack) and kind == "end group":
                    if roster is None:
                        pending, current = _outer_page(stack), None
                continue
            if roster is not None and kind in ("begin group", "begin repeat"):
                self.begin_in_roster(number, kind, texts, plain, stack)
                continue
            if kind == "begin group":
                pending, current = self.begin(number, name, texts, plain, stack), None
                continue
            if kind == "begin repeat":
                question: dict | None = self.roster(number, name, texts, plain)
                stack.append(("repeat", number, question))
            else:
                question = self.question(number, kind, raw_type, name, texts, plain)
            if question is None:
                continue
            if roster is not None:
                _add_row_condition(question, stack)
                at = (len(pages) - 1, len(current["questions"]) - 1) if current else (-1, -1)
                self.question_rows[(*at, len(roster["questions"]))] = number
                roster["questions"].append(question)
                continue
            if current is None:
                current = self.open_page(pages, pending)
            self.question_rows[len(pages) - 1, len(current["questions"])] = number
            current["questions"].append(question)
        for kind, number, _ in stack:
            self.problem("survey", number, "type", f"this {kind} has no 'end {kind}'")
        return pages

    def roster(self, number: int, name: str | None, texts: dict, plain: dict) -> dict:
        """A begin repeat row as a roster question: its label, hint and relevant, the
        number of rows (repeat_count, min_count, max_count); row questions follow."""
        roster: dict = {"name": name, "type": "repeat"}
        for key, values in texts.items():
            roster[key] = self.text(values)
        if "label" not in roster:
            roster["label"] = name
            self.note("survey", number, "label", "none given: the roster is labelled by its name")
        for key, value in plain.items():
            if key in ("type", "name"):
                continue
            if key == "repeat_count":
                count = cell_text(value)
                if count is not None:
                    roster["count"] = expression_text(count)
            elif key in ("min_count", "max_count"):
                roster[key] = self.number(value, "integer")
            elif key == "relevant":
                roster["relevant"] = expression_text(value)
            elif key == "appearance":
                roster["appearance"] = cell_text(value)
            elif key == "required":
                self.required(number, roster, value)  # at least one row
            else:
                self.problem(
                    "survey", number, key, f"{cell_text(value)!r} is not supported on a repeat"
                )
        roster["questions"] = []
        return roster

    def begin_in_roster(
        self, number: int, kind: str, texts: dict, plain: dict, stack: list
    ) -> None:
        """Inside a roster, a repeat is refused (no roster in a roster) and a group is
        no page: its relevant goes to each of its row questions, its label is noted."""
        if kind == "begin repeat":
            self.problem("survey", number, "type", "a repeat inside a repeat is not supported")
            stack.append(("repeat", number, None))
            return
        if texts.get("label"):
            self.note("survey", number, "label", "ignored: a group inside a repeat is no page")
        relevant = plain.get("relevant")
        stack.append(
            ("group", number, {"_in_roster": expression_text(relevant) if relevant else None})
        )

    def comment_row(self, header: Header, row: tuple) -> bool:
        """A row with no type, name or label: a comment, skipped as pyxform does."""
        return all(
            cell_text(value) is None
            for column, value in zip(header.columns, row, strict=False)
            if column is not None and column[0] in ("type", "name", "label")
        )

    def open_page(self, pages: list[dict], group: dict | None) -> dict:
        """A new page, of `group` (a page template with its row) or of loose questions."""
        if group is None:
            page: dict = {"name": self.free_page_name(pages), "questions": []}
        else:
            page = {key: value for key, value in group.items() if key != "_row"}
            taken = {p["name"] for p in pages}
            base, count = page["name"], 1
            while page["name"] in taken:
                count += 1
                page["name"] = f"{base}_{count}"
            self.page_rows[len(pages)] = group["_row"]
        page["questions"] = []
        pages.append(page)
        return page

    def begin(
        self,
        number: int,
        name: str | None,
        texts: dict,
        plain: dict,
        stack: list[tuple[str, int, dict | None]],
    ) -> dict:
        """Opens a group on `stack`; its page template (its title and relevant joined
        with those of the groups around it)."""
        page = self.page(number, name, texts, plain)
        page["_row"] = number
        outer = _outer_page(stack)
        if outer is not None:
            if "title" not in page and "title" in outer:
                page["title"] = outer["title"]
            both = [c for c in (outer.get("relevant"), page.get("relevant")) if c]
            if len(both) == 2:
                page["relevant"] = f"({both[0]}) and ({both[1]})"
            elif both:
                page["relevant"] = both[0]
        stack.append(("group", number, page))
        return page

    def end(
        self, number: int, kind: str, raw_type: str, stack: list[tuple[str, int, dict | None]]
    ) -> bool:
        """Closes the group or repeat open on `stack`; False (a problem) if none matches."""
        if not stack or stack[-1][0] != kind.split()[1]:
            self.problem("survey", number, "type", f"{raw_type!r} has no matching begin")
            return False
        stack.pop()
        return True


def _open_roster(stack: list[tuple[str, int, dict | None]]) -> dict | None:
    """The roster the next row belongs to, if a repeat is open."""
    return next((item for kind, _, item in stack if kind == "repeat" and item), None)


def _outer_page(stack: list[tuple[str, int, dict | None]]) -> dict | None:
    """The page template of the innermost open group."""
    return next(
        (
            item
            for kind, _, item in reversed(stack)
            if kind == "group" and item and "_in_roster" not in item
        ),
        None,
    )


def _add_row_condition(question: dict, stack: list[tuple[str, int, dict | None]]) -> None:
    """A row question inside groups inside a roster is asked when they are relevant."""
    conditions = [
        item["_in_roster"]
        for kind, _, item in stack
        if kind == "group" and item and item.get("_in_roster")
    ]
    if question.get("relevant"):
        conditions.append(question["relevant"])
    if len(conditions) > 1:
        question["relevant"] = " and ".join(f"({c})" for c in conditions)
    elif conditions:
        question["relevant"] = conditions[0]
