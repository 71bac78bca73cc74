"""Duplicating and deleting a survey, its schedule on the staff page, and the audit log."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import g, url_for

from survey_engine.catalog import find_survey, response_count, save_definition
from survey_engine.extensions import db
from survey_engine.intake.buffer import SURVEYS_KEY, counters_key, dead_key, ids_key, stream_key
from survey_engine.models import AuditEvent, Response, SurveyShare, SurveyVersion, Tally, User
from survey_engine.staff.accounts import create_user, find_user, share_survey
from tests.conftest import DEMO_SLUG, demo_definition, new_id, seeded_app, valid_answers
from tests.test_admin_surveys import (
    DRAFT_SLUG,
    PAGE,
    draft_definition,
    post,
    signed_in,
    upload,
)
from tests.test_buffer import closed_port
from tests.test_cli import invoke, write_json
from tests.test_staff import PASSWORD

COPY_SLUG = "tro-lai-truong-hoc-2027"
ADMIN, EDITOR, ANALYST, OTHER = (
    "admin@example.org",
    "editor@example.org",
    "analyst@example.org",
    "other@example.org",
)


def in_english(app, email: str):
    """Signed in, reading the staff pages in English (their texts' own language)."""
    client = signed_in(app, email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def answer(client, slug: str = DEMO_SLUG):
    return client.post(
        f"/api/v1/surveys/{slug}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )


def close_demo(client) -> None:
    assert post(client, f"{PAGE}/close").status_code == 302


def rows_of(survey_id: int) -> dict[str, int]:
    """How many rows of each table still belong to the survey."""
    return {
        model.__tablename__: db.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(model.survey_id == survey_id)
        )
        for model in (Response, Tally, SurveyVersion, SurveyShare)
    }


SURVEY_ACTIONS = (
    "survey_created",
    "version_uploaded",
    "published",
    "closed",
    "reopened",
    "archived",
    "duplicated",
    "deleted",
    "exported",
)


def audit_trail() -> list[tuple[str, str, str | None, dict]]:
    """The log of survey actions (sign-ins and shares are logged too, elsewhere)."""
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.in_(SURVEY_ACTIONS)).order_by(AuditEvent.id)
    ).all()
    return [(e.actor, e.action, e.survey_slug, e.detail) for e in events]


def shared_with(slug: str) -> set[str]:
    return set(
        db.session.scalars(
            sa.select(User.email)
            .join(SurveyShare, SurveyShare.user_id == User.id)
            .where(SurveyShare.survey_id == find_survey(slug).id)
        )
    )


def add_staff(app):
    """The accounts of test_admin_surveys' `people` fixture, for any app: the demo is
    shared with the editor and the analyst, not with the other editor."""
    survey = find_survey(DEMO_SLUG)
    for email, role in (
        (EDITOR, "editor"),
        (ANALYST, "analyst"),
        (OTHER, "editor"),
        (ADMIN, "admin"),
    ):
        user = create_user(email, PASSWORD, role)
        if email in (EDITOR, ANALYST):
            share_survey(user, survey)

    # The tests' requests share the test's app context, so Flask-Login's user in g
    # would leak from one client to the next: each request loads its own, as in production.
    @app.before_request
    def _own_user() -> None:
        g.pop("_login_user", None)

    return app


@pytest.fixture
def people(app):
    return add_staff(app)


# -- duplicate ----------------------------------------------------------------------


