"""The changes the questionnaire builder makes to a definition.

Plain functions on the definition's JSON (a dict the caller has copied): the builder
applies one, then validate_definition() judges the result as a whole, so a change
that would break the survey (a rule naming a deleted question, a page left empty)
is refused with the validator's message and nothing is saved.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from survey_engine.definition.families import CHOICE_LIST, IN_REPEAT, REPEAT, UNSEEN
from survey_engine.definition.problems import N_, Refusal
from survey_engine.definition.schema import FORMAT
from survey_engine.definition.schema_common import NAME_RE
from survey_engine.definition.schema_questions import (
    COMMON_KEYS,
    QUESTION_TYPES,
    TEXT_KEYS,
    TYPE_KEYS,
)


class EditRefused(Refusal):
    """A change that makes no sense on this definition (its `problem` says why)."""


def new_definition(slug: str, title: str, language: str, first_question: dict) -> dict:
    """The smallest survey the format accepts: one page, one question; one answer per
    device (a definition without the setting is open, as before access modes)."""
    data = {
        "format": FORMAT,
        "slug": slug,
        "title": {language: title},
        "default_language": language,
        "settings": {"access": "device"},
        "pages": [],
        "choice_lists": {},
    }
    add_page(data, "page_1", None, first_question)
    return data


def default_language(data: dict) -> str:
    return data.get("default_language", "vi")


def languages(data: dict) -> list[str]:
    """The default language first, then every other language some text is written in."""
    found: list[str] = [default_language(data)]
    for _key, value in iter_texts(data):
        if isinstance(value, dict):
            found += [lang for lang in value if lang not in found]
    return found


def unused_name(taken: set[str], base: str) -> str:
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def question_names(data: dict) -> set[str]:
    """Every question's name, a roster's row questions' too: names are unique in a survey."""
    return {
        asked.get("name")
        for page in data["pages"]
        for q in page["questions"]
        for asked in (q, *(q.get("questions") or () if q.get("type") == "repeat" else ()))
    }


def blank_question(data: dict, qtype: str, name: str, label: str) -> dict:
    """A new question of `qtype`; a select gets a list of its own to fill in."""
    if qtype not in QUESTION_TYPES:
        raise EditRefused(N_("unknown question type %(type)s"), type=repr(qtype))
    if not NAME_RE.match(name or ""):
        raise EditRefused(
            N_("%(name)s is not a name: letters, digits and _, starting with a letter or _"),
            name=repr(name),
        )
    if name in question_names(data):
        raise EditRefused(N_("there is already a question named %(name)s"), name=repr(name))
    lang = default_language(data)
    question: dict[str, Any] = {"name": name, "type": qtype}
    if qtype not in UNSEEN:
        question["label"] = {lang: label or name}
    if qtype in CHOICE_LIST:
        lists = data.setdefault("choice_lists", {})
        list_name = unused_name(set(lists), name)
        lists[list_name] = [{"name": str(n), "label": {lang: str(n)}} for n in (1, 2)]
        question["choices"] = list_name
    if qtype == "matrix":
        question["rows"] = [{"name": f"row_{n}", "label": {lang: f"{n}"}} for n in (1, 2)]
    if qtype == "calculate":
        question["calculation"] = "1"
    if qtype == "repeat":
        question["questions"] = _first_row(data, name)
    return question


def _first_row(data: dict, roster_name: str) -> list[dict]:
    """A new roster's row: one required text question."""
    row_name = unused_name(question_names(data) | {roster_name}, f"{roster_name}_name")
    label = {default_language(data): row_name}
    return [{"name": row_name, "type": "text", "label": label, "required": True}]


# Every type, in the order the builder offers them.
TYPES_IN_ORDER = (
    "select_one",
    "select_multiple",
    "text",
    "integer",
    "decimal",
    "date",
    "geopoint",
    "barcode",
    "image",
    "audio",
    "video",
    "file",
    "email",
    "phone",
    "rating",
    "nps",
    "rank",
    "matrix",
    "acknowledge",
    "note",
    "hidden",
    "calculate",
    "repeat",
)
assert set(TYPES_IN_ORDER) == QUESTION_TYPES
# What a roster's row may ask, in the same order.
ROW_TYPES_IN_ORDER = tuple(t for t in TYPES_IN_ORDER if t in IN_REPEAT)


def keys_for(qtype: str) -> set[str]:
    return COMMON_KEYS | TYPE_KEYS.get(qtype, set())


