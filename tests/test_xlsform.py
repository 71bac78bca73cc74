"""XLSForm (.xlsx) import and export of survey definitions."""

from __future__ import annotations

import json

import openpyxl
import pytest

from survey_engine.cli import cli
from survey_engine.definition.schema import validate_definition
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from tests.conftest import demo_definition
from tests.xlsform_files import EXAMPLES, TESTDATA, problems_of, workbook


def invoke(app, *args):
    return app.test_cli_runner().invoke(cli, list(args))


def test_demo_definition_round_trips(tmp_path):
    definition = demo_definition()
    write_xlsform(definition, tmp_path / "demo.xlsx")
    back = read_xlsform(tmp_path / "demo.xlsx")
    assert validate_definition(back) == []
    assert back == definition
    book = openpyxl.load_workbook(tmp_path / "demo.xlsx")
    assert book.sheetnames == ["survey", "choices", "settings"]
    header = [c.value for c in book["survey"][1]]
    assert "label::Vietnamese (vi)" in header and "label::English (en)" in header
    assert "matrix_rows" in header


def test_plain_texts_and_loose_questions_round_trip(tmp_path):
    definition = {
        "format": "survey-engine/1",
        "slug": "nho",
        "title": "Nhỏ",
        "pages": [
            {
                "name": "p",
                "questions": [
                    {
                        "name": "age",
                        "type": "integer",
                        "label": "Tuổi",
                        "min": 0,
                        "max": 120,
                        "required": False,
                        "default": 30,
                    },
                    {
                        "name": "fruit",
                        "type": "select_multiple",
                        "choices": "fruit",
                        "label": "Quả",
                        "default": ["a", "b"],
                        "min_choices": 1,
                    },
                    {"name": "stars", "type": "rating", "scale": 7, "label": "Sao"},
                ],
            }
        ],
        "choice_lists": {
            "fruit": [
                {"name": "a", "label": "A", "exclusive": True},
                {"name": "b", "label": "B", "weight": 2.5},
            ]
        },
    }
    write_xlsform(definition, tmp_path / "nho.xlsx")
    assert read_xlsform(tmp_path / "nho.xlsx") == definition


def test_questions_outside_groups_form_their_own_pages(tmp_path):
    path = workbook(
        tmp_path / "loose.xlsx",
        {
            "survey": [
                ["type", "name", "label", "required", "relevant"],
                ["text", "a", "A", "yes", None],
                ["begin group", "g", "Group", None, "${a} != ''"],
                ["note", "n", "Note", None, None],
                ["end group"],
                ["acknowledge", "ok", "OK", "TRUE()", None],
            ],
            "settings": [["form_title", "form_id"], ["Loose", "Loose_Form"]],
        },
    )
    definition = read_xlsform(path)
    assert definition["slug"] == "loose-form" and definition["title"] == "Loose"
    assert [p["name"] for p in definition["pages"]] == ["page_1", "g", "page_3"]
    assert definition["pages"][1]["relevant"] == "${a} != ''"
    assert definition["pages"][0]["questions"][0]["required"] is True
    assert definition["pages"][2]["questions"][0]["required"] is True


# What each pyxform test file gives, with the actual reasons.


def test_or_other_is_refused_for_a_filter_on_a_column_no_choice_has():
    # `pastel=yes` compares with a column 'yes' that no choice has (the author meant
    # 'yes' in quotes): it would filter every choice away, so it is named at its row.
    assert problems_of(TESTDATA / "or_other.xlsx") == [
        "survey sheet, row 3, column choice_filter: 'yes' is no column of the choices "
        "sheet for list 'colors' (its choices have: label, name, pastel); a text is "
        "written in quotes: 'yes'"
    ]


def test_text_and_integer_imports_with_english_as_the_only_language():
    definition = read_xlsform(TESTDATA / "text_and_integer.xlsx")
    assert validate_definition(definition) == []
    assert definition["default_language"] == "en"
    assert [q["type"] for q in definition["pages"][0]["questions"]] == ["text", "integer"]


