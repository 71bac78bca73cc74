"""Exports read back: every count on the summary and cross-tab sheets equals a recount
of the stored responses, hostile text stays text in every sheet, and the workbook
tells what it holds (codebook, about sheet)."""

from __future__ import annotations

import csv
import math
import re
import statistics
import uuid
import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from xml.etree import ElementTree

import openpyxl
import pytest
import sqlalchemy as sa
import xlsxwriter

from exports import responses_sheet as responses_module
from exports import sheet_xml
from exports.cells import Formats
from exports.columns import Column
from exports.safe_cells import CUT_MARKER, MAX_CELL_CHARS, CutCount, csv_safe, looks_like_formula
from survey_engine.catalog import definition_for, find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.extensions import db
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.localtime import LOCAL_TIME
from survey_engine.models import Response
from survey_engine.results.filters import Filters
from survey_engine.untrusted import safe_text
from tests.conftest import DEMO_SLUG, demo_definition, new_id, stored_responses, valid_answers

SENT = ['=HYPERLINK("http://x","y")', "+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=2"]
HOSTILE = [text.strip() for text in SENT]  # answers are stored trimmed
FAKES = 3000

SUMMARY, CROSSTAB, RESPONSES = "Tổng hợp", "Bảng chéo district", "Phiếu trả lời"
CODEBOOK, ABOUT = "Từ điển dữ liệu", "Thông tin"
# The demo's frequency tables, in order: select questions, then the matrix's rows.
SELECT_KEYS = [
    "district",
    "commune",
    "role",
    "levels",
    "support",
    "concerns",
    "measures/masks",
    "measures/half_classes",
    "measures/testing",
    "follow_up",
]
NUMBER_NAMES = ["children", "school_rating", "recommend"]
CONCERNS = (
    "infection",
    "vaccination",
    "hygiene",
    "transport",
    "learning_gap",
    "wellbeing",
    "none",
    "other",
)
LABELS = {"agree": "Đồng ý", "neutral": "Bình thường", "disagree": "Không đồng ý"}
PRIORITY_LABELS = {
    "hygiene": "Vệ sinh, khử khuẩn",
    "distancing": "Giãn cách trong lớp",
    "ventilation": "Phòng học thông thoáng",
    "catch_up": "Phụ đạo bù kiến thức",
}


def run_cli(app, *args):
    result = app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def export(app, tmp_path, *args, name="out.xlsx") -> Path:
    out = tmp_path / name
    run_cli(app, "export", DEMO_SLUG, "-o", str(out), *args)
    return out


@pytest.fixture
def filled(app, client):
    """The demo with several thousand fake responses, then a version 2 that takes
    negative numbers, answered through the API with hostile text."""
    run_cli(app, "fake-responses", DEMO_SLUG, "--count", str(FAKES), "--seed", "7")
    version_2 = demo_definition()
    children = version_2["pages"][0]["questions"][6]
    assert children["name"] == "children"
    children.pop("min")
    children["constraint"] = ". >= -10"
    save_definition(version_2, publish=True)
    for text in SENT:
        answers = {
            **valid_answers(),
            "comment": text,
            "children": -5,
            "concerns": ["other"],
            "concerns_other": text,
        }
        reply = client.post(
            f"/api/v1/surveys/{DEMO_SLUG}/responses",
            json={"submission_id": new_id(), "answers": answers},
        )
        assert reply.status_code == 202, reply.get_json()
    return app


# -- counting the stored responses independently of the export ----------------------

