"""Staff management in the browser: accounts, sharing, API tokens, one's own password,
and the audit log that records each of them."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import g
from flask.signals import request_started

from survey_engine.catalog import find_survey
from survey_engine.extensions import db
from survey_engine.models import ApiToken, AuditEvent, User
from survey_engine.staff.accounts import create_user, find_user, share_survey
from tests.conftest import DEMO_SLUG
from tests.test_admin_surveys import post, signed_in, token_of
from tests.test_staff import PASSWORD, invoke, login

NEW_PASSWORD = "mat-khau-moi-dai-hon"
SHARING = f"/admin/surveys/{DEMO_SLUG}/sharing"
RESULTS = f"/api/v1/surveys/{DEMO_SLUG}/results"
ADMIN, EDITOR, ANALYST, OTHER = (
    "admin@example.org",
    "editor@example.org",
    "analyst@example.org",
    "other@example.org",
)


@pytest.fixture
def people(app):
    """Editor and analyst the demo is shared with, an editor it is not, an admin."""
    demo = find_survey(DEMO_SLUG)
    for email, role in (
        (EDITOR, "editor"),
        (ANALYST, "analyst"),
        (OTHER, "editor"),
        (ADMIN, "admin"),
    ):
        user = create_user(email, PASSWORD, role)
        if email in (EDITOR, ANALYST):
            share_survey(user, demo)
    return app


@pytest.fixture(autouse=True)
def _each_request_loads_its_own_user(app):
    """The test's requests share its app context, hence `g`: without this, the user
    Flask-Login keeps in g would carry over from one test client to the next."""

    def forget(sender, **extra):
        g.pop("_login_user", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


def english(client):
    """Messages are asserted in English, whatever the catalogs say in Vietnamese."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def admin_client(app):
    return english(signed_in(app, ADMIN))


def user_id(email: str) -> int:
    return find_user(email).id


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def html_of(reply) -> str:
    return reply.get_data(as_text=True)


def new_token(client) -> str:
    """Create a token on the tokens page; the whole token is on that reply only."""
    return html_of(post(client, "/admin/tokens")).split('id="new-token" value="')[1].split('"')[0]


# -- who may open what --------------------------------------------------------------

PAGES = ["/admin/users", "/admin/audit", SHARING, "/admin/tokens", "/admin/password"]
# who -> status of each of PAGES
MATRIX = {
    ADMIN: (200, 200, 200, 200, 200),
    EDITOR: (403, 403, 200, 200, 200),
    ANALYST: (403, 403, 403, 200, 200),
    OTHER: (403, 403, 403, 200, 200),
}


def test_anonymous_is_sent_to_login(people):
    client = people.test_client()
    account = f"/admin/users/{user_id(EDITOR)}"
    for url in PAGES + [account, f"{account}/delete"]:
        reply = client.get(url)
        assert reply.status_code == 302 and "/admin/login" in reply.headers["Location"], url
    token = token_of(client, "/admin/login")
    for url in [
        "/admin/users",
        f"{account}/role",
        f"{account}/password",
        f"{account}/unlock",
        f"{account}/delete",
        SHARING,
        f"{SHARING}/{user_id(EDITOR)}/remove",
        "/admin/tokens",
        "/admin/tokens/1/revoke",
        "/admin/password",
    ]:
        reply = client.post(
            url,
            data={
                "csrf_token": token,
                "role": "admin",
                "email": "x@example.org",
                "password": PASSWORD,
            },
        )
        assert reply.status_code == 302 and "/admin/login" in reply.headers["Location"], url
    assert find_user(EDITOR).role == "editor" and find_user("x@example.org") is None


@pytest.mark.parametrize("email", list(MATRIX))
def test_role_matrix(people, email):
    client = signed_in(people, email)
    for url, status in zip(PAGES, MATRIX[email], strict=True):
        assert client.get(url).status_code == status, url
    analyst = f"/admin/users/{user_id(ANALYST)}"
    is_admin = email == ADMIN
    assert client.get(analyst).status_code == (200 if is_admin else 403)
    assert client.get(f"{analyst}/delete").status_code == (200 if is_admin else 403)
    if not is_admin:  # and nothing changes behind the 403
        assert post(client, f"{analyst}/role", {"role": "admin"}).status_code == 403
        assert (
            post(
                client,
                "/admin/users",
                {"email": "x@example.org", "role": "admin", "password": PASSWORD},
            ).status_code
            == 403
        )
        assert post(client, f"{analyst}/delete").status_code == 403
        assert find_user(ANALYST).role == "analyst" and find_user("x@example.org") is None
    share = post(client, SHARING, {"email": OTHER})
    assert share.status_code == (302 if email in (ADMIN, EDITOR) else 403)
    missing = "/admin/surveys/khong-co/sharing"
    assert client.get(missing).status_code == 404


