"""Reviewing responses (admin/review.py, results/review.py): excluding flagged ones
changes every output alike, in each of the three views.

400 responses, 130 of them flagged (speeder or burst) and 20 accepted by staff. An
editor excludes 50 flagged ones through the review page; then the dashboard (as
rendered), the results API, the workbook (summary, cross-tab and about sheets) and
the CSV (through the export form) each equal a recount written in this file, in the
default view (excluded left out), "excluding flagged" and "all including excluded".
"""

from __future__ import annotations

import copy
import csv
import random
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from survey_engine.catalog import definition_for, find_survey, response_count
from survey_engine.definition.fake import fake_answers
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.extensions import db
from survey_engine.intake import tallies
from survey_engine.intake.replace import exclude_replaced
from survey_engine.jobs import recount_job
from survey_engine.models import AuditEvent, ExportFile, Response, ResponseStatus, ResultState
from survey_engine.results.filters import Filters
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import DEMO_SLUG, forget_login_user_per_request, stored_responses
from tests.test_export import run_cli
from tests.test_results import store
from tests.test_results_agreement import (
    BREAKDOWN,
    check_api,
    check_dashboard,
    check_workbook,
    dashboard_figures,
    recount,
)
from tests.test_staff import PASSWORD, csrf_token, login

COUNT, FLAGGED, ACCEPTED, EXCLUDE = 400, 130, 20, 50
EDITOR, ANALYST, STRANGER = "bien-tap@example.org", "phan-tich@example.org", "la@example.org"
URL = f"/admin/surveys/{DEMO_SLUG}/review"
S = ResponseStatus
VIEWS = {"default": S.COUNTED, "unflagged": S.UNFLAGGED, "all": S.ALL}


@pytest.fixture(autouse=True)
def _one_user_per_request(app):
    """Three signed-in clients in one test: each request loads its own user."""
    yield from forget_login_user_per_request(app)


def query_of(view: str) -> str:
    return "" if view == "default" else f"include={view}"


@pytest.fixture
def flagged(app):
    """The responses, their flags and statuses set as the quality checks and staff
    would have; the editor, the analyst and a stranger signed in."""
    survey = find_survey(DEMO_SLUG)
    definition = definition_for(survey.published_version())
    rng = random.Random(20261204)
    store([fake_answers(definition, rng) for _ in range(COUNT)], minutes=13)
    ids = [r.id for r in stored_responses()]
    # Only this test's flags (fake answers may look straight-lined to the quality
    # checks); flagged or not, a response is counted by the tallies all the same.
    db.session.execute(sa.update(Response).values(status=S.UNREVIEWED, flags=[]))
    for n, response_id in enumerate(rng.sample(ids, FLAGGED + ACCEPTED)):
        flag = "speeder" if n % 2 else "burst"
        values = (
            {"status": S.FLAGGED, "flags": [{"flag": flag, "reason": f"{flag} test"}]}
            if n < FLAGGED
            else {"status": S.ACCEPTED}
        )
        db.session.execute(sa.update(Response).where(Response.id == response_id).values(**values))
    for unit_id in ids[:40]:
        db.session.execute(sa.update(Response).where(Response.id == unit_id).values(unit="THCS A"))
    db.session.commit()
    share_survey(create_user(EDITOR, PASSWORD, "editor"), survey)
    share_survey(create_user(ANALYST, PASSWORD, "analyst"), survey)
    create_user(STRANGER, PASSWORD, "editor")
    clients = {}
    for email in (EDITOR, ANALYST, STRANGER):
        clients[email] = app.test_client()
        assert login(clients[email], email).status_code == 302
    return clients


def statuses() -> Counter[str]:
    return Counter(r.status for r in stored_responses())


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def flagged_ids(flag: str | None = None) -> list[int]:
    return [
        r.id
        for r in stored_responses()
        if r.status == S.FLAGGED and (flag is None or any(f["flag"] == flag for f in r.flags))
    ]


# -- the four outputs against a recount -------------------------------------------------


def check_csv(client, view: str, tmp_path: Path) -> None:
    """The export form's CSV (inline here: no Redis) holds the view's responses."""
    reply = post(client, f"/admin/surveys/{DEMO_SLUG}/exports", fmt="csv", codes="1", include=view)
    assert reply.status_code == 303, reply.get_data(as_text=True)[:500]
    export = db.session.scalars(sa.select(ExportFile).order_by(ExportFile.id.desc())).first()
    assert export.options["filters"] == ([] if view == "default" else [["include", view]])
    body = client.get(f"/admin/exports/{export.id}/download").get_data(as_text=True)
    rows = list(csv.DictReader(body.lstrip("\ufeff").splitlines()))
    wanted = [r for r in stored_responses() if r.status in VIEWS[view]]
    assert sorted(int(row["response_id"]) for row in rows) == [r.id for r in wanted]
    assert Counter(row[BREAKDOWN] for row in rows) == Counter(r.answers[BREAKDOWN] for r in wanted)


