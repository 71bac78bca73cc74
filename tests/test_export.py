"""Exports read back: summary counts equal the stored answers; hostile text stays text."""

from __future__ import annotations

import csv
from collections import Counter

import openpyxl
import pytest

from exports.safe_cells import csv_safe, looks_like_formula
from survey_engine.cli import cli
from survey_engine.surveys import save_definition
from tests.conftest import DEMO_SLUG, demo_definition, new_id, stored_responses, valid_answers

SENT = ['=HYPERLINK("http://evil.example","click")', "+1", "-1+1", "@SUM(A1)", "\t=1+1",
        "\r=2"]
HOSTILE = [text.strip() for text in SENT]  # answers are stored trimmed


LABELS = {"agree": "Đồng ý", "neutral": "Bình thường", "disagree": "Không đồng ý"}
PRIORITY_LABELS = {"hygiene": "Vệ sinh, khử khuẩn", "distancing": "Giãn cách trong lớp",
                   "ventilation": "Phòng học thông thoáng", "catch_up": "Phụ đạo bù kiến thức"}


def run_cli(app, *args):
    result = app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def filled(app, client):
    """The demo with 1000 fake responses, then a version 2 that takes negative numbers,
    answered through the API with hostile text."""
    run_cli(app, "fake-responses", DEMO_SLUG, "--count", "1000", "--seed", "7")
    version_2 = demo_definition()
    version_2["pages"][0]["questions"][6].pop("min")  # children
    save_definition(version_2, publish=True)
    for text in SENT:
        answers = {**valid_answers(), "comment": text, "children": -1,
                   "concerns": ["other"], "concerns_other": text}
        reply = client.post(f"/api/v1/surveys/{DEMO_SLUG}/responses",
                            json={"submission_id": new_id(), "answers": answers})
        assert reply.status_code == 202, reply.get_json()
    return app


def summary_counts(sheet) -> dict[str, dict[str, int]]:
    """Read the summary sheet back: {question: {choice code: count}, answered too}."""
    counts: dict[str, dict[str, int]] = {}
    current = None
    for label, count, _percent, code in sheet.iter_rows(min_row=4, max_col=4, values_only=True):
        if isinstance(label, str) and ": " in label and count is None:
            current = counts.setdefault(label.split(":")[0], {})
        elif current is not None and code is not None and isinstance(count, int):
            current[code] = count
        elif current is not None and label == "Số người trả lời":
            current["(answered)"] = count
    return counts


def test_xlsx_summary_counts_equal_the_stored_answers(filled, tmp_path):
    out = tmp_path / "out.xlsx"
    result = run_cli(filled, "export", DEMO_SLUG, "-o", str(out))
    stored = stored_responses()
    assert f"{len(stored)} responses written" in result.output
    assert len(stored) == 1000 + len(HOSTILE)

    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["Tổng hợp", "Phiếu trả lời"]
    summary = summary_counts(workbook["Tổng hợp"])
    assert workbook["Tổng hợp"]["B2"].value == len(stored)
    for question in ("district", "role", "support", "concerns"):
        expected: Counter[str] = Counter()
        answered = 0
        for response in stored:
            value = response.answers.get(question)
            if value:
                answered += 1
                expected.update(value if isinstance(value, list) else [value])
        got = summary[question]
        assert got.pop("(answered)") == answered
        assert {k: v for k, v in got.items() if v} == dict(expected), question
        assert len(expected) > 1  # the fake answers really vary