def test_index_links_to_the_pages_each_role_may_open(people):
    admin_page = html_of(signed_in(people, ADMIN).get("/admin/"))
    for url in ("/admin/tokens", "/admin/password", "/admin/users", "/admin/audit"):
        assert f'href="{url}"' in admin_page
    editor_page = html_of(signed_in(people, EDITOR).get("/admin/"))
    assert 'href="/admin/tokens"' in editor_page and 'href="/admin/password"' in editor_page
    assert 'href="/admin/users"' not in editor_page and 'href="/admin/audit"' not in editor_page


# -- accounts -----------------------------------------------------------------------


def test_admin_creates_an_account_that_can_sign_in(people):
    admin = admin_client(people)
    reply = post(
        admin,
        "/admin/users",
        {"email": " Mai@Example.org ", "role": "analyst", "password": PASSWORD},
    )
    assert reply.status_code == 302
    page = html_of(admin.get("/admin/users"))
    assert "The account mai@example.org was created." in page and "mai@example.org" in page
    assert find_user("mai@example.org").role == "analyst"
    assert login(people.test_client(), "mai@example.org").status_code == 302
    [event] = events("user_created")
    assert event.actor == ADMIN and event.actor_id == user_id(ADMIN)
    assert event.detail == {"email": "mai@example.org", "role": "analyst"}
    assert PASSWORD not in json.dumps(event.detail)


@pytest.mark.parametrize(
    "form, message",
    [
        ({"email": EDITOR, "role": "editor", "password": PASSWORD}, "already exists"),
        ({"email": "ngan@example.org", "role": "editor", "password": "ngan"}, "at least 10"),
        ({"email": "khong-phai-email", "role": "editor", "password": PASSWORD}, "not an email"),
        ({"email": "ngan@example.org", "role": "boss", "password": PASSWORD}, "role must be"),
    ],
)
def test_a_refused_account_says_why_and_stores_nothing(people, form, message):
    admin = admin_client(people)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    reply = post(admin, "/admin/users", form)
    assert reply.status_code == 422
    html = html_of(reply)
    assert "The account was not created" in html and message in html
    assert f'value="{form["password"]}"' not in html  # a typed password is not sent back
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before
    assert events("user_created") == []


def test_role_change_takes_effect_at_once(people):
    analyst = signed_in(people, ANALYST)
    assert analyst.get("/admin/surveys/new").status_code == 403
    admin = admin_client(people)
    url = f"/admin/users/{user_id(ANALYST)}"
    assert post(admin, f"{url}/role", {"role": "editor"}).status_code == 302
    assert "analyst@example.org is now editor." in html_of(admin.get(url))
    assert analyst.get("/admin/surveys/new").status_code == 200  # same session, new rights
    [event] = events("role_changed")
    assert event.actor == ADMIN
    assert event.detail == {"email": ANALYST, "old": "analyst", "new": "editor"}


def test_reset_password_replaces_the_old_one(people):
    admin = admin_client(people)
    url = f"/admin/users/{user_id(EDITOR)}/password"
    short = post(admin, url, {"password": "ngan"}, follow_redirects=True)
    assert "at least 10 characters" in html_of(short)
    assert login(people.test_client(), EDITOR, PASSWORD).status_code == 302  # unchanged
    assert post(admin, url, {"password": NEW_PASSWORD}).status_code == 302
    assert login(people.test_client(), EDITOR, NEW_PASSWORD).status_code == 302
    assert login(people.test_client(), EDITOR, PASSWORD).status_code == 200  # refused
    [event] = events("password_reset")
    assert event.actor == ADMIN and event.detail == {"email": EDITOR}
    logged = json.dumps([e.detail for e in db.session.scalars(sa.select(AuditEvent))])
    assert NEW_PASSWORD not in logged and PASSWORD not in logged


