"""Staff sessions, sign-in throttling and the client's address behind proxies
(issue 10, findings 1, 2, 9 and 12).

A "copied cookie" is the session cookie of one test client set on a second client:
what someone who took it from a browser, a proxy log or a backup would replay.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from survey_engine import create_app
from survey_engine.config import ConfigError
from survey_engine.extensions import db
from survey_engine.models import AuditEvent, LoginThrottle, StaffSession, User
from survey_engine.staff.accounts import create_user, delete_user, find_user, hash_password
from tests.conftest import (
    DEMO_SLUG,
    forget_login_user_per_request,
    new_id,
    seeded_app,
    valid_answers,
)
from tests.test_admin_surveys import post
from tests.test_staff import LOGIN, PASSWORD, csrf_token, login, results_url

ADMIN, EDITOR, ANALYST = "admin@example.org", "editor@example.org", "analyst@example.org"
NEW_PASSWORD = "mat-khau-moi-dai-hon"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def app(database_url, tmp_path):
    """The login rate limit out of the way: these tests sign in often from one address
    (the limit itself is tested below and in test_staff.py)."""
    yield from seeded_app(
        database_url, EXPORT_DIR=str(tmp_path / "exports"), LOGIN_RATE_LIMIT="1000/minute"
    )


@pytest.fixture
def staff(app):
    create_user(ADMIN, PASSWORD, "admin")
    create_user(EDITOR, PASSWORD, "editor")
    create_user(ANALYST, PASSWORD, "analyst")
    return app


@pytest.fixture(autouse=True)
def _each_request_loads_its_own_user(app):
    yield from forget_login_user_per_request(app)


def client_from(app, address: str = "127.0.0.1", agent: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if agent:
        client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def signed_in(app, email: str, password: str = PASSWORD, **where):
    client = client_from(app, **where)
    assert login(client, email, password).status_code == 302
    return client


def copy_of(app, client):
    """A second browser holding the same session cookie."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return thief


def is_signed_in(client) -> bool:
    reply = client.get("/admin/")
    assert reply.status_code in (200, 302)
    if reply.status_code == 302:
        assert reply.headers["Location"].startswith(LOGIN)
    return reply.status_code == 200


def ended_events() -> list[dict]:
    db.session.expire_all()
    return [
        event.detail | {"by": event.actor}
        for event in db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "sessions_ended")
            .order_by(AuditEvent.id)
        )
    ]


# -- finding 1: a cookie names a session, never a (reusable) user id ----------------


def test_finding1_a_deleted_accounts_cookie_does_not_sign_in_as_the_next_account(staff):
    analyst = signed_in(staff, ANALYST)
    old_cookie = copy_of(staff, analyst)
    gone = find_user(ANALYST)
    gone_id = gone.id
    delete_user(gone)
    # The next account gets the same id, as SQLite used to give it (and as a restore
    # or a hand-made INSERT can on PostgreSQL).
    db.session.add(
        User(
            id=gone_id,
            email="new-admin@example.org",
            role="admin",
            password_hash=hash_password(PASSWORD),
            failed_logins=0,
        )
    )
    db.session.commit()
    assert not is_signed_in(old_cookie)
    assert old_cookie.get("/admin/users").status_code == 302
    assert not is_signed_in(analyst)
    assert is_signed_in(signed_in(staff, "new-admin@example.org"))


def test_finding1_user_ids_are_not_reused(staff):
    last = create_user("tam-thoi@example.org", PASSWORD, "analyst")
    last_id = last.id
    delete_user(last)
    assert create_user("moi@example.org", PASSWORD, "analyst").id > last_id