def test_xlsx_responses_sheet_has_one_row_per_response_and_01_columns(filled, tmp_path):
    out = tmp_path / "out.xlsx"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out))
    sheet = openpyxl.load_workbook(out)["Phiếu trả lời"]
    rows = list(sheet.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    assert header[:5] == ("response_id", "submission_id", "submitted_at", "version", "source")
    assert "concerns" in header and "concerns/infection" in header and "concerns/other" in header
    stored = {str(r.submission_id): r for r in stored_responses()}
    assert len(data) == len(stored)
    col = {name: i for i, name in enumerate(header)}
    for row in data:
        answers = stored[row[col["submission_id"]]].answers
        concerns = answers.get("concerns")
        for choice in ("infection", "vaccination", "hygiene", "transport", "learning_gap",
                       "wellbeing", "other"):
            flag = row[col[f"concerns/{choice}"]]
            assert flag == (None if concerns is None else int(choice in concerns))
        assert row[col["children"]] == answers.get("children")
        measures = answers.get("measures") or {}
        assert row[col["measures/masks"]] == LABELS.get(measures.get("masks"))
        assert row[col["priorities"]] == (
            "; ".join(PRIORITY_LABELS[p] for p in answers["priorities"])
            if "priorities" in answers else None)


def test_formula_like_text_is_text_and_numbers_stay_numbers(filled, tmp_path):
    out = tmp_path / "out.xlsx"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out))
    sheet = openpyxl.load_workbook(out)["Phiếu trả lời"]
    header = [c.value for c in sheet[1]]
    comment, other, children = (header.index(n) + 1 for n in
                                ("comment", "concerns_other", "children"))
    seen = []
    for row in range(2, sheet.max_row + 1):
        cell = sheet.cell(row, comment)
        if cell.value in HOSTILE:
            assert cell.data_type == "s"  # a string, never "f" (formula)
            assert cell.quotePrefix  # Excel keeps it text even when edited
            assert sheet.cell(row, other).data_type == "s"
            number = sheet.cell(row, children)
            assert number.value == -1 and number.data_type == "n"
            seen.append(cell.value)
    assert sorted(seen) == sorted(HOSTILE)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_csv_export_has_a_bom_and_neutralised_text(filled, tmp_path):
    out = tmp_path / "out.csv"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == 1000 + len(HOSTILE)
    comments = {row["comment"] for row in rows}
    for text in HOSTILE:
        assert "'" + text in comments
    assert "-1" in {row["children"] for row in rows}  # a number is not prefixed


def test_export_in_english_uses_english_sheets_and_labels(filled, tmp_path):
    out = tmp_path / "en.xlsx"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out), "--lang", "en")
    workbook = openpyxl.load_workbook(out, read_only=True)
    assert workbook.sheetnames == ["Summary", "Responses"]
    labels = [r[0] for r in workbook["Summary"].iter_rows(values_only=True)]
    assert "Da Lat City" in labels


def test_exporting_an_unknown_survey_fails_cleanly_and_leaves_no_file(app, tmp_path):
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    result = app.test_cli_runner().invoke(cli, ["export", "khong-co", "-o",
                                                str(out_dir / "none.xlsx")])
    assert result.exit_code != 0
    assert "no survey with slug 'khong-co'" in result.output
    assert list(out_dir.iterdir()) == []  # neither the file nor a partial one


def test_empty_survey_exports_headers_and_zero_counts(app, tmp_path):
    out = tmp_path / "empty.xlsx"
    run_cli(app, "export", DEMO_SLUG, "-o", str(out))
    workbook = openpyxl.load_workbook(out)
    assert workbook["Tổng hợp"]["B2"].value == 0
    assert workbook["Phiếu trả lời"].max_row == 1


@pytest.mark.parametrize("text", ["=1+1", "+1", "-x", "@A1", "\tx", "\r=1"])
def test_every_formula_start_is_neutralised(text):
    assert looks_like_formula(text)
    assert csv_safe(text) == "'" + text
    assert csv_safe(-1) == -1 and csv_safe("1-1") == "1-1"


def test_hostile_choice_labels_and_title_are_text_too(app, tmp_path):
    hostile = demo_definition()
    hostile["slug"] = "nhan-doc"
    hostile["title"] = {"vi": "=cmd|' /C calc'!A0"}
    hostile["choice_lists"]["roles"][0]["label"] = {"vi": "-2+3"}
    save_definition(hostile, publish=True)
    run_cli(app, "fake-responses", "nhan-doc", "--count", "50", "--seed", "1")
    out = tmp_path / "labels.xlsx"
    run_cli(app, "export", "nhan-doc", "-o", str(out))
    workbook = openpyxl.load_workbook(out)
    cells = [c for ws in workbook for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    texts = {c.value for c in cells if c.data_type == "s"}
    assert {"=cmd|' /C calc'!A0", "-2+3"} <= texts