def test_duplicate_makes_a_new_draft_of_the_newest_version_shared_with_the_editor(people):
    editor = in_english(people, EDITOR)
    assert answer(editor).status_code == 202  # the original has a response; the copy will not
    newest = {**demo_definition(), "description": {"vi": "Vòng hai"}}
    assert upload(editor, PAGE, "v2.json", json.dumps(newest).encode()).status_code == 302

    page = editor.get(f"{PAGE}/duplicate")
    assert page.status_code == 200 and 'name="slug"' in page.get_data(as_text=True)
    reply = post(editor, f"{PAGE}/duplicate", {"slug": COPY_SLUG, "title": "Năm học 2027"})
    assert reply.status_code == 302
    assert reply.headers["Location"] == f"/admin/surveys/{COPY_SLUG}"

    db.session.expire_all()
    copy = find_survey(COPY_SLUG)
    [version] = copy.versions
    assert copy.status == "draft" and version.number == 1 and version.published_at is None
    assert response_count(copy.id) == 0 and rows_of(copy.id)["responses"] == 0
    stored = version.definition
    assert stored["slug"] == COPY_SLUG
    assert stored["title"] == {**newest["title"], newest["default_language"]: "Năm học 2027"}
    assert {k: v for k, v in stored.items() if k not in ("slug", "title")} == {
        k: v for k, v in newest.items() if k not in ("slug", "title")
    }
    assert shared_with(COPY_SLUG) == {EDITOR}  # nobody the original was shared with
    assert editor.get(f"/s/{COPY_SLUG}").status_code == 404  # a draft is not public
    # the original is untouched
    assert [v.number for v in find_survey(DEMO_SLUG).versions] == [1, 2]
    assert response_count(find_survey(DEMO_SLUG).id) == 1


def test_duplicate_refuses_taken_or_bad_slugs_and_people_who_may_not_manage(people):
    versions_before = db.session.scalar(sa.select(sa.func.count()).select_from(SurveyVersion))
    admin = in_english(people, ADMIN)
    reply = post(admin, f"{PAGE}/duplicate", {"slug": DEMO_SLUG})
    assert reply.status_code == 422
    assert f"A survey with the slug {DEMO_SLUG} already exists" in reply.get_data(as_text=True)
    for bad in ("Khảo Sát", "", "-dau-gach", "x" * 65):
        reply = post(admin, f"{PAGE}/duplicate", {"slug": bad})
        assert reply.status_code == 422, bad
        assert "lower-case letters" in reply.get_data(as_text=True)
    assert in_english(people, ANALYST).get(f"{PAGE}/duplicate").status_code == 403
    assert (
        post(in_english(people, ANALYST), f"{PAGE}/duplicate", {"slug": COPY_SLUG}).status_code
        == 403
    )
    assert (
        post(in_english(people, OTHER), f"{PAGE}/duplicate", {"slug": COPY_SLUG}).status_code == 403
    )
    assert find_survey(COPY_SLUG) is None
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(SurveyVersion)) == versions_before
    )


def test_an_admin_copy_is_shared_with_nobody(people):
    admin = in_english(people, ADMIN)
    assert post(admin, f"{PAGE}/duplicate", {"slug": COPY_SLUG}).status_code == 302
    assert shared_with(COPY_SLUG) == set()
    assert find_survey(COPY_SLUG).title == demo_definition()["title"]


# -- delete -------------------------------------------------------------------------


def test_a_published_survey_must_be_closed_before_it_is_deleted(people):
    admin = in_english(people, ADMIN)
    page = admin.get(f"{PAGE}/delete").get_data(as_text=True)
    assert "Close it before deleting it" in page and 'name="confirm' not in page
    reply = post(admin, f"{PAGE}/delete", {"confirm_slug": DEMO_SLUG, "confirm": "yes"})
    assert reply.status_code == 409
    assert "Close the survey before deleting it" in reply.get_data(as_text=True)
    db.session.expire_all()
    assert find_survey(DEMO_SLUG) is not None


def test_an_editor_deletes_a_survey_without_responses_after_confirming(people):
    editor = in_english(people, EDITOR)
    assert (
        upload(
            editor, "/admin/surveys/new", "d.json", json.dumps(draft_definition()).encode()
        ).status_code
        == 302
    )
    page = f"/admin/surveys/{DRAFT_SLUG}"
    assert f'href="{page}/delete"' in editor.get(page).get_data(as_text=True)
    assert 'name="confirm"' in editor.get(f"{page}/delete").get_data(as_text=True)
    assert post(editor, f"{page}/delete").status_code == 422  # not confirmed
    db.session.expire_all()
    assert find_survey(DRAFT_SLUG) is not None
    assert post(in_english(people, ANALYST), f"{PAGE}/delete").status_code == 403

    reply = post(editor, f"{page}/delete", {"confirm": "yes"})
    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/"
    db.session.expire_all()
    assert find_survey(DRAFT_SLUG) is None
    assert editor.get(page).status_code == 404


