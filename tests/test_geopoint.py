"""The geopoint and barcode question types: the definition takes them, XLSForm maps
them (and refuses geotrace/geoshape with a reason), a citizen answers a place by typing
it without JavaScript, and the exports carry latitude/longitude/accuracy columns."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile

import openpyxl
import pyreadstat
import pytest

from survey_engine.catalog import find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.definition import Definition, clean_answers, validate_definition
from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import new_id, stored_responses
from tests.test_staff import PASSWORD, login, results_url

SLUG = "diem-sat-lo"
URL = f"/s/{SLUG}"


def place_definition() -> dict:
    """A landslide report: where it is (geopoint), the sign's code (barcode), a note."""
    return {
        "format": "survey-engine/1",
        "slug": SLUG,
        "title": {"vi": "Báo cáo điểm sạt lở", "en": "Landslide report"},
        "default_language": "vi",
        "pages": [
            {
                "name": "p1",
                "questions": [
                    {
                        "name": "where",
                        "type": "geopoint",
                        "label": {"vi": "Điểm sạt lở ở đâu?", "en": "Where is it?"},
                        "required": True,
                    },
                    {
                        "name": "sign",
                        "type": "barcode",
                        "label": {"vi": "Mã biển báo", "en": "Sign code"},
                    },
                    {"name": "detail", "type": "text", "label": {"vi": "Mô tả"}},
                ],
            }
        ],
    }


def check(answers: dict, lang: str = "vi"):
    return clean_answers(Definition(place_definition()), answers, lang)


# -- the definition ----------------------------------------------------------------------


def test_definition_takes_geopoint_and_barcode_and_refuses_their_wrong_properties():
    assert validate_definition(place_definition()) == []
    bad = place_definition()
    bad["pages"][0]["questions"][0]["min"] = 0
    bad["pages"][0]["questions"][1]["choices"] = "x"
    problems = [str(p) for p in validate_definition(bad)]
    assert any("a geopoint question does not take 'min'" in p for p in problems), problems
    assert any("a barcode question does not take 'choices'" in p for p in problems), problems


# -- the answer ----------------------------------------------------------------------------


def test_a_typed_place_is_stored_as_a_small_object_of_numbers():
    answers, errors = check({"where": {"lat": "11,9404", "lon": " 108.4583 ", "acc": "12.34"}})
    assert errors == {}
    assert answers["where"] == {"lat": 11.9404, "lon": 108.4583, "acc": 12.3}
    # ODK's text form from other tools: "lat lon altitude accuracy"
    answers, errors = check({"where": "11.94 108.45 1500 8"})
    assert errors == {} and answers["where"] == {"lat": 11.94, "lon": 108.45, "acc": 8.0}
    answers, _ = check({"where": {"lat": 11.94, "lon": 108.45}})
    assert answers["where"] == {"lat": 11.94, "lon": 108.45}


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"lat": "11.9", "lon": ""}, "Vui lòng nhập cả vĩ độ và kinh độ."),
        ({"lat": "91", "lon": "108"}, "Vĩ độ là một số từ -90 đến 90, ví dụ 11.9404."),
        ({"lat": "11", "lon": "-181"}, "Kinh độ là một số từ -180 đến 180, ví dụ 108.4583."),
        ({"lat": "abc", "lon": "108"}, "Vĩ độ là một số từ -90 đến 90, ví dụ 11.9404."),
        ({"lat": "11", "lon": "108", "acc": "-1"}, "Độ chính xác là số mét từ 0 đến 100000."),
        ({"lat": "11", "lon": "108", "alt": "3"}, "Vui lòng nhập cả vĩ độ và kinh độ."),
        ("nowhere", "Vui lòng nhập cả vĩ độ và kinh độ."),
        (["11", "108"], "Vui lòng nhập cả vĩ độ và kinh độ."),
    ],
)
def test_a_wrong_place_gets_a_clear_vietnamese_message(sent, message):
    _, errors = check({"where": sent})
    assert errors == {"where": message}