def about_rows(path: Path) -> dict[str, list]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    about = workbook[workbook.sheetnames[-1]]
    rows: dict[str, list] = {}
    label = None
    for row in about.iter_rows(values_only=True):
        label = row[0] or label
        rows.setdefault(label, []).append(list(row[1:3]))
    return rows


def check_about(path: Path, view: str) -> None:
    """The about sheet names the view and what it left out, by status and by flag."""
    rows = about_rows(path)
    left = [r for r in stored_responses() if r.status not in VIEWS[view]]
    view_words = {
        "default": "Được tính: phiếu chưa xem xét, đã chấp nhận và bị gắn cờ",
        "unflagged": "Được tính: phiếu chưa xem xét và đã chấp nhận (bỏ phiếu bị gắn cờ)",
        "all": "Được tính: mọi phiếu, kể cả phiếu đã loại",
    }
    assert rows["Phiếu được tính (xem xét)"] == [[view_words[view], None]]
    assert rows["Phiếu bị loại ra khỏi kết quả"] == [[len(left), None]]
    why = {label: n for label, n in rows.get("Lý do loại ra (trạng thái, cờ)", [])}
    by_status = Counter(r.status for r in left)
    by_flag = Counter(f["flag"] for r in left for f in r.flags)
    names = {"flagged": "bị gắn cờ", "excluded": "đã loại"}
    flags = {"speeder": "quá nhanh (speeder)", "burst": "dồn dập từ một mạng"}
    expected = {f"trạng thái {names[s]}": by_status[s] for s in S.ALL if s not in VIEWS[view]}
    expected |= {f"cờ {flags[f]}": n for f, n in by_flag.items()}
    assert why == expected


def check_every_output(clients, tmp_path: Path) -> None:
    editor, analyst = clients[EDITOR], clients[ANALYST]
    survey = find_survey(DEMO_SLUG)
    for view, counted in VIEWS.items():
        query = query_of(view)
        expected = recount(query, lambda r, counted=counted: r.status in counted)
        assert expected["responses"] == sum(n for s, n in statuses().items() if s in counted)
        check_dashboard(dashboard_figures(analyst, query), expected)
        reply = analyst.get(f"/api/v1/surveys/{DEMO_SLUG}/results?{query}")
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        assert body["include"] == view
        check_api(body, expected)
        out = tmp_path / f"{view}.xlsx"
        filters = Filters(include=view)
        export_survey(survey, out, options=ExportOptions(filters=filters, breakdown=BREAKDOWN))
        check_workbook(out, expected)
        check_about(out, view)
        check_csv(editor, view, tmp_path)
    assert response_count(survey.id) == sum(n for s, n in statuses().items() if s in S.COUNTED)


def test_excluding_50_flagged_changes_every_output_as_a_recount(flagged, tmp_path):
    check_every_output(flagged, tmp_path)  # the views before: the caches fill
    chosen = flagged_ids()[:EXCLUDE]
    reply = post(
        flagged[EDITOR], URL, action="exclude", reason="cùng một máy", ids=chosen, status="flagged"
    )
    assert reply.status_code == 303
    assert statuses()[S.EXCLUDED] == EXCLUDE
    assert {r.id for r in stored_responses() if r.status == S.EXCLUDED} == set(chosen)
    check_every_output(flagged, tmp_path)
    survey = find_survey(DEMO_SLUG)
    assert recount_job(DEMO_SLUG).differences == []
    assert tallies.stored_counts(survey.id) == tallies.recount(
        survey.id, {v.id: definition_for(v) for v in survey.versions}
    )


def test_exclude_then_accept_back_restores_the_tallies(flagged):
    survey = find_survey(DEMO_SLUG)
    before = tallies.stored_counts(survey.id)
    chosen = flagged_ids()[:EXCLUDE]
    post(flagged[EDITOR], URL, action="exclude", reason="thử", ids=chosen)
    assert response_count(survey.id) == COUNT - EXCLUDE
    assert tallies.stored_counts(survey.id) != before
    assert recount_job(DEMO_SLUG).differences == []
    post(flagged[EDITOR], URL, action="accept", reason="", ids=chosen, status="excluded")
    assert tallies.stored_counts(survey.id) == before
    assert recount_job(DEMO_SLUG).differences == []
    assert statuses()[S.ACCEPTED] == ACCEPTED + EXCLUDE
    # Flag them again: still counted, the tallies unmoved.
    post(flagged[EDITOR], URL, action="flag", reason="xem lại", ids=chosen, status="accepted")
    assert tallies.stored_counts(survey.id) == before
    assert statuses()[S.FLAGGED] == FLAGGED