Z = NormalDist().inv_cdf(0.975)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's score interval in its other algebraic form, z from the normal quantile:
    computed apart from the product's wilson_interval, so a wrong z or formula there
    cannot agree with it."""
    centre = (k + Z * Z / 2) / (n + Z * Z)
    half = Z * math.sqrt(n) / (n + Z * Z) * math.sqrt(k / n * (1 - k / n) + Z * Z / (4 * n))
    return centre - half, centre + half


def test_the_reference_interval_is_the_published_one():
    # Brown, Cai & DasGupta (2001)'s examples: 0 of 10, 5 of 10; and 10 of 10.
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def answer_of(response, key: str):
    name, _, row = key.partition("/")
    value = response.answers.get(name)
    if row:
        value = value.get(row) if isinstance(value, dict) else None
    return value


def recount(responses, key: str) -> tuple[Counter, int]:
    """(choices picked, respondents who picked any) of a select question or matrix row."""
    counts: Counter = Counter()
    answered = 0
    for response in responses:
        value = answer_of(response, key)
        picked = value if isinstance(value, list) else ([] if value is None else [value])
        if picked:
            answered += 1
            counts.update(picked)
    return counts, answered


# -- reading the workbook back ------------------------------------------------------


def summary_tables(sheet) -> tuple[dict, dict]:
    """The summary sheet as ({key: {"choices": {code: {...}}, "answered", "not_answered",
    "title"}}, {question: {statistic: value}})."""
    rows = list(sheet.iter_rows(values_only=True))
    selects, numbers = {}, {}
    for i, row in enumerate(rows[:-1]):
        title, header = row[0], rows[i + 1][0]
        if header == "Phương án":
            table = {"title": title, "choices": {}}
            j = i + 2
            while rows[j][0] != "Số người trả lời":
                label, code, count, answered, everyone, low, high = rows[j][:7]
                table["choices"][code] = {
                    "label": label,
                    "count": count,
                    "answered": answered,
                    "all": everyone,
                    "ci": (low, high),
                }
                j += 1
            table["answered"] = rows[j][2]
            assert rows[j + 1][0] == "Không trả lời"
            table["not_answered"] = rows[j + 1][2]
            selects[title.split(": ")[0]] = table
        elif header == "Thống kê":
            stats, j = {}, i + 2  # the statistics, down to the blank row after them
            while j < len(rows) and len(rows[j]) > 1 and rows[j][1] is not None:
                stats[rows[j][1]] = rows[j][2]
                j += 1
            numbers[title.split(": ")[0]] = stats
    return selects, numbers


def crosstab_tables(sheet) -> dict:
    """{key: {"columns": [labels], "counts": {code: [..]}, "answered": [..],
    "percent": {code: [..]}}}; the last value of each list is the total."""
    rows = list(sheet.iter_rows(values_only=True))
    tables = {}
    for i, row in enumerate(rows[:-1]):
        if rows[i + 1][0] != "Phương án" or i < 4:
            continue
        width = len([v for v in rows[i + 1] if v is not None])
        table = {"columns": list(rows[i + 1][2:width]), "counts": {}, "percent": {}}
        j = i + 2
        while rows[j][0] != "Số người trả lời":
            table["counts"][rows[j][1]] = list(rows[j][2:width])
            j += 1
        table["answered"] = list(rows[j][2:width])
        assert rows[j + 1][0] == "% theo cột"
        j += 2
        while j < len(rows) and rows[j][1] is not None:
            table["percent"][rows[j][1]] = list(rows[j][2:width])
            j += 1
        tables[row[0].split(": ")[0]] = table
    return tables


def values_of(path: Path):
    """The workbook's values only (openpyxl's fast read-only mode)."""
    return openpyxl.load_workbook(path, read_only=True)


def sheet_rows(workbook, name: str) -> tuple[tuple, list[tuple]]:
    rows = list(workbook[name].iter_rows(values_only=True))
    return rows[0], rows[1:]


# -- the summary sheet --------------------------------------------------------------


def test_summary_counts_percentages_and_intervals_equal_a_recount(filled, tmp_path):
    out = export(filled, tmp_path)
    stored = stored_responses()
    assert len(stored) == FAKES + len(SENT)
    workbook = values_of(out)
    assert workbook.sheetnames == [SUMMARY, RESPONSES, CODEBOOK, ABOUT]
    sheet = workbook[SUMMARY]
    assert sheet["A2"].value == "Số phiếu" and sheet["B2"].value == len(stored)
    selects, numbers = summary_tables(sheet)
    assert list(selects) == SELECT_KEYS
    for key in SELECT_KEYS:
        expected, answered = recount(stored, key)
        table = selects[key]
        assert table["answered"] == answered, key
        assert table["not_answered"] == len(stored) - answered, key
        got = {code: row["count"] for code, row in table["choices"].items()}
        assert {code: n for code, n in got.items() if n} == dict(expected), key
        for row in table["choices"].values():
            assert row["answered"] == pytest.approx(row["count"] / answered)
            assert row["all"] == pytest.approx(row["count"] / len(stored))
            low, high = row["ci"]
            assert (low, high) == pytest.approx(wilson(row["count"], answered), abs=1e-12)
            assert low - 1e-12 <= row["answered"] <= high + 1e-12
        assert len(expected) > 1, key  # the fake answers really vary
    assert selects["district"]["choices"]["da_lat"]["label"] == "Thành phố Đà Lạt"
    assert selects["concerns"]["choices"]["other"]["label"] == "Khác"

    assert list(numbers) == NUMBER_NAMES
    for name in NUMBER_NAMES:
        values = [r.answers[name] for r in stored if name in r.answers]
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        assert numbers[name] == pytest.approx(
            {
                "n": len(values),
                "mean": statistics.fmean(values),
                "median": median,
                "q1": q1,
                "q3": q3,
                "min": min(values),
                "max": max(values),
            }
        ), name
    assert numbers["children"]["min"] == -5  # version 2's negative answers count too


def test_summary_intervals_are_the_published_wilson_intervals(app, tmp_path):
    """5 of 10, 0 of 10 and 10 of 10 answered: the workbook's 95% intervals are the
    published ones (Brown, Cai & DasGupta 2001), not whatever wilson_interval says."""
    survey = find_survey(DEMO_SLUG)
    version = survey.published_version()
    persist_batch(
        [
            Submission(
                survey.id,
                version.id,
                uuid.uuid4(),
                {**valid_answers(), "support": "yes" if i < 5 else "no"},
            )
            for i in range(10)
        ]
    )
    selects, _ = summary_tables(values_of(export(app, tmp_path))[SUMMARY])
    support = selects["support"]["choices"]
    assert support["yes"]["ci"] == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert support["no"]["ci"] == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert support["undecided"]["ci"] == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert selects["district"]["choices"]["da_lat"]["ci"] == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_summary_has_a_native_bar_chart_beside_every_frequency_table(filled, tmp_path):
    out = export(filled, tmp_path)
    with zipfile.ZipFile(out) as package:
        names = package.namelist()
        rels = package.read("xl/worksheets/_rels/sheet1.xml.rels").decode()  # the summary
        drawing = re.search(r'Target="\.\./drawings/(drawing\d+\.xml)"', rels).group(1)
        drawing_rels = package.read(f"xl/drawings/_rels/{drawing}.rels").decode()
        charts = re.findall(r'Target="\.\./charts/(chart\d+\.xml)"', drawing_rels)
        assert len(charts) == len(SELECT_KEYS)
        assert {f"xl/charts/{c}" for c in charts} <= set(names)
        first = package.read(f"xl/charts/{charts[0]}").decode()
    assert "<c:barChart>" in first
    # The bars are the district table's counts and labels, cached for any viewer.
    assert "<c:f>'Tổng hợp'!$C$" in first and "<c:f>'Tổng hợp'!$A$" in first
    assert "<c:v>Thành phố Đà Lạt</c:v>" in first
    selects, _ = summary_tables(values_of(out)[SUMMARY])
    da_lat = selects["district"]["choices"]["da_lat"]["count"]
    assert f"<c:pt idx=\"0\"><c:v>{da_lat}</c:v></c:pt>" in first


# -- the cross-tab sheet ------------------------------------------------------------


def test_crosstab_counts_totals_and_percentages_equal_a_recount(filled, tmp_path):
    out = export(filled, tmp_path, "--breakdown", "district")
    stored = stored_responses()
    workbook = values_of(out)
    assert workbook.sheetnames == [SUMMARY, CROSSTAB, RESPONSES, CODEBOOK, ABOUT]
    sheet = workbook[CROSSTAB]
    districts = [c["name"] for c in demo_definition()["choice_lists"]["districts"]]
    by_district = Counter(r.answers["district"] for r in stored)
    assert [c.value for c in sheet[5]][2 : 2 + len(districts) + 1] == [
        by_district[d] for d in districts
    ] + [len(stored)]
    tables = crosstab_tables(sheet)
    assert list(tables) == [k for k in SELECT_KEYS if k != "district"]
    for key, table in tables.items():
        assert table["columns"][0] == "Thành phố Đà Lạt" and table["columns"][-1] == "Tổng"
        assert len(table["columns"]) == len(districts) + 1  # every response has a district
        total_counts, total_answered = recount(stored, key)
        answered = [
            recount([r for r in stored if r.answers["district"] == d], key)[1] for d in districts
        ]
        assert table["answered"] == answered + [total_answered], key
        for code, row in table["counts"].items():
            expected = [
                recount([r for r in stored if r.answers["district"] == d], key)[0][code]
                for d in districts
            ]
            assert row == expected + [total_counts[code]], (key, code)
            if key in ("role", "support", "follow_up") or key.startswith("measures/"):
                assert row[-1] == sum(row[:-1])  # single choice: the row total is the sum
            shares = [
                n / a if a else None for n, a in zip(row, answered + [total_answered], strict=True)
            ]
            assert table["percent"][code] == pytest.approx(shares), (key, code)
        assert sum(sum(row[:-1]) for row in table["counts"].values()) > 0


def test_a_breakdown_that_is_not_a_select_question_is_refused(app, tmp_path):
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    for name in ("comment", "nothing"):
        result = app.test_cli_runner().invoke(
            cli, ["export", DEMO_SLUG, "-o", str(out_dir / "x.xlsx"), "--breakdown", name]
        )
        assert result.exit_code != 0
        assert f"breakdown: no select question named {name!r}" in result.output
    assert list(out_dir.iterdir()) == []


# -- the responses sheet ------------------------------------------------------------


def test_responses_sheet_has_one_row_per_response_and_01_columns(filled, tmp_path):
    out = export(filled, tmp_path)
    workbook = values_of(out)
    header, data = sheet_rows(workbook, RESPONSES)
    assert header[:5] == ("response_id", "submission_id", "submitted_at", "version", "source")
    stored = {str(r.submission_id): r for r in stored_responses()}
    assert len(data) == len(stored)
    col = {name: i for i, name in enumerate(header)}
    assert [h for h in header if h.startswith("concerns/")] == [f"concerns/{c}" for c in CONCERNS]
    versions = Counter()
    for row in data:
        response = stored[row[col["submission_id"]]]
        answers = response.answers
        assert row[col["response_id"]] == response.id
        versions[row[col["version"]]] += 1
        submitted = response.submitted_at.replace(tzinfo=response.submitted_at.tzinfo or UTC)
        local = submitted.astimezone(LOCAL_TIME).replace(tzinfo=None)
        assert abs(row[col["submitted_at"]] - local) < timedelta(milliseconds=1)
        concerns = answers.get("concerns")
        for choice in CONCERNS:
            flag = row[col[f"concerns/{choice}"]]
            assert flag == (None if concerns is None else int(choice in concerns))
        assert row[col["children"]] == answers.get("children")
        measures = answers.get("measures") or {}
        assert row[col["measures/masks"]] == LABELS.get(measures.get("masks"))
        assert row[col["priorities"]] == (
            "; ".join(PRIORITY_LABELS[p] for p in answers["priorities"])
            if "priorities" in answers
            else None
        )
        last_dose = answers.get("last_dose")
        assert row[col["last_dose"]] == (
            None
            if last_dose is None
            else datetime.combine(date.fromisoformat(last_dose), datetime.min.time())
        )
    assert versions == {1: FAKES, 2: len(SENT)}


def test_every_data_sheet_has_a_frozen_header_autofilter_widths_and_formats(filled, tmp_path):
    out = export(filled, tmp_path)
    workbook = openpyxl.load_workbook(out)
    sheet = workbook[RESPONSES]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "B2"
    assert (
        sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}"
        f"{len(stored_responses()) + 1}"
    )
    assert all(sheet.cell(1, i + 1).font.b for i in range(len(header)))
    widths = {
        sheet.cell(1, i + 1).column_letter: sheet.column_dimensions[
            sheet.cell(1, i + 1).column_letter
        ].width
        for i in range(len(header))
    }
    assert widths["B"] > 30 and all(w >= 8 for w in widths.values())
    submitted = sheet.cell(2, header.index("submitted_at") + 1)
    assert submitted.is_date and submitted.number_format == "yyyy-mm-dd hh:mm:ss"
    dose = next(
        sheet.cell(r, header.index("last_dose") + 1)
        for r in range(2, 200)
        if sheet.cell(r, header.index("last_dose") + 1).value is not None
    )
    assert dose.is_date and dose.number_format == "yyyy-mm-dd"
    codebook = workbook[CODEBOOK]
    assert codebook.freeze_panes == "B2" and codebook.auto_filter.ref.startswith("A1:K")
    summary = workbook[SUMMARY]
    assert summary.freeze_panes == "A4"
    percent = next(
        row[3] for row in summary.iter_rows(min_row=5) if isinstance(row[3].value, float)
    )
    assert percent.number_format == "0.0%"


def test_rows_beyond_the_row_limit_continue_on_a_next_sheet(app, tmp_path, monkeypatch):
    run_cli(app, "fake-responses", DEMO_SLUG, "--count", "120", "--seed", "2")
    monkeypatch.setattr(responses_module, "ROW_LIMIT", 50)  # header + 49 responses a sheet
    out = export(app, tmp_path)
    workbook = openpyxl.load_workbook(out)
    names = [RESPONSES, f"{RESPONSES} (2)", f"{RESPONSES} (3)"]
    assert workbook.sheetnames == [SUMMARY, *names, CODEBOOK, ABOUT]
    ids = []
    for name, rows in zip(names, (49, 49, 22), strict=True):
        header, data = sheet_rows(workbook, name)
        assert header[0] == "response_id" and len(data) == rows
        assert workbook[name].freeze_panes == "B2"
        assert workbook[name].auto_filter.ref.endswith(str(rows + 1))
        ids += [row[0] for row in data]
    assert ids == [r.id for r in stored_responses()]  # all of them, once, in order
    assert workbook[SUMMARY]["B2"].value == 120
    about = dict(workbook[ABOUT].iter_rows(values_only=True, max_col=2))
    assert about["Trang phiếu trả lời"] == ", ".join(names)


class NumberRows:
    """A RowMaker of one column whose responses are their own row: the responses
    sheet's writer at full speed, with nothing else of an export around it."""

    columns = [Column("response_id", kind="meta")]

    @staticmethod
    def row(response: int) -> list[int]:
        return [response]