def test_an_empty_place_is_no_answer_and_a_required_one_is_asked_for():
    _, errors = check({"where": {"lat": "", "lon": " ", "acc": ""}}, "en")
    assert errors == {"where": "Please answer this question."}


def test_a_barcode_is_text():
    answers, errors = check({"where": "11 108", "sign": " SL-0042 "})
    assert errors == {} and answers["sign"] == "SL-0042"


# -- XLSForm -------------------------------------------------------------------------------


def xlsform_file(tmp_path, *types: str):
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label::Vietnamese (vi)"])
    for n, qtype in enumerate(types):
        survey.append([qtype, f"q{n}", f"Câu {n}"])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "form_title", "default_language"])
    settings.append(["xlsform-geo", "Địa điểm", "vi"])
    path = tmp_path / "form.xlsx"
    book.save(path)
    return path


def test_xlsform_maps_geopoint_barcode_and_files_and_writes_them_back(tmp_path):
    types = ["geopoint", "barcode", "image", "audio", "video", "file"]
    definition = read_xlsform(xlsform_file(tmp_path, *types))
    assert [q["type"] for q in definition["pages"][0]["questions"]] == types
    path = tmp_path / "back.xlsx"
    write_xlsform(definition, path)
    again = read_xlsform(path)
    assert [q["type"] for q in again["pages"][0]["questions"]] == types


def test_xlsform_refuses_geotrace_and_geoshape_with_one_clear_problem_each(tmp_path):
    with pytest.raises(XLSFormInvalid) as refused:
        read_xlsform(xlsform_file(tmp_path, "geopoint", "geotrace", "geoshape"))
    text = str(refused.value)
    assert "a line of points (geotrace) is not supported" in text
    assert "an area (geoshape) is not supported" in text
    assert text.count("not supported") == 2, text


# -- the form without JavaScript, the exports ----------------------------------------------


@pytest.fixture
def place_survey(app):
    save_definition(place_definition(), publish=True)
    return app


def test_the_form_without_javascript_takes_a_typed_place_and_keeps_it_on_errors(
    place_survey, client
):
    html = client.get(URL).get_data(as_text=True)
    for part in ("lat", "lon", "acc"):
        assert f'name="where[{part}]"' in html
    # The location button is there for the script to show, hidden without it.
    assert re.search(r'<button type="button" class="[^"]*geo-locate"[^>]* hidden>', html)
    assert "fields.js" in html
    sent = {"submission_id": new_id(), "where[lat]": "11.9404", "where[lon]": "200"}
    reply = client.post(URL, data=sent)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "Kinh độ là một số từ -180 đến 180" in page
    assert 'value="11.9404"' in page and 'value="200"' in page  # nothing lost
    assert 'href="#f-where-lat"' in page
    sent["where[lon]"] = "108,4583"
    sent["where[acc]"] = "15"
    sent["sign"] = "SL-0042"
    reply = client.post(URL, data=sent)
    assert reply.status_code == 303, reply.get_data(as_text=True)
    [stored] = stored_responses(SLUG)
    assert stored.answers["where"] == {"lat": 11.9404, "lon": 108.4583, "acc": 15.0}
    assert stored.answers["sign"] == "SL-0042"


