"""The questionnaire builder, through its forms: every change is checked against the
whole survey, refused with the problem at its field, and never touches a published
version."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey
from survey_engine.extensions import db
from survey_engine.models import AuditEvent, SurveyVersion
from tests.conftest import DEMO_SLUG
from tests.test_admin_surveys import people, signed_in  # noqa: F401 (fixture)

EDIT = f"/admin/surveys/{DEMO_SLUG}/edit"


def hidden(html: str) -> dict:
    """The csrf_token and revision a builder page carries."""
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("csrf_token", "revision")
    }


def submit(client, url: str, data: dict, page: str | None = None):
    """POST `data` to `url` with the hidden fields of `page` (default: `url` itself)."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**hidden(html), **data})


def newest() -> SurveyVersion:
    return find_survey(DEMO_SLUG).versions[-1]


def questions(version: SurveyVersion | None = None) -> list[str]:
    version = version or newest()
    return [q["name"] for page in version.definition["pages"] for q in page["questions"]]


def question(name: str) -> dict:
    return next(
        q for page in newest().definition["pages"] for q in page["questions"] if q["name"] == name
    )


def question_form(client, name: str) -> dict:
    """Every field of the question form as the page fills it in."""
    html = client.get(f"{EDIT}/questions/{name}").get_data(as_text=True)
    fields = dict(
        re.findall(
            r'<input type="(?:text|number|hidden)"[^>]*?name="([^"]+)"'
            r'[^>]*?value="([^"]*)"',
            html,
        )
    )
    fields |= dict(
        re.findall(
            r'<input type="(?:text|number|hidden)"[^>]*?id="[^"]*" '
            r'name="([^"]+)" value="([^"]*)"',
            html,
        )
    )
    for select in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', select.group(2))
        fields[select.group(1)] = chosen.group(1) if chosen else ""
    for box in re.finditer(r'<input type="checkbox" name="([^"]+)" value="1"( checked)?', html):
        if box.group(2):
            fields[box.group(1)] = "1"
    for area in re.finditer(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        fields[area.group(1)] = area.group(2)
    return {
        key: value.replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("&#34;", '"')
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        for key, value in fields.items()
    }


@pytest.fixture
def editor(people):
    return signed_in(people, "editor@example.org")


def test_editing_a_published_survey_starts_a_draft_and_leaves_the_published_version(editor):
    published = newest()
    before = published.definition
    response = submit(
        editor,
        f"{EDIT}/pages/about_you",
        {"name": "about_you", "title.vi": "Về bạn", "title.en": "About you"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    draft = newest()
    assert draft.number == published.number + 1 and draft.published_at is None
    assert draft.definition["pages"][0]["title"] == {"vi": "Về bạn", "en": "About you"}
    assert db.session.get(SurveyVersion, published.id).definition == before
    # A second change edits the same draft: no version per click.
    submit(editor, f"{EDIT}/pages/about_you", {"name": "about_you", "title.vi": "Về bạn!"})
    db.session.expire_all()
    assert newest().number == draft.number


def test_an_unknown_question_in_an_expression_is_refused_with_its_position(editor):
    fields = question_form(editor, "children")
    fields["relevant"] = "${role} = 'parent' and ${rolee} != ''"
    response = editor.post(f"{EDIT}/questions/children", data=fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    message = re.search(r'<p class="error" id="relevant-error">(.*?)</p>', html).group(1)
    # The validator's words in the page's language (Vietnamese).
    assert "tại ký tự 24" in message and "rolee" in message
    assert "có phải bạn muốn viết" in message
    db.session.expire_all()
    assert "rolee" not in str(newest().definition)  # nothing saved


def test_a_question_is_saved_with_its_translations_side_by_side(editor):
    fields = question_form(editor, "comment")
    fields.update(
        {
            "label.vi": "Ý kiến khác của bạn",
            "label.en": "Anything else?",
            "hint.vi": "Không bắt buộc",
            "hint.en": "Optional",
            "constraint": "string-length(.) <= 500",
            "constraint_message.vi": "Tối đa 500 ký tự",
        }
    )
    response = editor.post(f"{EDIT}/questions/comment", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    saved = question("comment")
    assert saved["label"] == {"vi": "Ý kiến khác của bạn", "en": "Anything else?"}
    assert saved["hint"]["en"] == "Optional"
    assert saved["constraint"] == "string-length(.) <= 500"


def test_renaming_a_question_updates_the_rules_that_name_it(editor):
    uses = [
        q["name"] for q in newest().definition["pages"][0]["questions"] if "${district}" in str(q)
    ]
    assert uses  # the commune's choice filter
    fields = question_form(editor, "district")
    fields["name"] = "huyen"
    assert editor.post(f"{EDIT}/questions/district", data=fields).status_code == 302
    db.session.expire_all()
    assert "district" not in questions() and "huyen" in questions()
    assert "${district}" not in str(newest().definition["pages"])
    assert "${huyen}" in question("commune")["choice_filter"]


def test_add_move_and_delete_questions_and_pages(editor):
    response = submit(
        editor,
        EDIT,
        {
            "change": "add_question",
            "target": "about_you",
            "type": "matrix",
            "question_name": "grid",
            "question_label": "Đánh giá",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{EDIT}/questions/grid")
    db.session.expire_all()
    grid = question("grid")
    assert grid["type"] == "matrix" and len(grid["rows"]) == 2
    assert grid["choices"] in newest().definition["choice_lists"]

    order = questions()
    submit(editor, EDIT, {"change": "question_up", "target": "grid"})
    db.session.expire_all()
    assert questions().index("grid") == order.index("grid") - 1

    assert (
        submit(
            editor,
            EDIT,
            {
                "change": "add_page",
                "page_name": "last",
                "page_title": "Cuối",
                "type": "text",
                "question_name": "final",
                "question_label": "Cuối cùng?",
            },
        ).status_code
        == 302
    )
    db.session.expire_all()
    pages = [p["name"] for p in newest().definition["pages"]]
    assert pages[-1] == "last"
    submit(editor, EDIT, {"change": "page_up", "target": "last"})
    db.session.expire_all()
    assert [p["name"] for p in newest().definition["pages"]][-2] == "last"

    submit(editor, EDIT, {"change": "delete_question", "target": "grid"})
    submit(editor, EDIT, {"change": "delete_page", "target": "last"})
    db.session.expire_all()
    assert "grid" not in questions() and "final" not in questions()


def test_deleting_a_question_other_rules_need_is_refused(editor):
    before = questions()
    response = submit(editor, EDIT, {"change": "delete_question", "target": "role"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "không có câu hỏi" in html and "role" in html
    db.session.expire_all()
    assert questions() == before


def test_a_bad_name_or_type_for_a_new_question_is_refused(editor):
    for data in (
        {"type": "text", "question_name": "1abc"},
        {"type": "bogus", "question_name": "ok_name"},
        {"type": "text", "question_name": "district"},
    ):
        response = submit(editor, EDIT, {"change": "add_question", "target": "about_you", **data})
        assert response.status_code == 422, data
    db.session.expire_all()
    assert newest().published_at is not None  # not even a draft was started


def test_choice_list_editing_adds_reorders_and_filters(editor):
    url = f"{EDIT}/lists/roles"
    html = editor.get(url).get_data(as_text=True)
    assert 'name="choice-1-name"' in html
    choices = newest().definition["choice_lists"]["roles"]
    data = {}
    for i, choice in enumerate(choices, 1):
        data[f"choice-{i}-name"] = choice["name"]
        data[f"choice-{i}-position"] = str(len(choices) - i + 1)  # reversed
        for lang, text in choice["label"].items():
            data[f"choice-{i}-label.{lang}"] = text
    n = len(choices) + 1
    data |= {
        f"choice-{n}-name": "official",
        f"choice-{n}-label.vi": "Cán bộ",
        f"choice-{n}-position": "0",
    }
    assert submit(editor, url, data).status_code == 302
    db.session.expire_all()
    saved = [c["name"] for c in newest().definition["choice_lists"]["roles"]]
    assert saved == ["official"] + [c["name"] for c in reversed(choices)]

    # A choice without a label in the default language is refused, nothing saved.
    data |= {f"choice-{n}-label.vi": "", f"choice-{n}-label.en": "Official"}
    response = submit(editor, url, data)
    assert response.status_code == 422
    # The validator's words, in the page's language (Vietnamese).
    assert "ngôn ngữ mặc định" in response.get_data(as_text=True)


def test_settings_schedule_is_typed_and_shown_in_vietnam_time(editor):
    url = f"{EDIT}/settings"
    response = submit(
        editor,
        url,
        {
            "title.vi": "Khảo sát",
            "default_language": "vi",
            "opens_at": "2026-12-01T08:00",
            "closes_at": "",
            "max_responses": "500",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    settings = newest().definition["settings"]
    assert settings["opens_at"] == "2026-12-01T08:00:00+07:00"
    assert settings["max_responses"] == 500
    assert 'value="2026-12-01T08:00"' in editor.get(url).get_data(as_text=True)
    response = submit(
        editor,
        url,
        {
            "title.vi": "Khảo sát",
            "default_language": "vi",
            "opens_at": "2026-12-01T08:00",
            "closes_at": "2026-11-30T08:00",
            "max_responses": "0",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="closes_at-error"' in html and 'id="max_responses-error"' in html


def test_translations_table_adds_a_language(editor):
    url = f"{EDIT}/translations"
    html = editor.get(url + "?add_language=fr").get_data(as_text=True)
    assert 'name="title|fr"' in html
    response = submit(
        editor,
        url,
        {"add_language": "fr", "title|fr": "Enquête", "question:comment:label|fr": "Autre chose ?"},
        page=url + "?add_language=fr",
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert newest().definition["title"]["fr"] == "Enquête"
    assert question("comment")["label"]["fr"] == "Autre chose ?"


def test_a_save_over_a_newer_change_is_refused(editor, people):
    stale = editor.get(f"{EDIT}/pages/about_you").get_data(as_text=True)
    other = signed_in(people, "admin@example.org")
    submit(other, f"{EDIT}/pages/about_you", {"name": "about_you", "title.vi": "Của admin"})
    response = editor.post(
        f"{EDIT}/pages/about_you", data={**hidden(stale), "name": "about_you", "title.vi": "Cũ"}
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert newest().definition["pages"][0]["title"]["vi"] == "Của admin"


def test_preview_checks_answers_and_stores_nothing(editor):
    url = f"/admin/surveys/{DEMO_SLUG}/preview"
    html = editor.get(url).get_data(as_text=True)
    assert "preview-banner" in html and f'action="{url}?lang=vi"' in html
    assert editor.post(url + "?lang=vi", data={"district": "nowhere"}).status_code == 422
    from tests.conftest import stored_responses, valid_answers

    response = editor.post(url + "?lang=vi", data=valid_answers())
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/preview/thanks?lang=vi")
    assert stored_responses() == []


def test_create_a_survey_from_scratch(editor):
    html = editor.get("/admin/surveys/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = editor.post(
        "/admin/surveys/create",
        data={
            "csrf_token": token,
            "slug": "y-kien-dat-dai",
            "title": "Ý kiến về đất đai",
            "language": "vi",
            "first_question": "Bạn sống ở đâu?",
        },
    )
    assert response.status_code == 302
    survey = find_survey("y-kien-dat-dai")
    assert survey.status == "draft" and survey.versions[0].published_at is None
    assert editor.get("/admin/surveys/y-kien-dat-dai/edit").status_code == 200  # shared
    response = editor.post(
        "/admin/surveys/create",
        data={"csrf_token": token, "slug": "Bad Slug", "title": "x", "first_question": "y"},
    )
    assert response.status_code == 422 and "slug" in response.get_data(as_text=True)


def test_who_may_use_the_builder(people):
    assert people.test_client().get(EDIT).status_code == 302
    for email, expected in (
        ("analyst@example.org", 403),
        ("other@example.org", 403),
        ("admin@example.org", 200),
        ("editor@example.org", 200),
    ):
        assert signed_in(people, email).get(EDIT).status_code == expected, email


def test_builder_changes_are_in_the_audit_log(editor):
    submit(editor, f"{EDIT}/pages/about_you", {"name": "about_you", "title.vi": "Về bạn"})
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "survey_edited")
    ).all()
    assert [(e.actor, e.survey_slug) for e in events] == [("editor@example.org", DEMO_SLUG)]


# A property each type takes beyond the common ones, as the form's fields.
TYPE_FIELDS = {
    "select_one": {"other": "1", "appearance": "minimal"},
    "select_multiple": {"min_choices": "1", "max_choices": "2"},
    "text": {"appearance": "multiline", "constraint": "string-length(.) <= 20"},
    "integer": {"min": "0", "max": "120"},
    "decimal": {"min": "0,5", "max": "10"},
    "date": {"min": "2020-01-01", "max": "today"},
    "geopoint": {"required": "1"},
    "barcode": {"hint.vi": "Mã trên biển báo"},
    "image": {"required": "1"},
    "audio": {"hint.vi": "Ghi âm ý kiến"},
    "video": {},
    "file": {"hint.vi": "Giấy tờ liên quan"},
    "email": {"hint.vi": "Thư điện tử"},
    "phone": {"required": "1"},
    "rating": {"scale": "7"},
    "nps": {"required": "1"},
    "rank": {"required": "1"},
    "matrix": {"row-1-name": "speed", "row-1-label.vi": "Tốc độ"},
    "acknowledge": {"required": "1"},
    "note": {"hint.vi": "Chỉ để đọc"},
    "hidden": {},
    "calculate": {"calculation": "${children} * 2"},
    "repeat": {"max_count": "5"},
}
SAVED = {
    "select_one": ("other", True),
    "select_multiple": ("max_choices", 2),
    "integer": ("max", 120),
    "decimal": ("min", 0.5),
    "date": ("max", "today"),
    "rating": ("scale", 7),
    "calculate": ("calculation", "${children} * 2"),
    "text": ("appearance", "multiline"),
    "phone": ("required", True),
    "repeat": ("max_count", 5),
}


@pytest.mark.parametrize("qtype", sorted(TYPE_FIELDS))
def test_every_question_type_is_added_edited_and_shown_to_citizens(editor, qtype):
    from survey_engine.definition.schema_questions import QUESTION_TYPES

    assert set(TYPE_FIELDS) == QUESTION_TYPES  # every type of the format is covered
    name = f"new_{qtype}"
    assert (
        submit(
            editor,
            EDIT,
            {
                "change": "add_question",
                "target": "about_you",
                "type": qtype,
                "question_name": name,
                "question_label": f"Câu hỏi {qtype}",
            },
        ).status_code
        == 302
    )
    fields = question_form(editor, name) | TYPE_FIELDS[qtype]
    if qtype == "matrix":
        fields["row-1-label.vi"] = "Tốc độ"
    response = editor.post(f"{EDIT}/questions/{name}", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    saved = question(name)
    assert saved["type"] == qtype
    if qtype in SAVED:
        key, value = SAVED[qtype]
        assert saved[key] == value
    if qtype == "matrix":
        assert saved["rows"][0] == {"name": "speed", "label": {"vi": "Tốc độ"}}
    # The draft is what the preview shows, as citizens will see it.
    html = editor.get(f"/admin/surveys/{DEMO_SLUG}/preview").get_data(as_text=True)
    assert f'id="q-{name}"' in html or qtype in ("hidden", "calculate")
