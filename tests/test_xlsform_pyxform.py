"""XLSForm as people write it for pyxform: its aliases, metadata types, curly quotes,
loose names, nested groups, ranges; each read into a survey that works."""

from __future__ import annotations

import random
from pathlib import Path

import openpyxl

from survey_engine.cli import cli
from survey_engine.definition import Definition, clean_answers
from survey_engine.definition.fake import fake_answers
from survey_engine.definition.schema import validate_definition
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from tests.xlsform_files import problems_of, workbook


def read(path: Path) -> tuple[dict, list[str]]:
    notes: list[str] = []
    definition = read_xlsform(path, notes)
    assert validate_definition(definition) == []
    return definition, notes


def questions(definition: dict) -> dict[str, dict]:
    return {q["name"]: q for page in definition["pages"] for q in page["questions"]}


def test_curly_quotes_in_expressions_are_straightened_but_not_in_labels(tmp_path):
    path = workbook(
        tmp_path / "quotes.xlsx",
        {
            "survey": [
                ["type", "name", "label", "relevant", "constraint", "calculation", "choice_filter"],
                ["select_one yn", "ok", "‘Có’ hay “không”?", None, None, None, None],
                ["text", "why", "Vì sao?", "${ok} = ‘no’", ". != “x”", None, None],
                ["calculate", "c", None, None, None, "concat(‘a’, ${why})", None],
                ["select_one yn", "again", "Lại?", None, None, None, "name != ‘no’"],
            ],
            "choices": [["list_name", "name", "label"], ["yn", "yes", "Có"], ["yn", "no", "Không"]],
        },
    )
    definition, _ = read(path)
    q = questions(definition)
    assert q["ok"]["label"] == "‘Có’ hay “không”?"
    assert q["why"]["relevant"] == "${ok} = 'no'"
    assert q["why"]["constraint"] == '. != "x"'
    assert q["c"]["calculation"] == "concat('a', ${why})"
    assert q["again"]["choice_filter"] == "name != 'no'"
    # and they mean what they say: 'why' is asked after 'no' only
    survey = Definition(definition)
    answers, errors = clean_answers(survey, {"ok": "yes", "why": "x"}, "vi")
    assert errors == {} and "why" not in answers
    answers, errors = clean_answers(survey, {"ok": "no", "why": "x"}, "vi")
    assert "why" in errors


def test_metadata_types_ask_nothing_and_say_what_is_kept_instead(tmp_path):
    rows = [["type", "name", "label"]]
    kinds = [
        "start",
        "end",
        "today",
        "deviceid",
        "username",
        "simserial",
        "subscriberid",
        "phonenumber",
        "audit",
    ]
    rows += [[kind, f"m_{kind}", None] for kind in kinds]
    rows += [["phone number", "tel", "Số điện thoại"]]
    definition, notes = read(workbook(tmp_path / "meta.xlsx", {"survey": rows}))
    assert list(questions(definition)) == ["tel"]
    assert questions(definition)["tel"]["type"] == "phone"  # pyxform's digits-only text
    assert len(notes) == len(kinds)
    assert notes[0] == (
        "survey sheet, row 2, column type: 'start' is no question: survey-engine keeps "
        "the response's started_at for every response"
    )
    assert "submitted_at" in notes[1] and "device_hash" in notes[3]
    assert "duration_seconds" in notes[8]


def test_an_expression_naming_a_metadata_row_says_what_to_write(tmp_path):
    path = workbook(
        tmp_path / "meta_ref.xlsx",
        {
            "survey": [
                ["type", "name", "label", "constraint"],
                ["today", "hom_nay", None, None],
                ["start", "bat_dau", None, None],
                ["date", "born", "Ngày sinh", ". < ${hom_nay}"],
                ["text", "t", "T", "${bat_dau} != ''"],
            ]
        },
    )
    assert problems_of(path) == [
        "pages[0].questions[0].constraint: at character 5: unknown question '${hom_nay}' "
        "(survey sheet, row 4); it names the 'today' metadata row (survey sheet, row 2), "
        "which is no question and has no answer here: write today()",
        "pages[0].questions[1].constraint: at character 1: unknown question '${bat_dau}' "
        "(survey sheet, row 5); it names the 'start' metadata row (survey sheet, row 3), "
        "which is no question and has no answer here: survey-engine keeps the response's "
        "started_at instead",
    ]


