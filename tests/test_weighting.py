"""The demo weighted to a planted population margin: every output moves alike.

Staff upload margins (role and district shares unlike the sample's) on the weighting
page; the weights are computed over the responses the dashboard counts (those excluded
in review carry none). Then the dashboard, the results API, the workbook (summary and
responses sheets), the CSV, the data API, the SPSS and Stata files (pyreadstat, GNU
PSPP) and the quick report (pdftotext) are held, in one test, to one recount written
out here from the stored responses and the stored cell weights: the weighted share of
every choice of every single- and multiple-choice question, its interval on Kish's
effective n, and each response's weight.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import statistics
from collections import Counter

import openpyxl
import pyreadstat
import pytest
import sqlalchemy as sa

from survey_engine.catalog import definition_for, find_survey
from survey_engine.definition.fake import fake_answers
from survey_engine.exporting.report import write_survey_report
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.extensions import db
from survey_engine.models import Response, ResponseStatus, SurveyWeighting
from survey_engine.results.charts import TRACK_END
from survey_engine.results.filters import Filters
from survey_engine.results.weights import current_weights
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import DEMO_SLUG, stored_responses
from tests.test_data_files import pspp_csv
from tests.test_export import summary_tables
from tests.test_raking import r_survey_rake
from tests.test_report import flat, pdf_text
from tests.test_results import store
from tests.test_results_agreement import dashboard_figures
from tests.test_staff import PASSWORD, login

EDITOR = "gia-quyen@example.org"
RESPONSES = 600
EXCLUDED = 25
# The planted population: far from the fake sample's even spread of roles.
ROLE_SHARES = {"parent": 0.55, "pupil": 0.2, "teacher": 0.15, "other": 0.1}
DA_LAT = 0.4  # the other eleven districts share the rest evenly
QUESTIONS = ("district", "role", "support", "levels", "concerns", "follow_up")
MATRIX_ROWS = ("masks", "half_classes", "testing")  # of the matrix `measures`
SCALES = ("school_rating", "recommend")  # a rating and a 0-10 scale, shown by point
Z = statistics.NormalDist().inv_cdf(0.975)


def _margins_csv(districts: list[str]) -> bytes:
    lines = ["variable,category,share"]
    lines += [f"role,{role},{share}" for role, share in ROLE_SHARES.items()]
    rest = (1 - DA_LAT) / (len(districts) - 1)
    lines += [f"district,{d},{DA_LAT if d == 'da_lat' else rest}" for d in districts]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def weighted_demo(app):
    survey = find_survey(DEMO_SLUG)
    definition = definition_for(survey.published_version())
    rng = random.Random(20261205)
    store([fake_answers(definition, rng) for _ in range(RESPONSES)])
    excluded = [r.id for r in stored_responses()[:EXCLUDED]]
    db.session.execute(
        sa.update(Response).where(Response.id.in_(excluded)).values(status=ResponseStatus.EXCLUDED)
    )
    db.session.commit()
    share_survey(create_user(EDITOR, PASSWORD, "editor"), survey)
    client = app.test_client()
    assert login(client, EDITOR).status_code == 302
    districts = [c["name"] for c in definition.data["choice_lists"]["districts"]]
    reply = client.post(
        f"/admin/surveys/{DEMO_SLUG}/weights",
        data={
            "margins": (io.BytesIO(_margins_csv(districts)), "dan-so.csv"),
            "low": "0.1",
            "high": "10",
            "csrf_token": csrf_token(client),
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    return client


def csrf_token(client) -> str:
    page = client.get(f"/admin/surveys/{DEMO_SLUG}/weights").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def wilson(p: float, n: float) -> tuple[float, float]:
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def recount() -> dict:
    """Per question and choice: (weighted share of those who answered, low, high), the
    interval on the effective n of those who answered; and each response's weight."""
    weights = current_weights(find_survey(DEMO_SLUG).id)
    assert weights is not None
    counted = [r for r in stored_responses() if r.status != ResponseStatus.EXCLUDED]
    assert len(counted) == RESPONSES - EXCLUDED

    def shares_of(choices_of) -> dict[str, tuple[float, float, float]]:
        by_choice: Counter[str] = Counter()
        total = squares = 0.0
        for r in counted:
            chosen = choices_of(r.answers)
            if chosen is None:
                continue
            w = weights.weight_of(r.answers)
            total += w
            squares += w * w
            for choice in chosen:
                by_choice[choice] += w
        n_eff = total * total / squares
        return {c: (x / total, *wilson(x / total, n_eff)) for c, x in by_choice.items()}

    def as_list(value):
        return None if value is None else value if isinstance(value, list) else [value]

    shares = {name: shares_of(lambda a, name=name: as_list(a.get(name))) for name in QUESTIONS}
    for row in MATRIX_ROWS:
        shares[f"measures/{row}"] = shares_of(
            lambda a, row=row: as_list((a.get("measures") or {}).get(row))
        )
    for name in SCALES:  # each point of the scale
        shares[name] = shares_of(lambda a, name=name: as_list(a.get(name)) and [str(a[name])])
    shares["priorities"] = shares_of(lambda a: a.get("priorities") and a["priorities"][:1])
    children = [(weights.weight_of(r.answers), r.answers.get("children")) for r in counted]
    children = [(w, x) for w, x in children if isinstance(x, int)]
    return {
        "shares": shares,
        "children_mean": sum(w * x for w, x in children) / sum(w for w, _ in children),
        "weight": {
            r.id: None if r.status == ResponseStatus.EXCLUDED else weights.weight_of(r.answers)
            for r in stored_responses()
        },
    }


