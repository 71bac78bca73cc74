"""Rosters on the questionnaire and through the API: a household's members sent as
rows (`members.2.age` on the form, a list of rows in JSON) and stored as a list of
typed rows; the roster's buttons without the page's script (add, remove, show the
rows a count asks for) draw the page again with every answer kept and store nothing."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from survey_engine.catalog import save_definition
from survey_engine.definition import Definition, validate_definition
from survey_engine.public.rendering import answers_from_form
from tests.conftest import new_id, stored_responses
from tests.roster_survey import HOUSEHOLD_SLUG, household_answers, household_definition

URL = f"/s/{HOUSEHOLD_SLUG}"
API = f"/api/v1/surveys/{HOUSEHOLD_SLUG}/responses"
STORED_ROWS = [
    {"member_name": "Nguyễn Thị Lan", "sex": "female", "age": 41, "languages": ["vi"]},
    {"member_name": "Trần Văn Minh", "sex": "male", "age": 12, "in_school": "yes"},
    {"member_name": "K'Sor H'Hen", "sex": "female", "age": 3, "languages": ["koho"]},
]


def publish(**roster) -> None:
    data = household_definition()
    data["pages"][1]["questions"][0].update(roster)
    data["pages"][1]["questions"][0] = {
        k: v for k, v in data["pages"][1]["questions"][0].items() if v is not None
    }
    save_definition(data, publish=True)


def form_fields(answers: dict | None = None) -> MultiDict:
    """The household as the HTML form sends it: members.<row>.<question> fields."""
    answers = household_answers() if answers is None else answers
    fields = MultiDict({"submission_id": new_id()})
    for key, value in answers.items():
        if key != "members":
            fields.add(key, value)
    for number, row in enumerate(answers.get("members", []), start=1):
        fields.add(f"members.{number}", "")
        for name, value in row.items():
            for item in value if isinstance(value, list) else [value]:
                fields.add(f"members.{number}.{name}", item)
    return fields


def shown(html: str) -> str:
    """The page without its <template> rows (the page's script clones them)."""
    return re.sub(r"<template.*?</template>", "", html, flags=re.S)


def rows_on(html: str) -> list[str]:
    return re.findall(r'<fieldset class="roster-row" id="q-members\.(\d+)"', html)


def field_value(html: str, name: str) -> str | None:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
    return found.group(1) if found else None


def test_the_form_s_rows_are_stored_as_the_roster_s_list_of_typed_rows(client):
    publish()
    reply = client.post(URL, data=form_fields())
    assert reply.status_code == 303, reply.get_data(as_text=True)[:3000]
    [response] = stored_responses(HOUSEHOLD_SLUG)
    assert response.answers["members"] == STORED_ROWS
    assert response.answers["size"] == 3 and response.answers["comment"] == "Nhà gần trường"


def test_the_api_takes_the_rows_as_a_list_and_stores_the_same(client):
    publish()
    reply = client.post(API, json={"submission_id": new_id(), "answers": household_answers()})
    assert reply.status_code == 202, reply.get_json()
    [response] = stored_responses(HOUSEHOLD_SLUG)
    assert response.answers["members"] == STORED_ROWS
    refused = household_answers()
    refused["members"][2]["age"] = "200"
    reply = client.post(API, json={"submission_id": new_id(), "answers": refused})
    assert reply.status_code == 422
    assert "members.3.age" in reply.get_json()["errors"]


def test_a_row_s_error_shows_at_its_input_and_the_summary_links_to_it(client):
    publish()
    answers = household_answers()
    answers["members"][1]["age"] = "200"
    reply = client.post(URL, data=form_fields(answers), headers={"Accept-Language": "en"})
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert re.search(r'<p class="error" id="q-members\.2\.age-error">[^<]*120', html), (
        "the message at row 2's age"
    )
    assert 'href="#f-members.2.age"' in html and 'id="f-members.2.age"' in html
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*id="f-members\.2\.age"[^>]*>', html)[0]
    # every typed answer comes back, row by row
    assert field_value(html, "members.3.member_name") == "K&#39;Sor H&#39;Hen"
    assert stored_responses(HOUSEHOLD_SLUG) == []


def test_without_the_script_the_rows_follow_the_count_once_asked(client):
    publish()
    first = client.get(URL).get_data(as_text=True)
    assert rows_on(first) == []  # the size is not known yet
    assert 'name="members.rows"' in first
    fields = form_fields({"district": "da_lat", "size": "2", "comment": "x"})
    fields.add("members.rows", "1")
    reply = client.post(URL, data=fields)
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200 and rows_on(html) == ["1", "2"]
    assert field_value(html, "size") == "2" and stored_responses(HOUSEHOLD_SLUG) == []
    # Sent with the wrong number of rows: the error, and the rows the count asks for.
    answers = household_answers()
    answers["size"] = "4"
    reply = client.post(URL, data=form_fields(answers))
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422 and rows_on(html) == ["1", "2", "3", "4"]
    assert field_value(html, "members.1.member_name") == "Nguyễn Thị Lan"


def test_without_the_script_rows_are_added_and_removed_keeping_every_answer(client):
    publish(count=None, min_count=1, max_count=3)
    first = shown(client.get(URL).get_data(as_text=True))
    assert rows_on(first) == ["1"]
    assert 'name="members.add"' in first
    assert re.search(r'name="members.remove" value="1"[^>]*hidden', first)  # min_count 1
    answers = household_answers()
    answers["members"] = answers["members"][:2]
    fields = form_fields(answers)
    fields.add("members.add", "1")
    html = shown(client.post(URL, data=fields).get_data(as_text=True))
    assert rows_on(html) == ["1", "2", "3"]
    assert field_value(html, "members.2.member_name") == "Trần Văn Minh"
    assert 'checked' in re.search(r'<input[^>]*name="members\.2\.sex" value="male"[^>]*>', html)[0]
    assert 'name="members.add"' in html and re.search(r'name="members.add"[^>]*hidden', html)
    # Removing row 1: row 2 moves up, with its answers.
    fields = form_fields(answers)
    fields.add("members.remove", "1")
    html = shown(client.post(URL, data=fields).get_data(as_text=True))
    assert rows_on(html) == ["1"] and field_value(html, "members.1.member_name") == "Trần Văn Minh"
    assert re.search(r'name="members.remove" value="1"[^>]*hidden', html)  # the last row stays
    assert stored_responses(HOUSEHOLD_SLUG) == []
    # Sent with a blank row at the end: that row is no row.
    answers["members"].append({"member_name": "", "age": ""})
    reply = client.post(URL, data=form_fields({**answers, "size": "2"}))
    assert reply.status_code == 303
    assert stored_responses(HOUSEHOLD_SLUG)[0].answers["members"] == STORED_ROWS[:2]


def test_rows_are_read_in_order_of_their_numbers_and_gaps_close():
    d = Definition({**household_definition()})
    fields = MultiDict(
        [("members.3", ""), ("members.3.age", "7"), ("members.1", ""), ("members.1.age", "30")]
    )
    fields.add("members.1.languages", "vi")
    fields.add("members.1.languages", "koho")
    assert answers_from_form(fields, d)["members"] == [
        {"age": "30", "languages": ["vi", "koho"]},
        {"age": "7"},
    ]


def test_a_roster_s_own_word_heads_its_rows_buttons_and_errors(client):
    """A roster of plots says "Thửa đất 2", not "Thành viên 2" (its row_label)."""
    publish(count=None, min_count=1, max_count=3, row_label={"vi": "Thửa đất", "en": "Plot"})
    first = client.get(URL).get_data(as_text=True)
    assert '<legend class="roster-row-title">Thửa đất 1</legend>' in shown(first)
    assert re.search(r'name="members.remove" value="1"[^>]*>Xóa: Thửa đất 1<', first)
    assert re.search(r'name="members.add"[^>]*>Thêm: Thửa đất<', first)
    # The page's script numbers a new row from the <template>'s words.
    template = re.search(r"<template.*?</template>", first, re.S)[0]
    assert "Thửa đất __row__" in template and "Thành viên __row__" not in template
    assert "Thêm thành viên" not in first and "Xóa thành viên" not in first
    # In English, and in the error summary: the row's word and number before the label.
    answers = household_answers()
    answers["members"] = answers["members"][:2]
    answers["members"][1]["age"] = "200"
    reply = client.post(URL + "?lang=en", data=form_fields(answers))
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert re.search(r'href="#f-members.2.age"[^>]*>Plot 2: Age<', html), "the summary's link"
    assert '<legend class="roster-row-title">Plot 2</legend>' in html
    assert re.search(r'name="members.add"[^>]*>Add: Plot<', html)
    assert not re.search(r"Member \d|Add a member|Remove member", html)


def test_a_roster_s_word_is_a_text_like_its_label():
    data = household_definition()
    roster = data["pages"][1]["questions"][0]
    roster["row_label"] = {"en": "Plot"}  # no Vietnamese, the survey's default language
    data["pages"][0]["questions"][1]["row_label"] = "Plot"  # not a roster
    problems = validate_definition(data)
    assert any(
        p.startswith("pages[1].questions[0].row_label: has no text in the default language")
        for p in problems
    ), problems
    assert any(p.startswith("pages[0].questions[1]") and "row_label" in p for p in problems)
