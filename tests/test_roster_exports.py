"""Rosters in every output that reads answers: the workbook's roster sheet and summary,
the CSV, .sav, .dta and R files (1:n, a line per row keyed by response_id and row),
the data API, the dashboard and the results API. Every figure is checked against one
recount of the stored answers (recount() below), with readers we did not write:
openpyxl, pyreadstat, GNU PSPP, R's readstata13 and R itself."""

from __future__ import annotations

import csv
import io
import math
import random
import shutil
import subprocess
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pyreadstat
import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey, save_definition
from survey_engine.definition import Definition, clean_answers
from survey_engine.exporting.report import write_survey_report
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.extensions import db
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.models import ExportFile
from survey_engine.results.accumulator import accumulate
from survey_engine.results.dashboard import weighted_mean, weighted_share
from survey_engine.results.margins import Margins
from survey_engine.results.report import merged_survey
from survey_engine.results.weights import compute_weights, current_weights
from survey_engine.staff.accounts import create_token, create_user
from tests.conftest import new_id, stored_responses
from tests.roster_survey import HOUSEHOLD_SLUG, household_answers, household_definition
from tests.test_data_files import pspp_csv
from tests.test_staff import login

HOUSEHOLDS = 60
HYPERLINK = '=HYPERLINK("http://x","y")'
NAMES = [
    "Nguyễn Thị Lan",
    "Trần Văn Minh",
    "K'Sor H'Hen",
    "Lâm Đồng ✓",
    HYPERLINK,
    "+1",
    "@SUM(A1)",
]
SEX_CODES = {"female": 1, "male": 2}
YES_NO_CODES = {"yes": 1, "no": 2}
LANGUAGES = ["vi", "koho", "en"]
SEX_LABELS = {"female": "Nữ", "male": "Nam"}
RESPONSES, MEMBERS, SUMMARY = "Phiếu trả lời", "members", "Tổng hợp"
ROWS_WORD, RESPONSES_WORD = "dòng trong", "phiếu"  # "… members: 9 dòng trong 3 phiếu)"


def household(rng: random.Random) -> dict:
    """A household as a form sends it: 1 to 5 members, school-age ones asked in_school."""
    size = rng.randint(1, 5)
    members = []
    for _ in range(size):
        age = rng.choice([2, 7, 12, 16, 35, 41, 70])
        member = {"member_name": rng.choice(NAMES), "sex": rng.choice(["female", "male"])}
        member["age"] = str(age)
        if 5 <= age <= 18 and rng.random() < 0.8:
            member["in_school"] = rng.choice(["yes", "no"])
        if rng.random() < 0.7:
            member["languages"] = rng.sample(LANGUAGES, rng.randint(1, 2))
        members.append(member)
    return {
        "district": rng.choice(["da_lat", "bao_loc"]),
        "size": str(size),
        "members": members,
        "comment": rng.choice(["Nhà gần trường", HYPERLINK, None]),
    }


@pytest.fixture
def households(app, client):
    """The household survey with HOUSEHOLDS stored households (cleaned as on submit),
    and one through the JSON API whose first member is named with a formula."""
    save_definition(household_definition(), publish=True)
    survey = find_survey(HOUSEHOLD_SLUG)
    version = survey.published_version()
    definition = Definition(household_definition())
    rng = random.Random(15)
    batch = []
    for _ in range(HOUSEHOLDS):
        sent = {k: v for k, v in household(rng).items() if v is not None}
        answers, errors = clean_answers(definition, sent, "vi")
        assert errors == {}
        batch.append(Submission(survey.id, version.id, uuid.uuid4(), answers, source="fake"))
    persist_batch(batch)
    sent = household_answers()
    sent["members"][0]["member_name"] = HYPERLINK
    reply = client.post(
        f"/api/v1/surveys/{HOUSEHOLD_SLUG}/responses",
        json={"submission_id": new_id(), "answers": sent},
    )
    assert reply.status_code == 202, reply.get_json()
    return app


# -- the one recount -------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    response_id: int
    row: int
    answers: dict


def recount() -> tuple[list, list[Line]]:
    """The stored responses, and their roster's rows in order: what every output must
    show."""
    responses = stored_responses(HOUSEHOLD_SLUG)
    lines = [
        Line(r.id, number, row)
        for r in responses
        for number, row in enumerate(r.answers.get("members") or [], start=1)
    ]
    return responses, lines