def test_yes_or_no_question_imports_old_select_syntax():
    definition = read_xlsform(TESTDATA / "yes_or_no_question.xlsx")
    assert validate_definition(definition) == []
    question = definition["pages"][0]["questions"][0]
    assert question["type"] == "select_one" and question["choices"] == "yes_or_no"
    assert question["label"] == {"en": "have you had a good day today?"}


def test_group_imports_phone_number_as_a_phone_question():
    definition = read_xlsform(TESTDATA / "group.xlsx")
    assert [p["name"] for p in definition["pages"]] == ["page_1", "father"]
    phone, age = definition["pages"][1]["questions"]
    assert phone["type"] == "phone" and age["type"] == "integer"
    assert definition["pages"][1]["title"] == {"en": "Father"}


def test_choice_filter_test_is_refused_for_duplicates_even_when_allowed():
    # allow_choice_duplicates is read (no problem of its own) but an answer is stored
    # by its choice's name, so 'king' twice in one list is still refused.
    problems = problems_of(TESTDATA / "choice_filter_test.xlsx")
    assert problems == [
        "choice_lists.counties[2].name: repeats the choice 'king' (choices sheet, row 6)",
    ]


def test_case_insensitivity_is_refused_for_external_sheets_and_types():
    problems = problems_of(TESTDATA / "case_insensitivity.xlsx")
    assert problems == [
        "EXTERNAL_CHOICES sheet: this sheet is not supported",
        "ENTITIES sheet: this sheet is not supported",
        "OSM sheet: this sheet is not supported",
        "survey sheet, row 3, column type: 'select_one_external c1' is not supported",
        "survey sheet, row 4, column type: 'osm c1' is not supported",
    ]


def test_field_list_takes_its_first_language_as_the_default():
    # English on the survey sheet, a plain and a Chinese label on the choices sheet,
    # no default_language: English, the form's first language, as ODK Collect opens it.
    notes: list[str] = []
    definition = read_xlsform(TESTDATA / "field-list.xlsx", notes)
    assert definition["default_language"] == "en"
    assert definition["choice_lists"]["yes_no"][0]["label"] == {"zh": "是", "en": "Yes"}
    assert notes == [
        "settings sheet, column default_language: none given: 'en' is used, the first "
        "language of the form (found: en, zh); texts without a language are taken as it"
    ]


def test_xlsform_spec_test_is_refused_with_every_reason():
    problems = problems_of(TESTDATA / "xlsform_spec_test.xlsx")
    for expected in [
        "columns sheet: this sheet is not supported",
        "settings sheet, row 2, column public_key: column 'public_key' is not supported",
        "choices sheet, row 4, column image: column 'image' is not supported",
        "survey sheet, row 4, column rows: column 'rows' is not supported",
        "survey sheet, row 32, column type: 'time' is not supported",
        "survey sheet, row 57, column buttonText: column 'buttonText' is not supported",
    ]:
        assert expected in problems
    # Its repeat (row 15, with a repeat_count) is a roster now: nothing there is refused,
    # and a problem of a row question inside it (row 21) is told at its row.
    assert not [problem for problem in problems if "row 15," in problem]
    for row in (34, 35, 36, 37, 38):  # geopoint, barcode, image, audio, video: types now
        assert not any(f"row {row}, column type" in p for p in problems), problems
    assert any(
        p.startswith("pages[1].questions[11].questions[2].name: letters, digits and '_'")
        and p.endswith("(survey sheet, row 21)")
        for p in problems
    )


def test_every_shared_test_file_is_covered():
    files = {p.name for p in TESTDATA.glob("*.xlsx")}
    assert files == {
        "or_other.xlsx",
        "text_and_integer.xlsx",
        "yes_or_no_question.xlsx",
        "group.xlsx",
        "choice_filter_test.xlsx",
        "case_insensitivity.xlsx",
        "field-list.xlsx",
        "xlsform_spec_test.xlsx",
    }


