"""Copying pages and questions from one survey's definition into another's.

Whole pages and single questions are appended to the target as new pages (a single
question goes into a page of its own source page's name and title). Names that the
target already uses get a suffix (`district` -> `district_2`), and so do the copies'
references to them (`${district}`); the choice lists the copies use come along,
reused when the target has an identical list of that name, renamed when it has a
different one. The caller validates the result as a whole, as for any builder change.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

MAX_NAME = 64
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3` ... the first that `taken` lacks (at most 64
    characters); the name is added to `taken`."""
    candidate, n = name, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        n += 1
    taken.add(candidate)
    return candidate


def _question_names(data: dict) -> set[str]:
    names: set[str] = set()
    for page in data.get("pages") or []:
        for question in _with_rows(page.get("questions") or []):
            names.add(str(question.get("name")))
            if question.get("other"):
                names.add(f"{question.get('name')}_other")
    return names


def _with_rows(questions: list[dict]) -> list[dict]:
    """The questions and, after a roster, its rows' questions: names unique in a survey."""
    found = []
    for question in questions:
        found.append(question)
        if question.get("type") == "repeat":
            found += question.get("questions") or []
    return found


def _bring_list(target: dict, source: dict, name: str, renamed: dict[str, str]) -> str:
    """The target's name for the source's choice list `name`, adding it if needed."""
    if name in renamed:
        return renamed[name]
    lists = target.setdefault("choice_lists", {})
    wanted = (source.get("choice_lists") or {}).get(name)
    if wanted is None or lists.get(name) == wanted:
        renamed[name] = name
        return name
    new = unique_name(name, set(lists))
    lists[new] = copy.deepcopy(wanted)
    renamed[name] = new
    return new


def copy_into(
    target: dict, source: dict, pages: Iterable[str], questions: Iterable[str]
) -> tuple[int, dict[str, str]]:
    """Append to `target` the source's pages named in `pages` and its questions named
    in `questions` (those not in a copied page), in the source's order. Returns how
    many questions were copied and the renamed ones ({old: new}); `target` is changed
    in place."""
    pages, questions = set(pages), set(questions)
    taken_questions = _question_names(target)
    taken_pages = {page.get("name") for page in target.get("pages") or []}
    renamed: dict[str, str] = {}
    lists: dict[str, str] = {}
    copied: list[dict[str, Any]] = []
    for page in source.get("pages") or []:
        whole = page.get("name") in pages
        chosen = [q for q in page.get("questions") or [] if whole or q.get("name") in questions]
        if not chosen:
            continue
        new_page = {key: copy.deepcopy(value) for key, value in page.items() if key != "questions"}
        if not whole:
            new_page.pop("relevant", None)  # it may name questions left behind
        new_page["name"] = unique_name(page["name"], taken_pages)
        new_page["questions"] = []
        for question in copy.deepcopy(chosen):
            for new in _with_rows([question]):  # a roster's row questions are renamed too
                old_name = new["name"]
                new["name"] = unique_name(old_name, taken_questions)
                if new.get("other"):
                    taken_questions.add(f"{new['name']}_other")
                if new["name"] != old_name:
                    renamed[old_name] = new["name"]
                if isinstance(new.get("choices"), str):
                    new["choices"] = _bring_list(target, source, new["choices"], lists)
            new_page["questions"].append(question)
        copied.append(new_page)
    target.setdefault("pages", []).extend(_renamed_references(copied, renamed))
    return sum(len(page["questions"]) for page in copied), renamed


def _renamed_references(value: Any, renamed: dict[str, str]) -> Any:
    """`${old}` -> `${new}` everywhere in `value`, all names at once (a chain such as
    a -> a_2 and a_2 -> a_2_2 is not applied twice)."""
    if isinstance(value, str):
        return REFERENCE.sub(lambda m: "${" + renamed.get(m[1], m[1]) + "}", value)
    if isinstance(value, list):
        return [_renamed_references(item, renamed) for item in value]
    if isinstance(value, dict):
        return {key: _renamed_references(item, renamed) for key, item in value.items()}
    return value