def add_page(data: dict, name: str, title: str | None, first_question: dict) -> None:
    if not NAME_RE.match(name or ""):
        raise EditRefused(N_("%(name)s is not a page name: letters, digits and _"), name=repr(name))
    if any(page["name"] == name for page in data["pages"]):
        raise EditRefused(N_("there is already a page named %(name)s"), name=repr(name))
    page: dict[str, Any] = {"name": name}
    if title:
        page["title"] = {default_language(data): title}
    page["questions"] = [first_question]
    data["pages"].append(page)


def page_index(data: dict, name: str) -> int:
    for index, page in enumerate(data["pages"]):
        if page["name"] == name:
            return index
    raise EditRefused(N_("no page named %(name)s"), name=repr(name))


def question_position(data: dict, name: str) -> tuple[int, int]:
    for p, page in enumerate(data["pages"]):
        for q, question in enumerate(page["questions"]):
            if question.get("name") == name:
                return p, q
    raise EditRefused(N_("no question named %(name)s"), name=repr(name))


def row_position(data: dict, name: str) -> tuple[dict, int] | None:
    """The roster holding the row question `name`, and its place among the row's
    questions; None when no roster asks it."""
    for page in data["pages"]:
        for roster in page["questions"]:
            if roster.get("type") not in REPEAT:
                continue
            for index, row_q in enumerate(roster.get("questions") or ()):
                if row_q.get("name") == name:
                    return roster, index
    return None


def add_row_question(data: dict, roster_name: str, question: dict) -> None:
    """A new question at the end of a roster's row."""
    p, q = question_position(data, roster_name)
    roster = data["pages"][p]["questions"][q]
    if roster.get("type") not in REPEAT:
        raise EditRefused(N_("%(name)s is no roster"), name=repr(roster_name))
    roster.setdefault("questions", []).append(question)


def _move(items: list, index: int, offset: int) -> None:
    target = index + offset
    if not 0 <= target < len(items):
        raise EditRefused(N_("already at the end"))
    items[index], items[target] = items[target], items[index]


def move_page(data: dict, name: str, offset: int) -> None:
    _move(data["pages"], page_index(data, name), offset)


def move_question(data: dict, name: str, offset: int) -> None:
    """Up or down one place; past the top or bottom of its page, onto the next page.
    A roster's row question moves within its row."""
    if (row := row_position(data, name)) is not None:
        _move(row[0]["questions"], row[1], offset)
        return
    p, q = question_position(data, name)
    questions = data["pages"][p]["questions"]
    if 0 <= q + offset < len(questions):
        _move(questions, q, offset)
        return
    if not 0 <= p + offset < len(data["pages"]):
        raise EditRefused(N_("already at the end"))
    if len(questions) == 1:
        raise EditRefused(N_("the only question of a page stays on it: move the page instead"))
    question = questions.pop(q)
    neighbour = data["pages"][p + offset]["questions"]
    if offset < 0:
        neighbour.append(question)
    else:
        neighbour.insert(0, question)


def place_question(data: dict, name: str, page_name: str, before: str | None) -> None:
    """Put a question before another one (`before`), or at the end of `page_name`: a
    drag and drop in the builder, in one change."""
    if before == name:
        return
    p, q = question_position(data, name)
    target = data["pages"][page_index(data, page_name)]
    if before is not None and before not in {x.get("name") for x in target["questions"]}:
        raise EditRefused(
            N_("no question named %(name)s on page %(page)s"),
            name=repr(before),
            page=repr(page_name),
        )
    if target is not data["pages"][p] and len(data["pages"][p]["questions"]) == 1:
        raise EditRefused(N_("the only question of a page stays on it: move the page instead"))
    question = data["pages"][p]["questions"].pop(q)
    names = [x.get("name") for x in target["questions"]]
    target["questions"].insert(names.index(before) if before else len(names), question)


def place_page(data: dict, name: str, before: str | None) -> None:
    """Put a page before another one (`before`), or last: a drag and drop."""
    if before == name:
        return
    page = data["pages"][page_index(data, name)]
    if before is not None:
        page_index(data, before)  # refused when there is no such page
    data["pages"].remove(page)
    names = [p["name"] for p in data["pages"]]
    data["pages"].insert(names.index(before) if before else len(names), page)


