"""Read-only view of a valid definition: questions in order, choices, texts, parsed logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from survey_engine.definition.expressions import parse, references
from survey_engine.definition.families import FILE, MATRIX, REPEAT, SELECT
from survey_engine.definition.schema_questions import DEFAULT_MAX_ROWS

OTHER = "other"


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    label: Any
    hint: Any
    required: bool
    appearance: str | None
    other: bool
    choices: tuple[dict, ...]  # empty unless a select; includes 'other' when other=true
    page: str
    raw: dict = field(default_factory=dict, compare=False)
    # Parsed expressions (JSON ASTs, see expressions.py), None when absent.
    relevant: list | None = None
    constraint: list | None = None
    choice_filter: list | None = None
    calculation: list | None = None
    rows: tuple[dict, ...] = ()  # matrix only
    filter_refs: frozenset = frozenset()  # the answers choice_filter reads
    # A roster (type repeat): the questions of each row, and `count`, the parsed
    # expression that fixes how many rows (None: the citizen adds them).
    questions: tuple[Question, ...] = ()
    count: list | None = None
    min_count: int = 0
    max_count: int = 0

    @property
    def is_select(self) -> bool:
        return self.type in SELECT

    @property
    def is_repeat(self) -> bool:
        return self.type in REPEAT

    @property
    def takes_answer(self) -> bool:
        return self.type != "note"

    @property
    def other_field(self) -> str:
        return f"{self.name}_other"

    @property
    def attention(self) -> Any:
        """An attention check's expected answer (schema_questions._attention), or None."""
        return self.raw.get("attention")

    def choice_names(self) -> list[str]:
        return list(self._choices_by_name)

    def choice(self, name: str) -> dict | None:
        return self._choices_by_name.get(name)

    def has_choice(self, name: str) -> bool:
        return name in self._choices_by_name

    @cached_property
    def _choices_by_name(self) -> dict[str, dict]:
        """Looked up for every answer to a select, on every submission."""
        by_name: dict[str, dict] = {}
        for c in self.choices:
            by_name.setdefault(c["name"], c)  # the first of a repeated name, as before
        return by_name


def _ast(text: str | None) -> list | None:
    return parse(text) if text else None


def _question(q: dict, page: str, lists: dict) -> Question:
    choices = tuple({**c, "name": str(c["name"])} for c in lists.get(q.get("choices"), []))
    if q.get("other"):
        choices += ({"name": OTHER, "label": None},)
    repeat = q.get("type") in REPEAT
    return Question(
        name=q["name"],
        type=q["type"],
        label=q.get("label"),
        hint=q.get("hint"),
        required=bool(q.get("required")),
        appearance=q.get("appearance"),
        other=bool(q.get("other")),
        choices=choices,
        page=page,
        raw=q,
        relevant=_ast(q.get("relevant")),
        constraint=_ast(q.get("constraint")),
        choice_filter=_ast(q.get("choice_filter")),
        calculation=_ast(q.get("calculation")),
        rows=tuple(q.get("rows", ())),
        filter_refs=frozenset(references(_ast(q.get("choice_filter")) or [])),
        questions=tuple(_question(row_q, page, lists) for row_q in q.get("questions", ()))
        if repeat
        else (),
        count=_ast(q.get("count")),
        min_count=max(q.get("min_count") or 0, 1 if q.get("required") else 0),
        max_count=q.get("max_count") or DEFAULT_MAX_ROWS if repeat else 0,
    )