def in_school_asked(row: dict) -> bool:
    return 5 <= row["age"] <= 18


def export(app, tmp_path: Path, fmt: str, **options) -> Path:
    out = tmp_path / f"out.{fmt}"
    with app.app_context():
        export_survey(find_survey(HOUSEHOLD_SLUG), out, fmt, **options)
    return out


def unzip(path: Path, folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(path) as bundle:
        bundle.extractall(folder)
        return sorted(bundle.namelist())


def blank(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


# -- the workbook ----------------------------------------------------------------------


def test_the_workbook_counts_rows_per_response_and_gives_the_roster_its_own_sheet(
    households, tmp_path
):
    responses, lines = recount()
    workbook = openpyxl.load_workbook(export(households, tmp_path, "xlsx"))
    assert workbook.sheetnames.index(MEMBERS) == workbook.sheetnames.index(RESPONSES) + 1
    sheet = workbook[RESPONSES]
    header = [c.value for c in sheet[1]]
    assert "members" not in header and "member_name" not in header
    at = header.index("members (rows)")
    assert [row[at] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        len(r.answers["members"]) for r in responses
    ]
    members = workbook[MEMBERS]
    head = [c.value for c in members[1]]
    assert head == [
        "response_id",
        "row",
        "member_name",
        "sex",
        "age",
        "in_school",
        "languages",
        "languages/vi",
        "languages/koho",
        "languages/en",
    ]
    got = list(members.iter_rows(min_row=2, values_only=True))
    assert len(got) == len(lines)
    labels = {"vi": "Tiếng Việt", "koho": "Tiếng K'Ho", "en": "Tiếng Anh"}
    for cells, line in zip(got, lines, strict=True):
        row = dict(zip(head, cells, strict=True))
        a = line.answers
        assert (row["response_id"], row["row"]) == (line.response_id, line.row)
        assert row["member_name"] == a["member_name"]
        assert row["sex"] == SEX_LABELS[a["sex"]]
        assert row["age"] == a["age"]
        assert row["in_school"] == {"yes": "Có", "no": "Không", None: None}[a.get("in_school")]
        chosen = a.get("languages")
        assert row["languages"] == ("; ".join(labels[c] for c in chosen) if chosen else None)
        for code in LANGUAGES:  # the same 0/1 columns as a top-level select_multiple's
            want = None if chosen is None else int(code in chosen)
            assert row[f"languages/{code}"] == want
    # the response ids are the responses sheet's own
    ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert {line.response_id for line in lines} <= ids


def test_a_formula_in_a_row_answer_stays_text_in_the_roster_sheet(households, tmp_path):
    workbook = openpyxl.load_workbook(export(households, tmp_path, "xlsx"))
    members = workbook[MEMBERS]
    hostile = [c for c in members["C"] if c.value == HYPERLINK]
    assert hostile, "the stored formula-like names are on the sheet"
    for cell in hostile:
        assert cell.data_type == "s" and cell.quotePrefix
    for other in ("+1", "@SUM(A1)"):
        assert all(c.quotePrefix for c in members["C"] if c.value == other)
    assert all(
        cell.data_type != "f"
        for ws in workbook.worksheets
        for row in ws.iter_rows()
        for cell in row
    )


def test_the_summary_counts_row_questions_over_rows(households, tmp_path):
    responses, lines = recount()
    workbook = openpyxl.load_workbook(export(households, tmp_path, "xlsx"))
    cells = [list(r) for r in workbook[SUMMARY].iter_rows(values_only=True)]
    firsts = [r[0] for r in cells]
    title = next(t for t in firsts if isinstance(t, str) and t.startswith("sex: "))
    with_rows = sum(1 for r in responses if r.answers.get("members"))
    assert title.endswith(f"members: {len(lines):,} {ROWS_WORD} {with_rows:,} {RESPONSES_WORD})"), (
        title
    )
    top = firsts.index(title)
    sexes = Counter(line.answers["sex"] for line in lines)
    for sex, label in SEX_LABELS.items():
        row = next(r for r in cells[top:] if r[0] == label)
        assert row[2] == sexes[sex]
        assert row[3] == pytest.approx(sexes[sex] / len(lines))  # a share of the members
    school = firsts.index(next(t for t in firsts if str(t).startswith("in_school: ")))
    asked = [line.answers["in_school"] for line in lines if "in_school" in line.answers]
    answered = next(r for r in cells[school:] if r[0] == "Số người trả lời")
    assert answered[2] == len(asked)
    assert answered[4] == pytest.approx(len(asked) / len(lines))
    ages = [line.answers["age"] for line in lines]
    age = firsts.index("age: Tuổi")
    stats = {r[1]: r[2] for r in cells[age : age + 12] if r[1]}
    assert stats["n"] == len(ages)
    assert stats["mean"] == pytest.approx(sum(ages) / len(ages))
    assert (stats["min"], stats["max"]) == (min(ages), max(ages))


def test_the_codebook_lists_the_row_questions_under_their_roster(households, tmp_path):
    workbook = openpyxl.load_workbook(export(households, tmp_path, "xlsx"))
    book = [r for r in workbook[workbook.sheetnames[-2]].iter_rows(values_only=True)]
    names = [r[0] for r in book]
    roster = names.index("members")
    assert book[roster][2] == "repeat" and book[roster][-1] == "members_rows"
    after = names[roster:]
    for name in ("member_name", "sex", "age", "in_school", "languages"):
        assert name in after
    assert book[names.index("sex")][-1] == "sex"


# -- CSV -------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_csv_export_is_a_zip_of_the_responses_and_one_csv_per_roster(households, tmp_path):
    responses, lines = recount()
    out = export(households, tmp_path, "csv")
    assert unzip(out, tmp_path / "csv") == ["members.csv", "responses.csv"]
    assert (tmp_path / "csv" / "members.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    main = read_csv(tmp_path / "csv" / "responses.csv")
    assert [int(r["members (rows)"]) for r in main] == [
        len(r.answers["members"]) for r in responses
    ]
    rows = read_csv(tmp_path / "csv" / "members.csv")
    assert len(rows) == len(lines)
    for row, line in zip(rows, lines, strict=True):
        a = line.answers
        assert (int(row["response_id"]), int(row["row"])) == (line.response_id, line.row)
        name = a["member_name"]
        assert row["member_name"] == ("'" + name if name[0] in "=+-@" else name)
        assert row["sex"] == SEX_LABELS[a["sex"]]
        assert int(row["age"]) == a["age"]
        for code in LANGUAGES:
            want = "" if "languages" not in a else str(int(code in a["languages"]))
            assert row[f"languages/{code}"] == want


# -- SPSS, Stata, R --------------------------------------------------------------------


def expected_line(line: Line) -> dict:
    """A roster line's variables as the data files hold them: codes, 0/1, and "not
    asked" (in_school outside 5-18, or no answer there) told from "not answered"."""
    a = line.answers
    asked = in_school_asked(a)
    return {
        "response_id": float(line.response_id),
        "row": float(line.row),
        "member_name": a["member_name"],
        "sex": float(SEX_CODES[a["sex"]]),
        "age": float(a["age"]),
        "in_school": float(YES_NO_CODES[a["in_school"]])
        if "in_school" in a
        else ("not_answered" if asked else "not_asked"),
        **{
            f"languages_{c}": float(c in a["languages"]) if "languages" in a else "not_answered"
            for c in LANGUAGES
        },
    }


SPSS_MISSING = {-999_999_998.0: "not_asked", -999_999_999.0: "not_answered"}


def test_sav_files_read_by_pyreadstat_and_pspp_hold_every_row(households, tmp_path):
    responses, lines = recount()
    unzip(export(households, tmp_path, "sav"), tmp_path / "sav")
    main, _ = pyreadstat.read_sav(str(tmp_path / "sav" / "responses.sav"), user_missing=True)
    assert list(main["members_rows"]) == [float(len(r.answers["members"])) for r in responses]
    frame, meta = pyreadstat.read_sav(str(tmp_path / "sav" / "members.sav"), user_missing=True)
    assert meta.column_names_to_labels["sex"] == "Giới tính"
    assert meta.variable_value_labels["sex"][1.0] == "Nữ"
    assert meta.variable_value_labels["in_school"][-999_999_998.0].startswith("Không hỏi")
    got = frame.to_dict("records")
    assert len(got) == len(lines)
    for row, line in zip(got, lines, strict=True):
        want = expected_line(line)
        for name, value in want.items():
            seen = SPSS_MISSING.get(row[name], row[name])
            assert seen == value, (line, name)
    # GNU PSPP, a reader of its own: the same values, and the labels by code
    read = pspp_csv(tmp_path / "sav" / "members.sav", tmp_path, "VALUES")
    labelled = pspp_csv(tmp_path / "sav" / "members.sav", tmp_path, "LABELS")
    assert len(read) == len(lines)
    for row, named, line in zip(read, labelled, lines, strict=True):
        want = expected_line(line)
        assert row["member_name"] == line.answers["member_name"]
        assert float(row["response_id"]) == want["response_id"]
        assert float(row["row"]) == want["row"]
        assert float(row["age"]) == want["age"]
        assert named["sex"] == SEX_LABELS[line.answers["sex"]]
        if isinstance(want["in_school"], str):
            assert float(row["in_school"]) in SPSS_MISSING
            assert SPSS_MISSING[float(row["in_school"])] == want["in_school"]


def test_dta_files_read_by_pyreadstat_and_r_readstata13_hold_every_row(households, tmp_path):
    responses, lines = recount()
    unzip(export(households, tmp_path, "dta"), tmp_path / "dta")
    main, _ = pyreadstat.read_dta(str(tmp_path / "dta" / "responses.dta"))
    assert list(main["members_rows"]) == [float(len(r.answers["members"])) for r in responses]
    frame, meta = pyreadstat.read_dta(str(tmp_path / "dta" / "members.dta"), user_missing=True)
    assert meta.column_names_to_labels["age"] == "Tuổi"
    assert meta.variable_value_labels["sex"][1] == "Nữ"
    got = frame.to_dict("records")
    assert len(got) == len(lines)
    stata_missing = {"a": "not_asked", "b": "not_answered"}
    for row, line in zip(got, lines, strict=True):
        for name, value in expected_line(line).items():
            seen = (
                stata_missing.get(row[name], row[name]) if isinstance(row[name], str) else row[name]
            )
            if name == "member_name":
                assert row[name] == value
            else:
                assert seen == value, (line, name)
    assert shutil.which("Rscript"), "R is needed (r-cran-readstata13: make debian-tools)"
    (tmp_path / "dta" / "read.R").write_text(
        "suppressPackageStartupMessages(library(readstata13))\n"
        'd <- read.dta13("members.dta", convert.factors = FALSE, missing.type = TRUE)\n'
        'write.csv(d[, c("response_id", "row", "sex", "age")], "values.csv", row.names = FALSE)\n'
        'writeLines(d$member_name, "names.txt", useBytes = TRUE)\n',
        "utf-8",
    )
    subprocess.run(
        ["Rscript", "read.R"],
        cwd=tmp_path / "dta",
        check=True,
        env={"LANG": "C.UTF-8"},
        timeout=120,
    )
    table = read_csv(tmp_path / "dta" / "values.csv")
    names = (tmp_path / "dta" / "names.txt").read_text("utf-8").splitlines()
    assert len(table) == len(lines) == len(names)
    for row, name, line in zip(table, names, lines, strict=True):
        want = expected_line(line)
        assert [float(row[k]) for k in ("response_id", "row", "sex", "age")] == [
            want[k] for k in ("response_id", "row", "sex", "age")
        ]
        assert name == line.answers["member_name"]


def test_the_r_bundle_reads_every_roster_with_factors_and_labels(households, tmp_path):
    _responses, lines = recount()
    names = unzip(export(households, tmp_path, "r"), tmp_path / "r")
    assert names == ["members.csv", "responses.R", "responses.csv"]
    (tmp_path / "r" / "check.R").write_text(
        'source("responses.R")\n'
        'm <- rosters[["members"]]\n'
        'joined <- merge(responses, m, by = "response_id")\n'
        "writeLines(c(nrow(m), nrow(joined), levels(m$sex)[1], attr(m$age, \"label\"),\n"
        "  sum(m$sex == \"Nữ\"), sum(m$age)), \"out.txt\", useBytes = TRUE)\n",
        "utf-8",
    )
    subprocess.run(
        ["Rscript", "check.R"], cwd=tmp_path / "r", check=True, env={"LANG": "C.UTF-8"}, timeout=120
    )
    out = (tmp_path / "r" / "out.txt").read_text("utf-8").splitlines()
    women = sum(1 for line in lines if line.answers["sex"] == "female")
    assert out == [
        str(len(lines)),
        str(len(lines)),
        "Nữ",
        "Tuổi",
        str(women),
        str(sum(line.answers["age"] for line in lines)),
    ]


# -- the data API, the dashboard, the results API ---------------------------------------


def test_the_data_api_returns_the_rows_nested_as_stored(households):
    responses, _lines = recount()
    token = create_token(create_user("admin@example.org", "mat-khau-dai-du", "admin"))
    reply = households.test_client().get(
        f"/api/v1/surveys/{HOUSEHOLD_SLUG}/responses?limit=1000",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.get_json()
    got = {r["id"]: r["answers"]["members"] for r in reply.get_json()["responses"]}
    assert got == {r.id: r.answers["members"] for r in responses}
    text = households.test_client().get(
        f"/api/v1/surveys/{HOUSEHOLD_SLUG}/responses",
        headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"},
    )
    rows = list(csv.DictReader(io.StringIO(text.get_data(as_text=True).lstrip("\ufeff"))))
    assert [int(r["members (rows)"]) for r in rows] == [
        len(r.answers["members"]) for r in responses
    ]


def test_the_dashboard_and_the_results_api_count_a_member_s_sex_over_the_members(households):
    _responses, lines = recount()
    create_user("chu@example.org", "mat-khau-dai-du", "admin")
    client = households.test_client()
    assert login(client, "chu@example.org", "mat-khau-dai-du").status_code == 302
    reply = client.get(f"/admin/surveys/{HOUSEHOLD_SLUG}/results")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert 'id="q-sex"' in html and "roster-rows" in html
    api = client.get(f"/api/v1/surveys/{HOUSEHOLD_SLUG}/results").get_json()
    sexes = Counter(line.answers["sex"] for line in lines)
    sex = api["questions"]["sex"]
    assert sex["roster"] == "members"
    assert sex["rows"]["rows"] == len(lines)
    assert sex["answered"] == len(lines)
    assert sex["counts"] == dict(sexes)
    assert sex["choices"]["female"]["of_answered"]["total"] == len(lines)
    ages = [line.answers["age"] for line in lines]
    assert api["questions"]["age"]["numbers"]["mean"] == pytest.approx(sum(ages) / len(ages))


def weigh_by_district():
    """The households raked to a district margin: the weights, and each response's."""
    survey = find_survey(HOUSEHOLD_SLUG)
    compute_weights(survey, Margins({"district": {"da_lat": 0.3, "bao_loc": 0.7}}))
    db.session.commit()
    weights = current_weights(survey.id)
    return weights, {r.id: weights.weight_of(r.answers) for r in recount()[0]}


def test_weights_apply_to_each_row_of_a_weighted_response(households):
    """A response's raking weight counts once for each of its rows."""
    weights, weight = weigh_by_district()
    _, lines = recount()
    survey = find_survey(HOUSEHOLD_SLUG)
    counted = accumulate(survey.id, merged_survey(survey), weights=weights)
    total = math.fsum(weight[line.response_id] for line in lines)
    women = math.fsum(weight[line.response_id] for line in lines if line.answers["sex"] == "female")
    share = weighted_share(counted, "sex", "female")
    assert share.total == pytest.approx(total)
    assert share.ratio == pytest.approx(women / total)
    assert weighted_mean(counted, "age") == pytest.approx(
        math.fsum(weight[line.response_id] * line.answers["age"] for line in lines) / total
    )


def test_a_weighted_survey_s_roster_lines_carry_their_response_s_weight(households, tmp_path):
    _, weight = weigh_by_district()
    _, lines = recount()
    members = openpyxl.load_workbook(export(households, tmp_path, "xlsx"))[MEMBERS]
    head = [c.value for c in members[1]]
    assert head[-1] == "weight"
    got = [(row[0], row[-1]) for row in members.iter_rows(min_row=2, values_only=True)]
    assert got == [(line.response_id, pytest.approx(weight[line.response_id])) for line in lines]
    unzip(export(households, tmp_path, "sav"), tmp_path / "sav")
    frame, _ = pyreadstat.read_sav(str(tmp_path / "sav" / "members.sav"))
    assert list(frame["weight"]) == pytest.approx([weight[line.response_id] for line in lines])


def test_the_review_page_shows_each_row_by_its_labels(households):
    responses, _lines = recount()
    create_user("chu@example.org", "mat-khau-dai-du", "admin")
    client = households.test_client()
    assert login(client, "chu@example.org", "mat-khau-dai-du").status_code == 302
    last = responses[-1]
    html = client.get(f"/admin/surveys/{HOUSEHOLD_SLUG}/review/{last.id}").get_data(as_text=True)
    assert "members.2" in html
    assert "Tên: Trần Văn Minh; Giới tính: Nam; Tuổi: 12" in html


def test_the_pdf_report_says_row_questions_are_counted_over_rows(households, tmp_path):
    from tests.test_report import flat, pdf_text

    _responses, lines = recount()
    out = tmp_path / "bao-cao.pdf"
    with households.app_context():
        write_survey_report(find_survey(HOUSEHOLD_SLUG), out, ExportOptions(fmt="pdf"))
    text = flat(pdf_text(out))
    assert flat(f"tính trên {len(lines)} dòng") in text
    assert flat("Giới tính") in text


@pytest.mark.parametrize("fmt", ["csv", "sav", "dta"])
def test_the_export_page_delivers_a_survey_with_rosters_as_a_zip(households, fmt):
    create_user("chu@example.org", "mat-khau-dai-du", "admin")
    client = households.test_client()
    assert login(client, "chu@example.org", "mat-khau-dai-du").status_code == 302
    page = f"/admin/surveys/{HOUSEHOLD_SLUG}/exports"
    html = client.get(page).get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post(page, data={"csrf_token": csrf, "fmt": fmt}).status_code == 303
    db.session.expire_all()
    export = db.session.scalars(sa.select(ExportFile)).one()
    assert export.status == "done"
    download = client.get(f"/admin/exports/{export.id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(download.data)) as bundle:
        assert sorted(bundle.namelist()) == [f"members.{fmt}", f"responses.{fmt}"]
    assert ".zip" in client.get(page).get_data(as_text=True)


def test_the_command_line_export_says_it_wrote_a_zip_of_the_roster_files(households, tmp_path):
    from survey_engine.cli import cli

    out = tmp_path / "ho.zip"
    result = households.test_cli_runner().invoke(
        cli, ["export", HOUSEHOLD_SLUG, "-o", str(out), "--format", "sav"]
    )
    assert result.exit_code == 0, result.output
    assert "a .zip (the survey has rosters): responses.sav, members.sav" in result.output


def test_roster_lines_beyond_the_row_limit_continue_on_a_next_sheet(
    households, tmp_path, monkeypatch
):
    from exports import responses_sheet

    _responses, lines = recount()
    monkeypatch.setattr(responses_sheet, "ROW_LIMIT", 101)  # 100 lines a sheet
    workbook = openpyxl.load_workbook(export(households, tmp_path, "xlsx"))
    parts = [MEMBERS] + [f"{MEMBERS} ({n})" for n in range(2, 2 + (len(lines) - 1) // 100)]
    assert [n for n in workbook.sheetnames if n.startswith(MEMBERS)] == parts
    got = [
        row[:2] for name in parts for row in workbook[name].iter_rows(min_row=2, values_only=True)
    ]
    assert got == [(line.response_id, line.row) for line in lines]


def libreoffice_sheets(workbook: Path, folder: Path) -> dict[str, list[list[str]]]:
    """Every sheet of `workbook` as LibreOffice Calc reads it, saved as CSV (UTF-8, each
    sheet a file of its own: the filter's last token -1), cell by cell as it shows them."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: `make test` installs it (make debian-tools)"
    folder.mkdir()
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(folder),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    sheets = {}
    for path in folder.glob(f"{workbook.stem}-*.csv"):
        with path.open(encoding="utf-8", newline="") as file:
            sheets[path.stem.removeprefix(f"{workbook.stem}-")] = list(csv.reader(file))
    return sheets


def test_libreoffice_reads_the_roster_sheet_as_written_and_computes_no_formula(
    households, tmp_path
):
    _, lines = recount()
    path = export(households, tmp_path, "xlsx")
    sheets = libreoffice_sheets(path, tmp_path / "calc")
    assert {RESPONSES, MEMBERS} <= set(sheets)
    written = openpyxl.load_workbook(path)[MEMBERS]
    expected = [
        ["" if value is None else str(value) for value in row]
        for row in written.iter_rows(values_only=True)
    ]
    assert sheets[MEMBERS] == expected and len(expected) == len(lines) + 1
    # The formula a citizen typed as a name is a name in Calc too, never its result "y".
    names = [row[2] for row in sheets[MEMBERS][1:]]
    assert HYPERLINK in names and "y" not in names
    assert names == [line.answers["member_name"] for line in lines]
