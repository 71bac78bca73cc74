"""Every staff and API route x {anonymous, analyst, editor, admin, another survey's
editor}: who is sent to sign in, who is refused, who gets through.

ROUTES must name every rule of the admin and API blueprints (a test checks), so a
new route cannot ship without its row. Requests that would change something carry
a body that is refused after the permission check (a missing confirmation, a stale
revision, a bad name): "gets through" is then that refusal, never a 403.
"""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from flask import g

from survey_engine.catalog import find_survey, save_definition
from survey_engine.exporting.files import start_export
from survey_engine.exporting.survey_file import ExportOptions
from survey_engine.extensions import db
from survey_engine.intake.code_batches import create_batch
from survey_engine.models import (
    AccessCodeBatch,
    ApiToken,
    ExportFile,
    Response,
    StaffSession,
    WebhookDelivery,
    WebhookEndpoint,
)
from survey_engine.staff.accounts import create_token, create_user, find_user, share_survey
from survey_engine.webhooks.endpoints import add_endpoint
from tests.conftest import (
    DEMO_SLUG,
    demo_definition,
    forget_login_user_per_request,
    valid_answers,
)
from tests.test_staff import PASSWORD, login

OTHER_SLUG = "dat-dai"
LOGIN = "/admin/login"
S = f"/admin/surveys/{DEMO_SLUG}"
ROLES = ("anonymous", "analyst", "editor", "admin", "other_editor")

# Who gets through, besides admins (who always do).
SIGNED_IN = {"analyst", "editor", "other_editor"}  # any staff account
CREATOR = {"editor", "other_editor"}  # may create surveys
READER = {"analyst", "editor"}  # the demo is shared with them
MANAGER = {"editor"}  # shared with them, and they may change it
ADMIN = set()
PUBLIC = {"anonymous", "analyst", "editor", "other_editor"}

