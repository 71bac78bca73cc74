"""Rosters (type repeat): a household's members, each asked the same questions. The
definition's check, and the answers' check shared by the form and the API."""

from __future__ import annotations

import random

import pytest

from survey_engine.definition import Definition, clean_answers
from survey_engine.definition.copying import copy_into
from survey_engine.definition.fake import fake_answers
from survey_engine.definition.schema import validate_definition
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from tests.roster_survey import household_answers, household_definition
from tests.xlsform_files import problems_of, workbook

HOUSEHOLD = Definition(household_definition())


def roster(data: dict) -> dict:
    return data["pages"][1]["questions"][0]


def test_the_household_survey_is_valid_and_its_roster_holds_its_row_questions():
    assert validate_definition(household_definition()) == []
    members = HOUSEHOLD.by_name["members"]
    assert members.is_repeat and HOUSEHOLD.repeats == (members,)
    assert [q.name for q in members.questions] == [
        "member_name",
        "sex",
        "age",
        "in_school",
        "languages",
    ]
    # A row's questions are answered inside the rows, never as answers of their own.
    assert "age" not in HOUSEHOLD.by_name
    assert members.questions[1].has_choice("female")


def test_answers_are_a_list_of_typed_rows_with_the_row_s_own_relevance():
    answers, errors = clean_answers(HOUSEHOLD, household_answers(), "vi")
    assert errors == {}
    assert answers["members"] == [
        {"member_name": "Nguyễn Thị Lan", "sex": "female", "age": 41, "languages": ["vi"]},
        {"member_name": "Trần Văn Minh", "sex": "male", "age": 12, "in_school": "yes"},
        {"member_name": "K'Sor H'Hen", "sex": "female", "age": 3, "languages": ["koho"]},
    ]
    # in_school is asked from 5 to 18: an answer for a 41-year-old is dropped, as XLSForm does.
    sent = household_answers()
    sent["members"][0]["in_school"] = "no"
    assert "in_school" not in clean_answers(HOUSEHOLD, sent, "vi")[0]["members"][0]


def test_a_row_s_errors_name_the_row_and_the_question():
    sent = household_answers()
    sent["members"][1] = {"member_name": "", "sex": "dog", "age": "200", "shoe_size": "40"}
    answers, errors = clean_answers(HOUSEHOLD, sent, "en")
    assert errors == {
        "members.2.member_name": "Please answer this question.",
        "members.2.sex": "Not one of the choices: dog.",
        "members.2.age": "The largest number allowed is 120.",
        "members.2.shoe_size": "There is no such question.",
    }
    vi = clean_answers(HOUSEHOLD, sent, "vi")[1]
    assert vi["members.2.member_name"] == "Vui lòng trả lời câu hỏi này."


@pytest.mark.parametrize(
    ("size", "rows", "error"),
    [
        ("2", 3, "Please fill in exactly 2 row(s)."),
        ("4", 3, "Please fill in exactly 4 row(s)."),
    ],
)
def test_count_fixes_the_number_of_rows(size, rows, error):
    sent = household_answers()
    sent["size"] = size
    sent["members"] = sent["members"][:rows]
    assert clean_answers(HOUSEHOLD, sent, "en")[1] == {"members": error}


def test_without_count_rows_go_from_min_count_to_max_count():
    data = household_definition()
    del roster(data)["count"]
    roster(data).update(min_count=2, max_count=3)
    survey = Definition(data)
    sent = household_answers()
    assert clean_answers(survey, sent, "en")[1] == {}
    sent["members"] = sent["members"][:1]
    assert clean_answers(survey, sent, "en")[1] == {"members": "Please add at least 2 row(s)."}
    sent["members"] = household_answers()["members"] * 2
    answers, errors = clean_answers(survey, sent, "en")
    assert errors == {"members": "At most 3 row(s) can be added."}
    assert len(answers["members"]) == 3  # what is beyond max_count is never kept


@pytest.mark.parametrize("sent", ["Lan", ["Lan"], {"member_name": "Lan"}, [{"a": 1}, 3]])
def test_rows_that_are_not_a_list_of_objects_are_refused(sent):
    answers, errors = clean_answers(HOUSEHOLD, {**household_answers(), "members": sent}, "en")
    assert errors == {"members": "The answer must be a list of rows."}
    assert "members" not in answers


def test_a_roster_on_a_page_not_asked_keeps_no_rows():
    data = household_definition()
    data["pages"][1]["relevant"] = "${district} = 'bao_loc'"
    answers, errors = clean_answers(Definition(data), household_answers(), "en")
    assert errors == {} and "members" not in answers