def test_the_planted_margin_moves_every_output_alike(weighted_demo, tmp_path):
    """The dashboard, the results API, the workbook (summary and responses sheets), the
    CSV, the data API, the SPSS and Stata files and the report, against one recount."""
    expected = recount()
    shares = expected["shares"]
    # The weighting did what it was asked: the weighted roles are the planted shares.
    for role, share in ROLE_SHARES.items():
        assert shares["role"][role][0] == pytest.approx(share, abs=1e-6)
    assert shares["district"]["da_lat"][0] == pytest.approx(DA_LAT, abs=1e-6)

    page = dashboard_figures(weighted_demo, "")
    api = weighted_demo.get(f"/api/v1/surveys/{DEMO_SLUG}/results").get_json()
    assert api["weighted_by"] == ["role", "district"]
    path = tmp_path / "ket-qua.xlsx"
    export_survey(find_survey(DEMO_SLUG), path, options=ExportOptions())
    book = openpyxl.load_workbook(path, read_only=True)
    summary_rows = list(book.worksheets[0].iter_rows(values_only=True))
    selects, _ = summary_tables(book.worksheets[0])
    weighted_cells = {
        (title.split(": ")[0], row[1]): row[7:10]
        for title, rows in _tables(summary_rows)
        for row in rows
    }
    for name in QUESTIONS:
        for choice, (ratio, low, high) in shares[name].items():
            where = f"{name}={choice}"
            a = page.questions[name]["choices"][choice]
            assert float(a["data-weighted"]) == pytest.approx(ratio, rel=1e-9), where
            assert float(a["data-weighted-low"]) == pytest.approx(low, rel=1e-9), where
            assert float(a["data-weighted-high"]) == pytest.approx(high, rel=1e-9), where
            got = api["questions"][name]["choices"][choice]["weighted"]
            assert (got["ratio"], got["ci_low"], got["ci_high"]) == pytest.approx(
                (ratio, low, high), rel=1e-9
            ), where
            assert weighted_cells[(name, choice)] == pytest.approx((ratio, low, high), rel=1e-9)
            assert name in selects  # the unweighted table is still there
    # A matrix's rows, a scale's points and a ranking's first place, alike; the weighted
    # mean of a number.
    for key in [f"measures/{row}" for row in MATRIX_ROWS] + [*SCALES, "priorities"]:
        name, _, row = key.partition("/")
        shown = page.questions[name]
        assert shares[key], key
        for choice, (ratio, low, high) in shares[key].items():
            where = f"{key}={choice}"
            a = shown["rows"][row]["cells"][choice] if row else shown["choices"][choice]
            assert (
                float(a["data-weighted"]),
                float(a["data-weighted-low"]),
                float(a["data-weighted-high"]),
            ) == pytest.approx((ratio, low, high), rel=1e-9), where
            question = api["questions"][name]
            got = (
                question["matrix"][row]["choices"][choice]["weighted"]
                if row
                else question["rank"][choice]["weighted_first"]
                if name == "priorities"
                else question["distribution"][choice]["weighted"]
            )
            assert (got["ratio"], got["ci_low"], got["ci_high"]) == pytest.approx(
                (ratio, low, high), rel=1e-9
            ), where
            if row:
                assert weighted_cells[(key, choice)] == pytest.approx(
                    (ratio, low, high), rel=1e-9
                ), where
    # The charts mark each weighted share across its bar (role's bars in list order).
    html = weighted_demo.get(f"/admin/surveys/{DEMO_SLUG}/results").get_data(as_text=True)
    chart = html.split('id="chart-role"', 1)[1].split("</svg>", 1)[0]
    marks = [float(x) for x in re.findall(r'class="weighted" x1="([0-9.]+)%"', chart)]
    assert marks == pytest.approx(
        [shares["role"][role][0] * TRACK_END for role in ROLE_SHARES], abs=0.006
    )
    mean = expected["children_mean"]
    assert float(page.questions["children"]["numbers"]["data-weighted-mean"]) == pytest.approx(
        mean, rel=1e-9
    )
    assert api["questions"]["children"]["numbers"]["weighted_mean"] == pytest.approx(mean, rel=1e-9)
    _, numbers = summary_tables(book.worksheets[0])
    assert numbers["children"]["weighted_mean"] == pytest.approx(mean, rel=1e-9)
    # The responses sheet and the CSV carry each response's weight, none when excluded.
    responses = book["Phiếu trả lời"] if "Phiếu trả lời" in book.sheetnames else book.worksheets[1]
    rows = list(responses.iter_rows(values_only=True))
    header = rows[0]
    assert header[-1] == "weight"
    got_weights = {row[0]: row[-1] for row in rows[1:]}
    counted = {i: w for i, w in expected["weight"].items() if w is not None}
    assert got_weights.keys() == counted.keys()  # the excluded are left out by default
    for response_id, weight in counted.items():
        assert got_weights[response_id] == pytest.approx(weight, rel=1e-12)
    # Every response, the excluded too: theirs is blank.
    csv_path = tmp_path / "ket-qua.csv"
    every = ExportOptions(fmt="csv", filters=Filters(include="all"))
    export_survey(find_survey(DEMO_SLUG), csv_path, options=every)
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0][-1] == "weight"
    assert len(table) - 1 == RESPONSES
    # The data API: each response's weight, by page, the excluded ones too (include=all).
    got: dict[int, float | None] = {}
    url = f"/api/v1/surveys/{DEMO_SLUG}/responses?include=all&limit=250"
    while url:
        body = weighted_demo.get(url).get_json()
        got.update({r["id"]: r["weight"] for r in body["responses"]})
        url = (
            f"/api/v1/surveys/{DEMO_SLUG}/responses?include=all&limit=250"
            f"&cursor={body['next_cursor']}"
            if body["more"]
            else ""
        )
    assert got.keys() == expected["weight"].keys()
    for response_id, weight in expected["weight"].items():
        assert got[response_id] == (pytest.approx(weight, rel=1e-12) if weight else None)
    for row in table[1:]:
        weight = expected["weight"][int(row[0])]
        assert (float(row[-1]) if row[-1] else None) == (
            pytest.approx(weight, rel=1e-12) if weight is not None else None
        )
    check_data_files(tmp_path, expected["weight"])
    check_report(tmp_path, shares)