def last_row_number(package: zipfile.ZipFile, member: str) -> int:
    """The r of the sheet's last <row>, read by streaming (the part is ~40 MB)."""
    tail = b""
    with package.open(member) as part:
        while block := part.read(1 << 20):
            tail = (tail + block)[-4096:]
    return int(re.findall(rb'<row r="(\d+)"', tail)[-1])


def test_excels_real_row_limit_of_1048576_rows_starts_a_next_sheet(tmp_path):
    """Without patching ROW_LIMIT: 1,048,576 responses fill the first sheet to Excel's
    last row (1,048,575 and the header) and put the last one on a second sheet.

    A whole export of a million responses takes ~90 s (~11,000 rows/s), so this drives
    the responses sheets' writer itself with one-column rows (a few seconds); the
    workbook it makes is spliced and read back as an export's is."""
    excel_rows = 1_048_576  # Excel's documented limit, written down here on purpose
    book, out = tmp_path / "book.xlsx", tmp_path / "rows.xlsx"
    workbook = xlsxwriter.Workbook(str(book), {"constant_memory": True, "tmpdir": str(tmp_path)})
    cuts = CutCount()
    sheets = responses_module.ResponsesSheets(
        workbook, Formats(workbook), cuts, NumberRows(), RESPONSES, tmp_path
    )
    for start in range(1, excel_rows + 1, 65_536):
        sheets.add(range(start, min(start + 65_536, excel_rows + 1)))
    sheets.close()
    workbook.close()
    sheet_xml.splice(book, out, sheets.sheets, level=1)
    assert sheets.count == excel_rows
    assert sheets.names == [RESPONSES, f"{RESPONSES} (2)"]

    read = openpyxl.load_workbook(out, read_only=True)
    assert read.sheetnames == [RESPONSES, f"{RESPONSES} (2)"]
    assert read[RESPONSES].max_row == excel_rows  # from the sheet's <dimension>
    assert [row[0] for row in read[f"{RESPONSES} (2)"].iter_rows(values_only=True)] == [
        "response_id",
        excel_rows,
    ]
    read.close()
    with zipfile.ZipFile(out) as package:
        first = "xl/worksheets/sheet1.xml"
        assert last_row_number(package, first) == excel_rows
        with package.open(first) as part:
            head = part.read(4096)
        assert re.search(rb'<dimension ref="A1:[A-Z]+1048576"/>', head)
        assert b'<row r="2"><c r="A2"><v>1</v></c></row>' in head


