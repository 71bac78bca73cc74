"""The review and paradata columns of the responses workbook and CSV: present after the
answers, described by the codebook and the about sheet, inert (no cell becomes a
formula), and empty once erased or for an anonymous survey."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta

import openpyxl

from exports.columns import TRAIL_COLUMNS, flags_text
from survey_engine.catalog import find_survey
from survey_engine.exporting.survey_file import export_survey
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.localtime import to_local
from survey_engine.models import PARADATA_COLUMNS
from tests.conftest import DEMO_SLUG, valid_answers
from tests.test_paradata import answered, open_page, post_form, variant

HOSTILE_FLAGS = [
    {"flag": "speeder", "reason": "=HYPERLINK(\"http://x\")"},
    {"flag": "burst", "reason": "12 from one network in 2 minutes"},
]


def store_hostile(slug: str = DEMO_SLUG) -> datetime:
    """A response whose review texts a spreadsheet would take for formulas."""
    survey = find_survey(slug)
    started = datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC)
    persist_batch(
        [
            Submission(
                survey.id,
                survey.published_version().id,
                uuid.uuid4(),
                valid_answers(),
                submitted_at=started + timedelta(seconds=95),
                paradata={
                    "started_at": started,
                    "duration_seconds": 95,
                    "pages_visited": 3,
                    "device_class": "phone",
                    "browser": "+Chrome",
                    "network_key": "-" + "a" * 63,
                    "device_hash": "@" + "b" * 63,
                },
                flags=HOSTILE_FLAGS,
                unit="=SUM(A1:A9)",
            )
        ]
    )
    return started


def test_the_paradata_columns_are_in_the_workbook_as_inert_cells(app, client, tmp_path):
    started = store_hostile()
    out = tmp_path / "out.xlsx"
    assert export_survey(find_survey(DEMO_SLUG), out, "xlsx", "en") == 1

    book = openpyxl.load_workbook(out)
    sheet = book["Responses"]
    header = [cell.value for cell in sheet[1]]
    assert tuple(header[-len(TRAIL_COLUMNS) :]) == TRAIL_COLUMNS
    assert set(PARADATA_COLUMNS) <= set(TRAIL_COLUMNS)
    cells = {name: sheet.cell(2, header.index(name) + 1) for name in TRAIL_COLUMNS}
    assert cells["status"].value == "flagged"
    assert cells["flags"].value == (
        'speeder: =HYPERLINK("http://x"); burst: 12 from one network in 2 minutes'
    )
    for name in ("unit", "browser", "network_key", "device_hash"):
        assert cells[name].data_type == "s" and cells[name].quotePrefix, name
    assert cells["unit"].value == "=SUM(A1:A9)"
    assert cells["browser"].value == "+Chrome"
    assert cells["started_at"].value == to_local(started).replace(tzinfo=None)
    assert cells["started_at"].is_date
    assert (cells["duration_seconds"].value, cells["duration_seconds"].data_type) == (95, "n")
    assert cells["pages_visited"].value == 3 and cells["device_class"].value == "phone"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    codebook = {row[0]: row for row in book["Codebook"].iter_rows(values_only=True)}
    for name in TRAIL_COLUMNS:
        assert codebook[name][2] == "meta" and codebook[name][1], name
    assert "cannot be recovered" in codebook["network_key"][1]
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True)}
    assert about["Paradata (how each response was given)"] == (
        "Erased 90 days after the survey closes (then the cells are empty)"
    )


def test_the_vietnamese_workbook_describes_them_in_vietnamese(app, client, tmp_path):
    store_hostile()
    out = tmp_path / "vi.xlsx"
    export_survey(find_survey(DEMO_SLUG), out, "xlsx", "vi")
    book = openpyxl.load_workbook(out, read_only=True)
    codebook = {row[0]: row for row in book[book.sheetnames[-2]].iter_rows(values_only=True)}
    assert "dữ liệu quá trình" in codebook["device_class"][1]
    about = [row for row in book[book.sheetnames[-1]].iter_rows(values_only=True)]
    assert ("Dữ liệu quá trình (cách mỗi phiếu được trả lời)",) == tuple(
        row[0] for row in about if row[0] and row[0].startswith("Dữ liệu quá trình")
    )


def test_the_csv_has_them_quoted_where_a_spreadsheet_would_compute(app, client, tmp_path):
    started = store_hostile()
    out = tmp_path / "out.csv"
    export_survey(find_survey(DEMO_SLUG), out, "csv", "en")
    with open(out, encoding="utf-8-sig", newline="") as handle:
        header, row = list(csv.reader(handle))
    got = dict(zip(header[-len(TRAIL_COLUMNS) :], row[-len(TRAIL_COLUMNS) :], strict=True))
    assert got["status"] == "flagged"
    assert got["flags"] == flags_text(HOSTILE_FLAGS)  # starts with "speeder": safe as is
    assert got["unit"] == "'=SUM(A1:A9)"
    assert got["browser"] == "'+Chrome"
    assert got["network_key"] == "'-" + "a" * 63
    assert got["device_hash"] == "'@" + "b" * 63
    assert got["started_at"] == to_local(started).strftime("%Y-%m-%d %H:%M:%S")
    assert (got["duration_seconds"], got["pages_visited"]) == ("95", "3")


def test_a_real_response_exports_its_paradata_and_an_anonymous_one_none(app, client, tmp_path):
    answered(client, DEMO_SLUG, 1)
    variant("an-danh", anonymous=True)
    post_form(client, {**open_page(client, "an-danh"), "pages": "2"}, slug="an-danh")
    rows = {}
    for slug in (DEMO_SLUG, "an-danh"):
        out = tmp_path / f"{slug}.csv"
        export_survey(find_survey(slug), out, "csv", "en")
        with open(out, encoding="utf-8-sig", newline="") as handle:
            header, row = list(csv.reader(handle))
        rows[slug] = dict(
            zip(header[-len(TRAIL_COLUMNS) :], row[-len(TRAIL_COLUMNS) :], strict=True)
        )
    assert rows[DEMO_SLUG]["device_class"] == "phone" and rows[DEMO_SLUG]["browser"] == "Chrome"
    assert rows[DEMO_SLUG]["pages_visited"] == "3" and len(rows[DEMO_SLUG]["network_key"]) == 64
    assert {rows["an-danh"][name] for name in PARADATA_COLUMNS} == {""}
    assert rows["an-danh"]["status"] == "unreviewed"
    out = tmp_path / "an-danh.xlsx"
    export_survey(find_survey("an-danh"), out, "xlsx", "en")
    about = dict(openpyxl.load_workbook(out)["About"].iter_rows(values_only=True, max_col=2))
    assert about["Paradata (how each response was given)"] == "None kept: the survey is anonymous"