def test_a_survey_with_responses_is_deleted_only_by_an_admin_typing_its_slug(people):
    editor, admin = in_english(people, EDITOR), in_english(people, ADMIN)
    for _ in range(3):
        assert answer(editor).status_code == 202
    close_demo(editor)
    survey_id = find_survey(DEMO_SLUG).id
    before = rows_of(survey_id)
    assert before["responses"] == 3 and before["tallies"] > 0 and before["survey_shares"] == 2

    assert f'href="{PAGE}/delete"' not in editor.get(PAGE).get_data(as_text=True)
    assert "only an admin" in editor.get(f"{PAGE}/delete").get_data(as_text=True)
    assert (
        post(editor, f"{PAGE}/delete", {"confirm_slug": DEMO_SLUG, "confirm": "yes"}).status_code
        == 403
    )
    for wrong in ("", "yes", DEMO_SLUG.upper(), DEMO_SLUG + "-"):
        reply = post(admin, f"{PAGE}/delete", {"confirm_slug": wrong, "confirm": "yes"})
        assert reply.status_code == 422, wrong
    db.session.expire_all()
    assert rows_of(survey_id) == before

    reply = post(admin, f"{PAGE}/delete", {"confirm_slug": DEMO_SLUG})
    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/"
    db.session.expire_all()
    assert find_survey(DEMO_SLUG) is None
    assert rows_of(survey_id) == {
        "responses": 0,
        "tallies": 0,
        "survey_versions": 0,
        "survey_shares": 0,
    }
    assert admin.get(f"/s/{DEMO_SLUG}").status_code == 404
    assert admin.get(f"/api/v1/surveys/{DEMO_SLUG}").status_code == 404

    # The slug is free again: a new upload starts from nothing, not from the old survey.
    changed = {**demo_definition(), "title": {"vi": "Khảo sát mới", "en": "A new survey"}}
    reply = upload(admin, "/admin/surveys/new", "new.json", json.dumps(changed).encode())
    assert reply.status_code == 302
    assert post(admin, f"{PAGE}/publish").status_code == 302
    assert admin.get(f"/api/v1/surveys/{DEMO_SLUG}").get_json()["definition"] == changed
    assert 'id="responses">0' in admin.get(PAGE).get_data(as_text=True)
    assert "Khảo sát mới" in people.test_client().get(f"/s/{DEMO_SLUG}").get_data(as_text=True)


def test_buffered_submissions_count_as_responses_and_their_keys_go(buffered_app, redis_client):
    add_staff(buffered_app)
    editor, admin = in_english(buffered_app, EDITOR), in_english(buffered_app, ADMIN)
    assert answer(editor).status_code == 202  # in the Redis stream, not stored yet
    survey_id = find_survey(DEMO_SLUG).id
    assert response_count(survey_id) == 0 and redis_client.xlen(stream_key(survey_id)) == 1
    close_demo(editor)

    assert post(editor, f"{PAGE}/delete", {"confirm": "yes"}).status_code == 403
    assert "Waiting in the buffer: 1" in admin.get(f"{PAGE}/delete").get_data(as_text=True)
    assert post(admin, f"{PAGE}/delete", {"confirm_slug": DEMO_SLUG}).status_code == 302
    for key in (
        stream_key(survey_id),
        ids_key(survey_id),
        dead_key(survey_id),
        counters_key(survey_id),
    ):
        assert not redis_client.exists(key), key
    assert not redis_client.sismember(SURVEYS_KEY, survey_id)
    [deleted] = [e for e in audit_trail() if e[1] == "deleted"]
    assert deleted == (ADMIN, "deleted", DEMO_SLUG, {"responses": 1})


