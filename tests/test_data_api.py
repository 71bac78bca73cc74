"""The data API: the surveys a token may read, the responses page by page and as CSV,
each published version's definition; who may read them, and clear 400s."""

from __future__ import annotations

import csv
import io
import random
import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from survey_engine.catalog import definition_for, find_survey, save_definition
from survey_engine.definition.fake import fake_answers
from survey_engine.exporting.survey_file import export_survey
from survey_engine.extensions import db
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.models import Response, ResponseStatus
from survey_engine.results.filters import Filters
from survey_engine.results.report import merged_survey
from survey_engine.results.response_pages import MAX_LIMIT
from survey_engine.results.review import review
from survey_engine.staff.accounts import create_token, create_user, revoke_token, share_survey
from tests.conftest import BACKEND, DEMO_SLUG, demo_definition, forget_login_user_per_request
from tests.test_staff import PASSWORD, login

RESPONSES = f"/api/v1/surveys/{DEMO_SLUG}/responses"
RESULTS = f"/api/v1/surveys/{DEMO_SLUG}/results"
OTHER_SLUG = "dat-dai"


@pytest.fixture(autouse=True)
def _each_request_loads_its_own_user(app):
    yield from forget_login_user_per_request(app)


def store_fake(count: int, seed: int = 1, slug: str = DEMO_SLUG) -> None:
    """`count` random valid responses, stored as the workers store them."""
    survey = find_survey(slug)
    version = survey.published_version()
    definition = definition_for(version)
    rng = random.Random(seed)
    batch = [
        Submission(survey.id, version.id, uuid.uuid4(), fake_answers(definition, rng), source="api")
        for _ in range(count)
    ]
    for start in range(0, count, 50):
        persist_batch(batch[start : start + 50])


@pytest.fixture
def token(app) -> str:
    return create_token(create_user("admin@example.org", PASSWORD, "admin"))


def auth(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def all_pages(client, token: str, query: str = "", limit: int = 7) -> list[dict]:
    """Every response, following next_cursor while `more`."""
    rows, url = [], f"{RESPONSES}?limit={limit}{query}"
    while True:
        reply = client.get(url, headers=auth(token))
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        rows += body["responses"]
        if not body["more"]:
            return rows
        url = f"{RESPONSES}?limit={limit}{query}&cursor={body['next_cursor']}"


def stored_ids(statuses=ResponseStatus.COUNTED) -> list[int]:
    survey = find_survey(DEMO_SLUG)
    return list(
        db.session.scalars(
            sa.select(Response.id)
            .where(Response.survey_id == survey.id, Response.status.in_(statuses))
            .order_by(Response.id)
        )
    )


# -- listing surveys and versions --------------------------------------------------------


def test_the_survey_list_holds_what_the_token_may_see_with_status_and_counts(app, token):
    save_definition({**demo_definition(), "slug": OTHER_SLUG}, publish=True)
    store_fake(12)
    analyst = create_user("analyst@example.org", PASSWORD, "analyst")
    share_survey(analyst, find_survey(OTHER_SLUG))
    client = app.test_client()

    everything = client.get("/api/v1/surveys", headers=auth(token)).get_json()["surveys"]
    assert [s["slug"] for s in everything] == [OTHER_SLUG, DEMO_SLUG]
    demo = everything[1]
    assert demo["status"] == "published" and demo["responses"] == 12
    assert [v["number"] for v in demo["versions"]] == [1]
    assert demo["title"]["vi"].startswith("Khảo sát")

    shared = client.get("/api/v1/surveys", headers=auth(create_token(analyst))).get_json()
    assert [s["slug"] for s in shared["surveys"]] == [OTHER_SLUG]


def test_each_published_version_has_its_definition(app, token):
    changed = demo_definition()
    changed["title"] = {"vi": "Phiên bản 2", "en": "Version 2"}
    save_definition(changed, publish=True)
    client = app.test_client()
    first = client.get(f"/api/v1/surveys/{DEMO_SLUG}/versions/1/definition", headers=auth(token))
    second = client.get(f"/api/v1/surveys/{DEMO_SLUG}/versions/2/definition", headers=auth(token))
    assert first.status_code == second.status_code == 200
    assert first.get_json()["definition"]["title"] == demo_definition()["title"]
    assert second.get_json()["definition"]["title"]["vi"] == "Phiên bản 2"
    assert second.get_json()["version"] == 2
    missing = client.get(f"/api/v1/surveys/{DEMO_SLUG}/versions/3/definition", headers=auth(token))
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "no published version with this number"}


