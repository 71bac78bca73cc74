"""The staff survey page: who may see, change, upload and download what."""

from __future__ import annotations

import io
import json
import re
import tempfile
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa
from flask import g

from survey_engine.catalog import find_survey
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.extensions import db
from survey_engine.models import Survey, SurveyShare, SurveyVersion
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_staff import PASSWORD, login

DATA = Path(__file__).resolve().parent / "data" / "xlsform"
PAGE = f"/admin/surveys/{DEMO_SLUG}"
DRAFT_SLUG = "nhap-thu"


def token_of(client, url: str = "/admin/logout") -> str:
    g.pop("csrf_token", None)
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def post(client, url: str, data: dict | None = None, **kwargs):
    return client.post(url, data={"csrf_token": token_of(client), **(data or {})}, **kwargs)


def upload(client, url: str, name: str, content: bytes):
    return post(
        client, url, {"definition": (io.BytesIO(content), name)}, content_type="multipart/form-data"
    )


def draft_definition(slug: str = DRAFT_SLUG) -> dict:
    return {**demo_definition(), "slug": slug}


@pytest.fixture
def people(app):
    """Editor and analyst the demo is shared with, an editor it is not, an admin."""
    survey = find_survey(DEMO_SLUG)
    for email, role in (
        ("editor@example.org", "editor"),
        ("analyst@example.org", "analyst"),
        ("other@example.org", "editor"),
        ("admin@example.org", "admin"),
    ):
        user = create_user(email, PASSWORD, role)
        if email in ("editor@example.org", "analyst@example.org"):
            share_survey(user, survey)
    return app


def versions_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(SurveyVersion))


GETS = [PAGE, f"{PAGE}/definition.xlsx", f"{PAGE}/definition.json", f"{PAGE}/responses.xlsx"]
POSTS = [f"{PAGE}/close", f"{PAGE}/publish", f"{PAGE}/archive", f"{PAGE}/reopen"]
# who -> (GET status, lifecycle and upload POST status, may create surveys)
MATRIX = {
    "editor@example.org": (200, 302, True),
    "analyst@example.org": (200, 403, False),
    "other@example.org": (403, 403, True),
    "admin@example.org": (200, 302, True),
}


def test_anonymous_is_sent_to_login(people):
    client = people.test_client()
    for url in GETS + ["/admin/surveys/new"]:
        reply = client.get(url)
        assert reply.status_code == 302 and "/admin/login" in reply.headers["Location"], url
    token = token_of(client, "/admin/login")
    for url in POSTS + [PAGE, "/admin/surveys/new"]:
        reply = client.post(url, data={"csrf_token": token})
        assert reply.status_code == 302 and "/admin/login" in reply.headers["Location"], url


@pytest.mark.parametrize("email", list(MATRIX))
def test_role_matrix(people, email):
    get_status, post_status, creates = MATRIX[email]
    client = signed_in(people, email)
    for url in GETS:
        assert client.get(url).status_code == get_status, url
    for url in POSTS:  # publish/close/reopen/archive: each allowed one redirects back
        assert post(client, url).status_code == post_status, url
    new_page = client.get("/admin/surveys/new").status_code
    assert new_page == (200 if creates else 403)
    content = json.dumps(demo_definition()).encode()
    reply = upload(client, PAGE, "demo.json", content)
    assert reply.status_code == post_status
    reply = upload(
        client, "/admin/surveys/new", f"{email}.json", json.dumps(draft_definition()).encode()
    )
    if creates:
        assert reply.status_code == 302
        assert reply.headers["Location"] == f"/admin/surveys/{DRAFT_SLUG}"
    else:
        assert reply.status_code == 403 and find_survey(DRAFT_SLUG) is None


def test_survey_page_shows_status_versions_and_counts(people):
    client = signed_in(people, "analyst@example.org")
    html = client.get(PAGE).get_data(as_text=True)
    assert 'id="status">đã công bố' in html and 'id="responses">0' in html
    version = find_survey(DEMO_SLUG).versions[0]
    published = version.published_at
    if published.tzinfo is None:  # SQLite gives naive UTC back
        published = published.replace(tzinfo=UTC)
    local = published.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert local.utcoffset() == timedelta(hours=7)
    assert local.strftime("%Y-%m-%d %H:%M") in html
    assert "definition.xlsx" in html and "responses.xlsx" in html
    assert "<button" not in html  # an analyst changes nothing


def test_bad_json_lists_every_problem_and_stores_nothing(people):
    client = signed_in(people, "editor@example.org")
    before = versions_count()
    bad = {**draft_definition(), "format": "khac"}
    bad["pages"][0]["questions"][0]["type"] = "không-có"
    reply = upload(client, "/admin/surveys/new", "bad.json", json.dumps(bad).encode())
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "format" in html and "pages[0].questions[0]" in html
    reply = upload(client, "/admin/surveys/new", "broken.json", b'{"slug": ')
    assert reply.status_code == 422 and "JSON" in reply.get_data(as_text=True)
    reply = upload(client, PAGE, "bad.json", json.dumps({**bad, "slug": DEMO_SLUG}).encode())
    assert reply.status_code == 422 and "pages[0].questions[0]" in reply.get_data(as_text=True)
    reply = upload(client, PAGE, "other.json", json.dumps(draft_definition()).encode())
    assert reply.status_code == 422 and DRAFT_SLUG in reply.get_data(as_text=True)
    assert versions_count() == before and find_survey(DRAFT_SLUG) is None


