"""The survey format: a bad definition is refused with every problem named by path."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.definition import Definition, validate_definition
from survey_engine.definition.families import number_of
from tests.conftest import demo_definition


def broken(change) -> list[str]:
    data = copy.deepcopy(demo_definition())
    change(data)
    return validate_definition(data)


def where(d: dict, name: str) -> tuple[str, dict]:
    """The path and the dict of the demo's question `name`."""
    for p, page in enumerate(d["pages"]):
        for i, question in enumerate(page["questions"]):
            if question["name"] == name:
                return f"pages[{p}].questions[{i}]", question
    raise KeyError(name)


DEMO = demo_definition()
ROLE, _ = where(DEMO, "role")
DISTRICT, _ = where(DEMO, "district")
NOTE, _ = where(DEMO, "privacy_note")
EMAIL, _ = where(DEMO, "email")
CONCERNS, _ = where(DEMO, "concerns")
CHILDREN, _ = where(DEMO, "children")
COMMENT, _ = where(DEMO, "comment")


def test_demo_definition_is_valid():
    assert validate_definition(demo_definition()) == []


def test_demo_uses_pages_logic_and_many_question_types():
    d = Definition(demo_definition())
    types = {q.type for q in d.questions}
    assert len(d.pages) >= 3 and len(types - {"note", "hidden", "calculate"}) >= 8
    assert any(q.relevant for q in d.questions) and any(d.page_relevant.values())
    assert d.by_name["commune"].choice_filter is not None


def test_unknown_choice_list_is_named_by_path():
    def change(d):
        where(d, "role")[1]["choices"] = "x"

    assert broken(change) == [f"{ROLE}.choices: unknown choice list 'x'"]


def test_every_problem_is_listed_not_only_the_first():
    def change(d):
        d["format"] = "kobo"
        d["slug"] = "Bad Slug"
        where(d, "privacy_note")[1]["type"] = "geotrace"
        where(d, "email")[1]["name"] = "district"  # repeats page 0's question
        where(d, "concerns")[1]["required"] = "yes"
        d["choice_lists"]["roles"][1]["name"] = "parent"
        del where(d, "comment")[1]["label"]

    problems = broken(change)
    assert len(problems) == 7, problems
    joined = "\n".join(problems)
    for expected in [
        "format: must be 'survey-engine/1'",
        "slug: lower-case letters",
        f"{NOTE}.type: unknown question type 'geotrace'",
        f"{EMAIL}.name: 'district' is already used by {DISTRICT}",
        f"{CONCERNS}.required: must be true or false",
        "choice_lists.roles[1].name: repeats the choice 'parent'",
        f"{COMMENT}.label: is required",
    ]:
        assert expected in joined


def test_unknown_and_not_yet_supported_properties_are_refused():
    def change(d):
        where(d, "district")[1]["colour"] = "red"
        where(d, "role")[1]["parameters"] = "randomize=true"

    assert broken(change) == [
        f"{DISTRICT}.colour: unknown property",
        f"{ROLE}.parameters: not supported yet by this version of survey-engine",
    ]


def test_expressions_are_checked_with_position_and_unknown_question():
    def change(d):
        where(d, "role")[1]["relevant"] = "${distrct} = 'da_lat'"
        d["pages"][1]["relevant"] = "${role} = 'parent' and"

    problems = broken(change)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{ROLE}.relevant: ")
    assert "${distrct}" in problems[0] and "character 1" in problems[0]
    assert "did you mean '${district}'" in problems[0]
    assert problems[1].startswith("pages[1].relevant: ")
    assert "character" in problems[1]


def test_texts_need_the_default_language():
    def change(d):
        d["title"] = {"en": "Only English"}
        where(d, "district")[1]["label"] = {"vi": ""}

    assert broken(change) == [
        "title: has no text in the default language 'vi'",
        f"{DISTRICT}.label.vi: must be a non-empty text",
    ]


def test_settings_are_checked():
    def change(d):
        d["settings"] = {
            "opens_at": "2026-12-01T08:00:00+07:00",
            "closes_at": "2026-11-01T08:00:00+07:00",
            "max_responses": 0,
        }

    assert broken(change) == [
        "settings.closes_at: must be later than opens_at",
        "settings.max_responses: a whole number of at least 1, got 0",
    ]


def test_finding7_schedule_years_outside_1900_2100_are_refused():
    def change(d):
        d["settings"] = {
            "opens_at": "0001-01-01T00:00:00+07:00",
            "closes_at": "9999-12-31T23:59:59-07:00",
        }

    assert broken(change) == [
        "settings.opens_at: a time between 1900 and 2100, got '0001-01-01T00:00:00+07:00'",
        "settings.closes_at: a time between 1900 and 2100, got '9999-12-31T23:59:59-07:00'",
    ]