# -- paging -------------------------------------------------------------------------------


def test_paging_returns_every_response_once_in_id_order(app, token):
    store_fake(40)
    rows = all_pages(app.test_client(), token, limit=7)
    ids = [row["id"] for row in rows]
    assert ids == stored_ids()
    first = rows[0]
    stored = db.session.get(Response, first["id"])
    assert first["submission_id"] == str(stored.submission_id)
    assert first["answers"] == stored.answers
    assert first["version"] == 1 and first["status"] == "unreviewed"
    assert datetime.fromisoformat(first["submitted_at"]).tzinfo is not None


def test_paging_under_concurrent_inserts_returns_every_response_exactly_once(app, token):
    """A writer stores batches while a reader pages: every response the writer stored
    comes exactly once, in id order, the reader resuming from its last cursor."""
    store_fake(5, seed=0)
    done = threading.Event()

    def write() -> None:
        with app.app_context():
            for seed in range(1, 16):
                store_fake(9, seed=seed)
            db.session.remove()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    client = app.test_client()
    seen: list[int] = []
    cursor = ""
    while True:
        finished = done.is_set()  # before the request: a page after it sees all
        reply = client.get(f"{RESPONSES}?limit=4{cursor}", headers=auth(token))
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        seen += [row["id"] for row in body["responses"]]
        cursor = f"&cursor={body['next_cursor']}"
        if finished and not body["more"]:
            break
    writer.join()
    assert seen == sorted(set(seen))
    assert seen == stored_ids()
    assert len(seen) == 5 + 15 * 9


def test_a_page_waits_for_a_lower_id_still_being_written(app, token):
    """PostgreSQL: a transaction holds id k uncommitted while k+1 commits. A page must
    not go past k+1 before k is there (it would skip k for good)."""
    if BACKEND != "postgresql":
        pytest.skip("SQLite commits one writer at a time: ids are committed in order")
    survey = find_survey(DEMO_SLUG)
    version = survey.published_version()
    engine = sa.create_engine(db.engine.url)

    def row() -> dict:
        return {
            "survey_id": survey.id,
            "version_id": version.id,
            "submission_id": uuid.uuid4(),
            "answers": {"district": "da_lat"},
            "source": "api",
            "meta": {},
            "status": ResponseStatus.UNREVIEWED,
            "flags": [],
            "submitted_at": datetime.now(UTC),
        }

    slow = engine.connect()
    slow_tx = slow.begin()
    held = slow.execute(sa.insert(Response).values(row()).returning(Response.id)).scalar_one()
    with engine.begin() as quick:
        later = quick.execute(sa.insert(Response).values(row()).returning(Response.id)).scalar_one()
    assert later > held
    timer = threading.Timer(0.5, slow_tx.commit)
    timer.start()
    try:
        reply = app.test_client().get(f"{RESPONSES}?include=all", headers=auth(token))
    finally:
        timer.join()
        slow.close()
        engine.dispose()
    assert reply.status_code == 200
    assert [r["id"] for r in reply.get_json()["responses"]] == [held, later]


def test_a_cursor_keeps_its_place_for_responses_stored_later(app, token):
    store_fake(3)
    client = app.test_client()
    body = client.get(RESPONSES, headers=auth(token)).get_json()
    assert len(body["responses"]) == 3 and body["more"] is False
    store_fake(2, seed=5)
    later = client.get(f"{RESPONSES}?cursor={body['next_cursor']}", headers=auth(token))
    assert [r["id"] for r in later.get_json()["responses"]] == stored_ids()[3:]


# -- the dashboard's filters ---------------------------------------------------------------

FILTER_QUERIES = (
    "",
    "&f.district=da_lat",
    "&f.district=da_lat&f.district=bao_loc",
    "&f.concerns=infection&f.role=parent",
    "&include=all",
    "&include=unflagged&f.support=yes",
    "&from=2000-01-01&to=2100-12-31",
    "&to=2000-01-01",
)