def test_loose_list_and_choice_names_are_made_plain_and_expressions_follow(tmp_path):
    path = workbook(
        tmp_path / "names.xlsx",
        {
            "survey": [
                ["type", "name", "label", "relevant", "default", "attention"],
                ["select_one q:1", "q", "Chọn", None, "a b", None],
                ["text", "more", "Thêm", "${q} = 'a b' or ${q} = \"Có\"", None, None],
                ["select_one q:1", "check", "Chọn Có", None, None, "Có"],
            ],
            "choices": [
                ["list_name", "name", "label"],
                ["q:1", "a b", "A B"],
                ["q:1", "Có", "Có"],
                ["q:1", "x", "X"],
            ],
        },
    )
    definition, notes = read(path)
    assert [c["name"] for c in definition["choice_lists"]["q_1"]] == ["a_b", "Co", "x"]
    q = questions(definition)
    assert q["q"]["choices"] == "q_1" and q["q"]["default"] == "a_b"
    assert q["more"]["relevant"] == "${q} = 'a_b' or ${q} = 'Co'"
    assert q["check"]["attention"] == "Co"
    assert "choices sheet, row 2, column list_name: 'q:1' is kept as 'q_1'" in notes
    assert "choices sheet, row 3, column name: 'Có' is kept as 'Co'" in notes
    survey = Definition(definition)
    assert clean_answers(survey, {"q": "x", "more": "t"}, "vi")[0] == {"q": "x"}
    assert clean_answers(survey, {"q": "Co", "more": "t"}, "vi")[0] == {"q": "Co", "more": "t"}


def test_names_that_become_the_same_are_still_caught(tmp_path):
    path = workbook(
        tmp_path / "dup.xlsx",
        {
            "survey": [["type", "name", "label"], ["select_one l", "q", "Q"]],
            "choices": [
                ["list_name", "name", "label"],
                ["l", "a b", "A"],
                ["l", "a_b", "B"],
                ["l l", "x", "X"],
                ["l:l", "y", "Y"],
            ],
        },
    )
    assert problems_of(path) == [
        "choices sheet, row 5, column list_name: 'l:l' and 'l l' (row 4) both become the "
        "list name 'l_l'",
        "choice_lists.l[1].name: repeats the choice 'a_b' (choices sheet, row 3)",
    ]


