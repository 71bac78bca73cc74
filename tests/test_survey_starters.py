"""A new survey from a template, and pages and questions copied from another survey:
every template is a definition the validator accepts, a survey made from one opens
in the builder, and copies get unique names and bring their choice lists."""

from __future__ import annotations

import pytest

from survey_engine.catalog import find_survey, save_definition
from survey_engine.definition import validate_definition
from survey_engine.definition.copying import copy_into
from survey_engine.extensions import db
from survey_engine.models import AuditEvent
from survey_engine.staff.accounts import create_user, share_survey
from survey_engine.starters import STARTERS, starter_definition
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_admin_surveys import post, signed_in
from tests.test_builder import submit
from tests.test_staff import PASSWORD

OTHER = "dat-dai-ban-sao"
COPY = f"/admin/surveys/{DEMO_SLUG}/edit/copy"


def texts(value) -> list:
    """Every label, hint and message in a definition (dicts of {language: text})."""
    found = []
    if isinstance(value, dict):
        if "vi" in value and all(isinstance(v, str) for v in value.values()):
            found.append(value)
        else:
            for item in value.values():
                found += texts(item)
    elif isinstance(value, list):
        for item in value:
            found += texts(item)
    return found


@pytest.mark.parametrize("starter", STARTERS, ids=lambda s: s.key)
def test_every_template_is_a_valid_definition_in_vietnamese_and_english(starter):
    data = starter_definition(starter)
    assert validate_definition(data) == []
    assert data["default_language"] == "vi"
    if starter.key != DEMO_SLUG:  # the demo's place names are Vietnamese only
        for text in texts(data):
            assert text.get("vi") and text.get("en"), text


def test_the_satisfaction_template_covers_the_five_areas():
    data = starter_definition(STARTERS[1])
    assert [page["name"] for page in data["pages"]] == [
        "thong_tin",
        "tiep_can",
        "thu_tuc",
        "cong_chuc",
        "ket_qua",
        "gop_y",
    ]
    scale = [c["label"]["vi"] for c in data["choice_lists"]["muc_do_hai_long"]]
    assert scale == [
        "Rất không hài lòng",
        "Không hài lòng",
        "Bình thường",
        "Hài lòng",
        "Rất hài lòng",
    ]


@pytest.fixture
def staff(app):
    """An admin, an editor the demo is shared with, an analyst; another survey (a copy
    of the demo with a different list of roles) shared with nobody."""
    create_user("admin@example.org", PASSWORD, "admin")
    editor = create_user("editor@example.org", PASSWORD, "editor")
    share_survey(editor, find_survey(DEMO_SLUG))
    create_user("analyst@example.org", PASSWORD, "analyst")
    other = {**demo_definition(), "slug": OTHER}
    other["choice_lists"] = {
        **other["choice_lists"],
        "roles": [{"name": "farmer", "label": {"vi": "Nông dân", "en": "Farmer"}}],
    }
    save_definition(other)
    return app


def test_a_survey_from_a_template_opens_in_the_builder(staff):
    client = signed_in(staff, "editor@example.org")
    form = {"template": "hai-long-dich-vu-cong", "slug": "hai-long-2027", "title": ""}
    assert post(client, "/admin/surveys/from-template", form).status_code == 422  # no such
    form["template"] = "hai-long-dich-vu-hanh-chinh-cong"
    reply = post(client, "/admin/surveys/from-template", form)
    assert reply.status_code == 302 and reply.headers["Location"].endswith(
        "/admin/surveys/hai-long-2027/edit"
    )
    survey = find_survey("hai-long-2027")
    assert survey.status == "draft" and len(survey.versions) == 1
    expected = {**starter_definition(STARTERS[1]), "slug": "hai-long-2027"}
    assert survey.versions[0].definition == expected
    assert client.get("/admin/surveys/hai-long-2027/edit").status_code == 200  # shared
    event = db.session.query(AuditEvent).filter_by(survey_slug="hai-long-2027").one()
    assert event.detail["template"] == "hai-long-dich-vu-hanh-chinh-cong"
    # The address is taken now; a title of one's own replaces the template's.
    again = post(client, "/admin/surveys/from-template", form)
    assert again.status_code == 422 and "hai-long-2027" in again.get_data(as_text=True)
    form |= {"template": "y-kien-quan-ly-dat-dai", "slug": "dat-dai-2027", "title": "Đất đai"}
    assert post(client, "/admin/surveys/from-template", form).status_code == 302
    assert find_survey("dat-dai-2027").title["vi"] == "Đất đai"
    analyst = signed_in(staff, "analyst@example.org")
    assert post(analyst, "/admin/surveys/from-template", form).status_code == 403


