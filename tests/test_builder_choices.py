"""Choices and pages changed one at a time in the builder (issue 15), server side:
each button of a choice list's table (add, move, drag and drop, duplicate, delete)
saves the table as typed and then that one change, from the revision the page was
drawn from only; a page dropped before another. Without the script these are the
same forms, posted and answered with the table again on the row the change is about.
"""

from __future__ import annotations

import re

import pytest

from survey_engine.extensions import db
from tests.test_admin_surveys import people, signed_in  # noqa: F401 (fixture)
from tests.test_builder import EDIT, hidden, newest, submit

ROLES = f"{EDIT}/lists/roles"


@pytest.fixture
def editor(people):
    return signed_in(people, "editor@example.org")


def table(client, url: str = ROLES) -> dict:
    """The list's form as the page draws it: every field with its value."""
    html = client.get(url).get_data(as_text=True)
    fields = hidden(html)
    for name, value in re.findall(
        r'type="text" name="(choice-\d+-[^"]+)"[^>]*? value="([^"]*)"', html
    ):
        fields[name] = value
    for name in re.findall(r'name="(choice-\d+-[^"]+)" value="1" checked', html):
        fields[name] = "1"
    return fields


def press(client, change: str, url: str = ROLES, **typed):
    """Press a button of the list's table (`change`), after typing `typed` into it."""
    response = client.post(url, data={**table(client, url), **typed, "change": change})
    db.session.expire_all()
    return response


def roles() -> list[dict]:
    return newest().definition["choice_lists"]["roles"]


def names() -> list[str]:
    return [c["name"] for c in roles()]


def test_a_choice_moves_up_and_down_and_the_table_comes_back_on_it(editor):
    assert names() == ["parent", "pupil", "teacher", "other"]
    response = press(editor, "choice_down:1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/edit/lists/roles?row=2#choice-row-2")
    assert names() == ["pupil", "parent", "teacher", "other"]
    press(editor, "choice_up:3")
    assert names() == ["pupil", "teacher", "parent", "other"]
    page = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="choice-row-2" class="choice-row just-changed"' in page
    # The first has no way further up: refused, nothing saved.
    refused = press(editor, "choice_up:1")
    assert refused.status_code == 422
    assert names() == ["pupil", "teacher", "parent", "other"]


def test_a_drop_places_a_choice_before_another_or_last(editor):
    press(editor, "place_choice:4", before="1")
    assert names() == ["other", "parent", "pupil", "teacher"]
    press(editor, "place_choice:1", before="")
    assert names() == ["parent", "pupil", "teacher", "other"]


def test_add_duplicate_and_delete_keep_what_was_typed_in_the_table(editor):
    # A label typed and a button pressed: both saved, in one change.
    press(editor, "duplicate_choice:2", **{"choice-2-label.vi": "Học sinh (em)"})
    assert names() == ["parent", "pupil", "pupil_2", "teacher", "other"]
    assert roles()[2]["label"]["vi"] == "Học sinh (em)"
    response = press(editor, "add_choice")
    assert response.headers["Location"].endswith("?row=6#choice-row-6")
    assert names()[-1] == "6" and roles()[-1]["label"] == {"vi": "6"}
    press(editor, "delete_choice:3")
    assert "pupil_2" not in names()
    # A choice renamed as the button is pressed: the button is the row's, not a name.
    press(editor, "choice_up:5", **{"choice-5-name": "grandparent"})
    assert names()[3] == "grandparent"


def test_the_validator_still_judges_a_choice_change(editor):
    for _ in range(3):
        press(editor, "delete_choice:1")
    assert names() == ["other"]
    # The last choice of a list a question uses: the validator says no, nothing saved.
    refused = press(editor, "delete_choice:1")
    assert refused.status_code == 422
    assert names() == ["other"]


def test_a_choice_change_from_an_old_revision_is_refused(editor):
    fields = table(editor)
    press(editor, "choice_down:1")  # someone else's change in between
    stale = editor.post(ROLES, data={**fields, "change": "delete_choice:2"})
    assert stale.status_code == 422
    html = stale.get_data(as_text=True)
    assert "Someone saved a change" in html or "mở lại" in html
    db.session.expire_all()
    assert names() == ["pupil", "parent", "teacher", "other"]


@pytest.mark.parametrize(
    "change",
    [
        "choice_up:99",  # an empty row
        "choice_up:²",  # no row number
        "choice_up:1" + "0" * 30,
        "choice_up:",
        "place_choice:1",  # dropped before itself? no: `before` says
        "delete_choice:-1",
    ],
)
def test_hostile_rows_are_refused_without_a_change(editor, change):
    before = names()
    response = press(editor, change, before="x")
    assert response.status_code == 422
    assert names() == before


def test_an_unknown_change_or_list_is_no_change(editor):
    assert press(editor, "rename_all:1").status_code == 400
    assert press(editor, "delete_list:1").status_code == 400
    # A row ticked for removal holds no choice to move.
    assert press(editor, "choice_down:1", **{"choice-1-delete": "1"}).status_code == 422
    assert names() == ["parent", "pupil", "teacher", "other"]


def test_a_page_is_dropped_before_another_or_last_and_a_deletion_is_said(editor):
    def pages() -> list[str]:
        db.session.expire_all()
        return [p["name"] for p in newest().definition["pages"]]

    submit(editor, EDIT, {"change": "place_page", "target": "contact", "before": "about_you"})
    assert pages() == ["contact", "about_you", "opinion"]
    submit(editor, EDIT, {"change": "place_page", "target": "contact", "before": ""})
    assert pages() == ["about_you", "opinion", "contact"]
    refused = submit(editor, EDIT, {"change": "place_page", "target": "contact", "before": "x"})
    assert refused.status_code == 422
    assert pages() == ["about_you", "opinion", "contact"]
    stale = {**hidden(editor.get(EDIT).get_data(as_text=True)), "revision": "1-old"}
    old = editor.post(EDIT, data={**stale, "change": "place_page", "target": "contact"})
    assert old.status_code == 422
    assert pages() == ["about_you", "opinion", "contact"]
    response = submit(editor, EDIT, {"change": "delete_page", "target": "contact"})
    assert response.status_code == 302
    assert pages() == ["about_you", "opinion"]
    html = editor.get(EDIT).get_data(as_text=True)
    assert "contact" in html and ("was deleted" in html or "đã được xoá" in html or "xóa" in html)