def duplicate_question(data: dict, name: str) -> str:
    """A copy of the question right after it, under a new name (`<name>_2` ...); it
    shares the choice list, so editing one list changes both. The new name."""
    if (row := row_position(data, name)) is not None:
        copied = copy.deepcopy(row[0]["questions"][row[1]])
        copied["name"] = unused_name(question_names(data), name)
        row[0]["questions"].insert(row[1] + 1, copied)
        return copied["name"]
    p, q = question_position(data, name)
    copied = copy.deepcopy(data["pages"][p]["questions"][q])
    copied["name"] = unused_name(question_names(data), name)
    data["pages"][p]["questions"].insert(q + 1, copied)
    return copied["name"]


def duplicate_page(data: dict, name: str) -> str:
    """A copy of the page right after it: the page and each question under a new name
    (`<name>_2` ...), the copy's rules pointing at the copy's questions; lists shared.
    The new page's name."""
    index = page_index(data, name)
    page = copy.deepcopy(data["pages"][index])
    page["name"] = unused_name({p["name"] for p in data["pages"]}, name)
    taken = question_names(data)
    renames = {}
    for question in page["questions"]:
        renames[question["name"]] = unused_name(taken, question["name"])
        taken.add(renames[question["name"]])
        question["name"] = renames[question["name"]]
    copied = {"pages": [page]}
    for old, new in renames.items():
        rename_references(copied, old, new)
    data["pages"].insert(index + 1, copied["pages"][0])
    return page["name"]


def delete_page(data: dict, name: str) -> None:
    del data["pages"][page_index(data, name)]


def delete_question(data: dict, name: str) -> None:
    if (row := row_position(data, name)) is not None:
        if len(row[0]["questions"]) == 1:
            raise EditRefused(N_("a roster's row needs at least one question"))
        del row[0]["questions"][row[1]]
        return
    p, q = question_position(data, name)
    if len(data["pages"][p]["questions"]) == 1:
        raise EditRefused(N_("a page needs at least one question: delete the page instead"))
    del data["pages"][p]["questions"][q]


# Keys the builder's question form does not show: an edit keeps them as they were (when
# the question's type still takes them), so editing a label never drops an attention check.
# A roster's row questions are edited one by one, never with the roster's own form.
KEPT_BY_EDITS = ("attention", "questions")


def replace_question(data: dict, old_name: str, question: dict, page_name: str) -> None:
    """Put the edited question where it was, or at the end of another page; a row
    question stays in its roster's row."""
    if (row := row_position(data, old_name)) is not None:
        row[0]["questions"][row[1]] = question
        return
    p, q = question_position(data, old_name)
    old = data["pages"][p]["questions"][q]
    for key in KEPT_BY_EDITS:
        if key in old and key not in question and key in keys_for(question.get("type", "")):
            question[key] = old[key]
    if question.get("type") in REPEAT and not question.get("questions"):
        # a question turned into a roster: a row with one question, as a new roster has
        question["questions"] = _first_row(data, question["name"])
    target = page_index(data, page_name)
    if target == p:
        data["pages"][p]["questions"][q] = question
        return
    if len(data["pages"][p]["questions"]) == 1:
        raise EditRefused(N_("the only question of a page stays on it: move the page instead"))
    del data["pages"][p]["questions"][q]
    data["pages"][target]["questions"].append(question)


# -- one choice of a list ---------------------------------------------------------------
#
# A choice removed or renamed in a draft loses no answer: published versions are never
# changed, answers stay with the version they were given to, and the results show a
# choice some version listed, or some answer holds, even when the newest one does not
# (definition/merged.py). So these refuse only what makes no sense on the list itself;
# the validator judges the rest (a list left empty, a name given twice).


def choice_list(data: dict, list_name: str) -> list[dict]:
    choices = (data.get("choice_lists") or {}).get(list_name)
    if choices is None:
        raise EditRefused(N_("no choice list named %(name)s"), name=repr(list_name))
    return choices


def choice_index(choices: list[dict], name: str) -> int:
    for index, choice in enumerate(choices):
        if str(choice.get("name")) == name:
            return index
    raise EditRefused(N_("no choice named %(name)s"), name=repr(name))


def add_choice(data: dict, list_name: str) -> str:
    """A new choice at the end of the list, named by the next free number, its label
    its name (to be written over); the new name."""
    choices = choice_list(data, list_name)
    name = unused_name({str(c.get("name")) for c in choices}, str(len(choices) + 1))
    choices.append({"name": name, "label": {default_language(data): name}})
    return name


