"""The builder in place, server side: the routes its script calls (an expression
checked with the validator's own words, the draft's revision, undo) and the changes
it adds to the builder's form (duplicate, drag and drop), each with the same checks
as every other save."""

from __future__ import annotations

import pytest
from flask import g

from survey_engine.extensions import db
from tests.conftest import DEMO_SLUG
from tests.test_admin_surveys import people, signed_in, token_of  # noqa: F401 (fixture)
from tests.test_builder import EDIT, hidden, newest, question, questions, submit


@pytest.fixture
def editor(people):
    return signed_in(people, "editor@example.org")


def check(client, **fields):
    return client.post(f"{EDIT}/check", data={"csrf_token": token_of(client), **fields})


def test_an_expression_is_checked_in_the_draft_with_the_validators_own_message(editor):
    typo = check(editor, question="children", field="relevant", expression="${rolee} = 'x'")
    assert typo.status_code == 200
    assert typo.json["ok"] is False
    (message,) = typo.json["problems"]
    # as the saved form says it, in the staff page's language
    assert "rolee" in message and "có phải bạn muốn viết '${role}'" in message
    fine = check(editor, question="children", field="relevant", expression="${role} = 'parent'")
    assert fine.json == {"ok": True, "problems": []}
    page = check(editor, page="opinion", field="relevant", expression="${children} >")
    assert page.json["ok"] is False and page.json["problems"]
    # Only that field's problems: an unrelated broken rule elsewhere is not its message.
    assert all("pages[" not in text for text in typo.json["problems"])
    before = newest().definition
    db.session.expire_all()
    assert newest().definition == before  # a check saves nothing


def test_a_check_refuses_what_is_no_expression_field_and_names_its_limit(editor):
    assert check(editor, question="children", field="label", expression="x").status_code == 400
    assert check(editor, question="nobody", field="relevant", expression="1").status_code == 404
    long = check(editor, question="children", field="relevant", expression="1" * 2001)
    assert long.json["ok"] is False and "2" in long.json["problems"][0]
    # Without the CSRF token nothing is checked (the session's word is not enough).
    bare = editor.post(f"{EDIT}/check", data={"question": "children", "field": "relevant"})
    assert bare.status_code == 400


def test_the_last_change_is_undone_once_and_only_from_the_newest_revision(editor):
    submit(editor, EDIT, {"change": "question_down", "target": "phone"})
    moved = questions()
    submit(editor, EDIT, {"change": "delete_question", "target": "comment"})
    db.session.expire_all()
    assert "comment" not in questions()
    assert editor.get(f"{EDIT}/revision").json["can_undo"] is True
    stale = {**hidden(editor.get(EDIT).get_data(as_text=True)), "revision": "1-old"}
    assert editor.post(f"{EDIT}/undo", data=stale).status_code == 302
    db.session.expire_all()
    assert "comment" not in questions()  # an old revision undoes nothing
    response = submit(editor, f"{EDIT}/undo", {}, page=EDIT)
    assert response.status_code == 302
    db.session.expire_all()
    assert questions() == moved  # the delete undone, the move before it kept
    html = editor.get(EDIT).get_data(as_text=True)
    assert "The last change was undone." in html or "hoàn tác" in html
    assert 'id="undo"' not in html  # one step only
    assert editor.get(f"{EDIT}/revision").json["can_undo"] is False


def test_the_revision_route_tells_a_second_editor_that_the_draft_changed(editor, people):
    other = signed_in(people, "editor@example.org")  # a second browser
    seen = editor.get(f"{EDIT}/revision").json["revision"]
    assert f'data-revision="{seen}"' in editor.get(EDIT).get_data(as_text=True)
    db.session.expire_all()
    g.pop("csrf_token", None)  # the tests' one app context: each browser its own token
    submit(other, f"{EDIT}/pages/about_you", {"name": "about_you", "title.vi": "Về bạn (2)"})
    db.session.expire_all()  # the tests' one session: as a new request would see it
    assert editor.get(f"{EDIT}/revision").json["revision"] != seen
    # The first editor's change from the old revision is refused, not merged silently.
    refused = editor.post(
        EDIT,
        data={
            "csrf_token": token_of(editor),
            "revision": seen,
            "change": "question_up",
            "target": "comment",
        },
    )
    assert refused.status_code == 422
    assert "Someone saved a change" in refused.get_data(as_text=True) or "mở lại" in (
        refused.get_data(as_text=True)
    )


def test_a_question_is_duplicated_after_itself_sharing_its_list(editor):
    response = submit(editor, EDIT, {"change": "duplicate_question", "target": "support"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/edit/questions/support_2")
    db.session.expire_all()
    names = questions()
    assert names[names.index("support") + 1] == "support_2"
    copy = question("support_2")
    assert copy["choices"] == question("support")["choices"]
    assert copy["label"] == question("support")["label"]


def drop(client, before: str):
    """Drop `comment` onto the page opinion, before `before` (empty: at its end); the
    answer, and the page's question names after it."""
    data = {"change": "place_question", "target": "comment", "page": "opinion", "before": before}
    response = submit(client, EDIT, data)
    db.session.expire_all()
    page = next(p for p in newest().definition["pages"] if p["name"] == "opinion")
    return response, [q["name"] for q in page["questions"]]


def test_a_drop_places_a_question_before_another_or_at_a_pages_end(editor):
    _response, names = drop(editor, "support")
    assert names.index("comment") == names.index("support") - 1
    _response, names = drop(editor, "")
    assert names[-1] == "comment"
    # A drop before a question of another page than the one named is refused.
    response, _names = drop(editor, "consent")
    assert response.status_code == 422


def test_only_the_builder_may_frame_the_preview(editor):
    overview = editor.get(EDIT)
    assert "frame-src 'self'" in overview.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in overview.headers["Content-Security-Policy"]
    preview = editor.get(f"/admin/surveys/{DEMO_SLUG}/preview")
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    # Every other staff page still refuses to be framed.
    survey = editor.get(f"/admin/surveys/{DEMO_SLUG}")
    assert survey.headers["X-Frame-Options"] == "DENY"


def test_a_page_is_duplicated_after_itself_its_rules_pointing_at_the_copies(editor):
    response = submit(editor, EDIT, {"change": "duplicate_page", "target": "about_you"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#about_you_2")
    db.session.expire_all()
    pages = newest().definition["pages"]
    original, copy = pages[0], pages[1]
    assert copy["name"] == "about_you_2"
    names = [q["name"] for q in copy["questions"]]
    assert names == [f"{q['name']}_2" for q in original["questions"]]
    levels = next(q for q in copy["questions"] if q["name"] == "levels_2")
    assert levels["relevant"] == "${children_2} > 0"  # the copy's own question