def test_a_cell_longer_than_excel_allows_is_cut_visibly_and_counted(app, tmp_path):
    survey = find_survey(DEMO_SLUG)
    long_text = "Ý kiến rất dài. " * 3000  # 48,000 characters: stored by an older check
    persist_batch(
        [
            Submission(
                survey.id,
                survey.published_version().id,
                uuid.uuid4(),
                {**valid_answers(), "comment": long_text, "email": "=" + "x" * 40_000},
            )
        ]
    )
    out = export(app, tmp_path)
    workbook = openpyxl.load_workbook(out)
    header, data = sheet_rows(workbook, RESPONSES)
    comment = data[0][header.index("comment")]
    assert len(comment) == MAX_CELL_CHARS and comment.endswith(CUT_MARKER)
    assert comment.startswith("Ý kiến rất dài.")
    email = workbook[RESPONSES].cell(2, header.index("email") + 1)
    assert len(email.value) == MAX_CELL_CHARS and email.value.endswith(CUT_MARKER)
    assert email.data_type == "s" and email.quotePrefix  # cut, and still text
    about = dict(workbook[ABOUT].iter_rows(values_only=True, max_col=2))
    label, cut = next((k, v) for k, v in about.items() if k and k.startswith("Số ô bị cắt"))
    assert cut == 2 and CUT_MARKER in label


# Excel's own escape in cell text: _xHHHH_ is the character U+HHHH (_x005F_ a "_").
EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
STRANGE = [
    "a\x01b\x1fc\x0bd",
    "x & y < z > w; a <b>tag</b>",
    "_x0041_ stays as typed",
    "<r><t>not rich text</t></r>",
    "  spaces kept  ",
    "dòng 1\ndòng 2\ttab",
    "emoji 😀 and \ufffe",
    '"quoted" \'and\' ]]> end',
    "-5",
    "=1+1",
]
# Those of them (and of the extra texts below) that Excel would run: written down by
# hand, not by asking looks_like_formula, so a broken helper cannot agree with itself.
QUOTED_TEXTS = {"-5", "=1+1", "\r=2"}