def test_unlock_lets_a_locked_account_sign_in_again(people):
    for _ in range(5):
        login(people.test_client(), EDITOR, "doan-sai-mat-khau")
    assert login(people.test_client(), EDITOR).status_code == 200  # locked: refused
    admin = admin_client(people)
    url = f"/admin/users/{user_id(EDITOR)}"
    assert "Locked until (Vietnam time)" in html_of(admin.get(url))
    assert post(admin, f"{url}/unlock").status_code == 302
    assert login(people.test_client(), EDITOR).status_code == 302
    assert find_user(EDITOR).failed_logins == 0
    [event] = events("user_unlocked")
    assert event.actor == ADMIN and event.detail == {"email": EDITOR}


def test_delete_asks_first_then_removes_the_account_and_its_tokens(people):
    editor = english(signed_in(people, EDITOR))
    token = new_token(editor)
    assert people.test_client().get(RESULTS, headers=bearer(token)).status_code == 200
    admin = admin_client(people)
    url = f"/admin/users/{user_id(EDITOR)}/delete"
    confirm = admin.get(url)
    assert confirm.status_code == 200 and "This cannot be undone." in html_of(confirm)
    assert find_user(EDITOR) is not None  # asking deletes nothing
    assert post(admin, url).status_code == 302
    assert find_user(EDITOR) is None
    assert "The account editor@example.org was deleted." in html_of(admin.get("/admin/users"))
    assert editor.get("/admin/").status_code == 302  # its session is over
    assert login(people.test_client(), EDITOR).status_code == 200
    assert people.test_client().get(RESULTS, headers=bearer(token)).status_code == 401
    [event] = events("user_deleted")
    assert event.actor == ADMIN and event.detail == {"email": EDITOR, "role": "editor"}
    # Its own entries stay readable, and point at no account.
    token_event = events("token_created")[0]
    assert token_event.actor == EDITOR and token_event.actor_id is None


def test_the_last_admin_can_neither_demote_nor_delete_themself(people):
    admin = admin_client(people)
    own = f"/admin/users/{user_id(ADMIN)}"
    reply = post(admin, f"{own}/role", {"role": "analyst"}, follow_redirects=True)
    assert "You cannot change your own role" in html_of(reply)
    reply = post(admin, f"{own}/delete", follow_redirects=True)
    assert "You cannot delete your own account" in html_of(reply)
    assert find_user(ADMIN).role == "admin"
    assert admin.get("/admin/users").status_code == 200
    assert events("role_changed") == [] and events("user_deleted") == []
    # A second admin may demote the first: there is still an admin.
    create_user("admin2@example.org", PASSWORD, "admin")
    second = signed_in(people, "admin2@example.org")
    assert post(second, f"{own}/role", {"role": "editor"}).status_code == 302
    assert find_user(ADMIN).role == "editor"
    # The demotion ended the first admin's sessions: signed in again, they are an editor.
    assert admin.get("/admin/users").status_code == 302
    assert signed_in(people, ADMIN).get("/admin/users").status_code == 403


# -- sharing ------------------------------------------------------------------------


def test_sharing_gives_and_takes_away_the_survey(people):
    other = signed_in(people, OTHER)
    survey_link = f'href="/admin/surveys/{DEMO_SLUG}"'
    assert survey_link not in html_of(other.get("/admin/"))
    editor = english(signed_in(people, EDITOR))  # an editor it is shared with may share
    page = html_of(editor.get(SHARING))
    assert EDITOR in page and ANALYST in page and OTHER not in page
    assert post(editor, SHARING, {"email": "Other@Example.org"}).status_code == 302
    assert OTHER in html_of(editor.get(SHARING))
    assert survey_link in html_of(other.get("/admin/"))
    assert other.get(f"/admin/surveys/{DEMO_SLUG}").status_code == 200
    [event] = events("shared")
    assert event.actor == EDITOR and event.survey_slug == DEMO_SLUG
    assert event.detail == {"email": OTHER}

    admin = admin_client(people)
    assert post(admin, f"{SHARING}/{user_id(OTHER)}/remove").status_code == 302
    assert survey_link not in html_of(other.get("/admin/"))
    assert other.get(f"/admin/surveys/{DEMO_SLUG}").status_code == 403
    [event] = events("unshared")
    assert event.actor == ADMIN and event.detail == {"email": OTHER}
    assert post(admin, f"{SHARING}/{user_id(OTHER)}/remove").status_code == 404  # not shared