def test_select_needs_choices_and_others_must_not_have_them():
    def change(d):
        del where(d, "district")[1]["choices"]
        where(d, "children")[1]["choices"] = "roles"

    assert broken(change) == [
        f"{DISTRICT}.choices: the name of a list in choice_lists is required",
        f"{CHILDREN}.choices: an integer question does not take 'choices'",
    ]


def test_limits_rows_and_scales_are_checked():
    def change(d):
        where(d, "children")[1].update(min=5, max=1)
        where(d, "last_dose")[1]["max"] = "tomorrow"
        where(d, "concerns")[1]["max_choices"] = 99
        where(d, "school_rating")[1]["scale"] = 1
        where(d, "measures")[1]["rows"] = [{"name": "a", "label": "A"}, {"name": "a"}]
        where(d, "concern_count")[1].pop("calculation")

    problems = "\n".join(broken(change))
    for expected in (
        "max: must not be below min",
        "a date YYYY-MM-DD or 'today'",
        "max_choices: a whole number from 0 to 7",
        "scale: a whole number from 2",
        "rows[1].name: repeats the row 'a'",
        "rows[1].label: is required",
        "a calculate question needs a calculation",
    ):
        assert expected in problems, expected


def test_other_adds_a_choice_and_a_text_field():
    d = Definition(demo_definition())
    concerns = d.by_name["concerns"]
    assert concerns.choice_names()[-1] == "other"
    assert concerns.other_field == "concerns_other"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from(
        [
            ("title",),
            ("pages",),
            ("pages", 0),
            ("pages", 0, "questions"),
            ("pages", 0, "questions", 0),
            ("pages", 0, "questions", 0, "label"),
            ("pages", 1, "questions", 1, "choices"),
            ("pages", 0, "questions", 4, "choice_filter"),
            ("pages", 1, "questions", 2, "rows"),
            ("pages", 2, "relevant"),
            ("choice_lists",),
            ("choice_lists", "roles"),
            ("choice_lists", "roles", 0),
            ("settings",),
            ("settings", "opens_at"),
        ]
    ),
    value=json_values,
)
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


def test_a_number_stored_as_text_counts_only_when_it_reads_as_a_decimal():
    for value, number in (
        (12, 12.0),
        (2.5, 2.5),
        ("12", 12.0),
        (" 4 ", 4.0),
        ("-1", -1.0),
        ("+.5", 0.5),
        ("3.", 3.0),
    ):
        assert number_of(value) == number, value
    for value in (
        True,
        False,
        None,
        "",
        "nhiều",
        "1e3",
        "NaN",
        "inf",
        "1,5",
        "3 con",
        "١٢",
        float("nan"),
        float("inf"),
        [1],
        {"a": 1},
    ):
        assert number_of(value) is None, value


def test_the_forms_own_field_names_are_refused_as_question_names() -> None:
    """A question named like a field the questionnaire form carries for itself (its id,
    the device token, the first-view time, the pages seen, the access code, the proof
    of work) would never receive its answer: the definition says so instead."""
    for reserved in ("pages", "started", "device_token", "access_code", "js", "pow_counter"):
        data = demo_definition()
        data["pages"][0]["questions"][0]["name"] = reserved
        problems = validate_definition(data)
        assert any(
            p.startswith("pages[0].questions[0].name:") and "uses for itself" in p for p in problems
        ), (reserved, problems)


def test_a_choice_only_an_older_version_had_is_merged_in_and_found_by_name():
    """The dashboard reads versions as one: an answer to a choice the newest version
    dropped still counts, even after the newest version's lookups were used."""
    from survey_engine.definition.merged import merged_questions

    older = copy.deepcopy(DEMO)
    older["choice_lists"]["roles"].append({"name": "grandparent", "label": {"vi": "Ông bà"}})
    newest, old = Definition(DEMO), Definition(older)
    role = next(q for q in newest.questions if q.name == "role")
    assert not role.has_choice("grandparent")  # remembers the newest version's names

    merged = next(q for q in merged_questions([newest, old]) if q.name == "role")

    assert merged.has_choice("grandparent")
    assert merged.choice("grandparent")["label"] == {"vi": "Ông bà"}
    assert merged.choice_names() == [*role.choice_names(), "grandparent"]
    assert not role.has_choice("grandparent")  # the newest version's own is unchanged
