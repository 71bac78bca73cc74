"""JSON API: every status code docs/api.md promises, and never a 500 for bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from survey_engine.catalog import find_survey, save_definition, set_status
from survey_engine.models import SurveyStatus
from tests.conftest import DEMO_SLUG, demo_definition, new_id, stored_responses, valid_answers

URL = f"/api/v1/surveys/{DEMO_SLUG}/responses"


def post(client, body, **kwargs):
    return client.post(URL, json=body, **kwargs)


def test_definition_is_public(client):
    reply = client.get(f"/api/v1/surveys/{DEMO_SLUG}")
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["version"] == 1 and body["status"] == "open"
    assert body["definition"] == demo_definition()
    assert "Khảo sát" in reply.get_data(as_text=True)  # not \u-escaped
    assert client.get("/api/v1/surveys/khong-co").status_code == 404


def test_accepted_then_duplicate_then_conflict(client):
    submission_id = new_id()
    first = post(client, {"submission_id": submission_id, "answers": valid_answers()})
    assert first.status_code == 202
    assert first.get_json() == {"status": "accepted", "submission_id": submission_id}
    again = post(client, {"submission_id": submission_id, "answers": valid_answers()})
    assert again.status_code == 202
    assert again.get_json() == {
        "status": "accepted",
        "submission_id": submission_id,
        "duplicate": True,
    }
    # Written by orjson, byte for byte what Flask's JSON replies are (the 4xx here).
    for reply in (first, again):
        assert reply.mimetype == "application/json"
        assert reply.data == (json.dumps(reply.get_json(), separators=(",", ":")) + "\n").encode()
    other = post(
        client, {"submission_id": submission_id, "answers": {**valid_answers(), "support": "no"}}
    )
    assert other.status_code == 409
    [response] = stored_responses()
    assert response.source == "api" and response.answers["support"] == "yes"


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        (
            {"district": "da_lat"},
            {
                "consent": "Please agree to continue.",
                "commune": "Please answer this question.",
                "role": "Please answer this question.",
                "support": "Please answer this question.",
            },
        ),
        ({**valid_answers(), "district": "paris"}, {"district": "Not one of the choices: paris."}),
        ({**valid_answers(), "children": "two"}, {"children": "Please enter a whole number."}),
        ({**valid_answers(), "favourite": "x"}, {"favourite": "There is no such question."}),
        (
            {**valid_answers(), "concerns": "nothing"},
            {"concerns": "Not one of the choices: nothing."},
        ),
    ],
)
def test_invalid_answers_are_422_keyed_by_question_in_the_request_language(client, answers, errors):
    reply = post(
        client, {"submission_id": new_id(), "answers": answers}, headers={"Accept-Language": "en"}
    )
    assert reply.status_code == 422
    assert reply.get_json() == {"errors": errors}
    assert stored_responses() == []


def test_errors_are_vietnamese_by_default(client):
    reply = post(client, {"submission_id": new_id(), "answers": {}})
    assert reply.get_json()["errors"]["district"] == "Vui lòng trả lời câu hỏi này."


def test_bad_envelope_is_422_with_each_field(client):
    reply = post(client, {"submission_id": "12", "answers": [], "extra": 1})
    assert reply.status_code == 422
    assert set(reply.get_json()["errors"]) == {"submission_id", "answers", "extra"}


def test_malformed_json_is_400(client):
    reply = client.post(URL, data='{"submission_id": ', content_type="application/json")
    assert reply.status_code == 400
    assert reply.get_json() == {"error": "the body is not valid JSON"}
    reply = client.post(URL, data='["a list"]', content_type="application/json")
    assert reply.status_code == 400


def test_wrong_content_type_is_415(client):
    reply = client.post(
        URL, data="district=da_lat", content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 415
    assert "application/json" in reply.get_json()["error"]


def test_a_one_megabyte_body_is_413(client):
    body = json.dumps(
        {"submission_id": new_id(), "answers": {**valid_answers(), "comment": "x" * 1024 * 1024}}
    )
    reply = client.post(URL, data=body, content_type="application/json")
    assert reply.status_code == 413
    assert reply.is_json
    assert stored_responses() == []


def test_a_body_at_the_size_limit_is_taken_and_one_byte_more_is_413(app, client):
    """The edge of MAX_CONTENT_LENGTH (256 KiB, docs/api.md): a body of exactly the limit
    is read and stored, one byte more is refused unread."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 256 * 1024

    def body(size: int, submission_id: str) -> bytes:
        data = json.dumps(
            {"submission_id": submission_id, "answers": valid_answers()}, ensure_ascii=False
        ).encode()
        return data + b" " * (size - len(data))  # JSON allows trailing whitespace

    over = body(limit + 1, new_id())
    assert len(over) == limit + 1
    reply = client.post(URL, data=over, content_type="application/json")
    assert reply.status_code == 413 and reply.is_json
    assert stored_responses() == []
    submission_id = new_id()
    exact = body(limit, submission_id)
    assert len(exact) == limit
    reply = client.post(URL, data=exact, content_type="application/json")
    assert reply.status_code == 202, reply.get_json()
    assert [str(r.submission_id) for r in stored_responses()] == [submission_id]


