"""Every XLSForm in tests/data/xlsform (pyxform's example forms, .xls and .xlsx) either
works end to end, or is refused for a reason written here.

Works: it imports, its public page shows its questions, fake responses are stored,
and the writer's XLSForm of it imports as the same survey. REFUSED is what is left to
do: each file with the one problem it is refused for today.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import xlrd

from survey_engine.cli import cli
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from tests.conftest import stored_responses
from tests.xlsform_files import EXAMPLES, TESTDATA, problems_of, workbook

# file: a problem it is refused with (the reason; a file may have more problems).
REFUSED = {
    # XForm features beyond survey-engine/1: a sheet of columns, encryption, ...
    "attribute_columns_test.xlsx": "columns sheet: this sheet is not supported",
    "flat_xlsform_test.xlsx": "columns sheet: this sheet is not supported",
    "xlsform_spec_test.xlsx": "columns sheet: this sheet is not supported",
    # pyxform's own test of a broken calculation
    "bad_calc.xlsx": "pages[0].questions[0].calculation: at character 22: unterminated "
    "string: no closing ' (survey sheet, row 2)",
    # external choice lists (CSV files attached to the form) and OpenStreetMap
    "case_insensitivity.xls": "EXTERNAL_CHOICES sheet: this sheet is not supported",
    "case_insensitivity.xlsx": "EXTERNAL_CHOICES sheet: this sheet is not supported",
    "choice_name_as_type.xls": "external_choices sheet: this sheet is not supported",
    # one choice name twice in a list: answers are stored by choice name
    "choice_filter_test.xlsx": "choice_lists.counties[2].name: repeats the choice 'king' "
    "(choices sheet, row 6)",
    # time of day: no such question type yet
    "default_time_demo.xls": "survey sheet, row 2, column type: 'time' is not supported",
    # another form's rows pulled in by name (pyxform's old include)
    "include.xls": "survey sheet, row 3, column type: 'include' is not supported",
    "include.xlsx": "survey sheet, row 3, column type: 'include' is not supported",
    "include_json.xls": "survey sheet, row 2, column type: 'include' is not supported",
    "include_json.xlsx": "survey sheet, row 2, column type: 'include' is not supported",
    # loops over a choice list repeat their questions per choice
    "loop.xls": "survey sheet, row 3, column type: 'begin loop over toilet_type' is not supported",
    "loop.xlsx": "survey sheet, row 3, column type: 'begin loop over toilet_type' is not supported",
    "simple_loop.xls": "survey sheet, row 2, column type: 'begin loop over my_columns' is "
    "not supported",
    # 'pastel=yes' compares with a column 'yes' no choice has (meant: 'yes' in quotes)
    "or_other.xlsx": "survey sheet, row 3, column choice_filter: 'yes' is no column of the "
    "choices sheet for list 'colors' (its choices have: label, name, pastel); a text is "
    "written in quotes: 'yes'",
    # pulldata() reads a CSV attached to the form on the phone
    "pull_data.xlsx": "pages[0].questions[0].calculation: at character 1: unknown function "
    "'pulldata()' (survey sheet, row 2)",
    # its repeat imports (see below), but its choices show pictures and two notes have
    # no name (pyxform refuses that too)
    "repeat_date_test.xls": "choices sheet, row 20, column image: column 'image' is not supported",
    # pyxform's tutorial, a household roster: its repeat imports (the test below reads
    # it without its column of comments)
    "tutorial.xls": "survey sheet, row 2, column tutorial notes: column 'tutorial notes' "
    "is not supported",
    # answering by SMS
    "sms_info.xls": "settings sheet, row 2, column sms_keyword: column 'sms_keyword' is "
    "not supported",
    # its one sheet is named Sheet1
    "survey_no_name.xlsx": "survey sheet: the workbook has no survey sheet",
    # pictures as choices (image column): not shown by survey-engine
    "table-list.xls": "choices sheet, row 20, column image: column 'image' is not supported",
    "widgets.xls": "choices sheet, row 20, column image: column 'image' is not supported",
    "xml_escaping.xls": "choices sheet, row 20, column image: column 'image' is not supported",
    # types pyxform itself does not know
    "unknown_question_type.xls": "survey sheet, row 2, column type: 'set form title' is "
    "not supported",
}
FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".xls", ".xlsx"))


def test_the_folder_holds_every_file_of_the_shared_test_data_and_its_licence():
    # The files under tests/data/xlsform are copies of pyxform's example forms.
    names = {p.name for p in FILES}
    assert {p.name for p in TESTDATA.glob("*.xls*")} <= names
    assert len(FILES) == 44 and set(REFUSED) <= names
    assert "Redistribution and use" in (EXAMPLES / "LICENSE-pyxform").read_text()


@pytest.mark.parametrize("path", [p for p in FILES if p.name in REFUSED], ids=lambda p: p.name)
def test_a_file_still_refused_is_refused_for_its_reason(path: Path):
    assert REFUSED[path.name] in problems_of(path)


def invoke(app, *args):
    return app.test_cli_runner().invoke(cli, list(args))


@pytest.mark.parametrize("path", [p for p in FILES if p.name not in REFUSED], ids=lambda p: p.name)
def test_a_file_imports_renders_takes_responses_and_round_trips(app, client, path, tmp_path):
    definition = read_xlsform(path)
    result = invoke(app, "import", str(path), "--publish")
    assert result.exit_code == 0, result.output
    slug = result.stdout.strip()
    assert slug == definition["slug"]

    page = client.get(f"/s/{slug}")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    questions = [q for p in definition["pages"] for q in p["questions"]]
    names = {q["name"] for q in questions} | {f"{q['name']}_other" for q in questions}
    for question in questions:
        if question["type"] not in ("calculate", "hidden"):
            assert f'name="{question["name"]}"' in text or question["type"] == "note", question

    result = invoke(app, "fake-responses", slug, "--count", "20")
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = stored_responses(slug)
    assert len(stored) == 20
    assert all(set(r.answers) <= names for r in stored)

    write_xlsform(definition, tmp_path / "back.xlsx")
    assert read_xlsform(tmp_path / "back.xlsx") == definition


def _without_column(path: Path, column: str, into: Path) -> Path:
    """The .xls at `path` as an .xlsx without `column`, its cells otherwise as read."""
    book = xlrd.open_workbook(str(path))
    sheets = {}
    for sheet in book.sheets():
        keep = [i for i, head in enumerate(sheet.row_values(0)) if head != column]
        sheets[sheet.name] = [[sheet.row_values(r)[i] for i in keep] for r in range(sheet.nrows)]
    return workbook(into, sheets)


def test_the_tutorial_s_household_roster_imports_renders_takes_responses_and_round_trips(
    app, client, tmp_path
):
    path = _without_column(EXAMPLES / "tutorial.xls", "tutorial notes", tmp_path / "tutorial.xlsx")
    definition = read_xlsform(path)
    [[member]] = [page["questions"] for page in definition["pages"]]
    assert member["type"] == "repeat" and member["label"] == "Household Member or Visitor"
    row_names = [q["name"] for q in member["questions"]]
    assert row_names[:2] == ["name", "relationship_to_household_head"] and len(row_names) == 10
    # Relevance and constraints reading the same row's answers came along.
    assert member["questions"][7]["relevant"] == "${older_than_five}='yes'"

    assert invoke(app, "import", str(path), "--publish").exit_code == 0
    text = html.unescape(client.get(f"/s/{definition['slug']}").get_data(as_text=True))
    for name in row_names:  # each row question has a field in the page's first row
        assert re.search(rf'name="member\W+1\W+{name}\W*"', text), name

    assert invoke(app, "fake-responses", definition["slug"], "--count", "30").exit_code == 0
    with app.app_context():
        stored = [r.answers for r in stored_responses(definition["slug"])]
    rows = [row for answers in stored for row in answers.get("member", [])]
    assert len(stored) == 30 and rows and all(set(row) <= set(row_names) for row in rows)
    # A row keeps an age in years only when it says older than five: its own relevance.
    assert all(row.get("older_than_five") == "yes" for row in rows if "age_in_years" in row)

    write_xlsform(definition, tmp_path / "back.xlsx")
    assert read_xlsform(tmp_path / "back.xlsx") == definition