# (method, path, who gets through, their status (or {role: status, "*": the others'}),
# form data). Order matters where a
# request has an effect on later ones: the token is revoked, the spare account
# deleted, and the session signed out last.
ROUTES = [
    ("GET", LOGIN, PUBLIC, {"anonymous": 200, "*": 302}, None),  # signed in: to /admin/
    ("POST", LOGIN, PUBLIC, 200, {"email": "nobody@example.org", "password": "x"}),
    ("GET", "/admin/", SIGNED_IN, 200, None),
    ("GET", "/admin/?q=tro+lai&status=published", SIGNED_IN, 200, None),
    ("GET", "/admin/?q=tro+lai&status=published&page=2", SIGNED_IN, 200, None),
    ("GET", "/admin/password", SIGNED_IN, 200, None),
    ("POST", "/admin/password", SIGNED_IN, 422, {"password": "", "new_password": ""}),
    ("GET", "/admin/tokens", SIGNED_IN, 200, None),
    ("POST", "/admin/tokens", SIGNED_IN, 200, {}),
    ("POST", "/admin/tokens/{own_token}/revoke", SIGNED_IN, 302, {}),
    ("GET", "/admin/sessions", SIGNED_IN, 200, None),
    ("POST", "/admin/sessions/{spare_session}/end", SIGNED_IN, 404, {}),  # not their own
    ("POST", "/admin/sessions/end-others", SIGNED_IN, 302, {}),  # there are none
    ("GET", "/admin/surveys/new", CREATOR, 200, None),
    ("POST", "/admin/surveys/new", CREATOR, 422, {}),
    ("POST", "/admin/surveys/create", CREATOR, 422, {"slug": "Not A Slug", "title": "x"}),
    ("POST", "/admin/surveys/from-template", CREATOR, 422, {"template": "nope", "slug": "x"}),
    ("GET", S, READER, 200, None),
    ("GET", f"{S}/definition.json", READER, 200, None),
    ("GET", f"{S}/definition.xlsx", READER, 200, None),
    ("GET", f"{S}/responses.xlsx", READER, 200, None),
    ("GET", f"{S}/results?f.district=da_lat&row=district&col=support", READER, 200, None),
    ("GET", f"{S}/results/text/comment?q=an", READER, 200, None),
    ("GET", f"{S}/exports", READER, 200, None),
    ("POST", f"{S}/exports", READER, 400, {"fmt": "doc"}),  # no such format
    ("POST", f"{S}/exports", READER, 303, {"fmt": "pdf"}),  # the quick report
    ("GET", "/admin/exports/{export}/progress", READER, 200, None),
    ("GET", "/admin/exports/{export}/download", READER, 200, None),
    ("GET", f"{S}/review?status=any&flag=burst&limit=5", READER, 200, None),
    ("GET", f"{S}/review/{{response}}", READER, 200, None),
    # Nothing is excluded yet: accepting all the excluded moves none (a redirect).
    ("POST", f"{S}/review", MANAGER, 303, {"action": "accept", "scope": "matching"}),
    ("POST", f"{S}/review/{{response}}", MANAGER, 400, {"action": "nothing"}),
    ("GET", f"{S}/preview", READER, 200, None),
    ("POST", f"{S}/preview", READER, 422, {"district": "nowhere"}),
    ("GET", f"{S}/preview/thanks", READER, 200, None),
    ("POST", S, MANAGER, 422, {}),  # an upload without a file
    ("POST", f"{S}/publish", MANAGER, 302, {}),  # published again as it is
    ("POST", f"{S}/reopen", MANAGER, 302, {}),  # not possible while published
    ("POST", f"{S}/archive", MANAGER, 302, {}),  # not possible while published
    ("POST", f"{S}/close", MANAGER, 302, {}),  # closes; reopened by the next row
    ("POST", f"{S}/reopen", MANAGER, 302, {}),
    ("GET", f"{S}/duplicate", MANAGER, 200, None),
    ("POST", f"{S}/duplicate", MANAGER, 422, {"slug": "Not A Slug"}),
    ("GET", f"{S}/delete", MANAGER, 200, None),
    ("POST", f"{S}/delete", MANAGER, 409, {}),  # published: close it first
    ("GET", f"{S}/edit", MANAGER, 200, None),
    ("POST", f"{S}/edit", MANAGER, 422, {"change": "question_up", "target": "consent"}),
    # a question of a roster's row (a stale revision: refused after the permission check)
    ("POST", f"{S}/edit", MANAGER, 422, {"change": "add_row_question", "target": "children"}),
    ("GET", f"{S}/edit/copy?source={OTHER_SLUG}", MANAGER, 200, None),
    ("POST", f"{S}/edit/copy", MANAGER, 422, {"source": "nope"}),
    ("GET", f"{S}/edit/revision", MANAGER, 200, None),
    ("POST", f"{S}/edit/check", MANAGER, 200, {"question": "role", "field": "relevant"}),
    ("POST", f"{S}/edit/undo", MANAGER, 302, {}),  # stale revision: nothing undone
    ("GET", f"{S}/edit/lists?name=new_list", MANAGER, 302, None),
    ("GET", f"{S}/edit/lists/roles", MANAGER, 200, None),
    ("POST", f"{S}/edit/lists/roles", MANAGER, 422, {"new_column": "1 bad"}),
    ("GET", f"{S}/edit/lists/roles?row=2", MANAGER, 200, None),
    ("POST", f"{S}/edit/lists/roles", MANAGER, 422, {"change": "choice_up:1"}),  # no row 1
    ("POST", f"{S}/edit", MANAGER, 422, {"change": "place_page", "target": "contact"}),
    ("GET", f"{S}/edit/pages/about_you", MANAGER, 200, None),
    ("POST", f"{S}/edit/pages/about_you", MANAGER, 422, {"name": "about_you"}),  # stale
    ("GET", f"{S}/edit/questions/role", MANAGER, 200, None),
    ("POST", f"{S}/edit/questions/role", MANAGER, 422, {"name": "role", "type": "text"}),
    ("GET", f"{S}/edit/settings", MANAGER, 200, None),
    ("POST", f"{S}/edit/settings", MANAGER, 422, {"title.vi": "x"}),
    ("GET", f"{S}/edit/quotas", MANAGER, 200, None),
    ("POST", f"{S}/edit/quotas", MANAGER, 422, {"quota-0-name": "x"}),  # stale revision
    ("GET", f"{S}/edit/translations", MANAGER, 200, None),
    ("POST", f"{S}/edit/translations", MANAGER, 422, {"title|vi": "x"}),
    ("GET", f"{S}/sharing", MANAGER, 200, None),
    ("POST", f"{S}/sharing", MANAGER, 422, {"email": "nobody@example.org"}),
    ("POST", f"{S}/sharing/{{spare}}/remove", MANAGER, 302, {}),
    ("GET", f"{S}/codes", MANAGER, 200, None),
    ("POST", f"{S}/codes", MANAGER, 422, {"unit": "Trường A", "size": "0"}),
    ("GET", f"{S}/codes/{{batch}}.csv", MANAGER, 200, None),
    ("GET", f"{S}/weights", MANAGER, 200, None),
    ("POST", f"{S}/weights", MANAGER, 422, {"low": "0.2", "high": "5"}),  # no file
    ("GET", f"{S}/webhooks?before=5", MANAGER, 200, None),
    ("POST", f"{S}/webhooks", MANAGER, 422, {"url": "http://example.org/"}),  # http://
    ("POST", f"{S}/webhooks/{{webhook}}/secret", MANAGER, 400, {"action": "nothing"}),
    ("POST", f"{S}/webhooks/999999/delete", MANAGER, 404, {}),  # not one of its webhooks
    ("GET", f"{S}/webhooks/deliveries/{{delivery}}", MANAGER, 200, None),
    ("POST", f"{S}/webhooks/deliveries/{{delivery}}/replay", MANAGER, 302, {}),
    ("GET", "/admin/users", ADMIN, 200, None),
    (
        "POST",
        "/admin/users",
        ADMIN,
        422,
        {"email": "not an email", "role": "analyst", "password": "short"},
    ),
    ("GET", "/admin/users/{spare}", ADMIN, 200, None),
    ("POST", "/admin/users/{spare}/role", ADMIN, 302, {"role": "emperor"}),
    ("POST", "/admin/users/{spare}/password", ADMIN, 302, {"password": "short"}),
    ("POST", "/admin/users/{spare}/unlock", ADMIN, 302, {}),
    ("GET", "/admin/users/{spare}/delete", ADMIN, 200, None),
    ("POST", "/admin/users/{spare}/delete", ADMIN, 302, {}),
    ("GET", "/admin/audit", ADMIN, 200, None),
    ("GET", f"/s/{DEMO_SLUG}/quota?district=da_lat&role=parent", PUBLIC, 200, None),
    ("GET", f"/api/v1/surveys/{DEMO_SLUG}", PUBLIC, 200, None),
    ("POST", f"/api/v1/surveys/{DEMO_SLUG}/responses", PUBLIC, 422, "json"),
    # The demo has no file question: the upload route names its refusal to anyone.
    ("POST", f"/api/v1/surveys/{DEMO_SLUG}/uploads", PUBLIC, 404, "json"),
    # A citizen's file: staff who may read the survey (an unknown token: 404).
    ("GET", f"{S}/uploads/{'x' * 43}", READER, 404, None),
    ("GET", f"/api/v1/surveys/{DEMO_SLUG}/results", READER, 200, None),
    (
        "GET",
        f"/api/v1/surveys/{DEMO_SLUG}/results?f.district=da_lat&from=2026-11-01",
        READER,
        200,
        None,
    ),
    ("GET", "/api/v1/openapi.json", PUBLIC, 200, None),
    ("GET", "/api/v1/surveys", SIGNED_IN, 200, None),
    ("GET", f"/api/v1/surveys/{DEMO_SLUG}/responses?f.district=da_lat&limit=5", READER, 200, None),
    ("GET", f"/api/v1/surveys/{DEMO_SLUG}/versions/1/definition", READER, 200, None),
    ("GET", "/admin/logout", SIGNED_IN, 200, None),
    ("POST", "/admin/logout", SIGNED_IN, 302, {}),
]


