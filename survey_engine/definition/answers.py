"""Checks a citizen's answers against a published definition.

Both submit paths (the HTML form and the JSON API) end here, so a rule holds for
both, and the page's script only repeats it for speed: the server decides. Input
may be anything a client sends; the result is clean, typed answers or a message
per question in the reader's language, never an exception.

Order of work: every answer is typed first; then, question by question in the
definition's order, a question that is not relevant (itself or its page) loses
its answer, as in XLSForm, and the rest are checked for required, choice filter,
limits and constraint; calculations are computed here, whatever the page sent.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from survey_engine.definition.answer_types import (
    MAX_SAFE_INTEGER,
    MAX_TEXT_LENGTH,
    Cleaner,
    Invalid,
    cleaner,
    is_empty,
    kept_as_sent,
    printable,
    shown,
    text_value,
    unstorable,
)
from survey_engine.definition.expression_values import Compiled, compiled_expression
from survey_engine.definition.expressions import evaluate, truthy
from survey_engine.definition.families import number_of
from survey_engine.definition.model import OTHER, Definition, Question
from survey_engine.i18n import message
from survey_engine.localtime import LOCAL_TIME
from survey_engine.untrusted import safe_text

# The public side and intake/ read these from here (answer_types.py holds the last two).
__all__ = [
    "MAX_TEXT_LENGTH",
    "asked_questions",
    "available_choices",
    "clean_answers",
    "local_today",
    "printable",
    "rows_wanted",
    "unstorable",
]


def local_today() -> date:
    """'today' for min/max and today(): the province's date, not the server's UTC."""
    return datetime.now(LOCAL_TIME).date()


@dataclass(frozen=True)
class _Plan:
    """What clean_answers looks up in a definition, found once per published version
    instead of on every submission (BENCHMARKS.md, issue 13). A roster's row has a
    plan of its own, in `rows`."""

    by_name: dict[str, Question]
    fields: frozenset  # what a client may send: question names and their _other fields
    notes: frozenset  # questions that take no answer
    other_fields: dict[str, Question]
    # Questions whose answer is typed, with their rule and what it keeps as sent.
    typed: tuple[tuple[Question, Cleaner, tuple[type, Container] | None], ...]
    # Every question in order, with the compiled relevance it needs (its page's, its own).
    steps: tuple[tuple[Question, tuple[Compiled, ...]], ...]
    rows: dict[str, _Plan]


_PLANS: weakref.WeakKeyDictionary[Definition, _Plan] = weakref.WeakKeyDictionary()


def _plan(definition: Definition) -> _Plan:
    plan = _PLANS.get(definition)
    if plan is None:
        plan = _PLANS[definition] = _plan_of(
            definition.questions, lambda q: _conditions(definition, q)
        )
    return plan


def _plan_of(
    questions: Sequence[Question], conditions: Callable[[Question], tuple[Compiled, ...]]
) -> _Plan:
    other_fields = {q.other_field: q for q in questions if q.other}
    return _Plan(
        by_name={q.name: q for q in questions},
        fields=frozenset([*(q.name for q in questions), *other_fields]),
        notes=frozenset(q.name for q in questions if q.type == "note"),
        other_fields=other_fields,
        typed=tuple(
            (q, cleaner(q.type), kept_as_sent(q))
            for q in questions
            if q.type not in ("note", "calculate", "repeat")
        ),
        steps=tuple((q, conditions(q)) for q in questions),
        # Within a row only the row question's own relevance: the page's held already.
        rows={
            q.name: _plan_of(q.questions, lambda row_q: _conditions_of(row_q.relevant))
            for q in questions
            if q.is_repeat
        },
    )


def _conditions(definition: Definition, q: Question) -> tuple[Compiled, ...]:
    """The compiled relevance a question is asked under: its page's, then its own."""
    return _conditions_of(definition.page_relevant.get(q.page), q.relevant)


def _conditions_of(*asts: list | None) -> tuple[Compiled, ...]:
    return tuple(compiled_expression(ast) for ast in asts if ast is not None)


