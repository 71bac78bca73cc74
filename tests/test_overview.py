"""The staff overview (/admin/): each survey's figures agree with the database, the
search and the status filter narrow the list, and the page stays a few queries with
200 surveys."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey, save_definition, set_status
from survey_engine.extensions import db
from survey_engine.models import Response, SurveyStatus
from survey_engine.staff.accounts import create_user, share_survey
from survey_engine.staff.overview import PAGE_SIZE, fold, start_of_today
from tests.conftest import DEMO_SLUG, new_id, valid_answers
from tests.test_admin_surveys import signed_in
from tests.test_staff import PASSWORD


def small_definition(slug: str, title_vi: str, title_en: str = "") -> dict:
    return {
        "format": "survey-engine/1",
        "slug": slug,
        "title": {"vi": title_vi, "en": title_en or title_vi},
        "default_language": "vi",
        "settings": {"opens_at": None, "closes_at": None, "max_responses": None},
        "pages": [
            {
                "name": "p1",
                "title": {"vi": "Trang 1"},
                "questions": [
                    {"name": "q1", "type": "text", "label": {"vi": "Ý kiến của bạn?"}},
                ],
            }
        ],
        "choice_lists": {},
    }


def submit(client, slug: str, answers: dict) -> None:
    reply = client.post(
        f"/api/v1/surveys/{slug}/responses", json={"submission_id": new_id(), "answers": answers}
    )
    assert reply.status_code == 202, reply.get_data(as_text=True)


def row_of(html: str, slug: str) -> str:
    match = re.search(rf'<tr data-slug="{re.escape(slug)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {slug}"
    return match.group(1)


def cell(row: str, name: str) -> str:
    match = re.search(rf'<td[^>]*class="{name}"[^>]*>(.*?)</td>', row, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", " ", match.group(1)).split()


def slugs_listed(html: str) -> list[str]:
    return re.findall(r'<tr data-slug="([^"]+)">', html)


@pytest.fixture
def surveys(app):
    """The demo (published, 5 responses, 2 of them from two days ago), a published
    poll with a limit of 3 and 3 responses (full), a draft, a closed and an archived
    survey; an admin and an analyst the demo and the poll are shared with."""
    client = app.test_client()
    for _ in range(5):
        submit(client, DEMO_SLUG, valid_answers())
    demo = find_survey(DEMO_SLUG)
    older = db.session.scalars(
        sa.select(Response.id).where(Response.survey_id == demo.id).order_by(Response.id).limit(2)
    ).all()
    db.session.execute(
        sa.update(Response)
        .where(Response.id.in_(older))
        .values(submitted_at=datetime.now(UTC) - timedelta(days=2))
    )
    db.session.commit()
    poll = small_definition("tham-do-dat-dai", "Thăm dò ý kiến về quản lý đất đai", "Land poll")
    poll["settings"]["max_responses"] = 3
    save_definition(poll, publish=True)
    for _ in range(3):
        submit(client, "tham-do-dat-dai", {"q1": "đồng ý"})
    save_definition(small_definition("ban-nhap", "Khảo sát nháp"))
    closed = save_definition(small_definition("da-dong", "Khảo sát đã đóng"), publish=True)
    set_status(closed, SurveyStatus.CLOSED)
    archived = save_definition(small_definition("luu-tru", "Khảo sát lưu trữ"), publish=True)
    set_status(archived, SurveyStatus.ARCHIVED)
    db.session.commit()
    create_user("admin@example.org", PASSWORD, "admin")
    analyst = create_user("analyst@example.org", PASSWORD, "analyst")
    share_survey(analyst, find_survey(DEMO_SLUG))
    share_survey(analyst, find_survey("tham-do-dat-dai"))
    return app


def stored(slug: str, since: datetime | None = None) -> int:
    survey = find_survey(slug)
    query = sa.select(sa.func.count()).where(Response.survey_id == survey.id)
    if since is not None:
        query = query.where(Response.submitted_at >= since)
    return db.session.scalar(query)


def test_each_survey_figures_agree_with_the_database(surveys):
    html = signed_in(surveys, "admin@example.org").get("/admin/").get_data(as_text=True)
    assert slugs_listed(html) == sorted(
        ["ban-nhap", "da-dong", "luu-tru", "tham-do-dat-dai", DEMO_SLUG]
    )
    today = start_of_today()
    for slug in slugs_listed(html):
        row = row_of(html, slug)
        assert cell(row, "total") == [str(stored(slug))], slug
        assert cell(row, "today") == [str(stored(slug, today))], slug
    demo = row_of(html, DEMO_SLUG)
    assert cell(demo, "total") == ["5"] and cell(demo, "today") == ["3"]
    newest = db.session.scalar(
        sa.select(sa.func.max(Response.submitted_at)).where(
            Response.survey_id == find_survey(DEMO_SLUG).id
        )
    )
    from survey_engine.localtime import local_text

    assert " ".join(cell(demo, "last")) == local_text(newest)
    assert "Đang nhận câu trả lời: có" in " ".join(cell(demo, "state"))
    poll = row_of(html, "tham-do-dat-dai")
    state = " ".join(cell(poll, "state"))
    assert "đã đủ số câu trả lời tối đa" in state and "Giới hạn: 3 trên 3" in state
    assert "chưa công bố" in " ".join(cell(row_of(html, "ban-nhap"), "state"))
    assert cell(row_of(html, "ban-nhap"), "last") == ["chưa", "có"]
    assert "đã đóng" in " ".join(cell(row_of(html, "da-dong"), "status"))
    # Inline mode: nothing waits in a buffer.
    assert cell(demo, "backlog") == []
    # Actions: the builder for a manager, results and the questionnaire once published.
    assert f"/admin/surveys/{DEMO_SLUG}/edit" in demo and f"/s/{DEMO_SLUG}" in demo
    assert "/results" not in row_of(html, "ban-nhap")


def test_an_analyst_sees_only_the_surveys_shared_and_no_builder(surveys):
    html = signed_in(surveys, "analyst@example.org").get("/admin/").get_data(as_text=True)
    assert slugs_listed(html) == ["tham-do-dat-dai", DEMO_SLUG]
    assert "/edit" not in row_of(html, DEMO_SLUG)
    assert "/admin/surveys/new" not in html


def test_filter_by_status_and_search(surveys):
    client = signed_in(surveys, "admin@example.org")

    def listed(query: str) -> list[str]:
        return slugs_listed(client.get(f"/admin/?{query}").get_data(as_text=True))

    assert listed("status=published") == ["tham-do-dat-dai", DEMO_SLUG]
    assert listed("status=draft") == ["ban-nhap"]
    assert listed("status=archived") == ["luu-tru"]
    # Accents and case do not matter; every word must match; the slug counts too.
    assert listed("q=dat+dai") == ["tham-do-dat-dai"]
    assert listed("q=ĐẤT+đai") == ["tham-do-dat-dai"]
    assert listed("q=Land+poll") == ["tham-do-dat-dai"]
    assert listed("q=khao+sat&status=closed") == ["da-dong"]
    assert listed("q=tro-lai") == [DEMO_SLUG]
    # An unknown status is ignored, not an error.
    assert len(listed("status=nonsense")) == 5
    nothing = client.get("/admin/?q=khong+co+gi+nhu+vay")
    assert nothing.status_code == 200
    page = nothing.get_data(as_text=True)
    assert 'id="no-match"' in page and 'value="khong co gi nhu vay"' in page


def test_fold_ignores_vietnamese_accents():
    assert fold("Đất Đai Lâm Đồng") == "dat dai lam dong"


def test_backlog_counts_what_waits_in_redis(buffered_app):
    create_user("admin@example.org", PASSWORD, "admin")
    client = buffered_app.test_client()
    for _ in range(2):
        submit(client, DEMO_SLUG, valid_answers())
    html = signed_in(buffered_app, "admin@example.org").get("/admin/").get_data(as_text=True)
    row = row_of(html, DEMO_SLUG)
    assert cell(row, "backlog") == ["2"] and cell(row, "total") == ["0"]


def two_hundred_surveys(app):
    """200 more surveys (half published) and an admin signed in: 201 listed."""
    for n in range(200):
        save_definition(small_definition(f"khao-sat-{n:03}", f"Khảo sát số {n}"), publish=n % 2)
    db.session.commit()
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the words asserted in English
    return client


def test_two_hundred_surveys_take_a_few_queries(app, capsys):
    """The page's figures come from a fixed number of queries, whatever the number of
    surveys (and of the page): measured with 200."""
    client = two_hundred_surveys(app)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    client.get("/admin/?status=draft")  # warm: connections, templates, translations
    counts = []
    for query in ("", "?page=4"):
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            started = time.perf_counter()
            page = client.get(f"/admin/{query}")
            took = time.perf_counter() - started
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert page.status_code == 200
        assert len(slugs_listed(page.get_data(as_text=True))) == PAGE_SIZE
        counts.append(len(statements))
        with capsys.disabled():
            print(
                f"\noverview{query}, 201 surveys: {len(statements)} queries, {took * 1000:.0f} ms"
            )
    assert counts[0] == counts[1] <= 12, statements


def test_hundreds_of_surveys_are_paged_with_the_search_kept(app):
    client = two_hundred_surveys(app)
    html = client.get("/admin/").get_data(as_text=True)
    assert slugs_listed(html) == [f"khao-sat-{n:03}" for n in range(50)]
    assert "Surveys 1 to 50 of 201" in html
    nav = re.search(r'<nav aria-label="Pages of surveys" id="overview-pages".*?</nav>', html, re.S)
    assert nav, "no page navigation"
    assert 'href="/admin/" aria-current="page">Page 1</a>' in nav.group(0)
    assert 'href="/admin/?page=2" rel="next">Next page</a>' in nav.group(0)
    assert 'href="/admin/?page=5">Page 5</a>' in nav.group(0)  # the last, always there

    last = client.get("/admin/?page=5").get_data(as_text=True)
    assert slugs_listed(last) == [DEMO_SLUG] and "Surveys 201 to 201 of 201" in last
    assert 'rel="next"' not in last and 'href="/admin/?page=4" rel="prev"' in last
    assert slugs_listed(client.get("/admin/?page=99").get_data(as_text=True)) == [DEMO_SLUG]
    for bad in ("0", "x", "-1", "1.5", "٣"):
        assert client.get(f"/admin/?page={bad}").status_code == 400

    # The search and the status stay in the pages' links; a search's list is paged too.
    searched = client.get("/admin/?q=khao+sat&status=draft").get_data(as_text=True)
    assert len(slugs_listed(searched)) == 50 and "of 100" in searched
    assert 'href="/admin/?q=khao+sat&amp;status=draft&amp;page=2" rel="next"' in searched
    second = client.get("/admin/?q=khao+sat&status=draft&page=2").get_data(as_text=True)
    assert slugs_listed(second) == [f"khao-sat-{n:03}" for n in range(100, 200, 2)]
    # One page only: no page navigation, the plain count.
    few = client.get("/admin/?status=published&q=so+17").get_data(as_text=True)
    assert 'id="overview-pages"' not in few and "Surveys listed:" in few