def test_the_new_survey_page_lists_the_templates(staff):
    html = signed_in(staff, "admin@example.org").get("/admin/surveys/new").get_data(as_text=True)
    for starter in STARTERS:
        assert f'value="{starter.key}"' in html
    assert "Sự hài lòng với dịch vụ hành chính công" in html


def test_copy_into_makes_names_unique_and_brings_lists():
    target = demo_definition()
    source = {**demo_definition()}
    source["choice_lists"] = {**source["choice_lists"], "roles": [{"name": "x", "label": "X"}]}
    count, renamed = copy_into(target, source, ["contact"], ["district", "commune", "role"])
    assert count == 3 + len(demo_definition()["pages"][2]["questions"])
    assert renamed["district"] == "district_2" and renamed["role"] == "role_2"
    copied = {q["name"]: q for page in target["pages"][-2:] for q in page["questions"]}
    assert copied["commune_2"]["choice_filter"] == "district = ${district_2}"
    assert copied["district_2"]["choices"] == "districts"  # identical list: reused
    assert copied["role_2"]["choices"] == "roles_2"  # a different list: renamed
    assert target["choice_lists"]["roles_2"] == [{"name": "x", "label": "X"}]
    assert [p["name"] for p in target["pages"]][-2:] == ["about_you_2", "contact_2"]
    assert validate_definition(target) == []


def test_copying_questions_from_another_survey_in_the_builder(staff):
    client = signed_in(staff, "admin@example.org")
    html = client.get(f"{COPY}?source={OTHER}").get_data(as_text=True)
    assert 'name="question" value="role"' in html and 'name="page" value="contact"' in html
    reply = submit(
        client, COPY, {"source": OTHER, "question": ["role", "support"]}, f"{COPY}?source={OTHER}"
    )
    assert reply.status_code == 302
    db.session.expire_all()
    data = find_survey(DEMO_SLUG).versions[-1].definition
    assert find_survey(DEMO_SLUG).versions[-1].published_at is None  # a new draft
    names = [q["name"] for page in data["pages"] for q in page["questions"]]
    assert names[-2:] == ["role_2", "support_2"]
    last = data["pages"][-2:]
    assert [q["choices"] for page in last for q in page["questions"]] == ["roles_2", "support"]
    assert data["choice_lists"]["roles_2"][0]["name"] == "farmer"
    builder = client.get(f"/admin/surveys/{DEMO_SLUG}/edit").get_data(as_text=True)
    assert "role → role_2" in builder and "support → support_2" in builder


def test_nothing_ticked_or_a_survey_not_shared_copies_nothing(staff):
    client = signed_in(staff, "admin@example.org")
    before = len(find_survey(DEMO_SLUG).versions)
    reply = submit(client, COPY, {"source": OTHER}, page=f"{COPY}?source={OTHER}")
    assert reply.status_code == 422
    assert "Hãy đánh dấu ít nhất một trang" in reply.get_data(as_text=True)
    editor = signed_in(staff, "editor@example.org")  # the other survey is not shared
    html = editor.get(f"{COPY}?source={OTHER}").get_data(as_text=True)
    assert f'value="{OTHER}"' not in html and 'name="question"' not in html
    reply = post(editor, COPY, {"source": OTHER, "question": "role"})
    assert reply.status_code == 422
    db.session.expire_all()
    assert len(find_survey(DEMO_SLUG).versions) == before