def test_the_cross_tab_sheet_weights_each_district_s_column(weighted_demo, tmp_path):
    weights = current_weights(find_survey(DEMO_SLUG).id)
    counted = [r for r in stored_responses() if r.status != ResponseStatus.EXCLUDED]
    sums: Counter[tuple[str, str]] = Counter()
    for r in counted:
        if r.answers.get("support") is not None:
            w = weights.weight_of(r.answers)
            sums[(r.answers.get("district") or "", "")] += w
            sums[(r.answers.get("district") or "", r.answers["support"])] += w
    path = tmp_path / "theo-huyen.xlsx"
    export_survey(find_survey(DEMO_SLUG), path, options=ExportOptions(breakdown="district"))
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[1]
    rows = list(sheet.iter_rows(values_only=True))
    districts = [c for c in rows[3][2:] if c is not None][:-1]  # labels; codes by order
    codes = [
        c["name"]
        for c in definition_for(find_survey(DEMO_SLUG).published_version()).data["choice_lists"][
            "districts"
        ]
    ]
    assert len(districts) == len(codes)
    title = next(i for i, row in enumerate(rows) if str(row[0] or "").startswith("support:"))
    start = next(i for i in range(title, len(rows)) if rows[i][0] == "% theo cột (có gia quyền)")
    checked = 0
    for row in rows[start + 1 : start + 4]:
        choice = row[1]
        for j, district in enumerate(codes):
            expected = (
                sums[(district, choice)] / sums[(district, "")] if sums[(district, "")] else None
            )
            assert row[2 + j] == pytest.approx(expected, rel=1e-9), (district, choice)
            checked += 1
    assert checked == 3 * len(codes)