def test_finding1_the_cookie_holds_a_random_session_token(staff):
    client = signed_in(staff, EDITOR)
    with client.session_transaction() as session:
        token = session["_user_id"]
    assert token != str(find_user(EDITOR).id) and len(token) >= 40
    # Only its hash is stored.
    [row] = db.session.scalars(sa.select(StaffSession)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


# -- finding 2: sessions end on the server ------------------------------------------


def test_finding2_logout_ends_the_session_for_a_copied_cookie_too(staff):
    editor = signed_in(staff, EDITOR)
    thief = copy_of(staff, editor)
    assert is_signed_in(thief)
    assert post(editor, "/admin/logout").status_code == 302
    reply = thief.get("/admin/")
    assert reply.status_code == 302 and reply.headers["Location"].startswith(LOGIN)
    assert thief.get("/api/v1/surveys/tro-lai-truong-hoc/results").status_code == 401
    row = db.session.scalar(sa.select(StaffSession))
    assert row.ended_at is not None and row.end_reason == "logout"


def test_finding2_a_password_change_keeps_this_session_and_ends_the_others(staff):
    here = signed_in(staff, EDITOR)
    there = signed_in(staff, EDITOR, address="198.51.100.20")
    thief = copy_of(staff, there)
    reply = post(
        here,
        "/admin/password",
        {"password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert reply.status_code == 302
    assert is_signed_in(here)
    assert not is_signed_in(there) and not is_signed_in(thief)
    assert ended_events() == [
        {"email": EDITOR, "count": 1, "reason": "password_changed", "by": EDITOR}
    ]


def test_finding2_an_admin_reset_ends_every_session_of_the_account(staff):
    editor, phone = signed_in(staff, EDITOR), signed_in(staff, EDITOR, agent=PHONE)
    admin = signed_in(staff, ADMIN)
    url = f"/admin/users/{find_user(EDITOR).id}/password"
    assert post(admin, url, {"password": NEW_PASSWORD}).status_code == 302
    assert not is_signed_in(editor) and not is_signed_in(phone)
    assert is_signed_in(admin)
    assert is_signed_in(signed_in(staff, EDITOR, NEW_PASSWORD))
    assert ended_events() == [
        {"email": EDITOR, "count": 2, "reason": "password_reset", "by": ADMIN}
    ]


def test_finding2_deleting_an_account_ends_every_session(staff):
    editor = signed_in(staff, EDITOR)
    thief = copy_of(staff, editor)
    admin = signed_in(staff, ADMIN)
    assert post(admin, f"/admin/users/{find_user(EDITOR).id}/delete").status_code == 302
    assert not is_signed_in(editor) and not is_signed_in(thief)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(StaffSession)
            .where(StaffSession.user_id.not_in(sa.select(User.id)))
        )
        == 0
    )
    assert ended_events() == [{"email": EDITOR, "count": 1, "reason": "user_deleted", "by": ADMIN}]


def test_finding2_a_demotion_ends_every_session_a_promotion_none(staff):
    create_user("admin2@example.org", PASSWORD, "admin")
    second = signed_in(staff, "admin2@example.org")
    analyst = signed_in(staff, ANALYST)
    admin = signed_in(staff, ADMIN)
    url = "/admin/users/{}/role"
    assert post(admin, url.format(find_user(ANALYST).id), {"role": "editor"}).status_code == 302
    assert is_signed_in(analyst)  # more rights: nothing to end
    assert (
        post(admin, url.format(find_user("admin2@example.org").id), {"role": "analyst"}).status_code
        == 302
    )
    assert not is_signed_in(second)
    assert ended_events() == [
        {"email": "admin2@example.org", "count": 1, "reason": "role_changed", "by": ADMIN}
    ]


def test_finding2_the_sessions_page_lists_and_ends_ones_own_sessions(staff):
    laptop = signed_in(staff, EDITOR, agent=FIREFOX, address="203.0.113.7")
    phone = signed_in(staff, EDITOR, agent=PHONE, address="2001:db8:5:6:7::1")
    tablet = signed_in(staff, EDITOR, address="192.0.2.55")
    admin = signed_in(staff, ADMIN)
    page = laptop.get("/admin/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = re.findall(r"<tr><td>(.*?)</tr>", html, re.S)
    assert len(rows) == 3  # the editor's, not the admin's
    assert "Firefox · Windows" in rows[-1] and "(phiên này)" in rows[-1]  # this session
    assert "203.0.113.7" in rows[-1]
    assert "Chrome · Android" in html and "2001:db8:5:6::/64" in html
    assert "/admin/sessions" in laptop.get("/admin/").get_data(as_text=True)

    phone_row = db.session.scalar(
        sa.select(StaffSession).where(StaffSession.network == "2001:db8:5:6::/64")
    )
    assert post(admin, f"/admin/sessions/{phone_row.id}/end").status_code == 404  # not theirs
    assert is_signed_in(phone)
    reply = post(laptop, f"/admin/sessions/{phone_row.id}/end")
    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/sessions"
    assert not is_signed_in(phone) and is_signed_in(laptop) and is_signed_in(tablet)

    assert post(laptop, "/admin/sessions/end-others").status_code == 302
    assert not is_signed_in(tablet) and is_signed_in(laptop)
    own = db.session.scalar(sa.select(StaffSession).where(StaffSession.network == "203.0.113.7"))
    reply = post(laptop, f"/admin/sessions/{own.id}/end")
    assert reply.headers["Location"] == LOGIN and not is_signed_in(laptop)
    assert [e["reason"] for e in ended_events()] == ["ended_by_owner"] * 3


def test_finding2_sessions_end_when_idle_or_too_old(staff):
    editor = signed_in(staff, EDITOR)
    row = db.session.scalar(sa.select(StaffSession))
    # Used a minute later: last seen moves on (at most once a minute, not per page).
    row.last_seen_at = row.created_at = datetime.now(UTC) - timedelta(minutes=2)
    db.session.commit()
    assert is_signed_in(editor)
    db.session.refresh(row)
    seen = row.last_seen_at
    seen = seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen  # SQLite: naive UTC
    assert datetime.now(UTC) - seen < timedelta(seconds=30)
    # Left alone for more than STAFF_SESSION_IDLE_MINUTES (120).
    row.last_seen_at = datetime.now(UTC) - timedelta(minutes=121)
    db.session.commit()
    assert not is_signed_in(editor)
    db.session.refresh(row)
    assert row.end_reason == "expired"

    busy = signed_in(staff, EDITOR)
    row = db.session.scalar(sa.select(StaffSession).where(StaffSession.ended_at.is_(None)))
    # Used all the time, but signed in more than STAFF_SESSION_MAX_HOURS (12) ago.
    row.created_at = datetime.now(UTC) - timedelta(hours=12, minutes=1)
    db.session.commit()
    assert not is_signed_in(busy)


def test_finding2_long_ended_sessions_are_deleted_at_the_next_sign_in(staff):
    old, recent = signed_in(staff, EDITOR), signed_in(staff, EDITOR)
    post(old, "/admin/logout")
    post(recent, "/admin/logout")
    rows = db.session.scalars(sa.select(StaffSession).order_by(StaffSession.id)).all()
    rows[0].ended_at = datetime.now(UTC) - timedelta(days=31)
    db.session.commit()
    signed_in(staff, EDITOR)
    left = db.session.scalars(sa.select(StaffSession.id).order_by(StaffSession.id)).all()
    assert left[0] == rows[1].id and len(left) == 2


@pytest.mark.parametrize(
    "name, value",
    [
        ("STAFF_SESSION_IDLE_MINUTES", "0"),
        ("STAFF_SESSION_IDLE_MINUTES", "abc"),
        ("STAFF_SESSION_MAX_HOURS", "-1"),
        ("STAFF_SESSION_MAX_HOURS", "inf"),
    ],
)
def test_finding2_bad_session_limits_are_refused_at_startup(database_url, name, value):
    with pytest.raises(ConfigError, match=f"{name} must be a number > 0"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, name: value})


def test_finding2_an_idle_limit_shorter_than_the_last_use_note_is_refused(database_url):
    """Last use is written once a minute: a 1-minute idle limit would end a session in
    use between two notes."""
    with pytest.raises(ConfigError, match="STAFF_SESSION_IDLE_MINUTES must be at least 2"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "STAFF_SESSION_IDLE_MINUTES": "1"})