def test_upload_xlsform_then_publish_close_archive(people):
    client = signed_in(people, "editor@example.org")
    # an old .xls, as pyxform's example forms still are
    examples = DATA / "pyxform_examples"
    reply = upload(client, "/admin/surveys/new", "group.xls", (examples / "group.xls").read_bytes())
    assert reply.status_code == 302, reply.get_data(as_text=True)
    slug = reply.headers["Location"].rsplit("/", 1)[1]
    survey = find_survey(slug)
    assert survey.status == "draft" and len(survey.versions) == 1
    editor_id = db.session.scalar(
        sa.select(SurveyShare.user_id).where(SurveyShare.survey_id == survey.id)
    )
    assert editor_id is not None
    assert client.get(f"/s/{slug}").status_code == 404  # nothing published yet

    page = f"/admin/surveys/{slug}"
    assert post(client, f"{page}/publish").status_code == 302
    assert client.get(f"/s/{slug}").status_code == 200
    assert post(client, f"{page}/close").status_code == 302
    assert client.get(f"/s/{slug}").status_code == 410
    assert post(client, f"{page}/archive").status_code == 302
    db.session.expire_all()
    assert find_survey(slug).status == "archived"
    assert post(client, f"{page}/reopen").status_code == 302  # refused, said on the page
    db.session.expire_all()
    assert find_survey(slug).status == "archived"
    html = client.get(page).get_data(as_text=True)
    assert "Không thể" in html
    # No status button is left: the page says why, and what to do instead.
    assert 'id="archived-note"' in html and "hãy nhân bản" in html
    assert f'action="{page}/reopen"' not in html and f'action="{page}/close"' not in html

    # the downloaded definition reads back to the stored one
    reply = client.get(f"{page}/definition.xlsx")
    assert reply.status_code == 200 and reply.headers["Content-Disposition"].endswith(".xlsx")
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "back.xlsx"
        file.write_bytes(reply.get_data())
        assert read_xlsform(file) == find_survey(slug).versions[-1].definition
    reply = client.get(f"{page}/definition.json")
    assert json.loads(reply.get_data()) == find_survey(slug).versions[-1].definition


def test_an_upload_shows_what_the_xlsform_reader_ignored(people, tmp_path):
    client = signed_in(people, "editor@example.org")
    book = openpyxl.Workbook()
    book.active.title = "survey"
    for row in (["type", "name", "label"], ["start", "start", None], ["text", "ten", "Tên"]):
        book.active.append(row)
    book.save(tmp_path / "meta.xlsx")
    reply = upload(client, "/admin/surveys/new", "meta.xlsx", (tmp_path / "meta.xlsx").read_bytes())
    assert reply.status_code == 302
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "trang tính survey, dòng 2, cột type: &#39;start&#39; không phải câu hỏi" in page
    assert "started_at" in page


def test_new_draft_version_on_the_survey_page(people):
    client = signed_in(people, "admin@example.org")
    changed = demo_definition()
    changed["title"] = (
        {**changed["title"], "vi": "Tiêu đề mới"}
        if isinstance(changed["title"], dict)
        else "Tiêu đề mới"
    )
    reply = upload(client, PAGE, "demo.json", json.dumps(changed).encode())
    assert reply.status_code == 302
    survey = find_survey(DEMO_SLUG)
    assert [v.published_at is None for v in survey.versions] == [False, True]
    assert survey.status == "published"
    assert post(client, f"{PAGE}/publish").status_code == 302
    db.session.expire_all()
    assert find_survey(DEMO_SLUG).published_version().number == 2


def test_export_download_is_a_workbook(people):
    client = signed_in(people, "analyst@example.org")
    reply = client.get(f"{PAGE}/responses.xlsx")
    assert reply.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(reply.get_data()))
    assert book.sheetnames


def test_post_without_csrf_token_is_refused(people):
    people.config["WTF_CSRF_ENABLED"] = True
    client = signed_in(people, "admin@example.org")
    assert client.post(f"{PAGE}/close").status_code == 400
    reply = client.post(
        PAGE, data={"definition": (io.BytesIO(b"{}"), "x.json")}, content_type="multipart/form-data"
    )
    assert reply.status_code == 400
    db.session.expire_all()
    assert find_survey(DEMO_SLUG).status == "published"


def test_large_uploads_only_on_the_admin_upload(people):
    client = signed_in(people, "editor@example.org")
    big = json.dumps({**draft_definition(), "padding": "x" * 400_000}).encode()
    reply = upload(client, "/admin/surveys/new", "big.json", big)
    assert reply.status_code == 422  # read and checked: an unknown key, not a 413
    public = people.test_client().post(f"/s/{DEMO_SLUG}", data={"comment": "x" * 400_000})
    assert public.status_code == 413
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 1
