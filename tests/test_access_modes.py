"""Access modes: the builder's and XLSForm's settings, and one answer per device: a
second answer from the same browser (cookie, or the page's copy of the token when the
cookie was cleared, or the API's device_token) is refused with the "already answered"
page, before the form is even shown; with editing allowed it replaces the first."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from survey_engine.catalog import find_survey, published, save_definition
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.extensions import db
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.respondent import DEVICE_COOKIE
from survey_engine.intake.submission import Outcome, Submission
from survey_engine.models import Response, ResponseClaim, Tally
from tests.conftest import demo_definition, new_id, valid_answers
from tests.test_admin_surveys import people, signed_in  # noqa: F401 (fixture)
from tests.test_buffer import drainer_for
from tests.test_builder import EDIT, newest, submit
from tests.test_public_form import form_data

SLUG = "mot-lan-moi-may"
URL = f"/s/{SLUG}"
API = f"/api/v1/surveys/{SLUG}/responses"


def publish(**settings) -> int:
    data = {**demo_definition(), "slug": SLUG}
    data["settings"] = {**data.get("settings", {}), "access": "device", **settings}
    return save_definition(data, publish=True).id


def page_token(html: str) -> str:
    return re.search(r'name="device_token" value="([^"]+)"', html).group(1)


def responses(survey_id: int) -> list[Response]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Response).where(Response.survey_id == survey_id).order_by(Response.id)
    ).all()


def already_answered(reply) -> bool:
    html = reply.get_data(as_text=True)
    return reply.status_code == 409 and 'class="message already_answered"' in html


# -- one answer per device --------------------------------------------------------------


def test_a_second_answer_from_the_same_browser_is_refused_and_the_first_kept(app):
    survey_id = publish()
    phone = app.test_client()
    page = phone.get(URL)
    assert page.status_code == 200 and phone.get_cookie(DEVICE_COOKIE) is not None
    first = form_data(device_token=page_token(page.get_data(as_text=True)), comment="thứ nhất")
    assert phone.post(URL, data=first).status_code == 303
    second = form_data(device_token=page_token(page.get_data(as_text=True)), comment="thứ hai")
    assert already_answered(phone.post(URL, data=second))
    assert already_answered(phone.get(URL))  # told before filling the form in again
    assert [r.answers["comment"] for r in responses(survey_id)] == ["thứ nhất"]
    assert app.test_client().get(URL).status_code == 200  # another phone may answer


def test_without_javascript_the_cookie_alone_is_enough(app):
    survey_id = publish()
    phone = app.test_client()
    phone.get(URL)  # sets the cookie; the form is posted as is, without its hidden token
    assert phone.post(URL, data=form_data()).status_code == 303
    assert already_answered(phone.post(URL, data=form_data()))
    assert len(responses(survey_id)) == 1


def test_a_cleared_cookie_with_the_kept_page_copy_is_still_refused(app):
    survey_id = publish()
    phone = app.test_client()
    token = page_token(phone.get(URL).get_data(as_text=True))
    assert phone.post(URL, data=form_data(device_token=token)).status_code == 303
    phone.delete_cookie(DEVICE_COOKIE)  # the page's script puts the localStorage copy back
    assert already_answered(phone.post(URL, data=form_data(device_token=token)))
    assert len(responses(survey_id)) == 1


def test_a_forged_token_counts_as_none_and_is_flagged(app):
    survey_id = publish()
    forged = "ImFiYyI.AAAAAAAAAAAAAAAAAAAAAAAAAAA"
    client = app.test_client()
    client.set_cookie(DEVICE_COOKIE, forged)
    assert client.post(URL, data=form_data(device_token=forged)).status_code == 303
    (stored,) = responses(survey_id)
    assert stored.device_hash is None and [f["flag"] for f in stored.flags] == ["no_device"]


def test_the_api_refuses_a_second_answer_with_the_same_device_token(app):
    publish()
    token = page_token(app.test_client().get(URL).get_data(as_text=True))

    def send():
        body = {"submission_id": new_id(), "answers": valid_answers(), "device_token": token}
        return app.test_client().post(API, json=body)

    assert send().status_code == 202
    second = send()
    assert second.status_code == 409 and "already answered" in second.get_json()["error"]


def test_through_redis_the_page_knows_before_the_drain(buffered_app):
    survey_id = publish()
    phone = buffered_app.test_client()
    phone.get(URL)
    assert phone.post(URL, data=form_data()).status_code == 303
    assert already_answered(phone.get(URL))  # the claim is in Redis only, so far
    assert already_answered(phone.post(URL, data=form_data()))
    drainer_for(buffered_app).drain_once()
    assert len(responses(survey_id)) == 1
    assert already_answered(phone.get(URL))


@pytest.mark.parametrize("buffered", [False, True])
def test_allow_edit_a_later_answer_replaces_the_earlier(request, buffered):
    app: Flask = request.getfixturevalue("buffered_app" if buffered else "app")
    survey_id = publish(allow_edit=True)
    phone = app.test_client()
    assert phone.get(URL).status_code == 200
    assert phone.post(URL, data=form_data(support="yes")).status_code == 303
    if buffered:
        drainer_for(app).drain_once()
    assert phone.get(URL).status_code == 200  # the form again, to change the answer
    assert phone.post(URL, data=form_data(support="no")).status_code == 303
    if buffered:
        drainer_for(app).drain_once()
    first, later = responses(survey_id)
    assert first.status == "excluded" and first.answers["support"] == "yes"
    assert first.review_note == "replaced by a later answer from the same device"
    assert later.status == "unreviewed" and later.answers["support"] == "no"
    tallies = {
        (t.question, t.choice): t.count
        for t in db.session.scalars(sa.select(Tally).where(Tally.survey_id == survey_id))
    }
    assert tallies[("", "")] == 1
    assert tallies.get(("support", "yes"), 0) == 0 and tallies[("support", "no")] == 1


def test_a_batch_gives_each_device_claim_to_one_answer(app):
    """The drain's batch: a claim held before the batch, and one claimed twice inside
    it, refuse the later answers as CLAIMED; with editing allowed the later answers
    replace the earlier, whichever order the batch has them in."""
    survey_id = publish()
    version_id = published(SLUG).version_id

    def answer(device: str, replace: bool = False) -> Submission:
        return Submission(
            survey_id,
            version_id,
            uuid.uuid4(),
            valid_answers(),
            claims=(f"device:{device}",),
            replace_claims=replace,
        )

    earlier = answer("a")
    assert not persist_batch([earlier]).refused
    batch = [answer("a"), answer("b"), answer("b"), answer("c")]
    refused = persist_batch(batch).refused
    assert refused == {batch[0].key: Outcome.CLAIMED, batch[2].key: Outcome.CLAIMED}
    kept = {r.submission_id for r in responses(survey_id)}
    assert kept == {earlier.submission_id, batch[1].submission_id, batch[3].submission_id}

    editing = [answer("a", replace=True), answer("d"), answer("d", replace=True)]
    persisted = persist_batch(editing[::-1])
    assert not persisted.refused
    assert sorted(persisted.replaced) == sorted(
        [(survey_id, earlier.submission_id), (survey_id, editing[1].submission_id)]
    )
    holders = dict(
        db.session.execute(
            sa.select(ResponseClaim.claim, ResponseClaim.submission_id).where(
                ResponseClaim.survey_id == survey_id
            )
        ).all()
    )
    assert holders["device:a"] == editing[0].submission_id
    assert holders["device:d"] == editing[2].submission_id


# -- the settings: builder and XLSForm ----------------------------------------------------


def test_a_survey_made_in_the_builder_is_one_per_device(people):  # noqa: F811
    editor = signed_in(people, "editor@example.org")
    html = editor.get("/admin/surveys/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = {"csrf_token": token, "slug": "moi", "title": "Mới", "language": "vi"}
    reply = editor.post("/admin/surveys/create", data={**form, "first_question": "Tuổi?"})
    assert reply.status_code == 302
    assert find_survey("moi").versions[0].definition["settings"] == {"access": "device"}


def test_the_settings_page_saves_the_access_settings(people):  # noqa: F811
    editor = signed_in(people, "editor@example.org")
    url = f"{EDIT}/settings"
    base = {"title.vi": "Khảo sát", "default_language": "vi"}
    form = {**base, "access": "code", "link_codes": "1", "retention_days": "30"}
    assert submit(editor, url, form).status_code == 302
    db.session.expire_all()
    settings = newest().definition["settings"]
    assert settings["access"] == "code" and settings["link_codes"] is True
    assert settings["retention_days"] == 30 and "allow_edit" not in settings
    html = editor.get(url).get_data(as_text=True)
    assert 'value="code" checked' in html and 'name="link_codes" value="1" checked' in html
    refused = submit(editor, url, {**base, "access": "device", "retention_days": "0"})
    assert refused.status_code == 422 and 'id="retention_days-error"' in refused.get_data(
        as_text=True
    )
    refused = submit(editor, url, {**base, "access": "everyone"})
    assert refused.status_code == 422 and 'id="access-error"' in refused.get_data(as_text=True)


def test_xlsform_settings_round_trip(tmp_path):
    data = {**demo_definition(), "slug": "vong-tron"}
    data["settings"] = {
        "access": "code",
        "link_codes": True,
        "allow_edit": False,
        "anonymous": True,
        "retention_days": 30,
    }
    write_xlsform(data, tmp_path / "vong-tron.xlsx")
    back = read_xlsform(tmp_path / "vong-tron.xlsx")
    assert back["settings"] == data["settings"]