def test_a_delete_goes_through_while_redis_is_down(database_url):
    """Redis cannot say what is buffered: only an admin typing the slug may delete."""
    app_iter = seeded_app(
        database_url,
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        RATELIMIT_STORAGE_URI="memory://",
    )
    app = next(app_iter)
    try:
        add_staff(app)
        editor, admin = in_english(app, EDITOR), in_english(app, ADMIN)
        close_demo(admin)
        assert post(editor, f"{PAGE}/delete", {"confirm": "yes"}).status_code == 403
        assert "could not be checked" in admin.get(f"{PAGE}/delete").get_data(as_text=True)
        assert post(admin, f"{PAGE}/delete", {"confirm_slug": DEMO_SLUG}).status_code == 302
        db.session.expire_all()
        assert find_survey(DEMO_SLUG) is None
    finally:
        next(app_iter, None)


# -- audit --------------------------------------------------------------------------


def test_every_survey_action_is_in_the_audit_log_with_its_actor(people):
    editor, analyst = in_english(people, EDITOR), in_english(people, ANALYST)
    upload(editor, "/admin/surveys/new", "d.json", json.dumps(draft_definition()).encode())
    page = f"/admin/surveys/{DRAFT_SLUG}"
    changed = {**draft_definition(), "description": {"vi": "Bản 2"}}
    upload(editor, page, "d.json", json.dumps(changed).encode())
    for action in ("publish", "close", "reopen", "close", "archive"):
        assert post(editor, f"{page}/{action}").status_code == 302
    share_survey(find_user(ANALYST), find_survey(DRAFT_SLUG))
    for download in ("definition.json", "definition.xlsx", "responses.xlsx"):
        assert analyst.get(f"{page}/{download}").status_code == 200
    post(editor, f"{page}/duplicate", {"slug": COPY_SLUG})
    post(editor, f"/admin/surveys/{COPY_SLUG}/delete", {"confirm": "yes"})
    post(editor, f"{page}/publish")  # refused: archived, so not logged

    assert audit_trail() == [
        (EDITOR, "survey_created", DRAFT_SLUG, {"version": 1}),
        (EDITOR, "version_uploaded", DRAFT_SLUG, {"version": 1}),  # the draft replaced
        (EDITOR, "published", DRAFT_SLUG, {"version": 1}),
        (EDITOR, "closed", DRAFT_SLUG, {}),
        (EDITOR, "reopened", DRAFT_SLUG, {}),
        (EDITOR, "closed", DRAFT_SLUG, {}),
        (EDITOR, "archived", DRAFT_SLUG, {}),
        (ANALYST, "exported", DRAFT_SLUG, {"kind": "definition.json", "version": 1}),
        (ANALYST, "exported", DRAFT_SLUG, {"kind": "definition.xlsx", "version": 1}),
        (ANALYST, "exported", DRAFT_SLUG, {"kind": "responses.xlsx"}),
        (EDITOR, "duplicated", COPY_SLUG, {"from": DRAFT_SLUG, "to": COPY_SLUG}),
        (EDITOR, "deleted", COPY_SLUG, {"responses": 0}),
    ]


def test_import_and_export_commands_are_logged_as_the_command_line(app, tmp_path):
    data = {**demo_definition(), "slug": "dat-dai"}
    assert invoke(app, "import", str(write_json(tmp_path / "s.json", data))).exit_code == 0
    data["title"] = {"vi": "Đất đai"}
    assert (
        invoke(app, "import", str(write_json(tmp_path / "s.json", data)), "--publish").exit_code
        == 0
    )
    assert invoke(app, "export", "dat-dai", "-o", str(tmp_path / "r.csv")).exit_code == 0
    assert (
        invoke(app, "export-definition", "dat-dai", "-o", str(tmp_path / "d.json")).exit_code == 0
    )
    assert invoke(app, "import", str(tmp_path / "missing.json")).exit_code != 0
    assert audit_trail() == [
        ("command line", "survey_created", "dat-dai", {"version": 1}),
        ("command line", "version_uploaded", "dat-dai", {"version": 1}),
        ("command line", "published", "dat-dai", {"version": 1}),
        ("command line", "exported", "dat-dai", {"kind": "responses.csv"}),
        ("command line", "exported", "dat-dai", {"kind": "definition.json", "version": 1}),
    ]