def test_sharing_with_an_unknown_email_says_so(people):
    editor = english(signed_in(people, EDITOR))
    reply = post(editor, SHARING, {"email": "ai@example.org"})
    assert reply.status_code == 422
    assert "There is no staff account with the email ai@example.org." in html_of(reply)
    reply = post(editor, SHARING, {"email": ADMIN})
    assert reply.status_code == 422 and "already sees every survey" in html_of(reply)
    assert events("shared") == []


# -- API tokens ---------------------------------------------------------------------


def test_a_token_is_shown_once_works_and_stops_after_revoking(people):
    analyst = english(signed_in(people, ANALYST))
    created = post(analyst, "/admin/tokens")
    html = html_of(created)
    assert created.status_code == 200 and "it will not be shown again" in html
    assert created.headers["Cache-Control"] == "no-store"
    token = html.split('id="new-token" value="')[1].split('"')[0]
    row = db.session.scalar(sa.select(ApiToken))
    assert token.startswith(row.prefix) and token not in (row.token_hash, row.prefix)
    listing = html_of(analyst.get("/admin/tokens"))
    assert row.prefix in listing and token not in listing  # never shown again

    api = people.test_client()
    assert api.get(RESULTS, headers=bearer(token)).status_code == 200
    assert "never" not in html_of(analyst.get("/admin/tokens"))  # last used: now
    assert post(analyst, f"/admin/tokens/{row.id}/revoke").status_code == 302
    assert api.get(RESULTS, headers=bearer(token)).status_code == 401
    [made], [revoked] = events("token_created"), events("token_revoked")
    assert made.actor == revoked.actor == ANALYST
    assert made.detail == revoked.detail == {"email": ANALYST, "prefix": row.prefix}


def test_nobody_revokes_someone_elses_token(people):
    editor = english(signed_in(people, EDITOR))
    token = new_token(editor)
    row = db.session.scalar(sa.select(ApiToken))
    for email in (ANALYST, ADMIN):
        intruder = signed_in(people, email)
        assert post(intruder, f"/admin/tokens/{row.id}/revoke").status_code == 404
        assert row.prefix not in html_of(intruder.get("/admin/tokens"))
    assert people.test_client().get(RESULTS, headers=bearer(token)).status_code == 200
    assert events("token_revoked") == []


# -- one's own password -------------------------------------------------------------


def test_change_own_password(people):
    editor = english(signed_in(people, EDITOR))
    form = {"password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    for wrong, message in (
        ({"password": "khong-dung-dau"}, "current password is wrong"),
        ({"confirm_password": NEW_PASSWORD + "x"}, "not the same"),
        ({"new_password": "ngan", "confirm_password": "ngan"}, "at least 10 characters"),
    ):
        reply = post(editor, "/admin/password", {**form, **wrong})
        assert reply.status_code == 422 and message in html_of(reply), wrong
    assert login(people.test_client(), EDITOR, PASSWORD).status_code == 302  # unchanged
    reply = post(editor, "/admin/password", form, follow_redirects=True)
    assert "Your password was changed." in html_of(reply)
    assert login(people.test_client(), EDITOR, NEW_PASSWORD).status_code == 302
    assert login(people.test_client(), EDITOR, PASSWORD).status_code == 200
    [event] = events("password_changed")
    assert event.actor == EDITOR and event.detail == {}