# -- finding 9: throttled per email and network, the same answer for every email ----

ATTACKER = "203.0.113.66"


def test_finding9_a_waiting_account_still_signs_in_from_another_network(staff):
    attacker = client_from(staff, ATTACKER)
    for _ in range(5):
        assert login(attacker, EDITOR, "doan-mo-mat-khau").status_code == 200
    # The attacker's network waits, even with the right password...
    reply = login(client_from(staff, ATTACKER), EDITOR)
    assert reply.status_code == 200 and "1 phút" in reply.get_data(as_text=True)
    # ...the editor at the office does not.
    office = client_from(staff, "198.51.100.20")
    assert login(office, EDITOR).status_code == 302 and is_signed_in(office)
    # Their sign-in does not free the attacker's network.
    assert "1 phút" in login(client_from(staff, ATTACKER), EDITOR).get_data(as_text=True)
    # One address of another IPv6 subscriber network is another network; the same /64
    # is the same one.
    for _ in range(5):
        login(client_from(staff, "2001:db8:1:2::10"), ANALYST, "doan-mo-mat-khau")
    assert login(client_from(staff, "2001:db8:1:2::99"), ANALYST).status_code == 200
    assert login(client_from(staff, "2001:db8:1:3::10"), ANALYST).status_code == 302