def test_unknown_survey_is_404(client):
    reply = client.post(
        "/api/v1/surveys/khong-co/responses", json={"submission_id": new_id(), "answers": {}}
    )
    assert reply.status_code == 404 and reply.is_json


def test_closed_or_unpublished_survey_is_410_or_404(app, client):
    set_status(find_survey(DEMO_SLUG), SurveyStatus.CLOSED)
    reply = post(client, {"submission_id": new_id(), "answers": valid_answers()})
    assert reply.status_code == 410
    assert reply.get_json()["reason"] == "closed"
    draft = {**demo_definition(), "slug": "ban-nhap"}
    save_definition(draft, publish=False)
    reply = client.post(
        "/api/v1/surveys/ban-nhap/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert reply.status_code == 404  # a draft is not public at all
    assert stored_responses() == []


def test_not_yet_open_and_full_surveys_are_410(app, client):
    later = {
        **demo_definition(),
        "slug": "sap-mo",
        "settings": {"opens_at": "2099-01-01T00:00:00+07:00"},
    }
    save_definition(later, publish=True)
    reply = client.post(
        "/api/v1/surveys/sap-mo/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert reply.status_code == 410 and reply.get_json()["reason"] == "not_open"

    small = {**demo_definition(), "slug": "it-phieu", "settings": {"max_responses": 1}}
    save_definition(small, publish=True)
    url = "/api/v1/surveys/it-phieu/responses"
    assert (
        client.post(url, json={"submission_id": new_id(), "answers": valid_answers()}).status_code
        == 202
    )
    reply = client.post(url, json={"submission_id": new_id(), "answers": valid_answers()})
    assert reply.status_code == 410 and reply.get_json()["reason"] == "full"
    assert len(stored_responses("it-phieu")) == 1


def definition_status(client, slug: str) -> str:
    reply = client.get(f"/api/v1/surveys/{slug}")
    assert reply.status_code == 200
    return reply.get_json()["status"]


def test_definition_status_says_closed_not_open_or_full(app, client):
    """A client that reads the definition first learns whether the survey takes answers."""
    assert definition_status(client, DEMO_SLUG) == "open"
    set_status(find_survey(DEMO_SLUG), SurveyStatus.CLOSED)
    assert definition_status(client, DEMO_SLUG) == "closed"

    for slug, survey_settings in (
        ("sap-mo", {"opens_at": "2099-01-01T00:00:00+07:00"}),
        ("da-dong", {"closes_at": "2020-01-01T00:00:00+07:00"}),
        (
            "dang-mo",
            {"opens_at": "2020-01-01T00:00:00+07:00", "closes_at": "2099-01-01T00:00:00+07:00"},
        ),
        ("it-phieu", {"max_responses": 1}),
    ):
        save_definition(
            {**demo_definition(), "slug": slug, "settings": survey_settings}, publish=True
        )
    assert definition_status(client, "sap-mo") == "not_open"
    assert definition_status(client, "da-dong") == "closed"
    assert definition_status(client, "dang-mo") == "open"
    assert definition_status(client, "it-phieu") == "open"
    assert (
        client.post(
            "/api/v1/surveys/it-phieu/responses",
            json={"submission_id": new_id(), "answers": valid_answers()},
        ).status_code
        == 202
    )
    assert definition_status(client, "it-phieu") == "full"


def test_healthz_reports_the_database(client):
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "database": "ok",
        "queue": "inline",
        "backlog": 0,
        "oldest_pending_seconds": 0,
        "dead_letters": 0,
    }


json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.dictionaries(
        st.sampled_from(["district", "role", "children", "support", "concerns", "comment"])
        | st.text(max_size=6),
        json_bodies,
        max_size=6,
    ),
    envelope=json_bodies,
)
def test_no_body_whatsoever_gives_a_500(client, answers, envelope):
    for body in ({"submission_id": new_id(), "answers": answers}, envelope):
        reply = client.post(URL, data=json.dumps(body), content_type="application/json")
        assert reply.status_code in (202, 400, 422), reply.get_data(as_text=True)
        assert reply.is_json


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "district",
                    "role",
                    "children",
                    "support",
                    "concerns",
                    "concerns_other",
                    "comment",
                    "submission_id",
                    "privacy_note",
                ]
            )
            | st.text(max_size=6),
            st.text(max_size=20),
        ),
        max_size=10,
    )
)
def test_no_form_whatsoever_gives_a_500(client, fields):
    reply = client.post(f"/s/{DEMO_SLUG}", data=MultiDict(fields))
    assert reply.status_code in (303, 409, 422), reply.get_data(as_text=True)[:500]