def api_refusal(url: str) -> int:
    """A signed-in caller's refusal: the data API answers a survey not shared as it
    answers one that does not exist (404); the results endpoint keeps its 403."""
    return 404 if re.search(r"/(responses|definition)(\?|$)", url) else 403


@pytest.fixture
def accounts(app):
    """Every role; the demo shared with the analyst, the editor and a spare account;
    another survey shared with the other editor; a token for each; a finished export
    of the demo; a session of the spare account."""
    save_definition({**demo_definition(), "slug": OTHER_SLUG}, publish=True)
    demo, other = find_survey(DEMO_SLUG), find_survey(OTHER_SLUG)
    for role in ROLES[1:]:
        user = create_user(f"{role}@example.org", PASSWORD, role.removeprefix("other_"))
        share_survey(user, other if role == "other_editor" else demo)
        create_token(user)
    share_survey(create_user("spare@example.org", PASSWORD, "analyst"), demo)
    assert login(app.test_client(), "spare@example.org").status_code == 302
    start_export(demo, find_user("admin@example.org"), ExportOptions())  # inline: done
    add_endpoint(demo.id, "https://hooks.example.invalid/matrix", "admin@example.org")  # not sent
    reply = app.test_client().post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": str(uuid.uuid4()), "answers": valid_answers()},
    )
    assert reply.status_code == 202, reply.get_json()  # one response, to review
    create_batch(demo.id, "Trường A", 2, "admin@example.org")
    return app