def test_pyxform_aliases_bind_columns_and_settings(tmp_path):
    path = workbook(
        tmp_path / "aliases.xlsx",
        {
            "survey": [
                [
                    "type",
                    "name",
                    "label",
                    "hint",
                    "required",
                    "appearance",
                    "bind::relevant",
                    "bind::required",
                    "bind::constraint",
                    "bind::calculate",
                    "body::accuracyThreshold",
                ],
                ["begin group", "g", "Nhóm", "a hint", "yes", "Field-list"] + [None] * 4 + ["5"],
                ["string", "s", "S", None, "no"] + [None] * 6,
                ["int", "i", "I", None, "true()", None, None, None, ". > 0", None, None],
                ["select one from yn or specify other", "o1", "O1"] + [None] * 8,
                ["select_one yn or_other", "o2", "O2"] + [None] * 8,
                ["text", "t", "T", None, "false()", None, "${i} > 1", "yes", None, None, None],
                ["calculate", "c", None] + [None] * 6 + ["${i} * 2", None],
                ["end group"],
            ],
            "choices": [["list_name", "name", "label"], ["yn", "yes", "Có"], ["yn", "no", "Không"]],
            "settings": [
                ["id_string", "title", "instance_name", "style", "allow_choice_duplicates"],
                ["My_Form", "Biểu mẫu", "concat(${s}, '')", "pages", "yes"],
            ],
        },
    )
    definition, notes = read(path)
    assert definition["slug"] == "my-form" and definition["title"] == "Biểu mẫu"
    page = definition["pages"][0]
    assert page["name"] == "g" and "hint" not in page and "required" not in page
    q = questions(definition)
    assert q["s"]["type"] == "text" and q["s"]["required"] is False
    assert q["i"] == {
        "name": "i",
        "type": "integer",
        "label": "I",
        "required": True,
        "constraint": ". > 0",
    }
    assert q["o1"]["other"] is True and q["o1"]["choices"] == "yn"
    assert q["o2"]["other"] is True and q["o2"]["type"] == "select_one"
    # bind::required after required: the later column wins, as in a dict of columns
    assert q["t"]["relevant"] == "${i} > 1" and q["t"]["required"] is True
    assert q["c"]["calculation"] == "${i} * 2"
    for expected in [
        "survey sheet, row 1, column body::accuracyThreshold: ignored (a display hint for "
        "ODK Collect)",
        "survey sheet, row 2, column hint: ignored: a group (page) shows no hint",
        "survey sheet, row 2, column required: ignored: a group (page) is never required",
        "settings sheet, row 2, column instance_name: ignored: a response is named by its id",
    ]:
        assert expected in notes
    assert any("column style: ignored" in n for n in notes)
    assert any("column allow_choice_duplicates: ignored" in n for n in notes)


def test_a_form_with_vietnamese_among_its_languages_keeps_vietnamese_first(tmp_path):
    path = workbook(
        tmp_path / "langs.xlsx",
        {
            "survey": [
                ["type", "name", "label::English (en)", "label::Tiếng Việt (vi)"],
                ["text", "a", "Name", "Tên"],
            ]
        },
    )
    definition, notes = read(path)
    assert "default_language" not in definition  # the product's default, 'vi'
    assert notes == []


def test_nested_groups_become_pages_shown_when_every_group_is_relevant(tmp_path):
    path = workbook(
        tmp_path / "nested.xlsx",
        {
            "survey": [
                ["type", "name", "label", "relevant"],
                ["integer", "age", "Tuổi", None],
                ["begin group", "outer", "Ngoài", "${age} > 10"],
                ["text", "a", "A", None],
                ["begin group", "inner", "Trong", "${age} > 20"],
                ["text", "b", "B", None],
                ["begin group", "deepest", None, None],
                ["text", "c", "C", None],
                ["end group"],
                ["end group"],
                ["text", "d", "D", None],
                ["end group"],
                ["begin group", "empty", "Rỗng", None],
                ["end group"],
            ]
        },
    )
    definition, _ = read(path)
    pages = [
        (p["name"], p.get("title"), p.get("relevant"), [q["name"] for q in p["questions"]])
        for p in definition["pages"]
    ]
    inner = "(${age} > 10) and (${age} > 20)"
    assert pages == [
        ("page_1", None, None, ["age"]),
        ("outer", "Ngoài", "${age} > 10", ["a"]),
        ("inner", "Trong", inner, ["b"]),
        ("deepest", "Trong", inner, ["c"]),
        ("outer_2", "Ngoài", "${age} > 10", ["d"]),
    ]
    survey = Definition(definition)
    answers, _ = clean_answers(survey, {"age": "15", "a": "x", "b": "y", "c": "z", "d": "w"}, "vi")
    assert answers == {"age": 15, "a": "x", "d": "w"}


