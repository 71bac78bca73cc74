"""Quotas per stratum: at most N responses per district x role, never overshot.

The accept script (Redis) and the database path each grant a place atomically with
the submission; these tests check both, in one process and with real concurrency.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey, save_definition
from survey_engine.extensions import db
from survey_engine.intake.drain import Drainer
from survey_engine.models import QuotaFill
from tests.conftest import DEMO_SLUG, demo_definition, new_id, stored_responses, valid_answers

API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
FORM = f"/s/{DEMO_SLUG}"


def with_quotas(*quotas: dict) -> dict:
    data = demo_definition()
    data["settings"] = {**(data.get("settings") or {}), "quotas": list(quotas)}
    return data


def district_role(limit: int, **limits: int) -> dict:
    quota = {"name": "district_role", "questions": ["district", "role"], "limit": limit}
    if limits:
        quota["limits"] = dict(limits)
    return quota


def publish_quotas(*quotas: dict) -> None:
    save_definition(with_quotas(*quotas), publish=True)


def answers(district: str = "da_lat", role: str = "parent") -> dict:
    commune = {"da_lat": "dl_p1", "bao_loc": "bl_p1"}[district]
    return {**valid_answers(), "district": district, "commune": commune, "role": role}


def post(client, district: str = "da_lat", role: str = "parent"):
    return client.post(API, json={"submission_id": new_id(), "answers": answers(district, role)})


def fills() -> dict[str, int]:
    survey = find_survey(DEMO_SLUG)
    rows = db.session.execute(
        sa.select(QuotaFill.quota, QuotaFill.stratum, QuotaFill.count).where(
            QuotaFill.survey_id == survey.id
        )
    )
    return {f"{q}|{s}": n for q, s, n in rows}


def strata(rows) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows:
        key = f"{row.answers['district']}|{row.answers['role']}"
        found[key] = found.get(key, 0) + 1
    return found


# -- the foundation: the accept script and the database path ------------------------------


def test_the_database_path_takes_a_place_only_while_one_is_left(app) -> None:
    publish_quotas(district_role(2, **{"bao_loc|teacher": 0}))
    client = app.test_client()
    assert [post(client).status_code for _ in range(3)] == [202, 202, 410]
    assert post(client).get_json()["error"] == "the quota of this response's group is full"
    assert post(client, "bao_loc", "parent").status_code == 202  # another stratum
    assert post(client, "bao_loc", "teacher").status_code == 410  # closed by `limits`
    assert strata(stored_responses()) == {"da_lat|parent": 2, "bao_loc|parent": 1}
    assert fills() == {"district_role|da_lat|parent": 2, "district_role|bao_loc|parent": 1}


def test_the_accept_script_takes_a_place_only_while_one_is_left(buffered_app) -> None:
    publish_quotas(district_role(2, **{"bao_loc|teacher": 0}))
    client = buffered_app.test_client()
    assert [post(client).status_code for _ in range(3)] == [202, 202, 410]
    assert post(client, "bao_loc", "parent").status_code == 202
    assert post(client, "bao_loc", "teacher").status_code == 410
    drainer = Drainer(buffered_app, buffered_app.extensions["stream_buffer"].client, name="t")
    assert drainer.drain_once() == 3
    assert strata(stored_responses()) == {"da_lat|parent": 2, "bao_loc|parent": 1}
    assert fills() == {"district_role|da_lat|parent": 2, "district_role|bao_loc|parent": 1}


def drain(app) -> None:
    drainer = Drainer(app, app.extensions["stream_buffer"].client, name="t")
    while drainer.drain_once():
        pass


def test_a_redis_that_lost_its_keys_reseeds_from_the_database(buffered_app, redis_client):
    publish_quotas(district_role(3))
    client = buffered_app.test_client()
    assert [post(client).status_code for _ in range(2)] == [202, 202]
    drain(buffered_app)
    redis_client.flushdb()  # a Redis restarted without its data
    # The web process tells the workers about the survey again within 10 s (buffer.py).
    buffered_app.extensions["stream_buffer"]._registered.clear()
    assert [post(client).status_code for _ in range(3)] == [202, 410, 410]
    drain(buffered_app)
    assert strata(stored_responses()) == {"da_lat|parent": 3}
    assert fills() == {"district_role|da_lat|parent": 3}


def test_redis_takes_places_of_a_known_group_while_the_database_is_down(buffered_app):
    """The stored counts are read only for a group Redis has no count of."""
    from tests.test_buffer import database_down

    buffered_app.config["SURVEY_CACHE_SECONDS"] = 3600  # the snapshot stays fresh
    publish_quotas(district_role(2))
    client = buffered_app.test_client()
    assert client.get(FORM).status_code == 200  # the survey snapshot is in memory
    assert post(client).status_code == 202  # da_lat|parent: counted in Redis now
    with database_down() as attempts:
        assert [post(client).status_code for _ in range(2)] == [202, 410]
        assert attempts == []  # the database was not asked
        assert post(client, "bao_loc", "parent").status_code == 503  # unknown: not guessed
    drain(buffered_app)
    assert strata(stored_responses()) == {"da_lat|parent": 2}
    assert fills() == {"district_role|da_lat|parent": 2}


@pytest.mark.parametrize("fixture", ["app", "buffered_app"])
def test_the_form_answers_410_with_the_full_page(request, fixture) -> None:
    app = request.getfixturevalue(fixture)
    publish_quotas(district_role(1))
    client = app.test_client()
    assert post(client).status_code == 202
    form = {"submission_id": new_id(), **answers()}
    form["concerns"] = ["infection", "transport"]
    reply = client.post(FORM, data=form)
    assert reply.status_code == 410


# -- the definition check ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("quotas", "problem"),
    [
        ({"q": 1}, "settings.quotas: must be a list of quotas"),
        ([district_role(1)] * 21, "settings.quotas: at most 20 quotas, got 21"),
        (["x"], "settings.quotas[0]: a quota is an object with name, questions and limit"),
        ([{**district_role(1), "name": "1x"}], "settings.quotas[0].name: letters, digits"),
        ([district_role(1), district_role(2)], "settings.quotas[1].name: repeats the quota"),
        ([{**district_role(1), "extra": 1}], "settings.quotas[0].extra: unknown property"),
        ([{**district_role(1), "questions": []}], "settings.quotas[0].questions: a list of 1 to 3"),
        (
            [{**district_role(1), "questions": ["district", "role", "support", "follow_up"]}],
            "settings.quotas[0].questions: a list of 1 to 3",
        ),
        (
            [{**district_role(1), "questions": ["district", "concerns"]}],
            "settings.quotas[0].questions[1]: 'concerns' is not a select_one question",
        ),
        (
            [{**district_role(1), "questions": ["nope"]}],
            "settings.quotas[0].questions[0]: 'nope' is not a select_one question",
        ),
        (
            [{**district_role(1), "questions": ["role", "role"]}],
            "settings.quotas[0].questions[1]: repeats the question 'role'",
        ),
        ([district_role(0)], "settings.quotas[0].limit: a whole number from 1 to 10000000"),
        ([district_role(True)], "settings.quotas[0].limit: a whole number from 1"),
        ([{**district_role(1), "limit": "5"}], "settings.quotas[0].limit: a whole number"),
        ([{**district_role(1), "limits": [1]}], "settings.quotas[0].limits: an object of"),
        ([district_role(5, da_lat=1)], "settings.quotas[0].limits.da_lat: a stratum names one"),
        (
            [district_role(5, **{"da_lat|mayor": 1})],
            "settings.quotas[0].limits.da_lat|mayor: 'mayor' is not a choice of 'role'",
        ),
        (
            [district_role(5, **{"da_lat|parent": -1})],
            "settings.quotas[0].limits.da_lat|parent: a whole number from 0",
        ),
        (
            [district_role(5, **{"da_lat|parent": 1.5})],
            "settings.quotas[0].limits.da_lat|parent: a whole number from 0",
        ),
    ],
)
def test_quota_problems_are_named_by_their_path(quotas, problem) -> None:
    from survey_engine.definition.schema import validate_definition

    data = demo_definition()
    data["settings"] = {"quotas": quotas}
    problems = validate_definition(data)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_valid_quota_passes_the_check() -> None:
    from survey_engine.definition.schema import validate_definition

    data = with_quotas(
        district_role(100, **{"da_lat|parent": 0, "bao_loc|other": 3}),
        {"name": "by_role", "questions": ["role"], "limit": 5},
    )
    assert validate_definition(data) == []


# -- the early check ---------------------------------------------------------------------


def check(client, **args: str):
    reply = client.get(f"{FORM}/quota", query_string=args)
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "public, max-age=5"
    return reply.get_json()


@pytest.mark.parametrize("fixture", ["app", "buffered_app"])
def test_the_early_check_says_full_or_not_and_nothing_more(request, fixture) -> None:
    app = request.getfixturevalue(fixture)
    publish_quotas(district_role(2, **{"bao_loc|teacher": 0}))
    client = app.test_client()
    assert check(client, district="da_lat", role="parent") == {"full": False}
    assert [post(client).status_code for _ in range(2)] == [202, 202]
    # Buffered: the accept script's count says so before anything is stored.
    assert check(client, district="da_lat", role="parent") == {"full": True}
    assert check(client, district="da_lat", role="pupil") == {"full": False}
    assert check(client, district="bao_loc", role="teacher") == {"full": True}
    # Half a stratum, unknown choices and other parameters say nothing.
    assert check(client, district="da_lat") == {"full": False}
    assert check(client, district="nowhere", role="parent") == {"full": False}
    assert check(client, support="yes", lang="en") == {"full": False}
    assert client.get("/s/no-such-survey/quota").status_code == 404


def test_the_early_check_is_kept_a_few_seconds(app) -> None:
    app.config["SURVEY_CACHE_SECONDS"] = 60
    publish_quotas(district_role(1))
    client = app.test_client()
    assert check(client, district="da_lat", role="parent") == {"full": False}
    assert post(client).status_code == 202
    assert check(client, district="da_lat", role="parent") == {"full": False}  # as it was
    app.extensions["quota_full"].clear()
    assert check(client, district="da_lat", role="parent") == {"full": True}


def test_the_page_tells_its_script_which_quotas_to_check(app) -> None:
    import json
    import re

    publish_quotas(district_role(2))
    html = app.test_client().get(FORM).get_data(as_text=True)
    logic = json.loads(re.search(r'id="survey-logic"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert logic["quotas"] == [["district", "role"]]
    assert logic["quota_url"] == f"{FORM}/quota"
    assert logic["messages"]["quota_full_title"] == "Nhóm này đã đủ số lượng"


# -- XLSForm: the quotas sheet -----------------------------------------------------------


def test_quotas_round_trip_through_the_xlsform_quotas_sheet(tmp_path) -> None:
    import openpyxl

    from survey_engine.definition.xlsform import read_xlsform
    from survey_engine.definition.xlsform_writer import write_xlsform

    definition = with_quotas(
        district_role(2000, **{"da_lat|parent": 500, "bao_loc|teacher": 0}),
        {"name": "by_role", "questions": ["role"], "limit": 300},
    )
    write_xlsform(definition, tmp_path / "quotas.xlsx")
    book = openpyxl.load_workbook(tmp_path / "quotas.xlsx")
    assert book.sheetnames == ["survey", "choices", "settings", "quotas"]
    assert [[c.value for c in row] for row in book["quotas"].iter_rows()] == [
        ["name", "questions", "limit", "stratum", "stratum_limit"],
        ["district_role", "district role", 2000, None, None],
        ["district_role", None, None, "da_lat|parent", 500],
        ["district_role", None, None, "bao_loc|teacher", 0],
        ["by_role", "role", 300, None, None],
    ]
    assert "quotas" not in [c.value for c in book["settings"][1]]
    assert read_xlsform(tmp_path / "quotas.xlsx") == definition


def test_a_hand_made_quotas_sheet_is_read_and_its_problems_named_by_row(tmp_path) -> None:
    import openpyxl

    from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform
    from survey_engine.definition.xlsform_writer import write_xlsform

    write_xlsform(demo_definition(), tmp_path / "demo.xlsx")
    book = openpyxl.load_workbook(tmp_path / "demo.xlsx")
    sheet = book.create_sheet("Quotas")
    for row in (
        ["name", "questions", "limit", "stratum", "stratum_limit"],
        ["district_role", "district  role", 100.0, "da_lat parent", 5],  # spaces, a float
        ["district_role", None, None, "bao_loc|teacher", 0],
    ):
        sheet.append(row)
    book.save(tmp_path / "hand.xlsx")
    quotas = read_xlsform(tmp_path / "hand.xlsx")["settings"]["quotas"]
    assert quotas == [district_role(100, **{"da_lat|parent": 5, "bao_loc|teacher": 0})]

    for row in (
        ["district_role", "district", 5, None, None],  # a second definition
        ["by_role", "role support concerns follow_up", "many", "x", None],
        [None, "role", 1, None, None],
    ):
        sheet.append(row)
    sheet.cell(1, 6, "colour")
    sheet.cell(2, 6, "red")
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(XLSFormInvalid) as refused:
        read_xlsform(tmp_path / "bad.xlsx")
    problems = refused.value.problems
    for expected in (
        "quotas sheet, row 4, column questions: quota 'district_role' has its questions already",
        "quotas sheet, row 4, column limit: quota 'district_role' has its limit already",
        "quotas sheet, row 5, column stratum_limit: a group's own limit needs both",
        "quotas sheet, row 6, column name: is empty",
        "column 'colour' is not supported",
        "settings.quotas[1].questions: a list of 1 to 3 select_one question names",
        "settings.quotas[1].limit: a whole number from 1 to 10000000, got 'many' "
        "(quotas sheet, row 5)",
    ):
        assert any(expected in p for p in problems), (expected, problems)