def test_the_dashboard_s_cross_tab_weighs_its_rows_and_columns(weighted_demo):
    """support × district: each cell's weighted row and column percentages, with their
    intervals on the effective n of the row's (column's) respondents."""
    weights = current_weights(find_survey(DEMO_SLUG).id)
    both = [
        (weights.weight_of(r.answers), r.answers["support"], r.answers["district"])
        for r in stored_responses()
        if r.status != ResponseStatus.EXCLUDED
        and r.answers.get("support") is not None
        and r.answers.get("district") is not None
    ]
    url = f"/admin/surveys/{DEMO_SLUG}/results?row=support&col=district"
    html = weighted_demo.get(url).get_data(as_text=True)
    checked = 0
    for table, base in (("row", 1), ("col", 2)):
        body = html.split(f'id="crosstab-{table}"', 1)[1].split("</table>", 1)[0]
        for row_html in body.split("<tr ")[1:]:
            support = re.match(r'data-choice="([^"]+)"', row_html)[1]
            for district, weighted, low, high in re.findall(
                r'<td class="num" data-choice="([^"]+)"[^>]* data-weighted="([^"]*)" '
                r'data-weighted-low="([^"]*)" data-weighted-high="([^"]*)"',
                row_html,
            ):
                key = (None, support, district)[base]
                group = [(w, s, d) for w, s, d in both if (s, d)[base - 1] == key]
                total = sum(w for w, _, _ in group)
                ratio = sum(w for w, s, d in group if (s, d) == (support, district)) / total
                n_eff = total**2 / sum(w * w for w, _, _ in group)
                assert (float(weighted), float(low), float(high)) == pytest.approx(
                    (ratio, *wilson(ratio, n_eff)), rel=1e-9
                ), (table, support, district)
                checked += 1
    assert checked >= 2 * 3 * 10  # three answers to support, a dozen districts


def test_r_survey_package_gives_every_response_the_same_weight(weighted_demo, tmp_path):
    """The demo's weights, made again by R's survey::rake() from the counted responses
    one by one and the same margins: every response's weight agrees (ours average 1,
    R's add up to the margins' total)."""
    survey = find_survey(DEMO_SLUG)
    weights = current_weights(survey.id)
    stored = db.session.get(SurveyWeighting, survey.id)
    assert weights is not None and stored.report["converged"] and not stored.report["trimmed_cells"]
    counted = [r for r in stored_responses() if r.status != ResponseStatus.EXCLUDED]
    rows = [{"role": r.answers["role"], "district": r.answers["district"]} for r in counted]
    margins = {
        variable: {c: share * 1000 for c, share in targets.items()}
        for variable, targets in stored.margins.items()
    }
    theirs = r_survey_rake(tmp_path, rows, [1.0] * len(rows), margins)
    for response, their_weight in zip(counted, theirs, strict=True):
        ours = weights.weight_of(response.answers)
        assert ours == pytest.approx(their_weight * len(counted) / 1000, rel=1e-7)


def check_data_files(tmp_path, weights: dict) -> None:
    """SPSS (read by pyreadstat and by GNU PSPP) and Stata (pyreadstat): the weight
    variable of every response, none for the excluded ones."""
    every = Filters(include="all")
    sav, dta = tmp_path / "ket-qua.sav", tmp_path / "ket-qua.dta"
    export_survey(find_survey(DEMO_SLUG), sav, options=ExportOptions(fmt="sav", filters=every))
    export_survey(find_survey(DEMO_SLUG), dta, options=ExportOptions(fmt="dta", filters=every))
    for path, reader in ((sav, pyreadstat.read_sav), (dta, pyreadstat.read_dta)):
        frame, meta = reader(str(path))
        assert "weight" in frame.columns, meta.column_names[-3:]
        got = dict(zip(frame["response_id"].astype(int), frame["weight"], strict=True))
        assert got.keys() == weights.keys()
        for response_id, weight in weights.items():
            value = got[response_id]
            if weight is None:
                assert math.isnan(value), (path.suffix, response_id)
            else:
                assert value == pytest.approx(weight, rel=1e-12), (path.suffix, response_id)
    rows = pspp_csv(sav, tmp_path, "VALUES")
    assert len(rows) == RESPONSES
    for row in rows:
        weight = weights[int(float(row["response_id"]))]
        cell = row["weight"].strip()
        if weight is None:
            assert cell == "", row["response_id"]
        else:
            assert float(cell) == pytest.approx(weight, rel=1e-6)  # PSPP's printed digits


