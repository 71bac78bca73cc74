"""Staff access: accounts, sign-in, lockout, CSRF, cookies, and who may read results."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import g

from survey_engine.catalog import find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.extensions import db
from survey_engine.models import ApiToken, LoginThrottle, User
from survey_engine.staff.accounts import create_token, create_user, find_user, share_survey
from tests.conftest import DEMO_SLUG, demo_definition, new_id, seeded_app, valid_answers
from tests.test_public_form import form_data

PASSWORD = "mat-khau-dai-du"
OTHER_SLUG = "dat-dai"
LOGIN = "/admin/login"


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(cli, list(args), input=input)


def csrf_token(client) -> str:
    """From the login page, or the sign-out page once signed in.

    The tests' requests share the test's app context, so Flask-WTF's copy of the
    token in g would leak from one client to the next: drop it first.
    """
    g.pop("csrf_token", None)
    page = client.get(LOGIN)
    if page.status_code == 302:
        page = client.get("/admin/logout")
    html = page.get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email: str, password: str = PASSWORD):
    return client.post(
        LOGIN, data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )


def results_url(slug: str = DEMO_SLUG) -> str:
    return f"/api/v1/surveys/{slug}/results"


def test_create_user_and_token_from_the_command_line(app):
    short = invoke(app, "create-user", "a@example.org", "--role", "editor", input="ngan\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    bad_role = invoke(app, "create-user", "a@example.org", "--role", "boss", input=PASSWORD)
    assert bad_role.exit_code == 2
    bad_email = invoke(
        app, "create-user", "khong-phai-email", "--role", "editor", input=PASSWORD + "\n"
    )
    assert bad_email.exit_code == 1 and "not an email address" in bad_email.output

    made = invoke(
        app,
        "create-user",
        "Lan.Nguyen@Example.ORG",
        "--role",
        "analyst",
        "--share",
        DEMO_SLUG,
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    user = find_user("lan.nguyen@example.org")
    assert user.email == "lan.nguyen@example.org" and user.role == "analyst"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    again = invoke(
        app, "create-user", "LAN.NGUYEN@example.org", "--role", "admin", input=PASSWORD + "\n"
    )
    assert again.exit_code == 1 and "already exists" in again.output

    result = invoke(app, "create-token", "lan.nguyen@example.org")
    assert result.exit_code == 0
    token = result.output.strip()
    assert re.fullmatch(r"se_[A-Za-z0-9_-]{32}", token)
    row = db.session.scalar(sa.select(ApiToken))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(row.prefix) and len(row.prefix) < len(token)
    assert invoke(app, "create-token", "nobody@example.org").exit_code == 1

    client = app.test_client()
    reply = client.get(results_url(), headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    assert invoke(app, "revoke-token", row.prefix).exit_code == 0
    reply = client.get(results_url(), headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401


def test_demo_creates_the_admin_once(app):
    first = invoke(app, "demo")
    assert first.exit_code == 0, first.output
    password = re.search(r"admin@example.org  password: (\S+)", first.output).group(1)
    second = invoke(app, "demo")
    assert second.exit_code == 0 and "password:" not in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
    assert login(app.test_client(), "admin@example.org", password).status_code == 302


def test_login_page_sign_in_and_failure(app, client):
    create_user("lan@example.org", PASSWORD, "editor")
    page = client.get(LOGIN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Đăng nhập cán bộ" in html and 'name="csrf_token"' in html

    wrong = login(client, "lan@example.org", "sai-mat-khau-roi")
    assert wrong.status_code == 200
    assert "Email hoặc mật khẩu không đúng." in wrong.get_data(as_text=True)
    unknown = login(client, "ai@example.org", PASSWORD)
    assert "Email hoặc mật khẩu không đúng." in unknown.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302

    ok = login(client, "LAN@example.org", PASSWORD)
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert find_user("lan@example.org").failed_logins == 0


def test_next_goes_only_to_this_site(app, client):
    create_user("lan@example.org", PASSWORD, "admin")
    data = {
        "email": "lan@example.org",
        "password": PASSWORD,
        "csrf_token": csrf_token(client),
        "next": "//evil.example/x",
    }
    assert client.post(LOGIN, data=data).headers["Location"] == "/admin/"
    client.post("/admin/logout", data={"csrf_token": csrf_token(client)})
    data = {**data, "next": results_url(), "csrf_token": csrf_token(client)}
    assert client.post(LOGIN, data=data).headers["Location"] == results_url()


def end_the_waits() -> None:
    """As if every wait of the login throttles had run out."""
    db.session.execute(
        sa.update(LoginThrottle)
        .where(LoginThrottle.locked_until.is_not(None))
        .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()


def test_lockout_after_five_failures_is_per_account_and_grows(app):
    create_user("lan@example.org", PASSWORD, "editor")
    create_user("binh@example.org", PASSWORD, "editor")
    attacker = app.test_client()
    for _ in range(5):
        reply = login(attacker, "lan@example.org", "doan-mo-mat-khau")
    assert "1 phút" in reply.get_data(as_text=True)
    # Waiting: from this network even the right password waits, without a longer wait.
    locked = login(app.test_client(), "lan@example.org", PASSWORD)
    assert locked.status_code == 200 and "thử lại sau 1 phút" in locked.get_data(as_text=True)
    user = find_user("lan@example.org")
    assert user.failed_logins == 5
    # A colleague's account, from the same address, is not affected.
    assert login(attacker, "binh@example.org", PASSWORD).status_code == 302

    # The minute passes: the count starts again, and the next wait is longer (2 min).
    end_the_waits()
    for _ in range(4):
        reply = login(app.test_client(), "lan@example.org", "doan-lan-nua-sai")
        assert "Email hoặc mật khẩu không đúng." in reply.get_data(as_text=True)
    reply = login(app.test_client(), "lan@example.org", "doan-lan-nua-sai")
    assert "2 phút" in reply.get_data(as_text=True)
    db.session.refresh(user)
    assert user.failed_logins == 10

    end_the_waits()
    assert login(app.test_client(), "lan@example.org", PASSWORD).status_code == 302
    db.session.refresh(user)
    assert user.failed_logins == 0 and db.session.scalar(sa.select(LoginThrottle)) is None


def test_lock_grows_to_at_most_thirty_minutes():
    from survey_engine.staff.accounts import lock_duration

    assert [lock_duration(n).seconds // 60 for n in (1, 2, 3, 4, 5, 6, 40)] == [
        1,
        2,
        4,
        8,
        16,
        30,
        30,
    ]


def test_csrf_refuses_a_login_without_token_but_not_the_citizen_form(app):
    # Flask-WTF 1.x checks CSRF under TESTING too; say so explicitly anyway.
    app.config["WTF_CSRF_ENABLED"] = True
    create_user("lan@example.org", PASSWORD, "admin")
    client = app.test_client()
    reply = client.post(LOGIN, data={"email": "lan@example.org", "password": PASSWORD})
    assert reply.status_code == 400
    assert client.get("/admin/").status_code == 302  # not signed in
    logged_in = app.test_client()
    assert login(logged_in, "lan@example.org", PASSWORD).status_code == 302
    assert logged_in.post("/admin/logout").status_code == 400  # no token, still signed in
    assert logged_in.get("/admin/").status_code == 200

    citizen = app.test_client(use_cookies=False)
    assert citizen.post(f"/s/{DEMO_SLUG}", data=form_data()).status_code == 303
    reply = citizen.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert reply.status_code == 202


def test_csrf_runs_for_every_blueprint_but_the_api_and_no_write_escapes_it(app):
    """CSRF's check is registered per blueprint (not on every submission); a route that
    takes a write outside every blueprint would escape it, so such an app refuses to
    start, and a form in each blueprint with one is checked."""
    from survey_engine.admin import refuse_writes_outside_blueprints

    protected = {
        name
        for name, hooks in app.before_request_funcs.items()
        if hooks and any(hook.__name__ == "csrf_protect" for hook in hooks)
    }
    assert protected == set(app.blueprints) - {"api"}
    refuse_writes_outside_blueprints(app)  # the app as built has none
    app.add_url_rule("/stray", "stray", lambda: "", methods=["POST"])
    with pytest.raises(RuntimeError, match="/stray takes POST outside a blueprint"):
        refuse_writes_outside_blueprints(app)


def _session_cookie(reply) -> str:
    return next(c for c in reply.headers.getlist("Set-Cookie") if c.startswith("session="))


def test_session_cookie_flags_and_rotation(app, client):
    create_user("lan@example.org", PASSWORD, "admin")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    cookie = _session_cookie(login(client, "lan@example.org", PASSWORD))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"]


@pytest.fixture
def secure_app(database_url):
    yield from seeded_app(database_url, SESSION_COOKIE_SECURE=True)


def test_session_cookie_is_secure_when_configured(secure_app):
    create_user("lan@example.org", PASSWORD, "admin")
    client = secure_app.test_client()
    cookie = _session_cookie(login(client, "lan@example.org", PASSWORD))
    assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.fixture
def limited_app(database_url):
    yield from seeded_app(database_url, LOGIN_RATE_LIMIT="3/minute")


def test_login_posts_are_rate_limited_per_address_not_the_public_form(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        assert login(client, "ai@example.org", "sai-mat-khau-roi").status_code == 200
    reply = login(client, "ai@example.org", "sai-mat-khau-roi")
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) >= 1
    assert "Có quá nhiều lần đăng nhập" in reply.get_data(as_text=True)
    assert client.get(LOGIN).status_code == 200  # only POST is limited
    for _ in range(5):  # citizens behind one address are never limited
        assert client.post(f"/s/{DEMO_SLUG}", data=form_data()).status_code == 303


# The route x role matrix -------------------------------------------------------------

ROLES = ("anonymous", "analyst", "editor", "admin", "other_editor")


@pytest.fixture
def staff(app):
    """Accounts of every kind, a second survey, and a token for each account."""
    save_definition({**demo_definition(), "slug": OTHER_SLUG}, publish=True)
    demo, other = find_survey(DEMO_SLUG), find_survey(OTHER_SLUG)
    tokens = {}
    for role in ROLES[1:]:
        user = create_user(f"{role}@example.org", PASSWORD, role.removeprefix("other_"))
        if role in ("analyst", "editor"):
            share_survey(user, demo)
        if role == "other_editor":
            share_survey(user, other)
        tokens[role] = create_token(user)
    return tokens


def session_client(app, role: str):
    client = app.test_client()
    if role != "anonymous":
        assert login(client, f"{role}@example.org").status_code == 302
    return client


SEES = {
    "anonymous": (),
    "analyst": (DEMO_SLUG,),
    "editor": (DEMO_SLUG,),
    "admin": (DEMO_SLUG, OTHER_SLUG),
    "other_editor": (OTHER_SLUG,),
}


@pytest.mark.parametrize("role", ROLES)
def test_route_role_matrix(app, staff, role):
    client = session_client(app, role)
    index = client.get("/admin/")
    logout_page = client.get("/admin/logout")
    if role == "anonymous":
        assert index.status_code == 302 and index.headers["Location"].startswith(LOGIN)
        assert logout_page.status_code == 302
        assert logout_page.headers["Location"].startswith(LOGIN)
    else:
        assert index.status_code == 200 and logout_page.status_code == 200
        html = index.get_data(as_text=True)
        for slug in (DEMO_SLUG, OTHER_SLUG):
            assert (results_url(slug) in html) == (slug in SEES[role])

    token_headers = {"Authorization": f"Bearer {staff[role]}"} if role in staff else {}
    token_client = app.test_client()
    for slug in (DEMO_SLUG, OTHER_SLUG):
        expected = 401 if role == "anonymous" else 200 if slug in SEES[role] else 403
        by_session = client.get(results_url(slug))
        assert by_session.status_code == expected, (role, slug)
        assert token_client.get(results_url(slug), headers=token_headers).status_code == expected
    if role == "anonymous":
        reply = client.get(results_url())
        assert reply.get_json()["error"] and "Bearer" in reply.headers["WWW-Authenticate"]
    else:
        assert client.get(results_url("khong-co")).status_code == 404

    if role != "anonymous":
        reply = client.post("/admin/logout", data={"csrf_token": csrf_token(client)})
        assert reply.status_code == 302 and reply.headers["Location"] == LOGIN
        assert client.get("/admin/").status_code == 302
        assert client.get(results_url(DEMO_SLUG)).status_code == 401


def test_bad_and_revoked_tokens_are_refused(app, staff):
    client = app.test_client()
    for header in (
        "Bearer se_nothing-like-a-real-token-at-all",
        "Bearer ",
        "Basic abc",
        f"Token {staff['admin']}",
    ):
        reply = client.get(results_url(), headers={"Authorization": header})
        assert reply.status_code == 401, header
    good = {"Authorization": f"Bearer {staff['admin']}"}
    assert client.get(results_url(), headers=good).status_code == 200
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.prefix == staff["admin"][:11]))
    assert row.last_used_at is not None
    row.revoked_at = datetime.now(UTC)
    db.session.commit()
    assert client.get(results_url(), headers=good).status_code == 401
    # A bad token is refused even beside a valid session.
    signed_in = session_client(app, "admin")
    assert signed_in.get(results_url(), headers=good).status_code == 401


def test_results_count_the_submitted_answers(app, staff):
    client = app.test_client()
    first = valid_answers()
    second = {
        **valid_answers(),
        "district": "bao_lam",
        "commune": "blm_loc_an",
        "concerns": ["transport"],
        "follow_up": "no",
        "phone": None,
    }
    second = {k: v for k, v in second.items() if v is not None}
    for answers in (first, second):
        reply = client.post(
            f"/api/v1/surveys/{DEMO_SLUG}/responses",
            json={"submission_id": new_id(), "answers": answers},
        )
        assert reply.status_code == 202, reply.get_json()
    assert client.post(f"/s/{DEMO_SLUG}", data=form_data()).status_code == 303

    body = client.get(
        results_url(), headers={"Authorization": f"Bearer {staff['analyst']}"}
    ).get_json()
    assert body["responses"] == 3
    q = body["questions"]
    # The keys the API had before it gave shares and statistics too (docs/api.md).
    assert q["district"]["answered"] == 3
    assert q["district"]["counts"] == {"bao_lam": 2, "da_lat": 1}
    assert q["concerns"]["answered"] == 3
    assert q["concerns"]["counts"] == {"infection": 1, "transport": 2, "vaccination": 1, "other": 1}
    assert q["follow_up"]["counts"] == {"yes": 2, "no": 1}
    assert q["phone"]["answered"] == 2 and q["phone"]["counts"] == {}

    empty = client.get(
        results_url(OTHER_SLUG), headers={"Authorization": f"Bearer {staff['admin']}"}
    ).get_json()
    assert empty["responses"] == 0
    assert empty["questions"]["district"]["answered"] == 0
    assert empty["questions"]["district"]["counts"] == {}
