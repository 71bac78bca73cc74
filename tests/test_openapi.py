"""The OpenAPI 3.1 document at /api/v1/openapi.json: valid (openapi-spec-validator, a
validator we did not write), naming exactly the app's /api/v1 routes, and true to the
code: schemathesis fuzzes every operation from it, as an admin's token on the demo
survey with responses, and every answer must be no 5xx and match the document
(status code, content type, body, headers)."""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from survey_engine.api.openapi import openapi_document
from survey_engine.catalog import definition_for, find_survey, save_definition
from survey_engine.definition.fake import fake_answers
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.staff.accounts import create_token, create_user
from tests.conftest import DEMO_SLUG, seeded_app, valid_answers
from tests.test_staff import PASSWORD
from tests.test_uploads import SLUG as FILES_SLUG
from tests.test_uploads import files_definition, png

PREFIX = "/api/v1"
MAX_EXAMPLES = 25  # per operation and mode


def document(app) -> dict:
    reply = app.test_client().get(f"{PREFIX}/openapi.json")
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    return reply.get_json()


def test_the_document_is_valid_openapi_3_1(app):
    doc = document(app)
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises with the first problem


def _rule_path(rule: str) -> str:
    """/api/v1/surveys/<slug>/versions/<int:number>/definition -> the document's path."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.removeprefix(PREFIX))


def test_every_api_route_is_in_the_document_and_every_path_is_a_route(app):
    doc = document(app)
    assert doc["servers"] == [{"url": PREFIX}]
    routes = {
        (_rule_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(f"{PREFIX}/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, operations in doc["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert routes == documented
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            names = {
                p["name"]
                for p in (
                    doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                    if "$ref" in p
                    else p
                    for p in operation.get("parameters", [])
                )
            }
            assert set(re.findall(r"{(\w+)}", path)) <= names, (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5][0-9][0-9]", status), (path, status)


def test_the_documented_limit_is_the_code_s(app):
    from survey_engine.results.response_pages import MAX_LIMIT, RESPONSE_FIELDS

    doc = document(app)
    assert doc["components"]["parameters"]["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert doc["components"]["schemas"]["Response"]["required"] == list(RESPONSE_FIELDS)


# -- schemathesis ---------------------------------------------------------------------


@pytest.fixture
def api_app(database_url, tmp_path):
    """The demo with 30 responses and an admin whose token the fuzzer sends."""
    for app in seeded_app(database_url, EXPORT_DIR=str(tmp_path / "exports")):
        survey = find_survey(DEMO_SLUG)
        version = survey.published_version()
        rng = random.Random(14)
        persist_batch(
            [
                Submission(
                    survey.id,
                    version.id,
                    uuid.uuid4(),
                    fake_answers(definition_for(version), rng),
                    source="api",
                )
                for _ in range(30)
            ]
        )
        app.config["FUZZ_TOKEN"] = create_token(create_user("admin@example.org", PASSWORD, "admin"))
        save_definition(files_definition(), publish=True)  # the demo has no file question
        yield app


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _operations() -> list[tuple[str, str, GenerationMode]]:
    """Every operation with valid inputs; with invalid ones too where it takes more
    than a slug (a slug may be any text: nothing is invalid there)."""
    found = []
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            found.append((path, method, GenerationMode.POSITIVE))
            names = [p["$ref"].rsplit("/", 1)[1] for p in operation.get("parameters", [])]
            if "requestBody" in operation or set(names) - {"slug"}:
                found.append((path, method, GenerationMode.NEGATIVE))
    return found


@pytest.mark.parametrize(("path", "method", "mode"), _operations())
def test_the_api_answers_as_its_document_says(api_app, path, method, mode):
    """Each operation, with an admin's token and most of the time the demo's slug in
    the path (else the generated one), valid inputs and invalid ones: no 5xx, and the
    answer as documented."""
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", api_app)
    operation = schema[path][method.upper()]
    token = {"Authorization": f"Bearer {api_app.config['FUZZ_TOKEN']}"}
    csv_too = path.endswith("/responses") and method == "get"

    @given(case=operation.as_strategy(mode), demo=st.booleans(), csv=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case, demo: bool, csv: bool) -> None:
        if demo and "slug" in (case.path_parameters or {}):
            case.path_parameters["slug"] = DEMO_SLUG
            if "number" in case.path_parameters:
                case.path_parameters["number"] = 1  # the demo's published version
            if path.endswith("/uploads"):
                case.path_parameters["slug"] = FILES_SLUG
                if mode is GenerationMode.POSITIVE:
                    case.body = {"question": "photo", "file": png()}
            elif method == "post" and mode is GenerationMode.POSITIVE:
                case.body = {"submission_id": str(uuid.uuid4()), "answers": valid_answers()}
        headers = {**token, **({"Accept": "text/csv"} if csv and csv_too else {})}
        reply = case.call_and_validate(headers=headers, checks=CHECKS)
        seen[reply.status_code] += 1
        types[reply.headers.get("content-type", [""])[0].split(";")[0]] += 1

    seen: Counter[int] = Counter()
    types: Counter[str] = Counter()
    check()
    if mode is GenerationMode.POSITIVE:
        # the token and the demo's slug reached what the operation is for
        success = 201 if path.endswith("/uploads") else 202 if method == "post" else 200
        assert seen[success], (path, method, seen)
        if csv_too:
            assert types["text/csv"] and types["application/json"], types