def vi_percent(ratio: float) -> str:
    """A share as the Vietnamese report writes it: 55,0%."""
    return f"{ratio * 100:.1f}".replace(".", ",") + "%"


def check_report(tmp_path, shares: dict) -> None:
    """The quick report (pdftotext): each choice's weighted share beside the counted one,
    the top answer's reading with its weighted estimate, the weighting on the cover."""
    path = tmp_path / "bao-cao.pdf"
    write_survey_report(find_survey(DEMO_SLUG), path, ExportOptions(fmt="pdf"))
    text = flat(pdf_text(path))
    assert "Gia quyền (raking) theo phân bố tổng thể của" in text
    for name in ("role", "support", "follow_up"):
        # Each question's table: counted | weighted, a cell "55,0% 49,3–60,6%" each;
        # the reading names the top answer with its weighted estimate too.
        for ratio, low, high in shares[name].values():
            cell = f"{vi_percent(ratio)} {vi_percent(low)[:-1]}–{vi_percent(high)}"
            assert cell in text, (name, cell)
        top = max(shares[name].values())
        reading = (
            f"có gia quyền {vi_percent(top[0])} ({vi_percent(top[1])[:-1]}–{vi_percent(top[2])})"
        )
        assert reading in text, (name, reading)
    # The breakdown by district: a cell's weighted share with its interval on the
    # effective n of those in its district who answered.
    weights = current_weights(find_survey(DEMO_SLUG).id)
    in_da_lat = [
        (weights.weight_of(r.answers), r.answers["support"])
        for r in stored_responses()
        if r.status != ResponseStatus.EXCLUDED
        and r.answers.get("district") == "da_lat"
        and r.answers.get("support") is not None
    ]
    total = sum(w for w, _ in in_da_lat)
    n_eff = total**2 / sum(w * w for w, _ in in_da_lat)
    for choice in {answer for _, answer in in_da_lat}:
        ratio = sum(w for w, answer in in_da_lat if answer == choice) / total
        low, high = wilson(ratio, n_eff)
        cell = f"có gia quyền {vi_percent(ratio)} ({vi_percent(low)[:-1]}–{vi_percent(high)})"
        assert cell in text, ("support in Đà Lạt", choice, cell)


def _tables(rows: list[tuple]) -> list[tuple[str, list[tuple]]]:
    """(title, choice rows) of each select table of the summary sheet."""
    tables = []
    for i, row in enumerate(rows[:-1]):
        if rows[i + 1][0] == "Phương án":
            j, body = i + 2, []
            while rows[j][0] != "Số người trả lời":
                body.append(rows[j])
                j += 1
            tables.append((row[0], body))
    return tables


def test_the_weighting_page_refuses_a_bad_file_and_keeps_the_weights(weighted_demo):
    before = current_weights(find_survey(DEMO_SLUG).id)
    reply = weighted_demo.post(
        f"/admin/surveys/{DEMO_SLUG}/weights",
        data={
            "margins": (io.BytesIO(b"variable,category,count\nrole,phi_hanh_gia,5\n"), "x.csv"),
            "low": "0.2",
            "high": "5",
            "csrf_token": csrf_token(weighted_demo),
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 422
    assert "Dòng 2: &#39;phi_hanh_gia&#39; không phải phương án của role." in reply.get_data(
        as_text=True
    )
    assert current_weights(find_survey(DEMO_SLUG).id) == before
    page = weighted_demo.get(f"/admin/surveys/{DEMO_SLUG}/weights").get_data(as_text=True)
    assert 'id="weighting-convergence"' in page and "hội tụ" in page
    reply = weighted_demo.post(
        f"/admin/surveys/{DEMO_SLUG}/weights",
        data={"action": "remove", "csrf_token": csrf_token(weighted_demo)},
    )
    assert reply.status_code == 302 and current_weights(find_survey(DEMO_SLUG).id) is None
    api = weighted_demo.get(f"/api/v1/surveys/{DEMO_SLUG}/results").get_json()
    assert (
        api["weighted_by"] == [] and "weighted" not in api["questions"]["role"]["choices"]["parent"]
    )