def clean_answers(
    definition: Definition, raw: dict[str, Any], lang: str, today: date | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (answers, errors): typed answers without empties, or messages by question.

    A roster's answer is a list of rows, each cleaned like a small survey whose
    expressions see the row's answers and every answer outside it; an error in a row
    is keyed `roster.<row number>.<question>`, the row number counted from 1."""
    today = today or local_today()
    return _clean(definition, _plan(definition), raw, {}, lang, today)


def _clean(
    definition: Definition,
    plan: _Plan,
    raw: dict[str, Any],
    outside: dict[str, Any],
    lang: str,
    today: date,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers to `plan`'s questions; `outside` is what a row's expressions see
    of the answers around it."""
    errors = _unexpected_fields(plan, raw, lang)
    typed, type_errors = _typed(definition, plan, raw, lang, today)
    answers: dict[str, Any] = {}
    context = {**outside, **typed}  # what expressions see: irrelevant answers leave it
    for q, conditions in plan.steps:
        if conditions and not _relevant(conditions, context, today):
            context.pop(q.name, None)
            continue
        if q.type == "calculate":
            result = _stored_value(evaluate(q.calculation, context, today=today))
            if result is not None:
                answers[q.name] = context[q.name] = result
            continue
        if q.is_repeat:
            rows, row_errors = _clean_rows(
                definition, plan.rows[q.name], q, raw, context, lang, today
            )
            errors.update(row_errors)
            if rows:
                answers[q.name] = context[q.name] = rows
            continue
        if not q.takes_answer:
            continue
        if q.name in type_errors:
            errors[q.name] = type_errors[q.name]
            continue
        value = typed.get(q.name)
        try:
            if value is None:
                if q.required:
                    raise Invalid("required")
                continue
            if q.choice_filter is not None or q.constraint is not None:
                _check_logic(q, value, context, today)
        except Invalid as problem:
            errors[q.name] = _message_for(definition, q, problem, lang)
            context.pop(q.name, None)
            continue
        answers[q.name] = value
        if q.other:
            _clean_other(q, answers, raw, errors, lang)
    return answers, errors


def _clean_rows(
    definition: Definition,
    plan: _Plan,
    q: Question,
    raw: dict[str, Any],
    context: dict[str, Any],
    lang: str,
    today: date,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A roster's rows, and its errors: the number of rows first (fixed by `count`, else
    between min_count and max_count), then each row's answers."""
    sent = raw.get(q.name)
    if is_empty(sent):
        sent = []
    if not isinstance(sent, list) or not all(isinstance(row, dict) for row in sent):
        return [], {q.name: message("not_rows", lang)}
    errors: dict[str, str] = {}
    if q.count is not None:
        wanted = rows_wanted(q, context, today)
        if len(sent) != wanted:
            errors[q.name] = message("rows_count", lang, limit=wanted)
    elif len(sent) < q.min_count:
        errors[q.name] = message("rows_too_few", lang, limit=q.min_count)
    elif len(sent) > q.max_count:
        errors[q.name] = message("rows_too_many", lang, limit=q.max_count)
    rows = []
    for number, row in enumerate(sent[: q.max_count], start=1):
        answers, row_errors = _clean(definition, plan, row, context, lang, today)
        errors.update({f"{q.name}.{number}.{key}": text for key, text in row_errors.items()})
        rows.append(answers)
    return rows, errors


def rows_wanted(q: Question, context: dict[str, Any], today: date | None = None) -> int:
    """How many rows a roster's `count` asks for with these answers: a whole number
    from 0 to max_count (no answer, or no number, asks for none)."""
    number = number_of(evaluate(q.count, context, today=today or local_today()))
    if number is None or number < 0:
        return 0
    return min(int(number), q.max_count)


def asked_questions(
    definition: Definition, answers: dict[str, Any], today: date | None = None
) -> set[str] | None:
    """The names of the questions a stored response was asked (their page's and their
    own relevance held), by the same walk clean_answers made when it was stored; None
    when the definition has no relevance at all (every question was asked). Tells
    "not asked" from "not answered" in the SPSS and Stata files."""
    plan = _plan(definition)
    if not any(conditions for _q, conditions in plan.steps):
        return None
    today = today or local_today()
    context = dict(answers)
    asked = set()
    for q, conditions in plan.steps:
        if conditions and not _relevant(conditions, context, today):
            context.pop(q.name, None)
            continue
        asked.add(q.name)
    return asked


def _unexpected_fields(plan: _Plan, raw: dict[str, Any], lang: str) -> dict[str, str]:
    """Errors for fields no question has, and for an answer to a note."""
    errors: dict[str, str] = {}
    if raw.keys() <= plan.fields and plan.notes.isdisjoint(raw):
        return errors
    for key, value in raw.items():
        question = plan.by_name.get(key)
        if question is None and key not in plan.other_fields:
            errors[safe_text(str(key))[:64]] = message(
                "bad_character" if unstorable(key) else "unknown_question", lang
            )
        elif question is not None and question.type == "note" and not is_empty(value):
            errors[key] = message("not_answerable", lang)
    return errors


def _typed(
    definition: Definition, plan: _Plan, raw: dict[str, Any], lang: str, today: date
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each non-empty answer as its type's value, or the message why it is none."""
    typed: dict[str, Any] = {}
    type_errors: dict[str, str] = {}
    for q, clean, kept in plan.typed:
        value = raw.get(q.name)
        if kept is not None and type(value) is kept[0] and value in kept[1]:
            typed[q.name] = value  # what its rule would return: no need to ask it
            continue
        if is_empty(value):
            continue
        if unstorable(value):
            type_errors[q.name] = message("bad_character", lang)
            continue
        try:
            typed[q.name] = clean(q, value, today)
        except Invalid as problem:
            type_errors[q.name] = _message_for(definition, q, problem, lang)
    return typed, type_errors


def _relevant(conditions: tuple[Compiled, ...], context: dict, today: date) -> bool:
    """Whether the question is asked: its page's relevance and its own both hold."""
    for condition in conditions:
        if not truthy(condition(context, None, None, today)):
            return False
    return True


def available_choices(q: Question, context: dict, today: date | None = None) -> list[dict]:
    """The choices left by the question's choice_filter ('other' always stays)."""
    if q.choice_filter is None:
        return list(q.choices)
    return [
        c
        for c in q.choices
        if c["name"] == OTHER or truthy(evaluate(q.choice_filter, context, choice=c, today=today))
    ]


def _check_logic(q: Question, value: Any, context: dict, today: date) -> None:
    """What depends on other answers: the choice filter and the constraint.

    A filter that follows an unanswered or wrong answer (commune without a valid
    district) is not checked: that answer's own error is the one to show.
    """
    if q.choice_filter is not None and q.filter_refs <= context.keys():
        for picked in value if isinstance(value, list) else [value]:
            choice = q.choice(picked)
            if picked != OTHER and not truthy(
                evaluate(q.choice_filter, context, choice=choice, today=today)
            ):
                raise Invalid("unknown_choice", value=shown(picked))
    if q.constraint is not None:
        if not truthy(evaluate(q.constraint, context, current=value, today=today)):
            raise Invalid("constraint")


def _message_for(definition: Definition, q: Question, problem: Invalid, lang: str) -> str:
    """The author's own message for required/constraint when there is one; a choice
    named in a message is shown by its label."""
    own = {
        "required": q.raw.get("required_message"),
        "constraint": q.raw.get("constraint_message"),
    }.get(problem.key)
    if own is not None:
        return definition.text(own, lang)
    values = dict(problem.values)
    name = values.get("choice")
    if isinstance(name, str) and (choice := q.choice(name)) is not None:
        values["choice"] = definition.text(choice.get("label"), lang)
    return message(problem.key, lang, **values)


def _clean_other(question: Question, answers: dict, raw: dict, errors: dict, lang: str) -> None:
    chosen = answers.get(question.name)
    picked_other = chosen == OTHER or (isinstance(chosen, list) and OTHER in chosen)
    text = raw.get(question.other_field)
    field = question.other_field
    try:
        if is_empty(text):
            if picked_other:
                raise Invalid("required")
        elif not picked_other:
            raise Invalid("other_without_other")
        else:
            answers[field] = text_value(text)
    except Invalid as problem:
        errors[field] = message(problem.key, lang, **problem.values)


def _stored_value(value: Any) -> Any:
    """A calculation's result as stored: a number, or text; NaN and '' are no answer."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) <= MAX_SAFE_INTEGER else value
    if isinstance(value, list):
        value = " ".join(value)
    return value or None