def test_bad_workbook_lists_every_problem_with_its_position(tmp_path):
    path = workbook(
        tmp_path / "bad.xlsx",
        {
            "survey": [
                ["type", "name", "label", "image"],
                ["text", "name", "Tên", None],
                ["geotrace", "where", "Ở đâu", None],
                ["begin repeat", "kids", "Con", None],
                ["integer", "age", "Tuổi", "a.jpg"],
                ["end repeat"],
                ["select_one khong_co", "pick", "Chọn", None],
            ],
            "choices": [["list_name", "name", "label"], ["co", "x", "X"]],
            "settings": [["form_title", "form_id"], ["Sai", "sai"]],
        },
    )
    problems = problems_of(path)
    assert problems == [
        "survey sheet, row 3, column type: a line of points (geotrace) is not supported; "
        "use a geopoint per place",
        "survey sheet, row 5, column image: column 'image' is not supported",
        "pages[0].questions[2].choices: unknown choice list 'khong_co' (survey sheet, row 7)",
    ]


@pytest.mark.parametrize(
    "stem", ["text_and_integer", "yes_or_no_question", "group", "specify_other"]
)
def test_old_xls_reads_as_its_xlsx_twin(stem):
    """pyxform ships some forms in both formats: the .xls must give the same survey."""
    assert read_xlsform(EXAMPLES / f"{stem}.xls") == read_xlsform(EXAMPLES / f"{stem}.xlsx")


def test_a_broken_xls_is_refused_with_its_format_named(tmp_path):
    path = tmp_path / "form.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really an xls")
    problems = problems_of(path)
    assert len(problems) == 1 and problems[0].startswith("not an XLSForm workbook (.xls)")


def test_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "form.xlsx"
    path.write_bytes(b"PK")
    problems = problems_of(path)
    assert len(problems) == 1 and problems[0].startswith("not an XLSForm workbook (.xlsx)")


# The command line.


def test_cli_imports_xlsx_and_prints_the_slug(app, client, tmp_path):
    result = invoke(app, "import", str(TESTDATA / "group.xlsx"), "--publish")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "group"
    assert client.get("/api/v1/surveys/group").status_code == 200


def test_cli_refuses_a_bad_xlsx_and_stores_nothing(app, tmp_path):
    result = invoke(app, "import", str(TESTDATA / "or_other.xlsx"))
    assert result.exit_code == 1
    assert "1 problem(s)" in result.output
    assert "survey sheet, row 3, column choice_filter: 'yes' is no column" in result.output
    assert "Traceback" not in result.output
    result = invoke(app, "export-definition", "or-other", "-o", str(tmp_path / "g.json"))
    assert result.exit_code != 0


@pytest.mark.parametrize("ending", [".xlsx", ".json"])
def test_export_definition_then_import_gives_the_same_survey(app, client, tmp_path, ending):
    output = tmp_path / f"demo{ending}"
    result = invoke(app, "export-definition", "tro-lai-truong-hoc", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output
    if ending == ".json":
        assert json.loads(output.read_text("utf-8")) == demo_definition()
    else:
        assert read_xlsform(output) == demo_definition()
    result = invoke(app, "import", str(output), "--publish")
    assert result.exit_code == 0 and result.output.strip() == "tro-lai-truong-hoc"
    # identical to the newest version: no new version
    assert client.get("/api/v1/surveys/tro-lai-truong-hoc").get_json()["version"] == 1


def test_export_definition_refuses_other_endings_and_unknown_surveys(app, tmp_path):
    result = invoke(app, "export-definition", "tro-lai-truong-hoc", "-o", str(tmp_path / "x.csv"))
    assert result.exit_code != 0 and ".xlsx or .json" in result.output
    result = invoke(app, "export-definition", "khong-co", "-o", str(tmp_path / "x.json"))
    assert result.exit_code != 0 and "no survey" in result.output