def test_the_json_api_takes_a_place(place_survey, client):
    reply = client.post(
        f"/api/v1/surveys/{SLUG}/responses",
        json={"submission_id": new_id(), "answers": {"where": {"lat": 11.5, "lon": 108}}},
    )
    assert reply.status_code == 202, reply.get_json()
    bad = client.post(
        f"/api/v1/surveys/{SLUG}/responses",
        json={"submission_id": new_id(), "answers": {"where": {"lat": 11.5, "lon": True}}},
        headers={"Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert "where" in bad.get_json()["errors"]


def answer_places(client) -> None:
    for lat, lon, acc in ((11.9404, 108.4583, 12.0), (11.5, 107.8, None), ("=1+1", None, None)):
        answers = {"where": {"lat": lat, "lon": lon} | ({"acc": acc} if acc else {})}
        if lat == "=1+1":
            answers = {"where": "11.2 108.1", "sign": "=HYPERLINK(1)"}
        reply = client.post(
            f"/api/v1/surveys/{SLUG}/responses",
            json={"submission_id": new_id(), "answers": answers},
        )
        assert reply.status_code == 202, reply.get_json()


def run_cli(app, *args):
    result = app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_exports_carry_latitude_longitude_and_accuracy_columns(place_survey, client, tmp_path):
    answer_places(client)
    run_cli(place_survey, "export", SLUG, "-o", str(tmp_path / "out.csv"), "--format", "csv")
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["where/latitude"] for r in rows] == ["11.9404", "11.5", "11.2"]
    assert [r["where/longitude"] for r in rows] == ["108.4583", "107.8", "108.1"]
    assert [r["where/accuracy"] for r in rows] == ["12.0", "", ""]
    assert "where" not in rows[0]
    assert rows[2]["sign"] != "=HYPERLINK(1)"  # neutralised, as every text

    run_cli(place_survey, "export", SLUG, "-o", str(tmp_path / "out.xlsx"))
    book = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)
    sheet = book["Phiếu trả lời"]
    header, *body = list(sheet.iter_rows(values_only=True))
    at = header.index("where/latitude")
    assert header[at : at + 3] == ("where/latitude", "where/longitude", "where/accuracy")
    assert [row[at] for row in body] == [11.9404, 11.5, 11.2]  # numbers, not text

    run_cli(place_survey, "export", SLUG, "-o", str(tmp_path / "out.sav"), "--format", "sav")
    frame, meta = pyreadstat.read_sav(str(tmp_path / "out.sav"), user_missing=True)
    names = [n for n in frame.columns if n.startswith("where")]
    assert len(names) == 3
    assert list(frame[names[0]]) == [11.9404, 11.5, 11.2]
    assert meta.column_names_to_labels[names[1]] == "Điểm sạt lở ở đâu?: kinh độ"
    run_cli(place_survey, "export", SLUG, "-o", str(tmp_path / "out.dta"), "--format", "dta")
    dta = pyreadstat.read_dta(str(tmp_path / "out.dta"))[0]
    lon = [c for c in dta.columns if c.startswith("where")][1]
    assert list(dta[lon]) == [108.4583, 107.8, 108.1]

    # R: the bundle's script reads the three columns as numbers
    run_cli(place_survey, "export", SLUG, "-o", str(tmp_path / "out.zip"), "--format", "r")
    with zipfile.ZipFile(tmp_path / "out.zip") as bundle:
        bundle.extractall(tmp_path)
    (tmp_path / "probe.R").write_text(
        'source("responses.R")\n'
        'cat(class(responses[["where/latitude"]]), sum(responses[["where/longitude"]]),\n'
        '    attr(responses[["where/accuracy"]], "label"), sep = "\\n", file = "out.txt")\n',
        "utf-8",
    )
    rscript = shutil.which("Rscript")
    assert rscript, "R is needed (Debian's r-base-core: make debian-tools)"
    subprocess.run([rscript, "probe.R"], cwd=tmp_path, check=True, env={"LANG": "C.UTF-8"})
    assert (tmp_path / "out.txt").read_text("utf-8").splitlines() == [
        "numeric",
        "324.3583",
        "Điểm sạt lở ở đâu?: độ chính xác (mét)",
    ]


def test_the_dashboard_counts_places_and_shows_their_bounding_box(place_survey, client):
    answer_places(client)
    user = create_user("phantich@example.org", PASSWORD, "analyst")
    share_survey(user, find_survey(SLUG))
    assert login(client, "phantich@example.org").status_code == 302
    html = client.get(f"/admin/surveys/{SLUG}/results").get_data(as_text=True)
    assert "11.20000" in html and "11.94040" in html  # south, north
    assert "107.80000" in html and "108.45830" in html  # west, east
    data = client.get(results_url(SLUG)).get_json()
    where = data["questions"]["where"]
    assert where["answered"] == 3 and where["kind"] == "place"
    assert where["box"] == {"south": 11.2, "west": 107.8, "north": 11.9404, "east": 108.4583}