def test_every_change_is_in_the_audit_log_with_its_counts(flagged):
    chosen = flagged_ids()[:3]
    post(flagged[EDITOR], URL, action="exclude", reason="trùng lặp", ids=chosen)
    post(flagged[EDITOR], f"{URL}/{chosen[0]}", action="accept", reason="")
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.like("responses_%")).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.actor, e.survey_slug) for e in events] == [
        ("responses_excluded", EDITOR, DEMO_SLUG),
        ("responses_accepted", EDITOR, DEMO_SLUG),
    ]
    assert events[0].detail["count"] == 3 and events[0].detail["reason"] == "trùng lặp"
    assert events[0].detail["previous"] == {"flagged": 3}
    assert events[1].detail["count"] == 1 and events[1].detail["previous"] == {"excluded": 1}
    # The response's page shows its history, its flags and its paradata columns.
    html = flagged[ANALYST].get(f"{URL}/{chosen[0]}").get_data(as_text=True)
    assert "trùng lặp" in html and 'id="history"' in html
    assert 'data-column="duration_seconds"' in html
    assert 'data-flag="' in html and 'id="review-one"' not in html  # analysts only read


def test_a_reason_is_required_to_exclude(flagged):
    chosen = flagged_ids()[:2]
    reply = post(flagged[EDITOR], URL, action="exclude", reason="  ", ids=chosen)
    assert reply.status_code == 303
    page = flagged[EDITOR].get(reply.headers["Location"]).get_data(as_text=True)
    assert "Hãy nêu lý do" in page
    assert statuses()[S.EXCLUDED] == 0


def test_bulk_action_over_a_filter_moves_exactly_the_matching(flagged):
    burst = flagged_ids("burst")
    page = flagged[EDITOR].get(f"{URL}?flag=burst&limit=10").get_data(as_text=True)
    assert f'data-total="{len(burst)}"' in page and page.count("data-response=") == 10
    reply = post(
        flagged[EDITOR],
        URL,
        action="exclude",
        reason="dồn dập",
        scope="matching",
        status="flagged",
        flag="burst",
    )
    assert reply.status_code == 303
    assert {r.id for r in stored_responses() if r.status == S.EXCLUDED} == set(burst)
    assert flagged_ids("burst") == [] and len(flagged_ids("speeder")) == FLAGGED - len(burst)
    # A unit and a time range narrow the same way.
    units = flagged[EDITOR].get(f"{URL}?status=any&unit=THCS+A").get_data(as_text=True)
    assert 'data-total="40"' in units
    empty = flagged[EDITOR].get(f"{URL}?status=any&from=2030-01-01").get_data(as_text=True)
    assert 'data-total="0"' in empty
    assert recount_job(DEMO_SLUG).differences == []


def test_who_may_review(flagged, app):
    chosen = flagged_ids()[:1]
    analyst, stranger = flagged[ANALYST], flagged[STRANGER]
    listing = analyst.get(URL)
    assert listing.status_code == 200 and 'name="ids"' not in listing.get_data(as_text=True)
    assert post(analyst, URL, action="exclude", reason="x", ids=chosen).status_code == 403
    assert post(analyst, f"{URL}/{chosen[0]}", action="exclude", reason="x").status_code == 403
    assert stranger.get(URL).status_code == 403
    assert stranger.get(f"{URL}/{chosen[0]}").status_code == 403
    assert post(stranger, URL, action="exclude", reason="x", ids=chosen).status_code == 403
    assert flagged[EDITOR].get("/admin/surveys/khong-co/review").status_code == 404
    assert flagged[EDITOR].get(f"{URL}/999999").status_code == 404
    assert app.test_client().get(URL).status_code == 302  # to the sign-in page
    # Without the CSRF token, nothing changes.
    plain = flagged[EDITOR].post(URL, data={"action": "exclude", "reason": "x", "ids": chosen})
    assert plain.status_code == 400
    assert statuses()[S.EXCLUDED] == 0


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "from=2026-13-01",
        "limit=0",
        "limit=abc",
        "page=0",
        "from=2026-11-20&to=2026-11-01",
    ],
)
def test_bad_list_parameters_are_a_400(flagged, query):
    assert flagged[EDITOR].get(f"{URL}?{query}").status_code == 400