def test_row_expressions_see_their_row_and_the_answers_outside_it():
    data = household_definition()
    # A child is younger than the household has people... a rule reading both sides.
    roster(data)["questions"][2]["constraint"] = ". < 100 or ${district} = 'bao_loc'"
    roster(data)["questions"].append(
        {"name": "adult", "type": "calculate", "calculation": "if(${age} >= 18, 'yes', 'no')"}
    )
    survey = Definition(data)
    assert validate_definition(data) == []
    answers, _ = clean_answers(survey, household_answers(), "en")
    assert [row["adult"] for row in answers["members"]] == ["yes", "no", "no"]
    sent = household_answers()
    sent["members"][0]["age"] = "101"
    assert clean_answers(survey, sent, "en")[1] == {"members.1.age": "This answer is not valid."}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda r: r.update(questions=[]),
            "pages[1].questions[0].questions: a roster needs a non-empty list of questions",
        ),
        (
            lambda r: r["questions"].append(
                {"name": "grid", "type": "matrix", "label": "x", "choices": "yes_no", "rows": []}
            ),
            "pages[1].questions[0].questions[5].type: a roster's row cannot ask a matrix "
            "question; it may ask: ",
        ),
        (
            lambda r: r.update(min_count=3, max_count=2),
            "pages[1].questions[0].max_count: must not be below min_count",
        ),
        (
            lambda r: r.update(max_count=1000),
            "pages[1].questions[0].max_count: a whole number from 0 to 100, got 1000",
        ),
        (
            lambda r: r["questions"].append({"name": "size", "type": "text", "label": "x"}),
            "pages[1].questions[0].questions[5].name: 'size' is already used by "
            "pages[0].questions[1]",
        ),
        (
            lambda r: r.update(count="${nobody}"),
            "pages[1].questions[0].count: at character 1: unknown question '${nobody}'",
        ),
    ],
)
def test_a_bad_roster_is_refused_with_its_path(change, problem):
    data = household_definition()
    change(roster(data))
    assert any(found.startswith(problem) for found in validate_definition(data)), (
        validate_definition(data)
    )


def test_a_question_outside_the_roster_cannot_name_a_row_s_question():
    # Which member's age? Outside the roster the rows' answers have no single value.
    data = household_definition()
    data["pages"][1]["questions"][1]["relevant"] = "${age} > 3"
    assert validate_definition(data) == [
        "pages[1].questions[1].relevant: at character 1: unknown question '${age}'"
    ]


def test_fake_responses_fill_as_many_rows_as_the_count_asks_and_pass_the_checks():
    rng = random.Random(7)
    for _ in range(50):
        answers = fake_answers(HOUSEHOLD, rng)
        assert len(answers["members"]) == answers["size"]
        assert clean_answers(HOUSEHOLD, answers, "vi")[1] == {}


def test_copying_a_roster_renames_its_row_questions_and_their_references():
    target, source = household_definition(), household_definition()
    copied, renamed = copy_into(target, source, ["people"], [])
    assert copied == 2 and renamed["age"] == "age_2" and renamed["members"] == "members_2"
    copy = target["pages"][2]["questions"][0]
    assert copy["questions"][3]["relevant"] == "${age_2} >= 5 and ${age_2} <= 18"
    assert copy["count"] == "${size}"  # the target's own household size
    assert validate_definition(target) == []


def test_a_roster_round_trips_through_xlsform(tmp_path):
    data = household_definition()
    roster(data).update(min_count=1, required=True, row_label={"vi": "Người", "en": "Person"})
    write_xlsform(data, tmp_path / "household.xlsx")
    assert read_xlsform(tmp_path / "household.xlsx") == data


def test_an_xlsform_repeat_s_inner_group_adds_its_relevance_to_each_row_question(tmp_path):
    path = workbook(
        tmp_path / "ho.xlsx",
        {
            "survey": [
                ["type", "name", "label", "relevant", "repeat_count"],
                ["integer", "size", "Số người", None, None],
                ["begin repeat", "members", "Thành viên", None, "${size}"],
                ["integer", "age", "Tuổi", None, None],
                ["begin group", "adult", "Người lớn", "${age} >= 18", None],
                ["text", "job", "Nghề", None, None],
                ["text", "employer", "Nơi làm", "${job} != ''", None],
                ["end group"],
                ["end repeat"],
                ["text", "comment", "Góp ý", None, None],
            ]
        },
    )
    notes: list[str] = []
    [page] = read_xlsform(path, notes)["pages"]
    assert [q["name"] for q in page["questions"]] == ["size", "members", "comment"]
    members = page["questions"][1]
    assert members["count"] == "${size}"
    assert [q.get("relevant") for q in members["questions"]] == [
        None,
        "${age} >= 18",
        "(${age} >= 18) and (${job} != '')",
    ]
    assert "survey sheet, row 5, column label: ignored: a group inside a repeat is no page" in notes


def test_an_xlsform_repeat_inside_a_repeat_is_refused_at_its_row(tmp_path):
    path = workbook(
        tmp_path / "nested.xlsx",
        {
            "survey": [
                ["type", "name", "label"],
                ["begin repeat", "members", "Thành viên"],
                ["begin repeat", "jobs", "Công việc"],
                ["text", "job", "Nghề"],
                ["end repeat"],
                ["end repeat"],
            ]
        },
    )
    assert problems_of(path) == [
        "survey sheet, row 3, column type: a repeat inside a repeat is not supported"
    ]