class Definition:
    """Wraps a definition that validate_definition() accepted."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.slug: str = data["slug"]
        self.default_language: str = data.get("default_language", "vi")
        self.settings: dict = data.get("settings") or {}
        lists = data.get("choice_lists", {})
        self.pages: list[dict] = data["pages"]
        self.page_relevant: dict[str, list | None] = {
            page["name"]: _ast(page.get("relevant")) for page in self.pages
        }
        # The survey's questions in order; a roster's row questions are in its
        # `questions`, not here, as their answers are in the roster's rows.
        self.questions: list[Question] = [
            _question(q, page["name"], lists) for page in self.pages for q in page["questions"]
        ]
        self.by_name: dict[str, Question] = {q.name: q for q in self.questions}
        self.repeats: tuple[Question, ...] = tuple(q for q in self.questions if q.is_repeat)
        # Questions answered with an uploaded file: their tokens are checked on submit.
        self.file_questions = tuple(q for q in self.questions if q.type in FILE)
        # Read for every stored response (intake/quality.py): found once.
        self._attention_checks = [q for q in self.questions if q.attention is not None]
        self._matrices = [q for q in self.questions if q.type in MATRIX]
        self._languages = self._find_languages()

    def attention_checks(self) -> list[Question]:
        """The questions marked as attention checks (their expected answer given)."""
        return self._attention_checks

    def matrices(self) -> list[Question]:
        return self._matrices

    @property
    def title(self) -> Any:
        return self.data["title"]

    def languages(self) -> list[str]:
        """Content languages, the default first, found in any translated text."""
        return self._languages

    def _find_languages(self) -> list[str]:
        found = [self.default_language]

        def collect(value: Any) -> None:
            if isinstance(value, dict):
                found.extend(lang for lang in value if lang not in found)

        collect(self.title)
        for q in self.questions:
            for asked in (q, *q.questions):
                collect(asked.label)
                for c in asked.choices:
                    collect(c.get("label"))
        return found

    def _logic_of(self, q: Question, lang: str | None, choices: dict[str, dict]) -> dict:
        """One question's part of logic(); a list its choice_filter reads joins `choices`."""
        item: dict[str, Any] = {"type": q.type, "page": q.page}
        if q.required:
            item["required"] = True
        if q.other:
            item["other"] = True
        for key in ("relevant", "constraint", "choice_filter", "calculation", "count"):
            if getattr(q, key) is not None:
                item[key] = getattr(q, key)
        for key in ("min", "max", "min_choices", "max_choices"):
            if q.raw.get(key) is not None:
                item[key] = q.raw[key]
        if lang is not None:
            for key in ("required_message", "constraint_message"):
                if q.raw.get(key) is not None:
                    item[key] = self.text(q.raw[key], lang)
        if q.choice_filter is not None:
            item["list"] = q.raw["choices"]
            choices[q.raw["choices"]] = {
                c["name"]: {k: v for k, v in c.items() if k not in ("name", "label")}
                for c in q.choices
                if c["name"] != OTHER
            }
        if q.is_repeat:
            item.update(min_count=q.min_count, max_count=q.max_count)
            item["questions"] = {
                row_q.name: self._logic_of(row_q, lang, choices) for row_q in q.questions
            }
            item["order"] = [row_q.name for row_q in q.questions]
        return item

    def text(self, value: Any, lang: str) -> str:
        """A translated text in `lang`, else the default language, else any."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return value.get(lang) or value.get(self.default_language) or next(iter(value.values()))

    def pages_with_questions(self) -> list[tuple[dict, list[Question]]]:
        return [
            (page, [q for q in self.questions if q.page == page["name"]]) for page in self.pages
        ]

    def logic(self, lang: str | None = None) -> dict:
        """What the page's script needs to repeat the server's checks (answers.py decides).

        `questions`: every question (in `order`) with its type and page, and only what is
        set of required, other, the parsed expressions, min/max, min/max_choices and,
        with `lang`, the author's required/constraint messages in that language.
        A roster also has `count`, `min_count`, `max_count` and its row's questions, in
        `questions` and `order` of its own (their expressions see the row's answers).
        `pages`: the relevant of each page that has one. `choices`: for the lists a
        choice_filter reads, each choice's extra properties (`{"dl_p1": {"district":
        "da_lat"}}`; name and label are on the page already).
        """
        choices: dict[str, dict] = {}
        questions = {q.name: self._logic_of(q, lang, choices) for q in self.questions}
        pages = {name: ast for name, ast in self.page_relevant.items() if ast is not None}
        # `order`: JSON objects do not keep their order everywhere (Jinja's tojson sorts keys).
        return {
            "questions": questions,
            "order": [q.name for q in self.questions],
            "pages": pages,
            "choices": choices,
        }