def test_the_survey_and_results_pages_link_to_the_review(flagged):
    survey_page = flagged[EDITOR].get(f"/admin/surveys/{DEMO_SLUG}").get_data(as_text=True)
    assert 'id="review-link"' in survey_page
    results = flagged[ANALYST].get(f"/admin/surveys/{DEMO_SLUG}/results").get_data(as_text=True)
    assert f'href="{URL}"' in results and 'name="include"' in results


def test_a_review_that_leaves_the_totals_as_they_were_still_refreshes_the_views(flagged):
    """Five let back in and five others excluded: the same totals, other responses.
    The views count by response id and the count alone would not tell: the review
    stamp in the cache's key and the saved states forgotten do."""
    editor, analyst = flagged[EDITOR], flagged[ANALYST]
    first, second = flagged_ids()[:5], flagged_ids()[5:10]
    post(editor, URL, action="exclude", reason="một", ids=first)
    for view in VIEWS:
        dashboard_figures(analyst, query_of(view))  # cached and saved
    post(editor, URL, action="accept", reason="", ids=first, status="excluded")
    post(editor, URL, action="exclude", reason="hai", ids=second)
    for view, counted in VIEWS.items():
        query = query_of(view)
        expected = recount(query, lambda r, counted=counted: r.status in counted)
        check_dashboard(dashboard_figures(analyst, query), expected)
        check_api(analyst.get(f"/api/v1/surveys/{DEMO_SLUG}/results?{query}").get_json(), expected)


def test_the_command_line_export_offers_the_three_views(flagged, app, tmp_path):
    chosen = flagged_ids()[:EXCLUDE]
    post(flagged[EDITOR], URL, action="exclude", reason="cùng một máy", ids=chosen)
    for view, counted in VIEWS.items():
        out = tmp_path / f"{view}.csv"
        run_cli(app, "export", DEMO_SLUG, "-o", str(out), "--include", view)
        rows = list(csv.DictReader(out.read_text("utf-8-sig").splitlines()))
        wanted = [r.id for r in stored_responses() if r.status in counted]
        assert sorted(int(row["response_id"]) for row in rows) == wanted
    # Recount keeps working: the default set, equal to the tallies after the review.
    result = run_cli(app, "recount", DEMO_SLUG)
    assert f"{COUNT - EXCLUDE} responses" in result.output


def test_a_review_forgets_the_saved_counts_it_changes(flagged):
    """Views counting by status are counted again; the view of every response (no
    status changes it) is carried on from its saved state."""
    for view in VIEWS:
        dashboard_figures(flagged[ANALYST], query_of(view))
    survey = find_survey(DEMO_SLUG)
    states = db.session.scalars(
        sa.select(ResultState.view).where(ResultState.survey_id == survey.id)
    ).all()
    assert len(states) == len(VIEWS)
    post(flagged[EDITOR], URL, action="exclude", reason="x", ids=flagged_ids()[:5])
    db.session.expire_all()
    kept = db.session.scalars(
        sa.select(ResultState.view).where(ResultState.survey_id == survey.id)
    ).all()
    assert [view["args"] for view in kept] == [[["include", "all"]]]


def test_an_unknown_view_is_a_400(flagged):
    analyst = flagged[ANALYST]
    assert analyst.get(f"/api/v1/surveys/{DEMO_SLUG}/results?include=some").status_code == 400
    assert analyst.get(f"/admin/surveys/{DEMO_SLUG}/results?include=some").status_code == 400
    reply = post(flagged[EDITOR], f"/admin/surveys/{DEMO_SLUG}/exports", fmt="csv", include="x")
    assert reply.status_code == 400


def test_a_replaced_answer_refreshes_the_views(flagged):
    """allow_edit: a later answer from the same device is stored as the earlier one is
    excluded (intake/replace.py), the count unchanged: the views count afresh."""
    analyst = flagged[ANALYST]
    for view in VIEWS:
        dashboard_figures(analyst, query_of(view))
    survey = find_survey(DEMO_SLUG)
    earlier = next(r for r in stored_responses() if r.status == S.UNREVIEWED)
    exclude_replaced([(survey.id, earlier.submission_id)])
    later = copy.deepcopy(earlier.answers)
    later["district"] = "bao_loc" if later.get("district") != "bao_loc" else "da_lat"
    store([later], start=-1)  # the same transaction as the exclusion, as persist_batch
    assert response_count(survey.id) == COUNT
    for view, counted in VIEWS.items():
        query = query_of(view)
        expected = recount(query, lambda r, counted=counted: r.status in counted)
        check_dashboard(dashboard_figures(analyst, query), expected)