def test_filters_keep_the_responses_the_dashboard_counts(app, token):
    store_fake(150, seed=3)
    survey = find_survey(DEMO_SLUG)
    ids = stored_ids()
    # some reviewed: excluded and flagged responses are in or out by include=
    review(survey, "exclude", "thử", ids=ids[:10])
    review(survey, "flag", "thử", ids=ids[10:25])
    client = app.test_client()
    merged = merged_survey(survey)
    for query in FILTER_QUERIES:
        rows = all_pages(client, token, query, limit=50)
        results = client.get(f"{RESULTS}?{query[1:]}", headers=auth(token))
        assert results.status_code == 200, (query, results.get_json())
        assert len(rows) == results.get_json()["responses"], query
        filters = Filters.from_args(
            dict(p.split("=") for p in query[1:].split("&") if p and not p.startswith("f.")),
            merged,
        )
        assert {r["status"] for r in rows} <= set(filters.statuses), query
    some = all_pages(client, token, "&f.district=da_lat&f.district=bao_loc", limit=50)
    assert some and all(r["answers"]["district"] in ("da_lat", "bao_loc") for r in some)


def test_choice_filters_page_through_many_rows_they_leave_out(app, token, monkeypatch):
    """A filter that keeps few rows ends a page after MAX_SCAN_ROWS rows read, with
    `more` true: following the cursor still finds them all."""
    monkeypatch.setattr("survey_engine.results.response_pages.MAX_SCAN_ROWS", 10)
    store_fake(60, seed=4)
    client = app.test_client()
    kept = all_pages(client, token, "&f.district=da_lat", limit=1000)
    expected = [
        r.id
        for r in db.session.scalars(sa.select(Response).order_by(Response.id))
        if r.answers.get("district") == "da_lat"
    ]
    assert [r["id"] for r in kept] == expected


# -- CSV -------------------------------------------------------------------------------------


def test_csv_is_the_csv_export_of_the_same_filters(app, token, tmp_path):
    store_fake(30, seed=6)
    survey = find_survey(DEMO_SLUG)
    client = app.test_client()
    for query in ("lang=vi", "lang=vi&f.district=da_lat&include=all", "lang=en&from=2000-01-01"):
        reply = client.get(f"{RESPONSES}?{query}", headers=auth(token, Accept="text/csv"))
        assert reply.status_code == 200
        assert reply.mimetype == "text/csv"
        assert reply.headers["Content-Disposition"] == f'attachment; filename="{DEMO_SLUG}.csv"'
        args = dict(p.split("=") for p in query.split("&"))
        lang = args.pop("lang")
        path = tmp_path / "export.csv"
        export_survey(survey, path, "csv", lang, Filters.from_args(args, merged_survey(survey)))
        assert reply.get_data() == path.read_bytes(), query


def test_csv_cells_are_formula_safe_and_read_back(app, token):
    store_fake(2, seed=7)
    survey = find_survey(DEMO_SLUG)
    version = survey.published_version()
    answers = {**fake_answers(definition_for(version), random.Random(8))}
    answers["comment"] = '=HYPERLINK("http://evil.example","x")'
    answers["district"] = "da_lat"
    persist_batch([Submission(survey.id, version.id, uuid.uuid4(), answers, source="api")])
    reply = app.test_client().get(RESPONSES, headers=auth(token, Accept="text/csv"))
    text = reply.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(table) == 3
    assert table[-1]["comment"] == "'" + answers["comment"]
    assert not any(cell.startswith(("=", "+", "@")) for row in table for cell in row.values())


def test_json_is_the_default_and_the_csv_a_choice(app, token):
    client = app.test_client()
    for accept in (None, "application/json", "*/*", "text/html"):
        headers = auth(token) if accept is None else auth(token, Accept=accept)
        assert client.get(RESPONSES, headers=headers).mimetype == "application/json", accept
    csv_first = auth(token, Accept="text/csv, application/json;q=0.5")
    assert client.get(RESPONSES, headers=csv_first).mimetype == "text/csv"
    head = client.head(RESPONSES, headers=auth(token, Accept="text/csv"))
    assert head.status_code == 200 and head.get_data() == b""


# -- access -----------------------------------------------------------------------------------

STAFF_URLS = (
    "/api/v1/surveys",
    RESPONSES,
    f"/api/v1/surveys/{DEMO_SLUG}/versions/1/definition",
)


def test_anonymous_and_revoked_tokens_get_401(app, token):
    client = app.test_client()
    for url in STAFF_URLS:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
            reply = client.get(url, headers=headers)
            assert reply.status_code == 401, (url, headers)
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    revoke_token(token)
    assert client.get(RESPONSES, headers=auth(token)).status_code == 401


