"""Words staff read: the definition's problems in the staff page's language (Vietnamese
on Vietnamese pages, the default; English with ?lang=en) while the command line and the
API keep the English text and the path stays the definition's own; question types in
plain words."""

from __future__ import annotations

import io
import json

from flask_babel import force_locale
from flask_babel import gettext as _

from survey_engine.admin.question_types import TYPE_NAMES
from survey_engine.definition import validate_definition
from survey_engine.definition.problems import Problem, in_language
from survey_engine.definition.schema_questions import QUESTION_TYPES
from survey_engine.staff.accounts import create_user
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_admin_surveys import post, signed_in
from tests.test_builder import submit
from tests.test_staff import PASSWORD

BROKEN = {
    **demo_definition(),
    "slug": "hong",
    "settings": {"opens_at": "2026-12-02T08:00:00+07:00", "closes_at": "2026-12-01T08:00:00+07:00"},
    "choice_lists": {**demo_definition()["choice_lists"], "1bad": [{"name": "a", "label": "A"}]},
}


def test_problems_keep_their_english_text_and_know_their_parts():
    problems = validate_definition({**demo_definition(), "format": "survey-engine/9"})
    assert problems == ["format: must be 'survey-engine/1', got 'survey-engine/9'"]
    problem = problems[0]
    assert isinstance(problem, Problem) and problem.path == "format"
    assert problem.params == {"expected": "'survey-engine/1'", "got": "'survey-engine/9'"}
    json.dumps(problems)  # still plain text to the API and the audit log


def test_in_language_speaks_vietnamese(app):
    problems = validate_definition(BROKEN)
    with app.test_request_context(), force_locale("vi"):
        words = in_language(problems, _)
    assert "settings.closes_at: phải muộn hơn thời điểm mở (opens_at)" in words
    assert (
        "choice_lists.1bad: tên danh sách gồm chữ cái không dấu, chữ số và '_', "
        "bắt đầu bằng một chữ cái"
    ) in words
    assert in_language(["not a Problem"], _) == ["not a Problem"]


def upload(client, url: str):
    data = {"definition": (io.BytesIO(json.dumps(BROKEN).encode()), "hong.json")}
    return post(client, url, data, content_type="multipart/form-data")


def test_an_upload_lists_its_problems_in_the_page_language(app):
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    html = upload(client, "/admin/surveys/new").get_data(as_text=True)
    assert "settings.closes_at: phải muộn hơn thời điểm mở (opens_at)" in html
    assert "must be later than opens_at" not in html
    english = upload(client, "/admin/surveys/new?lang=en").get_data(as_text=True)
    assert "settings.closes_at: must be later than opens_at" in english


def test_the_builder_shows_the_validator_in_vietnamese(app):
    create_user("editor@example.org", PASSWORD, "admin")
    client = signed_in(app, "editor@example.org")
    reply = submit(
        client,
        f"/admin/surveys/{DEMO_SLUG}/edit/settings",
        {
            "title.vi": "Khảo sát",
            "default_language": "vi",
            "opens_at": "2026-12-02T08:00",
            "closes_at": "2026-12-01T08:00",
            "max_responses": "",
        },
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert "phải muộn hơn thời điểm mở (opens_at)" in html
    assert "must be later" not in html


def test_question_types_in_plain_vietnamese_in_the_builder_and_the_results(app):
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    builder = client.get(f"/admin/surveys/{DEMO_SLUG}/edit").get_data(as_text=True)
    assert '<option value="select_one">Chọn một đáp án</option>' in builder
    assert '<option value="nps">Thang điểm 0–10 (mức sẵn sàng giới thiệu)</option>' in builder
    assert '<span class="qtype" title="select_one">Chọn một đáp án</span>' in builder
    question = client.get(f"/admin/surveys/{DEMO_SLUG}/edit/questions/district")
    assert '<option value="select_one" selected>Chọn một đáp án</option>' in question.get_data(
        as_text=True
    )
    results = client.get(f"/admin/surveys/{DEMO_SLUG}/results").get_data(as_text=True)
    assert '<span class="qtype">Chọn nhiều đáp án</span>' in results
    english = client.get(f"/admin/surveys/{DEMO_SLUG}/results?lang=en").get_data(as_text=True)
    assert '<span class="qtype">Choose several</span>' in english
    assert set(TYPE_NAMES) == QUESTION_TYPES  # every type has its words


def test_an_expression_problem_in_vietnamese_with_its_suggestion(app):
    definition = demo_definition()
    definition["pages"][0]["questions"][6]["relevant"] = "${rol} = 'parent'"
    problems = validate_definition(definition)
    path = "pages[0].questions[6].relevant"
    assert problems == [
        f"{path}: at character 1: unknown question '${{rol}}'; did you mean '${{role}}'?"
    ]
    with app.test_request_context(), force_locale("vi"):
        assert in_language(problems, _) == [
            f"{path}: tại ký tự 1: không có câu hỏi '${{rol}}'; có phải bạn muốn viết '${{role}}'?"
        ]
