"""The questionnaire page without JavaScript: GET, POST, errors that keep every answer."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from survey_engine.catalog import find_survey, save_definition, set_status
from survey_engine.models import SurveyStatus
from tests.conftest import DEMO_SLUG, demo_definition, new_id, stored_responses, valid_answers

URL = f"/s/{DEMO_SLUG}"


def form_data(submission_id: str | None = None, **changes) -> dict:
    data = {
        "submission_id": submission_id or new_id(),
        "consent": "OK",
        "district": "bao_lam",
        "commune": "blm_loc_an",
        "role": "parent",
        "children": "1",
        "support": "undecided",
        "concerns": ["vaccination", "other"],
        "concerns_other": "Đường xa",
        "measures[masks]": "agree",
        "measures[testing]": "neutral",
        "priorities[hygiene]": "3",
        "priorities[distancing]": "1",
        "priorities[ventilation]": "2",
        "priorities[catch_up]": "4",
        "follow_up": "yes",
        "phone": "0987 654 321",
        "comment": "Mong sớm đi học lại.",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def hidden_submission_id(html: str) -> str:
    return re.search(r'name="submission_id" value="([0-9a-f-]{36})"', html).group(1)


def test_page_is_vietnamese_by_default_with_a_fresh_submission_id(client):
    first = client.get(URL)
    second = client.get(URL)
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert '<html lang="vi">' in html
    assert "Khảo sát ý kiến về việc cho học sinh trở lại trường học" in html
    assert 'name="viewport"' in html
    # No inline script (a CSP without unsafe-inline): data, and deferred files the form
    # does not need.
    scripts = [
        re.sub(r"\?v=[0-9a-f]{10}", "", attrs)  # a content hash keeps caches right
        for attrs, _ in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    ]
    assert scripts == [
        ' type="application/json" id="survey-logic"',
        ' src="/static/expr.js" defer',
        ' src="/static/survey.js" defer',
    ]
    assert hidden_submission_id(html) != hidden_submission_id(second.get_data(as_text=True))


def test_language_by_query_then_accept_language(client):
    assert "Which district or city" in client.get(URL + "?lang=en").get_data(as_text=True)
    html = client.get(URL, headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    html = client.get(URL, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="vi">' in html  # no French: the survey's default


def test_every_language_of_the_survey_is_offered_and_the_page_s_words_follow(client):
    """A survey also written in French: the switch offers it, named in itself; in French
    the engine's own words (buttons, "please answer") are English, as for any language
    the interface has no catalog for; in Vietnamese they are Vietnamese."""
    data = {**demo_definition(), "slug": "ba-thu-tieng"}
    data["title"] = {**data["title"], "fr": "Enquête sur la rentrée scolaire"}
    for page in data["pages"]:
        for question in page["questions"]:
            if question["name"] == "district":
                question["label"] = {**question["label"], "fr": "Dans quel district vivez-vous ?"}
    save_definition(data, publish=True)
    french = client.get("/s/ba-thu-tieng?lang=fr").get_data(as_text=True)
    assert '<html lang="fr">' in french
    assert "Enquête sur la rentrée scolaire" in french
    assert "Dans quel district vivez-vous ?" in french
    assert '<button type="submit" class="button submit">Submit</button>' in french
    assert switch(french) == [("vi", "Tiếng Việt"), ("en", "English")]
    assert switch(client.get("/s/ba-thu-tieng").get_data(as_text=True)) == [
        ("en", "English"),
        ("fr", "Français"),
    ]
    refused = client.post(
        "/s/ba-thu-tieng?lang=fr", data={**form_data(), "district": None, "lang": "fr"}
    )
    assert refused.status_code == 422
    assert "Please answer this question." in refused.get_data(as_text=True)


def switch(html: str) -> list[tuple[str, str]]:
    """The language switch's links: (hreflang, name)."""
    nav = re.search(r'<nav class="lang-switch"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return re.findall(r'hreflang="([^"]+)" lang="[^"]+">([^<]+)</a>', nav)


def test_valid_post_redirects_to_thanks_and_stores_typed_answers(client):
    submission_id = new_id()
    reply = client.post(URL, data=form_data(submission_id))
    assert reply.status_code == 303
    assert reply.headers["Location"].endswith(f"{URL}/thanks?lang=vi")
    assert "Cảm ơn bạn!" in client.get(reply.headers["Location"]).get_data(as_text=True)
    [response] = stored_responses()
    assert str(response.submission_id) == submission_id
    assert response.source == "web"
    assert response.answers == {
        "consent": "OK",
        "district": "bao_lam",
        "commune": "blm_loc_an",
        "role": "parent",
        "children": 1,
        "support": "undecided",
        "concerns": ["vaccination", "other"],
        "concerns_other": "Đường xa",
        "measures": {"masks": "agree", "testing": "neutral"},
        "priorities": ["distancing", "ventilation", "hygiene", "catch_up"],
        "concern_count": 2,
        "follow_up": "yes",
        "phone": "+84987654321",
        "comment": "Mong sớm đi học lại.",
    }


def test_double_click_or_retried_post_stores_one_response(client):
    data = form_data(new_id())
    assert client.post(URL, data=data).status_code == 303
    assert client.post(URL, data=data).status_code == 303  # the citizen sees thanks again
    assert len(stored_responses()) == 1


def test_same_id_with_other_answers_is_refused_and_not_stored(client):
    submission_id = new_id()
    client.post(URL, data=form_data(submission_id))
    reply = client.post(URL, data=form_data(submission_id, support="no"))
    assert reply.status_code == 409
    assert "Phiếu này đã được gửi" in reply.get_data(as_text=True)
    [response] = stored_responses()
    assert response.answers["support"] == "undecided"


def test_errors_show_at_each_question_and_keep_every_answer(client):
    submission_id = new_id()
    data = form_data(
        submission_id,
        district=None,
        support="maybe",
        children="ba",
        comment="<script>alert(1)</script> giữ lại",
    )
    reply = client.post(URL, data=data)
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert 'role="alert"' in html and "Vui lòng sửa 3 lỗi" in html
    assert re.search(r'id="q-district-error">Vui lòng trả lời câu hỏi này.<', html)
    assert 'id="q-support-error">Lựa chọn không hợp lệ: maybe.<' in html
    assert 'id="q-children-error">Vui lòng nhập một số nguyên.<' in html
    assert 'aria-describedby="q-children-error" aria-invalid="true"' in html
    # Every answer is still there, and the same submission_id, so a fix counts once.
    assert hidden_submission_id(html) == submission_id
    assert 'value="ba"' in html
    assert re.search(r'value="parent" checked', html)
    assert re.search(r'<option value="blm_loc_an" selected>', html)
    assert re.search(r'<option value="2" selected>', html)  # priorities[ventilation]
    assert re.search(r'value="vaccination" checked', html)
    assert re.search(r'value="other" checked', html)
    assert 'value="Đường xa"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; giữ lại</textarea>" in html
    assert stored_responses() == []
    fixed = client.post(URL, data=form_data(submission_id))
    assert fixed.status_code == 303 and len(stored_responses()) == 1


def test_unknown_question_in_the_form_is_an_error_not_a_crash(client):
    reply = client.post(URL, data=form_data(age="40"))
    assert reply.status_code == 422
    assert "Không có câu hỏi này." in reply.get_data(as_text=True)


def test_missing_or_broken_submission_id_still_stores_once(client):
    data = form_data()
    data["submission_id"] = "not-a-uuid"
    assert client.post(URL, data=data).status_code == 303
    assert len(stored_responses()) == 1


def test_a_one_megabyte_body_is_refused_with_413(client):
    reply = client.post(URL, data=form_data(comment="x" * 1024 * 1024))
    assert reply.status_code == 413
    assert "Nội dung quá lớn" in reply.get_data(as_text=True)
    assert stored_responses() == []


def test_a_form_at_the_size_limit_is_taken_and_one_byte_more_is_413(app, client):
    """The edge of MAX_CONTENT_LENGTH (256 KiB): a posted form of exactly the limit is
    read and stored, one byte more is refused with the page that says so."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 256 * 1024

    def body(size: int, submission_id: str) -> str:
        data = urlencode(form_data(submission_id), doseq=True)
        return data + "+" * (size - len(data))  # spaces after the comment: trimmed

    over = body(limit + 1, new_id())
    assert len(over.encode()) == limit + 1
    reply = client.post(URL, data=over, content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 413
    assert "Nội dung quá lớn" in reply.get_data(as_text=True)
    assert stored_responses() == []
    submission_id = new_id()
    exact = body(limit, submission_id)
    assert len(exact.encode()) == limit and exact.rsplit("&", 1)[1].startswith("comment=")
    reply = client.post(URL, data=exact, content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    [response] = stored_responses()
    assert str(response.submission_id) == submission_id
    assert response.answers["comment"] == "Mong sớm đi học lại."


def test_unknown_survey_is_404_and_closed_survey_is_410(app, client):
    assert client.get("/s/khong-co").status_code == 404
    assert "Không tìm thấy khảo sát" in client.get("/s/khong-co").get_data(as_text=True)
    set_status(find_survey(DEMO_SLUG), SurveyStatus.CLOSED)
    assert client.get(URL).status_code == 410
    reply = client.post(URL, data=form_data())
    assert reply.status_code == 410
    assert "không nhận câu trả lời" in reply.get_data(as_text=True)
    assert stored_responses() == []


def page_logic(html: str) -> dict:
    return json.loads(
        re.search(
            r'<script type="application/json" id="survey-logic">(.*?)</script>', html, re.S
        ).group(1)
    )


def test_the_page_ships_its_logic_as_data_in_its_language(client):
    """What survey.js needs to check like the server: order, types, limits, parsed
    expressions, the filtered lists' extra columns, messages in the page's language."""
    logic = page_logic(client.get(URL + "?lang=en").get_data(as_text=True))
    assert logic["order"][:5] == ["source", "privacy_note", "consent", "district", "commune"]
    assert logic["questions"]["consent"] == {
        "type": "acknowledge",
        "page": "about_you",
        "required": True,
        "required_message": "Please agree to continue.",
    }
    assert logic["questions"]["children"] == {
        "type": "integer",
        "page": "about_you",
        "min": 0,
        "max": 10,
        "relevant": ["=", ["ref", "role"], ["str", "parent"]],
    }
    assert logic["questions"]["commune"]["list"] == "communes"
    assert logic["questions"]["commune"]["choice_filter"] == [
        "=",
        ["prop", "district"],
        ["ref", "district"],
    ]
    communes = demo_definition()["choice_lists"]["communes"]
    assert logic["choices"] == {
        "communes": {c["name"]: {"district": c["district"]} for c in communes}
    }
    assert logic["pages"] == {"contact": ["=", ["ref", "follow_up"], ["str", "yes"]]}
    assert logic["messages"]["number_max"] == "The largest number allowed is {limit}."
    assert logic["messages"]["progress"] == "Page {page} of {total}"
    assert logic["key"] == f"{DEMO_SLUG}:1"
    vietnamese = page_logic(client.get(URL).get_data(as_text=True))
    assert vietnamese["messages"]["offline_retrying"] == "Mất kết nối, đang thử gửi lại…"
    assert vietnamese["questions"]["consent"]["required_message"] == "Cần đồng ý để tiếp tục."


def test_piped_answers_show_choice_labels(app, client):
    """${name} in a text shows the answer as the citizen saw it: a choice by its label."""
    definition = demo_definition()
    definition["slug"] = "pipe"
    definition["pages"][1]["questions"][0]["label"] = {
        "vi": "Là ${role} ở ${district}, với ${children} con, ${concerns}: bạn đồng ý không?"
    }
    save_definition(definition, publish=True)
    html = client.get("/s/pipe").get_data(as_text=True)
    assert '<span data-pipe="role"></span>' in html
    reply = client.post(
        "/s/pipe",
        data=form_data(
            district="da_lat",
            commune="dl_p1",
            support=None,
            concerns=["infection", "other"],
            concerns_other="Xa <trường>",
        ),
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert (
        'Là <span data-pipe="role">Phụ huynh học sinh</span> ở <span data-pipe="district">'
        'Thành phố Đà Lạt</span>, với <span data-pipe="children">1</span> con, '
        '<span data-pipe="concerns">Nguy cơ lây nhiễm Covid-19, Xa &lt;trường&gt;</span>'
    ) in html


def test_static_files_are_versioned_and_cached_for_a_year(client):
    html = client.get(URL).get_data(as_text=True)
    css = re.search(r'href="(/static/survey\.css\?v=[0-9a-f]{10})"', html).group(1)
    reply = client.get(css)
    assert reply.status_code == 200
    assert "max-age=31536000" in reply.headers["Cache-Control"]
    assert client.get("/favicon.ico").status_code == 204  # no 404 on every visit


def test_defaults_prefill_the_page_and_hidden_questions_come_from_the_link(app, client):
    definition = demo_definition()
    definition["slug"] = "mac-dinh"
    questions = definition["pages"][0]["questions"]
    questions[3]["default"] = "lam_ha"  # district
    questions[7]["default"] = "primary lower_secondary"  # levels: space-separated, as XLSForm
    save_definition(definition, publish=True)
    html = client.get("/s/mac-dinh?source=zalo").get_data(as_text=True)
    assert '<input type="hidden" name="source" value="zalo">' in html
    assert '<option value="lam_ha" selected>' in html
    assert re.search(r'value="primary" checked', html)
    assert re.search(r'value="lower_secondary" checked', html)
    reply = client.post("/s/mac-dinh", data=form_data(source="zalo"))
    assert reply.status_code == 303
    assert stored_responses("mac-dinh")[0].answers["source"] == "zalo"


def test_every_response_carries_the_security_headers(client):
    submitted = client.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
    )
    assert submitted.status_code == 202
    replies = [client.get(path) for path in (URL, f"/api/v1/surveys/{DEMO_SLUG}", "/healthz")]
    replies += [client.get("/s/khong-co"), submitted, client.put(URL)]
    for reply in replies:
        headers = reply.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    staff = client.get("/admin/").headers
    assert "frame-ancestors 'none'" in staff["Content-Security-Policy"]