# -- CSRF ---------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(people):
    people.config["WTF_CSRF_ENABLED"] = True
    admin = signed_in(people, ADMIN)
    analyst = f"/admin/users/{user_id(ANALYST)}"
    for url, data in (
        ("/admin/users", {"email": "x@example.org", "role": "admin", "password": PASSWORD}),
        (f"{analyst}/role", {"role": "admin"}),
        (f"{analyst}/password", {"password": NEW_PASSWORD}),
        (f"{analyst}/delete", {}),
        (SHARING, {"email": OTHER}),
        ("/admin/tokens", {}),
        (
            "/admin/password",
            {"password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ),
    ):
        assert admin.post(url, data=data).status_code == 400, url
    assert find_user("x@example.org") is None and find_user(ANALYST).role == "analyst"
    assert login(people.test_client(), ANALYST).status_code == 302
    assert login(people.test_client(), ADMIN).status_code == 302
    assert db.session.scalar(sa.select(ApiToken)) is None
    assert OTHER not in html_of(admin.get(SHARING))


# -- the audit log ------------------------------------------------------------------


def test_sign_in_failure_and_sign_out_are_logged(people):
    assert login(people.test_client(), "Ai@Example.org", "doan-mo").status_code == 200
    editor = signed_in(people, EDITOR)
    assert post(editor, "/admin/logout").status_code == 302
    [failed] = events("login_failed")
    assert failed.actor_id is None and failed.actor == "anonymous"
    assert failed.detail == {"email": "ai@example.org"}
    assert "doan-mo" not in json.dumps(failed.detail)
    assert [e.actor for e in events("login")] == [EDITOR]
    [logout] = events("logout")
    assert logout.actor == EDITOR and logout.actor_id == user_id(EDITOR)


def test_audit_page_lists_newest_first_and_filters(people):
    login(people.test_client(), "ai@example.org", "doan-mo")
    editor = signed_in(people, EDITOR)
    post(editor, SHARING, {"email": OTHER})
    admin = admin_client(people)
    page = admin.get("/admin/audit")
    html = html_of(page)
    assert "Time (Vietnam time)" in html
    # Newest first: the admin's sign-in, the share, the editor's sign-in, the failure.
    rows = html.split("<tbody>")[1].split("<tr>")[1:]
    assert [
        next(a for a in ("login_failed", "login", "shared") if f">{a}</span>" in row)
        for row in rows
    ] == ["login", "shared", "login", "login_failed"]
    assert "email: ai@example.org" in rows[3] and "anonymous" in rows[3]

    def shown(**query) -> str:
        return html_of(admin.get("/admin/audit", query_string=query)).split("<tbody>")[-1]

    only_shares = shown(action="shared")
    assert f">{DEMO_SLUG}</td>" in only_shares and ">login</span>" not in only_shares
    by_editor = shown(actor="Editor@Example.org")
    assert ">shared</span>" in by_editor and ">login</span>" in by_editor
    assert ADMIN not in by_editor and "login_failed" not in by_editor
    assert ">shared</span>" in shown(survey=DEMO_SLUG)
    assert "Nothing in the log matches." in html_of(
        admin.get("/admin/audit", query_string={"survey": "khong-co"})
    )


def test_audit_page_shows_fifty_a_page(people):
    for number in range(60):
        db.session.add(
            AuditEvent(
                actor="command line", action="exported", survey_slug=DEMO_SLUG, detail={"n": number}
            )
        )
    db.session.commit()
    admin = admin_client(people)
    first = html_of(admin.get("/admin/audit?action=exported"))
    assert first.count(">exported</span>") == 50 and "n: 59<" in first
    assert 'href="/admin/audit?page=2&amp;action=exported"' in first
    second = html_of(admin.get("/admin/audit?action=exported&page=2"))
    assert second.count(">exported</span>") == 10 and "n: 0<" in second
    assert "page=3" not in second and 'rel="prev"' in second


def test_command_line_actions_are_logged(people):
    made = invoke(
        people,
        "create-user",
        "mai@example.org",
        "--role",
        "analyst",
        "--share",
        DEMO_SLUG,
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    assert invoke(people, "share", OTHER, DEMO_SLUG).exit_code == 0
    assert invoke(people, "share", OTHER, DEMO_SLUG).exit_code == 0  # already: no entry
    token = invoke(people, "create-token", OTHER).output.strip()
    prefix = db.session.scalar(sa.select(ApiToken.prefix))
    assert invoke(people, "revoke-token", token).exit_code == 0
    [created] = events("user_created")
    assert created.actor == "command line" and created.actor_id is None
    assert created.detail == {"email": "mai@example.org", "role": "analyst"}
    assert [(e.actor, e.survey_slug, e.detail) for e in events("shared")] == [
        ("command line", DEMO_SLUG, {"email": "mai@example.org"}),
        ("command line", DEMO_SLUG, {"email": OTHER}),
    ]
    for action in ("token_created", "token_revoked"):
        [event] = events(action)
        assert event.actor == "command line"
        assert event.detail == {"email": OTHER, "prefix": prefix}
    logged = json.dumps([e.detail for e in db.session.scalars(sa.select(AuditEvent))])
    assert token not in logged and PASSWORD not in logged
