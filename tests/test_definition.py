"""The survey format: a bad definition is refused with every problem named by path."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.definition import Definition, validate_definition
from tests.conftest import demo_definition


def broken(change) -> list[str]:
    data = copy.deepcopy(demo_definition())
    change(data)
    return validate_definition(data)


def test_demo_definition_is_valid():
    assert validate_definition(demo_definition()) == []


def test_unknown_choice_list_is_named_by_path():
    def change(d):
        d["pages"][0]["questions"][1]["choices"] = "x"

    assert broken(change) == ["pages[0].questions[1].choices: unknown choice list 'x'"]


def test_every_problem_is_listed_not_only_the_first():
    def change(d):
        d["format"] = "kobo"
        d["slug"] = "Bad Slug"
        d["pages"][0]["questions"][0]["type"] = "geopoint"
        d["pages"][1]["questions"][0]["name"] = "district"  # repeats page 0's question
        d["pages"][1]["questions"][1]["required"] = "yes"
        d["choice_lists"]["roles"][1]["name"] = "parent"
        del d["pages"][1]["questions"][2]["label"]

    problems = broken(change)
    assert len(problems) == 7, problems
    joined = "\n".join(problems)
    for expected in [
        "format: must be 'survey-engine/1'",
        "slug: lower-case letters",
        "pages[0].questions[0].type: unknown question type 'geopoint'",
        "pages[1].questions[0].name: 'district' is already used by pages[0].questions[1]",
        "pages[1].questions[1].required: must be true or false",
        "choice_lists.roles[1].name: repeats the choice 'parent'",
        "pages[1].questions[2].label: is required",
    ]:
        assert expected in joined


def test_unknown_and_not_yet_supported_properties_are_refused():
    def change(d):
        d["pages"][0]["questions"][0]["colour"] = "red"
        d["pages"][0]["questions"][1]["parameters"] = "randomize=true"

    assert broken(change) == [
        "pages[0].questions[0].colour: unknown property",
        "pages[0].questions[1].parameters: not supported yet by this version of survey-engine",
    ]


def test_expressions_are_checked_with_position_and_unknown_question():
    def change(d):
        d["pages"][0]["questions"][2]["relevant"] = "${distrct} = 'da_lat'"
        d["pages"][1]["relevant"] = "${role} = 'parent' and"

    problems = broken(change)
    assert len(problems) == 2, problems
    assert problems[0].startswith("pages[0].questions[2].relevant: ")
    assert "${distrct}" in problems[0] and "character 1" in problems[0]
    assert problems[1].startswith("pages[1].relevant: ")
    assert "character" in problems[1]


def test_texts_need_the_default_language():
    def change(d):
        d["title"] = {"en": "Only English"}
        d["pages"][0]["questions"][0]["label"] = {"vi": ""}

    assert broken(change) == [
        "title: has no text in the default language 'vi'",
        "pages[0].questions[0].label.vi: must be a non-empty text",
    ]


def test_settings_are_checked():
    def change(d):
        d["settings"] = {"opens_at": "2026-12-01T08:00:00+07:00",
                         "closes_at": "2026-11-01T08:00:00+07:00", "max_responses": 0}

    assert broken(change) == ["settings.closes_at: must be later than opens_at",
                              "settings.max_responses: a whole number of at least 1, got 0"]


def test_select_needs_choices_and_others_must_not_have_them():
    def change(d):
        del d["pages"][0]["questions"][1]["choices"]
        d["pages"][0]["questions"][3]["choices"] = "roles"

    assert broken(change) == [
        "pages[0].questions[1].choices: the name of a list in choice_lists is required",
        "pages[0].questions[3].choices: an integer question does not take 'choices'",
    ]


def test_other_adds_a_choice_and_a_text_field():
    d = Definition(demo_definition())
    concerns = d.by_name["concerns"]
    assert concerns.choice_names()[-1] == "other"
    assert concerns.other_field == "concerns_other"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from([
    ("title",), ("pages",), ("pages", 0), ("pages", 0, "questions"),
    ("pages", 0, "questions", 0), ("pages", 0, "questions", 0, "label"),
    ("pages", 1, "questions", 1, "choices"), ("choice_lists",), ("choice_lists", "roles"),
    ("choice_lists", "roles", 0), ("settings",), ("settings", "opens_at"),
]), value=json_values)
def test_any_garbage_anywhere_gives_messages_never_an_exception(path, value):
    data = copy.deepcopy(demo_definition())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = validate_definition(data)
    assert isinstance(problems, list)
    assert all(isinstance(p, str) and p for p in problems)


@given(value=json_values)
def test_a_definition_that_is_not_an_object_is_refused(value):
    problems = validate_definition(value)
    assert problems  # nothing but a full definition object is accepted