def excel_text(value: str) -> str:
    """A cell's text as Excel shows it (openpyxl leaves the _xHHHH_ escapes in)."""
    return EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def test_any_text_survives_as_text_in_well_formed_xml(app, tmp_path):
    """Control characters, markup, Excel's own escapes, whitespace, emoji and a long
    Vietnamese text: each reads back as it was stored, from XML that parses."""
    survey = find_survey(DEMO_SLUG)
    version = survey.published_version()
    long_text = ("Nhà trường cần bảo đảm khoảng cách, thông gió và rửa tay thường xuyên. " * 450)[
        :MAX_CELL_CHARS
    ]
    texts = {str(uuid.uuid4()): text for text in [*STRANGE, long_text]}
    persist_batch(
        [
            Submission(
                survey.id,
                version.id,
                uuid.UUID(sid),
                {**valid_answers(), "comment": text, "children": -5, "last_dose": "2026-02-28"},
            )
            for sid, text in texts.items()
        ]
    )
    out = export(app, tmp_path)
    with zipfile.ZipFile(out) as package:
        assert package.testzip() is None
        sheets = [n for n in package.namelist() if n.startswith("xl/worksheets/sheet")]
        for name in sheets:
            package.read(name).decode("utf-8")  # valid UTF-8 ...
            ElementTree.fromstring(package.read(name))  # ... and well-formed XML
        data_xml = package.read("xl/worksheets/sheet2.xml")
    assert b"\x01" not in data_xml and b"_x0001_" in data_xml
    assert re.search(
        rb'<dimension ref="A1:[A-Z]+' + str(len(texts) + 1).encode() + b'"/>', data_xml
    )
    workbook = openpyxl.load_workbook(out)  # not read-only: every cell and style is parsed
    sheet = workbook[RESPONSES]
    header = [c.value for c in sheet[1]]
    comment, children, dose, submitted = (
        header.index(n) + 1 for n in ("comment", "children", "last_dose", "submitted_at")
    )
    assert sheet.max_row == len(texts) + 1
    for row in range(2, sheet.max_row + 1):
        text = texts[sheet.cell(row, header.index("submission_id") + 1).value]
        cell = sheet.cell(row, comment)
        # Non-characters (U+FFFE) are replaced, as in every reader (issue 10, finding 3)
        assert cell.data_type == "s" and excel_text(cell.value) == safe_text(text), text
        assert bool(cell.quotePrefix) == (text in QUOTED_TEXTS), text
        number = sheet.cell(row, children)
        assert number.value == -5 and number.data_type == "n" and not number.quotePrefix
        day = sheet.cell(row, dose)
        assert day.value == datetime(2026, 2, 28) and day.number_format == "yyyy-mm-dd"
        assert isinstance(sheet.cell(row, submitted).value, datetime)
        assert sheet.cell(row, submitted).number_format == "yyyy-mm-dd hh:mm:ss"
    # the long text, all of it, unchanged
    assert long_text in [sheet.cell(row, comment).value for row in range(2, sheet.max_row + 1)]


def test_text_cells_are_escaped_as_excel_escapes_them():
    cuts = CutCount()
    texts = sheet_xml.TextCells(cuts)
    for text in [*STRANGE, "\r=2", "\x00"]:
        xml = f'<c r="A1{texts.make(text)}'.replace(sheet_xml.QUOTED, ' s="1"')
        cell = ElementTree.fromstring(xml)
        assert excel_text(cell.findtext("is/t")) == text
        assert (cell.get("s") == "1") == (text in QUOTED_TEXTS), text
    assert sheet_xml.escape("a\x01_x0001_&") == "a_x0001__x005F_x0001_&amp;"
    assert texts.make("short label") is texts.known["short label"]  # made once
    assert cuts.cells == 0
    for number, shown in ((12.5, "12.5"), (-5, "-5"), (1e-07, "1e-07"), (2**53, str(2**53))):
        assert (
            ElementTree.fromstring(f'<c r="A1{sheet_xml.number_tail(number)}').findtext("v")
            == shown
        )
    assert sheet_xml.number_tail(float("nan")) == '" t="e"><v>#NUM!</v></c>'
    assert sheet_xml.number_tail(float("-inf")) == '" t="e"><v>#DIV/0!</v></c>'
    # Excel's serial numbers, its 29 February 1900 included
    assert sheet_xml.day_tail(date(1900, 2, 28)) == f'"{sheet_xml.DAY}><v>59</v></c>'
    assert sheet_xml.day_tail(date(1900, 3, 1)) == f'"{sheet_xml.DAY}><v>61</v></c>'
    assert (
        sheet_xml.moment_tail(datetime(2026, 3, 1, 12)) == f'"{sheet_xml.MOMENT}><v>46082.5</v></c>'
    )


def test_a_cell_is_cut_by_the_utf16_units_excel_counts():
    cuts = CutCount()
    emoji = "😀" * 20_000  # 20,000 characters, 40,000 UTF-16 units
    cut = cuts.fit(emoji)
    assert cut.endswith(CUT_MARKER) and cuts.cells == 1
    assert len(cut.encode("utf-16-le")) // 2 <= MAX_CELL_CHARS
    assert len(cut.encode("utf-16-le")) // 2 > MAX_CELL_CHARS - 2 - len(CUT_MARKER)
    fits = "😀" * 16_000
    assert cuts.fit(fits) is fits and cuts.cells == 1


# -- formula injection --------------------------------------------------------------


def all_cells(workbook):
    return [c for ws in workbook for row in ws.iter_rows() for c in row if c.value is not None]


