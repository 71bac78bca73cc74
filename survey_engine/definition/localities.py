"""The locality block: "where do you live?" as ordinary questions and choice lists.

Why a block and not a question type: the block writes plain select_one questions, plain
choice lists whose choices carry their parent's code (`{"name": "24781", "label":
"Phường Xuân Hương - Đà Lạt", "province": "68"}`) and a plain choice_filter
(`province = ${province}`). So the survey format, the answer checks, the page's
cascading lists (with and without its script), XLSForm (the choices sheet's extra
column), the dashboard, the workbook and the SPSS/Stata files need nothing new, and a
survey written this way by hand in Excel is the same survey. The price: a definition
carries a copy of the lists it uses, made when the block was added; a new release of
the dataset changes no survey until staff add the block again (docs/localities.md).

Choice names are the GSO codes, stable through renames, and whole numbers, so SPSS and
Stata files carry them as the value codes analysts join on.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from survey_engine.definition.editing import (
    EditRefused,
    languages,
    page_index,
    question_names,
)
from survey_engine.definition.locality_data import ERAS, Dataset, Division, dataset
from survey_engine.definition.problems import N_

# The most choices one generated list may have: a list is sent whole to the phone for
# the provinces picked (all 3,321 communes of 2025 fit; the 10,051 pre-2025 communes of
# the whole country do not: pick fewer provinces or stop at the district).
MAX_LIST_CHOICES = 4000

LABELS: dict[str, dict[str, str]] = {
    "province": {
        "vi": "Bạn đang sống ở tỉnh/thành phố nào?",
        "en": "Which province or city do you live in?",
    },
    "district": {
        "vi": "Bạn đang sống ở quận/huyện/thị xã/thành phố nào?",
        "en": "Which district do you live in?",
    },
    "commune": {
        "vi": "Bạn đang sống ở xã/phường nào?",
        "en": "Which commune or ward do you live in?",
    },
}


def depths(era: str) -> tuple[str, ...]:
    """The levels a block of this era may stop at."""
    return dataset(era).levels


def add_locality_block(
    data: dict,
    page: str,
    era: str,
    province_codes: list[str],
    depth: str,
    prefix: str = "",
) -> list[str]:
    """Append the block's questions to `page` and its lists to the definition; return
    the questions' names. One province: it is not asked (every answer is in it), the
    block starts at the next level."""
    try:
        tree = dataset(era)
    except ValueError as error:  # an era of no dataset
        raise EditRefused(
            N_("unknown locality era %(era)s; one of %(eras)s"), era=repr(era), eras=", ".join(ERAS)
        ) from error
    if depth not in tree.levels:
        raise EditRefused(
            N_("the %(era)s structure has the levels %(levels)s, not %(depth)s"),
            era=era,
            levels=", ".join(tree.levels),
            depth=repr(depth),
        )
    provinces = _provinces(tree, province_codes)
    levels = tree.levels[: tree.levels.index(depth) + 1]
    if len(provinces) == 1:
        levels = levels[1:]
    if not levels:
        raise EditRefused(N_("one province and no level below it: there is nothing to ask"))
    index = page_index(data, page)
    names = {level: f"{prefix}{level}" for level in levels}
    clash = sorted(set(names.values()) & question_names(data))
    if clash:
        raise EditRefused(
            N_("the survey already has a question named %(names)s"), names=", ".join(clash)
        )
    lists = data.setdefault("choice_lists", {})
    questions = []
    parent: str | None = None
    for level in levels:
        choices = _choices(provinces, tree.levels, level)
        if len(choices) > MAX_LIST_CHOICES:
            raise EditRefused(
                N_(
                    "%(count)s choices for %(level)s: at most %(limit)s a list; "
                    "pick fewer provinces or a shallower level"
                ),
                count=len(choices),
                level=level,
                limit=MAX_LIST_CHOICES,
            )
        list_name = _list_name(lists, f"{level}s_{era}", choices)
        lists[list_name] = choices
        question: dict[str, Any] = {
            "name": names[level],
            "type": "select_one",
            "choices": list_name,
            "label": _label(data, level),
            "required": True,
            "appearance": "minimal",
        }
        if parent is not None:
            question["choice_filter"] = f"{parent} = ${{{names[parent]}}}"
        questions.append(question)
        parent = level
    data["pages"][index]["questions"].extend(questions)
    return [q["name"] for q in questions]


def _provinces(tree: Dataset, codes: list[str]) -> list[Division]:
    if not codes:
        raise EditRefused(N_("pick at least one province"))
    chosen = []
    for code in dict.fromkeys(codes):
        province = tree.province(code)
        if province is None:
            raise EditRefused(
                N_("no province with the code %(code)s in the %(era)s structure"),
                code=repr(code),
                era=tree.era,
            )
        chosen.append(province)
    return chosen


def _choices(provinces: list[Division], levels: tuple[str, ...], level: str) -> list[dict]:
    """The level's divisions under the chosen provinces, each with its parent's code
    (what the choice_filter reads; kept when the parent is not asked too, for the
    choices sheet), sorted as a citizen looks for them: by name."""
    depth = levels.index(level)
    found: list[tuple[Division, Division | None]] = [(p, None) for p in provinces]
    for _ in range(depth):
        found = [(child, division) for division, _up in found for child in division.children]
    choices = []
    for division, up in sorted(found, key=lambda pair: _sort_key(pair[0].name)):
        choice: dict[str, Any] = {"name": division.code, "label": division.name}
        if up is not None:
            choice[levels[depth - 1]] = up.code
        choices.append(choice)
    return choices


PREFIXES = ("thành phố ", "tỉnh ", "thị xã ", "thị trấn ", "quận ", "huyện ", "phường ", "xã ")


def _sort_key(name: str) -> tuple[str, str]:
    """By the name without its kind ("Xã", "Phường"), without diacritics, then as is."""
    folded = name.casefold()
    for prefix in PREFIXES:
        if folded.startswith(prefix):
            folded = folded[len(prefix) :]
            break
    plain = unicodedata.normalize("NFD", folded.replace("đ", "d"))
    return "".join(c for c in plain if not unicodedata.combining(c)), name


def _list_name(lists: dict, base: str, choices: list[dict]) -> str:
    """The list's usual name (shared by a second block with the same choices), or the
    first free `<name>_2`, `_3`… when the survey has a different list by that name."""
    name, number = base, 2
    while name in lists and lists[name] != choices:
        name, number = f"{base}_{number}", number + 1
    return name


def _label(data: dict, level: str) -> dict[str, str]:
    """The question in every language of the survey (Vietnamese where no text is known)."""
    texts = LABELS[level]
    return {lang: texts.get(lang, texts["vi"]) for lang in languages(data)}