def move_choice(data: dict, list_name: str, name: str, offset: int) -> None:
    choices = choice_list(data, list_name)
    _move(choices, choice_index(choices, name), offset)


def place_choice(data: dict, list_name: str, name: str, before: str | None) -> None:
    """Put a choice before another one (`before`), or last: a drag and drop."""
    choices = choice_list(data, list_name)
    if before == name:
        return
    choice = choices.pop(choice_index(choices, name))
    choices.insert(choice_index(choices, before) if before else len(choices), choice)


def duplicate_choice(data: dict, list_name: str, name: str) -> str:
    """A copy of the choice right after it, under a new name (`<name>_2` ...); the new
    name."""
    choices = choice_list(data, list_name)
    index = choice_index(choices, name)
    copied = copy.deepcopy(choices[index])
    copied["name"] = unused_name({str(c.get("name")) for c in choices}, name)
    choices.insert(index + 1, copied)
    return copied["name"]


def delete_choice(data: dict, list_name: str, name: str) -> None:
    choices = choice_list(data, list_name)
    del choices[choice_index(choices, name)]


def list_users(data: dict, list_name: str) -> list[str]:
    return [
        q["name"]
        for page in data["pages"]
        for q in page["questions"]
        if q.get("choices") == list_name
    ]


# -- texts, for the translation table ------------------------------------------------


def iter_texts(data: dict) -> Iterator[tuple[str, Any]]:
    """(key, text) of every translatable text, keys as set_text() takes them."""
    for key in ("title", "description"):
        if data.get(key) is not None:
            yield key, data[key]
    for page in data.get("pages", []):
        if page.get("title") is not None:
            yield f"page:{page['name']}:title", page["title"]
        for question in _with_rows(page.get("questions", [])):
            for key in TEXT_KEYS:
                if question.get(key) is not None:
                    yield f"question:{question['name']}:{key}", question[key]
            for row in question.get("rows") or []:
                yield f"row:{question['name']}:{row['name']}", row.get("label")
    for list_name, choices in (data.get("choice_lists") or {}).items():
        for choice in choices:
            yield f"choice:{list_name}:{choice['name']}", choice.get("label")


def _with_rows(questions: list[dict]) -> Iterator[dict]:
    """Each question, a roster followed by its row's questions."""
    for question in questions:
        yield question
        if question.get("type") in REPEAT:
            yield from question.get("questions") or ()


def _question(data: dict, name: str) -> dict:
    """The question named `name`, a roster's row question too."""
    if (row := row_position(data, name)) is not None:
        return row[0]["questions"][row[1]]
    p, q = question_position(data, name)
    return data["pages"][p]["questions"][q]


def _text_owner(data: dict, key: str) -> tuple[dict, str]:
    """The object holding the text `key` names, and the property it is under."""
    kind, _, rest = key.partition(":")
    if kind in ("title", "description") and not rest:
        return data, kind
    owner_name, _, item = rest.partition(":")
    if kind == "page":
        return data["pages"][page_index(data, owner_name)], "title"
    if kind == "question":
        return _question(data, owner_name), item
    if kind == "row":
        p, q = question_position(data, owner_name)
        rows = data["pages"][p]["questions"][q].get("rows") or []
        return next(r for r in rows if r["name"] == item), "label"
    if kind == "choice":
        choices = data.get("choice_lists", {}).get(owner_name, [])
        return next(c for c in choices if str(c["name"]) == item), "label"
    raise EditRefused(N_("no text %(key)s"), key=repr(key))


def set_text(data: dict, key: str, lang: str, text: str) -> None:
    """Write (or, when empty, remove) one language of one text."""
    try:
        owner, prop = _text_owner(data, key)
    except (StopIteration, EditRefused) as error:
        raise EditRefused(N_("no text %(key)s"), key=repr(key)) from error
    value = owner.get(prop)
    if isinstance(value, str):
        value = {default_language(data): value}
    value = dict(value or {})
    text = text.strip()
    if text:
        value[lang] = text
    else:
        value.pop(lang, None)
    if value:
        owner[prop] = value
    else:
        owner.pop(prop, None)


def rename_references(data: dict, old: str, new: str) -> None:
    """`${old}` -> `${new}` in every expression and piped text, after a rename."""
    pattern = "${" + old + "}"

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(pattern, "${" + new + "}")
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        return value

    if old != new:
        data["pages"] = walk(data["pages"])