def test_a_survey_not_shared_is_the_same_404_as_one_that_does_not_exist(app):
    save_definition({**demo_definition(), "slug": OTHER_SLUG}, publish=True)
    analyst = create_user("analyst@example.org", PASSWORD, "analyst")
    share_survey(analyst, find_survey(OTHER_SLUG))
    client = app.test_client()
    headers = auth(create_token(analyst))
    for path in ("responses", "versions/1/definition"):
        hidden = client.get(f"/api/v1/surveys/{DEMO_SLUG}/{path}", headers=headers)
        missing = client.get(f"/api/v1/surveys/no-such-survey/{path}", headers=headers)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.get_data() == missing.get_data()
        shared = client.get(f"/api/v1/surveys/{OTHER_SLUG}/{path}", headers=headers)
        assert shared.status_code == 200


def test_a_staff_session_reads_the_data_api(app):
    create_user("editor@example.org", PASSWORD, "editor")
    share_survey(create_user("analyst@example.org", PASSWORD, "analyst"), find_survey(DEMO_SLUG))
    client = app.test_client()
    assert login(client, "analyst@example.org").status_code == 302
    assert client.get(RESPONSES).status_code == 200
    assert client.get("/api/v1/surveys").get_json()["surveys"][0]["slug"] == DEMO_SLUG
    other = app.test_client()
    assert login(other, "editor@example.org").status_code == 302
    assert other.get(RESPONSES).status_code == 404
    assert other.get("/api/v1/surveys").get_json() == {"surveys": []}


# -- bad input ----------------------------------------------------------------------------------

BAD_QUERIES = {
    "cursor=abc": "cursor: not a cursor this API gave",
    "cursor=WzEsMF0.AAAA": "cursor: not a cursor this API gave",
    "limit=0": f"limit: a whole number from 1 to {MAX_LIMIT}",
    f"limit={MAX_LIMIT + 1}": f"limit: a whole number from 1 to {MAX_LIMIT}",
    "limit=abc": "limit: a whole number",
    "limit=%C2%B2": "limit: a whole number",
    "limit=-1": "limit: a whole number",
    "f.nothing=x": "no select question named 'nothing'",
    "f.district=nowhere": "district: no choice 'nowhere'",
    "from=2024-02-30": "2024-02-30",
    "from=2024-03-01&to=2024-02-01": "is after the last",
    "include=everything": "include: one of default, unflagged, all",
}


def test_bad_cursors_limits_and_filters_get_clear_400s(app, token):
    client = app.test_client()
    for query, text in BAD_QUERIES.items():
        for accept in ("application/json", "text/csv"):
            reply = client.get(f"{RESPONSES}?{query}", headers=auth(token, Accept=accept))
            assert reply.status_code == 400, (query, accept)
            assert text in reply.get_json()["error"], (query, reply.get_json())


def test_a_cursor_of_another_survey_is_refused(app, token):
    save_definition({**demo_definition(), "slug": OTHER_SLUG}, publish=True)
    client = app.test_client()
    other = client.get(f"/api/v1/surveys/{OTHER_SLUG}/responses", headers=auth(token))
    cursor = other.get_json()["next_cursor"]
    reply = client.get(f"{RESPONSES}?cursor={cursor}", headers=auth(token))
    assert reply.status_code == 400
    assert reply.get_json() == {"error": "cursor: a cursor of another survey"}


def test_a_caller_over_the_read_limit_gets_429_with_retry_after(app, token):
    app.config["API_READ_RATE_LIMIT"] = "3/minute"
    client = app.test_client()
    other = create_token(create_user("analyst@example.org", PASSWORD, "admin"))
    for _ in range(3):
        assert client.get(RESPONSES, headers=auth(token)).status_code == 200
    refused = client.get("/api/v1/surveys", headers=auth(token))
    assert refused.status_code == 429
    assert refused.get_json()["error"].startswith("more than 3/minute requests")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["retry_after"] == int(refused.headers["Retry-After"])
    # another token is counted apart, and submissions are never limited here
    assert client.get(RESPONSES, headers=auth(other)).status_code == 200
    assert client.get(f"/api/v1/surveys/{DEMO_SLUG}").status_code == 200