def test_range_is_a_number_between_its_start_and_end_in_its_steps(tmp_path):
    path = workbook(
        tmp_path / "range.xlsx",
        {
            "survey": [
                ["type", "name", "label", "parameters"],
                ["range", "r", "R", "start=0 end=10 step=2"],
                ["range", "d", "D", "start=0.5 end=2.5 step=0.5"],
                ["range", "plain", "P", None],
                ["text", "t", "T", "start=1"],
            ]
        },
    )
    problems = problems_of(path)
    assert problems == [
        "survey sheet, row 5, column parameters: 'parameters' is not supported yet by survey-engine"
    ]
    book = openpyxl.load_workbook(path)
    book["survey"].delete_rows(5)
    book.save(path)
    definition, _ = read(path)
    q = questions(definition)
    assert q["r"] == {
        "name": "r",
        "type": "integer",
        "label": "R",
        "min": 0,
        "max": 10,
        "constraint": "(. - 0) mod 2 = 0",
    }
    assert (q["d"]["type"], q["d"]["min"], q["d"]["max"]) == ("decimal", 0.5, 2.5)
    assert (q["plain"]["min"], q["plain"]["max"]) == (1, 10)
    survey = Definition(definition)
    assert clean_answers(survey, {"r": "4"}, "vi") == ({"r": 4}, {})
    assert "r" in clean_answers(survey, {"r": "3"}, "vi")[1]
    assert "r" in clean_answers(survey, {"r": "12"}, "vi")[1]


def test_fake_answers_skip_a_question_whose_filter_leaves_no_choice(tmp_path):
    path = workbook(
        tmp_path / "empty_filter.xlsx",
        {
            "survey": [
                ["type", "name", "label", "choice_filter", "required"],
                ["select_one huyen", "huyen", "Huyện", None, "yes"],
                ["select_one xa", "xa", "Xã", "huyen = ${huyen}", None],
            ],
            "choices": [
                ["list_name", "name", "label", "huyen"],
                ["huyen", "da_lat", "Đà Lạt", None],
                ["huyen", "lac_duong", "Lạc Dương", None],  # no commune listed yet
                ["xa", "p1", "Phường 1", "da_lat"],
            ],
        },
    )
    definition, _ = read(path)
    survey = Definition(definition)
    rng = random.Random(7)
    drawn = [fake_answers(survey, rng) for _ in range(60)]
    assert {a["huyen"] for a in drawn} == {"da_lat", "lac_duong"}
    assert all("xa" not in a for a in drawn if a["huyen"] == "lac_duong")


def test_fake_responses_refuse_a_survey_nobody_can_answer_with_the_reason(app, tmp_path):
    # Required, and its filter names a district no commune has: no answer can pass.
    path = workbook(
        tmp_path / "impossible.xlsx",
        {
            "survey": [
                ["type", "name", "label", "choice_filter", "required"],
                ["select_one xa", "xa", "Xã", "huyen = 'khong_co'", "yes"],
            ],
            "choices": [
                ["list_name", "name", "label", "huyen"],
                ["xa", "p1", "Phường 1", "da_lat"],
            ],
        },
    )
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["import", str(path), "--publish"]).exit_code == 0
    result = runner.invoke(cli, ["fake-responses", "impossible", "--count", "3"])
    assert result.exit_code == 1
    assert "impossible: no valid answers in 20 draws; the last refused: {'xa':" in result.output
    assert "Traceback" not in result.output


def test_what_is_read_writes_back_the_same(tmp_path):
    """Aliases, nested groups and ranges leave a survey the writer writes and reads
    back as the same one."""
    path = workbook(
        tmp_path / "mixed.xlsx",
        {
            "survey": [
                ["type", "name", "label", "parameters", "bind::relevant"],
                ["begin group", "g", "G", None, None],
                ["int", "n", "N", None, None],
                ["begin group", "h", "H", None, "${n} > 1"],
                ["range", "r", "R", "start=1 end=5 step=2", None],
                ["end group"],
                ["end group"],
                ["start", "s", None, None, None],
            ]
        },
    )
    definition, _ = read(path)
    write_xlsform(definition, tmp_path / "back.xlsx")
    assert read_xlsform(tmp_path / "back.xlsx") == definition