def test_formula_like_answers_are_text_and_negative_numbers_stay_numbers(filled, tmp_path):
    out = export(filled, tmp_path, "--breakdown", "role")
    workbook = openpyxl.load_workbook(out)
    sheet = workbook[RESPONSES]
    header = [c.value for c in sheet[1]]
    comment, other, children = (
        header.index(n) + 1 for n in ("comment", "concerns_other", "children")
    )
    seen = []
    for row in range(2, sheet.max_row + 1):
        cell = sheet.cell(row, comment)
        if cell.value in HOSTILE:
            assert cell.data_type == "s"  # a string, never "f" (formula)
            assert cell.quotePrefix  # Excel keeps it text even when edited
            assert sheet.cell(row, other).data_type == "s"
            assert sheet.cell(row, other).quotePrefix
            number = sheet.cell(row, children)
            assert number.value == -5 and number.data_type == "n"
            assert not number.quotePrefix
            seen.append(cell.value)
    assert sorted(seen) == sorted(HOSTILE)
    assert all(cell.data_type != "f" for cell in all_cells(workbook))


def hostile_survey() -> dict:
    """The demo with every hostile string as a title, question, row and choice label."""
    definition = demo_definition()
    definition["slug"] = "nhan-doc"
    definition["title"] = {"vi": "=cmd|' /C calc'!A0"}
    questions = {q["name"]: q for page in definition["pages"] for q in page["questions"]}
    questions["role"]["label"] = {"vi": SENT[0]}
    questions["district"]["label"] = {"vi": "=cmd|' /C calc'!A0"}  # a chart title formula
    questions["children"]["label"] = {"vi": SENT[2]}
    questions["measures"]["rows"][0]["label"] = {"vi": SENT[3]}
    for choice, text in zip(definition["choice_lists"]["roles"], SENT, strict=False):
        choice["label"] = {"vi": text}
    definition["choice_lists"]["agreement"][0]["label"] = {"vi": SENT[4]}
    return definition


CALC = "=cmd|' /C calc'!A0"
# (sheet, cell, text) of hostile_survey()'s labels in its workbook (200 fake responses,
# cross-tab by role): the title, the role choices, a matrix row, a scale choice.
HOSTILE_LABEL_CELLS = [
    (SUMMARY, "A1", CALC),
    *((SUMMARY, f"A{row}", text) for row, text in zip(range(67, 71), SENT, strict=False)),
    (SUMMARY, "A121", SENT[4]),
    *(("Bảng chéo role", f"{col}4", text) for col, text in zip("CDEF", SENT, strict=False)),
    ("Bảng chéo role", "A160", SENT[4]),
    (CODEBOOK, "B9", CALC),  # the district question's label
    (CODEBOOK, "B59", SENT[0]),  # the role question's label
    *((CODEBOOK, f"F{row}", text) for row, text in zip(range(60, 64), SENT, strict=False)),
    (CODEBOOK, "B64", SENT[2]),  # the children question's label
    (CODEBOOK, "B87", SENT[3]),  # the first matrix row
    (CODEBOOK, "F90", SENT[4]),  # the first agreement choice
    (ABOUT, "B2", CALC),
]


