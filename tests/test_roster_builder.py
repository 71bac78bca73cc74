"""The builder and rosters: a roster is added, its counts set, its row's questions
added, edited, moved and deleted, all with plain forms (no script), and the preview
shows its rows."""

from __future__ import annotations

from survey_engine.extensions import db
from tests.conftest import DEMO_SLUG
from tests.test_admin_surveys import people  # noqa: F401 (fixture)
from tests.test_builder import EDIT, editor, question, question_form, submit  # noqa: F401


def row_names(roster: str) -> list[str]:
    return [q["name"] for q in question(roster)["questions"]]


def change(client, data: dict, page: str):
    return submit(client, EDIT, data, page=page)


def test_a_roster_s_row_questions_are_added_edited_moved_and_deleted(editor):
    add = {
        "change": "add_question",
        "target": "about_you",
        "type": "repeat",
        "question_name": "members",
        "question_label": "Thành viên",
    }
    assert change(editor, add, EDIT).status_code == 302
    roster_page = f"{EDIT}/questions/members"
    fields = question_form(editor, "members") | {
        "min_count": "1",
        "max_count": "8",
        "count": "",
        "row_label.vi": "Người",
    }
    response = editor.post(roster_page, data=fields)
    assert response.status_code == 302
    db.session.expire_all()
    saved = question("members")
    assert (saved["min_count"], saved["max_count"]) == (1, 8)
    assert saved["row_label"] in ("Người", {"vi": "Người"})  # each row: "Người 1", ...
    preview = editor.get(f"/admin/surveys/{DEMO_SLUG}/preview").get_data(as_text=True)
    assert '<legend class="roster-row-title">Người 1</legend>' in preview
    assert row_names("members") == ["members_name"]  # the roster's form keeps its row

    html = editor.get(roster_page).get_data(as_text=True)
    assert "Các câu hỏi của mỗi dòng" in html and "members_name" in html
    new_row_q = {
        "change": "add_row_question",
        "target": "members",
        "roster": "members",
        "row_type": "integer",
        "question_name": "age",
        "question_label": "Tuổi",
    }
    response = change(editor, new_row_q, roster_page)
    assert response.headers["Location"].endswith("/questions/age")
    db.session.expire_all()
    assert row_names("members") == ["members_name", "age"]

    # A row question's own page: no page to choose, saving goes back to the roster.
    fields = question_form(editor, "age") | {"min": "0", "max": "120", "relevant": ""}
    assert "page" not in fields
    response = editor.post(f"{EDIT}/questions/age", data=fields)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/questions/members"
    )
    db.session.expire_all()
    assert question("members")["questions"][1]["max"] == 120

    up = {"change": "question_up", "target": "age", "roster": "members"}
    response = change(editor, up, roster_page)
    assert response.headers["Location"].endswith("/questions/members")
    db.session.expire_all()
    assert row_names("members") == ["age", "members_name"]

    # Duplicated from the roster's page: the copy right after it, in the same row.
    assert "Duplicate question age" in editor.get(f"{roster_page}?lang=en").get_data(as_text=True)
    duplicate = {"change": "duplicate_question", "target": "age", "roster": "members"}
    response = change(editor, duplicate, roster_page)
    assert response.headers["Location"].endswith("/questions/age_2")
    db.session.expire_all()
    assert row_names("members") == ["age", "age_2", "members_name"]
    assert question("members")["questions"][1]["max"] == 120
    change(editor, {**duplicate, "change": "delete_question", "target": "age_2"}, roster_page)

    delete = {"change": "delete_question", "target": "members_name", "roster": "members"}
    change(editor, delete, roster_page)
    db.session.expire_all()
    assert row_names("members") == ["age"]
    # The last question of a row stays: the roster needs one.
    refused = change(editor, {**delete, "target": "age"}, roster_page)
    assert refused.status_code == 422
    db.session.expire_all()
    assert row_names("members") == ["age"]

    # The row's texts are in the translation table like every other.
    table = f"{EDIT}/translations"
    assert "question:age:label|en" in editor.get(table).get_data(as_text=True)
    assert submit(editor, table, {"question:age:label|en": "Age"}).status_code == 302
    db.session.expire_all()
    assert question("members")["questions"][0]["label"] == {"vi": "Tuổi", "en": "Age"}
    # A count from an answer: an unknown question is refused at the field.
    fields = question_form(editor, "members") | {"count": "${nobody}"}
    refused = editor.post(roster_page, data=fields)
    assert refused.status_code == 422
    # The preview shows the roster with its first row (no count: the citizen adds rows).
    preview = editor.get(f"/admin/surveys/{DEMO_SLUG}/preview").get_data(as_text=True)
    assert 'id="q-members"' in preview and 'name="members.1.age"' in preview
