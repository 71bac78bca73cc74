"""The survey sheet's rows as pages: a group is a page, a group inside a group a page
of its own, questions outside any group a page between them (xlsform.py reads the
other sheets).

Why a module of its own: how groups nest into pages is one decision, written once,
apart from reading cells (xlsform_rows.py) and sheets (xlsform.py).
"""

from __future__ import annotations

import re

from survey_engine.definition.problems import N_
from survey_engine.definition.xlsform_rows import RowReader
from survey_engine.definition.xlsform_sheets import PLAIN_COLUMNS, TEXT_COLUMNS, Header, cell_text


class PageBuilder(RowReader):
    """Pages from the survey sheet; which row each page and question came from."""

    def __init__(self) -> None:
        super().__init__()
        self.question_rows: dict[tuple[int, int], int] = {}
        self.page_rows: dict[int, int] = {}

    def rows(self, sheet) -> tuple[Header, list[tuple[int, tuple]]]:
        """The sheet's header and non-blank rows (the reader's: bounded, read once)."""
        raise NotImplementedError

    def survey(self, sheet) -> list[dict]:
        """The pages: one per group, a group inside a group a page of its own (shown
        when both are relevant), the rest of a group after an inner one a page again;
        questions outside any group a page between them. An empty page is none."""
        header, body = self.rows(sheet)
        pages: list[dict] = []
        stack: list[tuple[str, int, dict | None]] = []  # open groups/repeats
        current: dict | None = None  # the page questions go to
        pending: dict | None = None  # the page the next question opens (a group's)
        for number, row in body:
            if self.comment_row(header, row):
                self.note("survey", number, None, N_("skipped: no type, name or label (a comment)"))
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
                self.problem("survey", number, "type", N_("is empty"))
                continue
            kind = re.sub(r"[\s_]+", " ", raw_type.lower())
            name = cell_text(plain.get("name"))
            if kind in ("begin group", "begin repeat"):
                page = self.begin(number, kind, name, texts, plain, stack)
                if page is not None:  # a repeat (refused) changes no page
                    pending, current = page, None
                continue
            if kind in ("end group", "end repeat"):
                if self.end(number, kind, raw_type, stack) and kind == "end group":
                    outer = next((page for _, _, page in reversed(stack) if page), None)
                    pending, current = outer, None
                continue
            question = self.question(number, kind, raw_type, name, texts, plain)
            if question is None:
                continue
            if current is None:
                current = self.open_page(pages, pending)
            self.question_rows[len(pages) - 1, len(current["questions"])] = number
            current["questions"].append(question)
        for kind, number, _ in stack:
            if kind == "group":
                self.problem("survey", number, "type", N_("this group has no 'end group'"))
            else:
                self.problem("survey", number, "type", N_("this repeat has no 'end repeat'"))
        return pages

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
        kind: str,
        name: str | None,
        texts: dict,
        plain: dict,
        stack: list[tuple[str, int, dict | None]],
    ) -> dict | None:
        """Opens a group or repeat on `stack`; a group's page template (its title and
        relevant joined with those of the groups around it)."""
        if kind == "begin repeat":
            self.problem(
                "survey",
                number,
                "type",
                N_("repeats are not supported (a survey-engine survey has no repeated parts)"),
            )
            stack.append(("repeat", number, None))
            return None
        page = self.page(number, name, texts, plain)
        page["_row"] = number
        outer = next((p for _, _, p in reversed(stack) if p), None)
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
            self.problem(
                "survey", number, "type", N_("%(type)s has no matching begin"), type=repr(raw_type)
            )
            return False
        stack.pop()
        return True