def test_hostile_labels_and_title_are_text_in_every_sheet_and_chart(app, tmp_path):
    save_definition(hostile_survey(), publish=True)
    run_cli(app, "fake-responses", "nhan-doc", "--count", "200", "--seed", "1")
    out = tmp_path / "labels.xlsx"
    run_cli(app, "export", "nhan-doc", "-o", str(out), "--breakdown", "role")
    workbook = openpyxl.load_workbook(out)
    cells = all_cells(workbook)
    assert cells and all(c.data_type != "f" for c in cells)
    for sheet, ref, text in HOSTILE_LABEL_CELLS:  # where each one must be, as quoted text
        cell = workbook[sheet][ref]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True), (sheet, ref)
    formula_like = [c for c in cells if isinstance(c.value, str) and looks_like_formula(c.value)]
    assert len(formula_like) >= len(HOSTILE_LABEL_CELLS)
    assert all(c.data_type == "s" and c.quotePrefix for c in formula_like)
    texts_by_sheet = {
        ws.title: {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
        for ws in workbook
    }
    for text in SENT[:4]:  # in the summary's tables, the cross-tab's headers, the codebook
        for name in (SUMMARY, "Bảng chéo role", CODEBOOK):
            assert any(text in value for value in texts_by_sheet[name]), (text, name)
    assert "=cmd|' /C calc'!A0" in texts_by_sheet[ABOUT]
    with zipfile.ZipFile(out) as package:
        charts = [
            package.read(n).decode() for n in package.namelist() if n.startswith("xl/charts/")
        ]
    assert charts
    for chart in charts:  # every formula of a chart is a plain reference to our cells
        for formula in re.findall(r"<c:f>(.*?)</c:f>", chart):
            assert re.fullmatch(r"'Tổng hợp'!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", formula), formula
    # The district chart's title is its table's title cell, shown as the text it is.
    assert any("<c:v>district: =cmd|' /C calc'!A0</c:v>" in c for c in charts)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-x", "@A1", "\tx", "\r=1"])
def test_every_formula_start_is_neutralised(text):
    assert looks_like_formula(text)
    assert csv_safe(text) == "'" + text
    assert csv_safe(-1) == -1 and csv_safe("1-1") == "1-1"


# -- codebook and about -------------------------------------------------------------


def test_codebook_lists_every_column_with_its_logic_and_choices(filled, tmp_path):
    out = export(filled, tmp_path)
    header, rows = sheet_rows(values_of(out), CODEBOOK)
    assert header == (
        "Tên cột",
        "Nhãn",
        "Loại",
        "Bắt buộc",
        "Mã phương án",
        "Nhãn phương án",
        "Điều kiện hiển thị (relevant)",
        "Ràng buộc (constraint)",
        "Lọc phương án (choice_filter)",
        "Công thức (calculation)",
        "Tên biến trong SPSS và Stata",
    )
    questions = {row[0]: row for row in rows if row[2] not in (None, "meta")}
    # each column's name in the .sav and .dta: legal, unique (the hidden question
    # "source" meets the meta column, the flag concerns/other the text concerns_other)
    metas = {row[0]: row for row in rows if row[2] == "meta"}
    assert metas["source"][10] == "source" and questions["source"][10] == "source_2"
    assert questions["measures/masks"][10] == "measures_masks"
    assert questions["concerns_other"][10] == "concerns_other_2"
    flags = {row[4]: row[10] for row in rows if row[0] == "concerns" and row[4] is not None}
    assert flags["other"] == "concerns_other" and flags["infection"] == "concerns_infection"
    assert [row[0] for row in rows[:5]] == [
        "response_id",
        "submission_id",
        "submitted_at",
        "version",
        "source",
    ]
    assert questions["district"][1:4] == (
        "Bạn đang sống ở huyện/thành phố nào?",
        "select_one",
        "Có",
    )
    assert questions["commune"][8] == "district = ${district}"
    assert questions["children"][2:4] == ("integer", "Không")
    assert questions["children"][6] == "${role} = 'parent'"
    assert questions["children"][7] == ". >= -10"  # version 2's, the newest
    assert questions["concerns"][6:10] == (None, None, None, None)
    assert questions["concern_count"][9] == "count-selected(${concerns})"
    assert questions["measures/masks"][1:3] == ("Đeo khẩu trang trong lớp", "matrix_row")
    assert questions["concerns_other"][2] == "text"
    choices = {(row[0], row[4]): row[5] for row in rows if row[4] is not None}
    assert choices[("district", "da_lat")] == "Thành phố Đà Lạt"
    assert choices[("concerns", "other")] == "Khác"
    assert choices[("measures", "agree")] == "Đồng ý"
    assert len([k for k in choices if k[0] == "commune"]) == 36
    # every question column of the responses sheet is explained
    data_header, _ = sheet_rows(values_of(out), RESPONSES)
    named = {row[0] for row in rows}
    assert {h for h in data_header if "/" not in h or h.startswith("measures/")} <= named


def test_about_sheet_says_what_when_by_whom_and_of_how_many(filled, tmp_path):
    out = tmp_path / "about.xlsx"
    before = datetime.now(LOCAL_TIME).replace(tzinfo=None, microsecond=0)
    survey = find_survey(DEMO_SLUG)
    definition = demo_definition()
    filters = Filters.from_args({"f.role": "teacher"}, definition_for(survey.published_version()))
    count = export_survey(
        survey,
        out,
        options=ExportOptions(
            filters=filters, breakdown="support", requested_by="Nguyễn Thị Mai", codes=True
        ),
    )
    after = datetime.now(LOCAL_TIME).replace(tzinfo=None)
    rows = list(values_of(out)[ABOUT].iter_rows(values_only=True))
    about = {row[0]: row[1:] for row in rows if row[0]}
    assert rows[0][0] == "Về tệp này"
    assert about["Khảo sát"][0] == definition["title"]["vi"]
    assert about["Mã khảo sát (slug)"][0] == DEMO_SLUG
    versions = [
        row[1:]
        for row in rows
        if row[0] in ("Phiên bản (ngày xuất bản)", None) and isinstance(row[1], int)
    ]
    assert [v[0] for v in versions] == [2, 1] and all(isinstance(v[1], datetime) for v in versions)
    assert about["Bộ lọc"][0] == "Bạn là: Giáo viên, cán bộ quản lý"
    teachers = [r for r in stored_responses() if r.answers["role"] == "teacher"]
    assert about["Số phiếu đã xuất"][0] == count == len(teachers)
    assert about["Tổng số phiếu của khảo sát"][0] == FAKES + len(SENT)
    assert before <= about["Thời điểm xuất (giờ Việt Nam)"][0] <= after
    assert about["Người xuất"][0] == "Nguyễn Thị Mai"
    assert about["Phương án ghi bằng"][0] == "mã"
    assert about["Bảng chéo theo câu hỏi"][0] == "support"
    assert about["Ngôn ngữ"][0] == "vi"
    assert next(v[0] for k, v in about.items() if k.startswith("Số ô bị cắt")) == 0


# -- options: codes, language, filters ------------------------------------------------


def test_codes_instead_of_labels(filled, tmp_path):
    out = export(filled, tmp_path, "--codes")
    header, data = sheet_rows(values_of(out), RESPONSES)
    stored = {str(r.submission_id): r.answers for r in stored_responses()}
    col = {name: i for i, name in enumerate(header)}
    for row in data:
        answers = stored[row[col["submission_id"]]]
        assert row[col["district"]] == answers["district"]
        assert row[col["concerns"]] == (
            "; ".join(answers["concerns"]) if "concerns" in answers else None
        )
        assert row[col["measures/masks"]] == (answers.get("measures") or {}).get("masks")
    assert {row[col["district"]] for row in data} == {c["name"] for c in districts()}
    labelled, data = sheet_rows(values_of(export(filled, tmp_path, name="l.xlsx")), RESPONSES)
    assert labelled == header  # the same columns either way, with labels in the cells
    assert {row[col["district"]] for row in data} == {c["label"]["vi"] for c in districts()}


def test_numeric_codes_are_numbers_and_leading_zeros_stay_text(app, tmp_path):
    definition = demo_definition()
    definition["slug"] = "ma-so"
    for choice, code in zip(definition["choice_lists"]["agreement"], ("1", "2", "03"), strict=True):
        choice["name"] = code
    save_definition(definition, publish=True)
    run_cli(app, "fake-responses", "ma-so", "--count", "60", "--seed", "4")
    out = tmp_path / "codes.xlsx"
    run_cli(app, "export", "ma-so", "-o", str(out), "--codes")
    header, data = sheet_rows(values_of(out), RESPONSES)
    stored = {
        str(r.submission_id): r.answers.get("measures") or {} for r in stored_responses("ma-so")
    }
    shown = {"1": 1, "2": 2, "03": "03", None: None}
    cells = [row[header.index("measures/masks")] for row in data]
    assert cells == [shown[stored[row[1]].get("masks")] for row in data]
    assert {1, 2, "03"} <= set(cells)


def districts() -> list[dict]:
    return demo_definition()["choice_lists"]["districts"]


def test_export_in_english_uses_english_sheets_words_and_labels(filled, tmp_path):
    out = export(filled, tmp_path, "--lang", "en", "--breakdown", "role")
    workbook = openpyxl.load_workbook(out, read_only=True)
    assert workbook.sheetnames == ["Summary", "Cross-tab role", "Responses", "Codebook", "About"]
    summary = [r for r in workbook["Summary"].iter_rows(values_only=True)]
    labels = [r[0] for r in summary]
    assert "Da Lat City" in labels and "Answered" in labels and "Mean" in labels
    assert summary[5][:7] == (
        "Choice",
        "Code",
        "Count",
        "% of answered",
        "% of all responses",
        "95% CI (low)",
        "95% CI (high)",
    )
    about = [r[0] for r in workbook["About"].iter_rows(values_only=True)]
    assert "Exported at (Vietnam time)" in about


def test_filters_apply_to_every_count(filled, tmp_path):
    stored = stored_responses()
    # Half of the responses were sent on 15 January, Vietnam time (one just after
    # midnight there, which is still the 14th in UTC).
    early = [r.id for r in stored[::2]]
    db.session.execute(
        sa.update(Response)
        .where(Response.id.in_(early))
        .values(submitted_at=datetime(2026, 1, 14, 17, 30, tzinfo=UTC))
    )
    db.session.commit()
    out = export(
        filled,
        tmp_path,
        "--filter",
        "role=parent",
        "--filter",
        "support=yes",
        "--filter",
        "support=undecided",
        "--from",
        "2026-01-15",
        "--to",
        "2026-01-15",
        "--breakdown",
        "district",
    )
    kept = [
        r
        for r in stored
        if r.id in set(early)
        and r.answers["role"] == "parent"
        and r.answers["support"] in ("yes", "undecided")
    ]
    assert 100 < len(kept) < len(stored) / 4
    workbook = values_of(out)
    assert workbook[SUMMARY]["B2"].value == len(kept)
    assert "Bạn là: Phụ huynh học sinh" in workbook[SUMMARY]["B3"].value
    selects, numbers = summary_tables(workbook[SUMMARY])
    for key in SELECT_KEYS:
        expected, answered = recount(kept, key)
        got = {code: row["count"] for code, row in selects[key]["choices"].items() if row["count"]}
        assert got == dict(expected) and selects[key]["answered"] == answered, key
    assert numbers["children"]["n"] == sum(1 for r in kept if "children" in r.answers)
    tables = crosstab_tables(workbook[CROSSTAB])
    for code, row in tables["concerns"]["counts"].items():
        assert row[-1] == recount(kept, "concerns")[0][code]
    _, data = sheet_rows(workbook, RESPONSES)
    assert sorted(row[0] for row in data) == sorted(r.id for r in kept)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--filter", "nothing=1"], "no select question named 'nothing'"),
        (["--filter", "role=king"], "role: no choice 'king'"),
        (["--filter", "role"], "'role' is not QUESTION=CHOICE"),
        (["--from", "2026-13-01"], "YYYY-MM-DD, ví dụ 2026-11-30. ('2026-13-01')"),
        (["--from", "0001-01-01"], "1900 đến năm 2100. ('0001-01-01')"),  # issue 10, finding 7
        (["--lang", "fr"], "'fr' is not one of 'vi', 'en'"),
    ],
)
def test_bad_options_fail_with_the_reason_and_leave_no_file(app, tmp_path, args, message):
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    result = app.test_cli_runner().invoke(
        cli, ["export", DEMO_SLUG, "-o", str(out_dir / "x.xlsx"), *args]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert list(out_dir.iterdir()) == []


# -- CSV ----------------------------------------------------------------------------


def test_csv_export_has_a_bom_vietnamese_and_neutralised_text(filled, tmp_path):
    out = export(filled, tmp_path, name="out.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == FAKES + len(SENT)
    assert "Thành phố Đà Lạt" in {row["district"] for row in rows}
    comments = {row["comment"] for row in rows}
    for text in HOSTILE:
        assert "'" + text in comments
    assert "-5" in {row["children"] for row in rows}  # a number is not prefixed


def test_csv_respects_codes_language_and_filters(filled, tmp_path):
    out = export(filled, tmp_path, "--codes", "--filter", "district=bao_loc", name="f.csv")
    rows = list(csv.DictReader(out.read_text("utf-8-sig").splitlines()))
    expected = [r for r in stored_responses() if r.answers["district"] == "bao_loc"]
    assert len(rows) == len(expected) > 0
    assert {row["district"] for row in rows} == {"bao_loc"}
    out = export(filled, tmp_path, "--lang", "en", name="en.csv")
    assert "Bao Loc City" in {
        row["district"] for row in csv.DictReader(out.read_text("utf-8-sig").splitlines())
    }


# -- edges ----------------------------------------------------------------------------


def test_exporting_an_unknown_survey_fails_cleanly_and_leaves_no_file(app, tmp_path):
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    result = app.test_cli_runner().invoke(
        cli, ["export", "khong-co", "-o", str(out_dir / "none.xlsx")]
    )
    assert result.exit_code != 0
    assert "no survey with slug 'khong-co'" in result.output
    assert list(out_dir.iterdir()) == []  # neither the file nor a partial one


def test_empty_survey_exports_headers_and_zero_counts(app, tmp_path):
    out = export(app, tmp_path, "--breakdown", "district")
    workbook = values_of(out)
    assert workbook[SUMMARY]["B2"].value == 0
    assert workbook[RESPONSES].max_row == 1
    selects, numbers = summary_tables(workbook[SUMMARY])
    assert selects["role"]["answered"] == 0 and numbers["children"]["n"] == 0
    assert crosstab_tables(workbook[CROSSTAB])["role"]["answered"][-1] == 0