@pytest.fixture(autouse=True)
def _each_request_loads_its_own_user(app):
    yield from forget_login_user_per_request(app)


def test_every_admin_and_api_route_is_in_the_matrix(app):
    listed = {(method, re.sub(r"\?.*", "", path)) for method, path, *_ in ROUTES}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("admin", "api"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            pattern = re.sub(r"<[^>]+>", "[^/]+", rule.rule)
            if rule.endpoint == "admin.change_status":
                pattern = pattern.replace("[^/]+$", "(close|reopen|archive)$")
            assert any(m == method and re.fullmatch(pattern, p) for m, p in listed), (
                f"{method} {rule.rule} ({rule.endpoint}) has no row in ROUTES"
            )


def _csrf(client, signed_in: bool) -> str:
    g.pop("csrf_token", None)
    html = client.get("/admin/logout" if signed_in else LOGIN).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("role", ROLES)
def test_route_role_matrix(accounts, role):
    client = accounts.test_client()
    if role != "anonymous":
        assert login(client, f"{role}@example.org").status_code == 302
        user = find_user(f"{role}@example.org")
        own_token = db.session.query(ApiToken).filter_by(user_id=user.id).one().id
    else:
        own_token = 1
    spare = find_user("spare@example.org").id
    spare_session = db.session.scalar(
        sa.select(StaffSession.id).where(StaffSession.user_id == spare)
    )
    export = db.session.scalar(sa.select(ExportFile.id))
    response = db.session.scalar(sa.select(sa.func.max(Response.id)))
    # Anonymous too has a token: its POSTs must meet the sign-in, not the CSRF check.
    token = _csrf(client, role != "anonymous")
    for method, path, allowed, status, data in ROUTES:
        url = path.format(
            own_token=own_token,
            spare=spare,
            export=export,
            spare_session=spare_session,
            response=response,
            batch=db.session.scalar(sa.select(AccessCodeBatch.id)),
            webhook=db.session.scalar(sa.select(WebhookEndpoint.id)),
            delivery=db.session.scalar(sa.select(WebhookDelivery.id)),
        )
        if method == "GET":
            reply = client.get(url)
        elif data == "json":
            reply = client.post(url, json={"answers": {"district": "nowhere"}})
        else:
            reply = client.post(url, data={"csrf_token": token, **(data or {})})
        got = reply.status_code, reply.headers.get("Location", "")
        gets_through = role == "admin" or role in allowed
        if gets_through:
            expected = status.get(role, status["*"]) if isinstance(status, dict) else status
        elif url.startswith("/api/"):
            expected = 401 if role == "anonymous" else api_refusal(url)
        elif role == "anonymous":
            expected = 302
        else:
            expected = 403
        assert got[0] == expected, (role, method, url, got)
        if expected == 302 and not gets_through:
            assert got[1].startswith(LOGIN), (role, method, url, got)
        if gets_through and expected == 302 and url != "/admin/logout":
            assert not got[1].startswith(LOGIN), (role, method, url, got)
    # The last row signed the session out.
    assert client.get("/admin/").headers["Location"].startswith(LOGIN)


def test_a_post_without_the_csrf_token_is_refused_on_every_staff_form(accounts):
    client = accounts.test_client()
    assert login(client, "admin@example.org").status_code == 302
    _csrf(client, signed_in=True)  # the session has a token; the requests do not send it
    for method, path, _allowed, _status, data in ROUTES:
        if method != "POST" or not path.startswith("/admin/") or path == LOGIN:
            continue
        if path.endswith("/preview"):
            continue  # checks answers, stores nothing: exempt on purpose
        url = path.format(
            own_token=1,
            spare=find_user("spare@example.org").id,
            spare_session=1,
            response=1,
            webhook=1,
            delivery=1,
        )
        reply = client.post(url, data=dict(data) if isinstance(data, dict) else {})
        assert reply.status_code == 400, (url, reply.status_code)