def test_finding9_the_count_starts_again_when_a_wait_ends(staff):
    for _ in range(5):
        login(client_from(staff, ATTACKER), EDITOR, "doan-mo-mat-khau")
    db.session.execute(
        sa.update(LoginThrottle).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    # One more wrong password after the wait is the first of a new count, not a new wait
    # (one try per wait no longer keeps an account locked).
    reply = login(client_from(staff, ATTACKER), EDITOR, "doan-lan-nua-sai")
    assert "Email hoặc mật khẩu không đúng." in reply.get_data(as_text=True)
    assert login(client_from(staff, ATTACKER), EDITOR).status_code == 302


def _answer(reply, email: str) -> tuple:
    """The reply with the echoed email and the (per-second) CSRF token blanked."""
    body = reply.get_data(as_text=True).replace(email, "EMAIL")
    body = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', body)
    headers = sorted((k, v) for k, v in reply.headers.items() if k not in ("Set-Cookie",))
    return reply.status_code, headers, body


def test_finding9_known_and_unknown_emails_get_the_same_answers(staff):
    known, unknown = EDITOR, "khach1@example.org"  # the same length
    assert len(known) == len(unknown) and find_user(unknown) is None
    for attempt in range(1, 8):
        answers = [
            _answer(login(client_from(staff, ATTACKER), email, "doan-mo-mat-khau"), email)
            for email in (known, unknown)
        ]
        assert answers[0] == answers[1], attempt
        waiting = "1 phút" in answers[0][2]
        assert waiting == (attempt >= 5), attempt
    # Even the right password of the known account gets the waiting answer there.
    right = _answer(login(client_from(staff, ATTACKER), known), known)
    assert right == _answer(login(client_from(staff, ATTACKER), unknown, PASSWORD), unknown)


def test_finding9_unlock_frees_every_network(staff):
    for _ in range(5):
        login(client_from(staff, ATTACKER), EDITOR, "doan-mo-mat-khau")
    admin = signed_in(staff, ADMIN)
    admin.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = admin.get(f"/admin/users/{find_user(EDITOR).id}").get_data(as_text=True)
    assert ATTACKER in page and "Locked until (Vietnam time)" in page
    assert post(admin, f"/admin/users/{find_user(EDITOR).id}/unlock").status_code == 302
    assert login(client_from(staff, ATTACKER), EDITOR).status_code == 302


# -- finding 12: behind proxies ------------------------------------------------------


@pytest.fixture
def proxied_app(database_url):
    yield from seeded_app(database_url, LOGIN_RATE_LIMIT="3/minute", TRUSTED_PROXIES="1")


@pytest.fixture
def direct_app(database_url):
    yield from seeded_app(database_url, LOGIN_RATE_LIMIT="3/minute")


def _login_from(app, forwarded_for: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(
        LOGIN,
        data={
            "email": "ai@example.org",
            "password": "sai-mat-khau",
            "csrf_token": csrf_token(client),
        },
    )


def test_finding12_forwarded_for_is_ignored_without_trusted_proxies(direct_app):
    for _ in range(3):
        assert _login_from(direct_app, "198.51.100.1").status_code == 200
    # Another X-Forwarded-For changes nothing: the bucket is the peer's address
    # (else any client could pick a fresh address for every guess).
    assert _login_from(direct_app, "198.51.100.2").status_code == 429


def test_finding12_trusted_proxies_gives_each_client_its_own_login_limit(proxied_app):
    for _ in range(3):
        assert _login_from(proxied_app, "198.51.100.1").status_code == 200
    assert _login_from(proxied_app, "198.51.100.1").status_code == 429
    # Another staff member behind the same proxy still signs in.
    assert _login_from(proxied_app, "198.51.100.2").status_code == 200
    # A client's own X-Forwarded-For entries before the proxy's are not believed.
    assert _login_from(proxied_app, "198.51.100.9, 198.51.100.1").status_code == 429
    # Sessions and throttles see the client's address too.
    create_user(EDITOR, PASSWORD, "editor")
    client = proxied_app.test_client()
    client.environ_base.update(
        REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.77", HTTP_X_FORWARDED_PROTO="https"
    )
    assert login(client, EDITOR).status_code == 400  # HTTPS: CSRF wants a same-site Referer
    client.environ_base["HTTP_REFERER"] = "https://localhost/admin/login"
    assert login(client, EDITOR).status_code == 302
    assert db.session.scalar(sa.select(StaffSession.network)) == "192.0.2.77"


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "²", "", True])
def test_finding12_a_bad_trusted_proxies_is_refused_at_startup(database_url, value):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES must be a whole number >= 0"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TRUSTED_PROXIES": value})