# -- schedule and limit -------------------------------------------------------------


def test_the_survey_page_shows_the_schedule_in_vietnam_time(people):
    settings = {
        "opens_at": "2098-12-01T01:00:00+00:00",
        "closes_at": "2099-01-31T23:30:00+07:00",
        "max_responses": 5000,
    }
    save_definition({**demo_definition(), "settings": settings}, publish=True)
    html = in_english(people, ANALYST).get(PAGE).get_data(as_text=True)
    assert "2098-12-01 08:00 (Vietnam time)" in html
    assert "2099-01-31 23:30 (Vietnam time)" in html
    assert "5000" in html
    assert 'id="accepting">no: it is not open yet' in html


@pytest.mark.parametrize("who", [EDITOR, ADMIN])
def test_links_for_managers(people, who):
    html = in_english(people, who).get(PAGE).get_data(as_text=True)
    assert f'href="/admin/surveys/{DEMO_SLUG}/edit"' in html
    assert f'href="{PAGE}/duplicate"' in html and f'href="{PAGE}/delete"' in html
    with people.test_request_context():
        assert f'href="{url_for("admin.sharing", slug=DEMO_SLUG)}"' in html
    analyst = in_english(people, ANALYST).get(PAGE).get_data(as_text=True)
    assert "/duplicate" not in analyst and "/delete" not in analyst and "/edit" not in analyst


def test_an_answer_after_the_limit_is_refused_though_the_page_was_drawn_before(people):
    save_definition({**demo_definition(), "settings": {"max_responses": 2}}, publish=True)
    citizen = people.test_client()
    assert citizen.get(f"/s/{DEMO_SLUG}").status_code == 200  # drawn while open
    assert answer(citizen).status_code == 202
    assert answer(citizen).status_code == 202
    reply = answer(citizen)
    assert reply.status_code == 410 and reply.get_json()["reason"] == "full"
    assert response_count(find_survey(DEMO_SLUG).id) == 2
    html = in_english(people, ANALYST).get(PAGE).get_data(as_text=True)
    assert 'id="accepting">no: the response limit is reached' in html


@pytest.mark.parametrize(
    ("opens_at", "closes_at", "status"),
    [
        ("0001-01-01T00:00:00+07:00", None, 200),  # opened long ago
        (None, "9999-12-31T23:59:59-07:00", 200),  # closes in the far future
        (None, "0001-01-01T00:00:00+07:00", 410),  # closed long ago
    ],
)
def test_finding7_a_schedule_stored_before_its_years_were_checked_never_breaks_a_page(
    people, opens_at, closes_at, status
):
    """Year 1 or 9999, stored before the schema refused them: shown in Vietnam time,
    the moment overflowed, and the survey's staff page answered 500 for good."""
    version = find_survey(DEMO_SLUG).published_version()
    version.definition = {
        **version.definition,
        "settings": {"opens_at": opens_at, "closes_at": closes_at},
    }
    db.session.commit()
    staff = signed_in(people, ADMIN)
    for url in (
        f"/admin/surveys/{DEMO_SLUG}",
        f"/admin/surveys/{DEMO_SLUG}/edit/settings",
        f"/admin/surveys/{DEMO_SLUG}/definition.xlsx",
        f"/admin/surveys/{DEMO_SLUG}/definition.json",
    ):
        assert staff.get(url).status_code == 200, url
    client = people.test_client()
    assert client.get(f"/s/{DEMO_SLUG}").status_code == status
    reply = client.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert reply.status_code == (202 if status == 200 else 410)