def test_finding9_waits_grow_per_network_and_a_quiet_day_forgets_them(staff):
    from survey_engine.staff.accounts import check_login

    start = datetime.now(UTC)

    def five_wrong(at: datetime) -> timedelta:
        results = [
            check_login(EDITOR, "doan-mo-mat-khau", now=at, network=ATTACKER) for _ in range(5)
        ]
        assert [r.locked_for is None for r in results] == [True] * 4 + [False]
        return results[-1].locked_for

    assert five_wrong(start) == timedelta(minutes=1)
    assert check_login(
        EDITOR, PASSWORD, now=start + timedelta(seconds=59), network=ATTACKER
    ).locked_for == timedelta(seconds=1)
    assert five_wrong(start + timedelta(minutes=1)) == timedelta(minutes=2)
    assert five_wrong(start + timedelta(minutes=3)) == timedelta(minutes=4)
    # Another network, meanwhile, signs in.
    assert (
        check_login(
            EDITOR, PASSWORD, now=start + timedelta(minutes=4), network="198.51.100.20"
        ).user
        is not None
    )
    # A day without a wrong password from there: the waits start from one minute again.
    assert five_wrong(start + timedelta(hours=25)) == timedelta(minutes=1)


def test_a_citizens_requests_set_no_session_cookie_and_vary_on_cookie_once(staff):
    """The session interface skips Flask's work for a request with no cookie: nothing
    of a session is set, and a page that read the session still says it varies with
    the Cookie header (a shared cache must not hand a staff member's page to a citizen,
    or the reverse). The submission API reads no session at all (no staff hook runs
    there): its reply neither sets a cookie nor claims to vary with one."""
    citizen = client_from(staff)
    reply = citizen.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert reply.status_code == 202
    assert "Set-Cookie" not in reply.headers
    assert reply.headers.getlist("Vary") == []
    page = citizen.get(f"/s/{DEMO_SLUG}")
    assert page.status_code == 200
    assert [v.strip() for v in ",".join(page.headers.getlist("Vary")).split(",")].count(
        "Cookie"
    ) == 1
    # Staff sign in on the same interface: the cookie is set and read back.
    member = client_from(staff)
    assert login(member, ADMIN).status_code == 302
    assert member.get_cookie("session") is not None
    assert member.get("/admin/").status_code == 200
    assert member.get(results_url(DEMO_SLUG)).status_code in (200, 202)
