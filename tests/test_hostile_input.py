"""Issue 10, findings 3, 6, 7 and 8: what a stranger sends never breaks a page or an
export, and what was stored before the checks existed is read all the same.

3. Text no file can hold (a lone surrogate, a Unicode non-character, NUL) is refused
   at every answer entry, and a row already stored with it is shown and exported with
   U+FFFD in its place.
6. JSON nested hundreds deep is a 400, not a RecursionError.
7. Numbers and dates in parameters and builder fields: ASCII digits, a range, finite.
8. Dates in answers stay within 1900..2100 unless the question's own min/max allows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import uuid
from datetime import UTC, date, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey
from survey_engine.cli import cli
from survey_engine.definition import Definition, clean_answers
from survey_engine.extensions import db
from survey_engine.intake.buffer import accept_args, dead_key
from survey_engine.intake.submission import answers_digest
from survey_engine.models import AuditEvent, Response
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import BACKEND, DEMO_SLUG, new_id, stored_responses, valid_answers
from tests.test_buffer import drainer_for, stream_client
from tests.test_staff import PASSWORD, login

API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
FORM = f"/s/{DEMO_SLUG}"
RESULTS = f"/admin/surveys/{DEMO_SLUG}/results"
TEXT = f"{RESULTS}/text/comment"
EDIT = f"/admin/surveys/{DEMO_SLUG}/edit"
ANALYST = "analyst@example.org"
EDITOR = "editor@example.org"
ADMIN = "admin@example.org"
BAD_CHARACTER_EN = "The answer contains a character that cannot be stored"
BAD_CHARACTER_VI = "Câu trả lời có ký tự không lưu được"
REPLACEMENT = "\ufffd"


def raw_post(client, body: dict, lang: str = "en"):
    """POST `body` as JSON with every non-ASCII character \\u-escaped, as a client in
    another language sends it: "\\ud800" then decodes to a lone surrogate."""
    return client.post(
        API,
        data=json.dumps(body, ensure_ascii=True),
        content_type="application/json",
        headers={"Accept-Language": lang},
    )


def staff(app, email: str, role: str):
    user = create_user(email, PASSWORD, role)
    if role != "admin":
        share_survey(user, find_survey(DEMO_SLUG))
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, email).status_code == 302
    return client


def csrf(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def nothing_stored() -> bool:
    db.session.expire_all()
    return stored_responses() == []


# -- finding 3: unencodable text refused at every entry -----------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"comment": "an toàn\ud800"}, "comment"),  # lone surrogate
        ({"comment": "\udfff"}, "comment"),
        ({"comment": "nội dung\uffff"}, "comment"),  # non-characters
        ({"comment": "\ufdd0"}, "comment"),
        ({"comment": "x\U0010fffe"}, "comment"),
        ({"comment": "trước\x00sau"}, "comment"),  # NUL: PostgreSQL's JSONB cannot hold it
        ({"email": "ten\ud800@example.vn"}, "email"),
        ({"district": "da_lat\ud800"}, "district"),
        ({"concerns": ["infection", "transport\uffff"]}, "concerns"),
        ({"concerns": ["other"], "concerns_other": "khác\ud800"}, "concerns_other"),
        ({"measures": {"masks": "agree\ud800"}}, "measures"),
        ({"source": "zalo\ufdd0"}, "source"),
    ],
)
def test_finding3_unencodable_text_refused_in_api(client, change, field):
    reply = raw_post(client, {"submission_id": new_id(), "answers": {**valid_answers(), **change}})
    assert reply.status_code == 422, reply.get_data(as_text=True)
    assert BAD_CHARACTER_EN in reply.get_json()["errors"][field]
    assert nothing_stored()


def test_finding3_unencodable_answer_key_and_submission_id_refused_in_api(client):
    reply = raw_post(
        client,
        {"submission_id": new_id(), "answers": {**valid_answers(), "comment\ud800": "x"}},
        "vi",
    )
    assert reply.status_code == 422
    errors = reply.get_json()["errors"]
    assert errors == {f"comment{REPLACEMENT}": errors[f"comment{REPLACEMENT}"]}
    assert BAD_CHARACTER_VI in errors[f"comment{REPLACEMENT}"]  # the request's language
    reply = raw_post(client, {"submission_id": new_id() + "\ud800", "answers": valid_answers()})
    assert reply.status_code == 422 and "submission_id" in reply.get_json()["errors"]
    reply = raw_post(client, {"submission_id": new_id(), "answers": valid_answers(), "x\ud800": 1})
    assert reply.status_code == 422
    assert reply.get_json()["errors"] == {f"x{REPLACEMENT}": "unknown property"}
    assert nothing_stored()


def test_finding3_unencodable_text_refused_through_redis(buffered_app):
    client = buffered_app.test_client()
    reply = raw_post(
        client,
        {"submission_id": new_id(), "answers": {**valid_answers(), "comment": "a\ud800\x00"}},
    )
    assert reply.status_code == 422
    assert BAD_CHARACTER_EN in reply.get_json()["errors"]["comment"]
    assert stream_client(buffered_app).xlen(dead_key(find_survey(DEMO_SLUG).id)) == 0
    assert drainer_for(buffered_app).drain_once() == 0
    assert nothing_stored()


def buffer_raw_entry(app, text: str) -> None:
    """An entry as an older release (or another writer) may have left it in the stream."""
    survey = find_survey(DEMO_SLUG)
    app.extensions["stream_buffer"].append(
        survey.id, accept_args(new_id(), answers_digest({}), text)
    )


def entry_text(answers: dict) -> str:
    survey = find_survey(DEMO_SLUG)
    return json.dumps(
        {
            "survey_id": survey.id,
            "version_id": survey.versions[-1].id,
            "submission_id": new_id(),
            "answers": answers,
            "source": "api",
            "meta": {},
            "submitted_at": datetime.now(UTC).isoformat(),
        }
    )


def test_finding3_unencodable_text_in_the_redis_buffer_is_a_dead_letter(buffered_app):
    buffer_raw_entry(buffered_app, entry_text({**valid_answers(), "comment": "x\ud800"}))
    buffer_raw_entry(buffered_app, entry_text({**valid_answers(), "comment": "y\uffff"}))
    buffer_raw_entry(buffered_app, entry_text(valid_answers()))
    drainer_for(buffered_app).drain_once()
    [stored] = stored_responses()
    assert stored.answers["comment"] == valid_answers()["comment"]
    dead = stream_client(buffered_app).xrange(dead_key(find_survey(DEMO_SLUG).id))
    assert len(dead) == 2
    assert all(b"unstorable text" in fields[b"reason"] for _id, fields in dead)


@pytest.mark.parametrize("value", ["%EF%BF%BF", "%EF%B7%90", "%00", "a%EF%BF%BEb"])
def test_finding3_unencodable_text_refused_in_the_form(client, value):
    """Form-encoded: U+FFFF, U+FDD0, NUL, U+FFFE (an encoded surrogate, %ED%A0%80, is
    not UTF-8 and arrives as U+FFFD already)."""
    html = client.get(FORM).get_data(as_text=True)
    submission_id = re.search(r'name="submission_id" value="([^"]+)"', html).group(1)
    fields = {**valid_answers(), "submission_id": submission_id}
    fields.pop("concerns")
    body = "&".join(
        f"{k}={v}"
        for k, v in {
            **{k: str(v).replace(" ", "+") for k, v in fields.items()},
            "concerns": "infection",
        }.items()
        if k != "comment"
    )
    reply = client.post(
        FORM + "?lang=en",
        data=f"{body}&comment=y{value}",
        content_type="application/x-www-form-urlencoded",
    )
    assert reply.status_code == 422
    page = reply.get_data(as_text=True)
    assert BAD_CHARACTER_EN in page
    assert re.search(r'id="q-comment-error">' + re.escape(BAD_CHARACTER_EN), page)
    assert REPLACEMENT in page  # the answer is kept, its bad character shown as �
    assert nothing_stored()


def test_finding3_hidden_answer_from_the_link_with_bad_text_is_left_out(client):
    """?source= fills a hidden question the citizen cannot see or correct."""
    for value in ("zalo%00", "zalo%EF%BF%BF"):
        html = client.get(f"{FORM}?source={value}").get_data(as_text=True)
        assert 'value="zalo' not in html
    assert 'value="zalo"' in client.get(f"{FORM}?source=zalo").get_data(as_text=True)


def test_finding3_unencodable_text_refused_in_the_builder_preview(app):
    editor = staff(app, EDITOR, "editor")
    url = f"/admin/surveys/{DEMO_SLUG}/preview?lang=en"
    assert editor.post(url, data=valid_answers()).status_code == 303
    reply = editor.post(url, data={**valid_answers(), "comment": "x\uffff"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert re.search(r'id="q-comment-error">' + re.escape(BAD_CHARACTER_EN), html)
    assert "x" + REPLACEMENT in html


# -- finding 3: a bad row already stored never stops a reader -----------------------------


# What each database can hold: PostgreSQL's JSONB refuses lone surrogates and NUL
# (asserted below), so there the stored bad text is a non-character.
STORED_BAD = (
    ["x\ud800y", "a\x00b", "c\uffffd", "e\ufdd0f"]
    if BACKEND != "postgresql"
    else ["c\uffffd", "e\ufdd0f"]
)


def insert_bad_rows(app) -> list[str]:
    """Rows stored before the checks (inserted directly), the tallies recounted as an
    operator would after a restore; returns their comments."""
    survey = find_survey(DEMO_SLUG)
    version = survey.versions[-1]
    texts = []
    for n, text in enumerate(STORED_BAD):
        answers = {**valid_answers(), "comment": f"cũ {n} {text}", "email": f"{text}@x.vn"}
        db.session.execute(
            sa.insert(Response).values(
                survey_id=survey.id,
                version_id=version.id,
                submission_id=uuid.uuid4(),
                answers=answers,
                source="api",
                meta={},
                submitted_at=datetime.now(UTC),
            )
        )
        texts.append(answers["comment"])
    db.session.commit()
    result = app.test_cli_runner().invoke(cli, ["recount", DEMO_SLUG, "--fix"])
    assert result.exit_code == 0, result.output
    return texts


def clean(text: str) -> str:
    return re.sub("[\ud800-\udfff\x00\uffff\ufdd0]", REPLACEMENT, text)


def test_finding3_postgresql_cannot_store_surrogates_or_nul(app):
    if BACKEND != "postgresql":
        pytest.skip("SQLite stores them: the readers' test covers them there")
    survey = find_survey(DEMO_SLUG)
    for text in ("x\ud800y", "a\x00b"):
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(
                sa.insert(Response).values(
                    survey_id=survey.id,
                    version_id=survey.versions[-1].id,
                    submission_id=uuid.uuid4(),
                    answers={"comment": text},
                    source="api",
                    meta={},
                    submitted_at=datetime.now(UTC),
                )
            )
        db.session.rollback()


def test_finding3_stored_bad_row_every_reader_survives(app, tmp_path):
    client = app.test_client()
    assert (
        raw_post(client, {"submission_id": new_id(), "answers": valid_answers()}).status_code == 202
    )
    texts = insert_bad_rows(app)
    analyst = staff(app, ANALYST, "analyst")

    page = analyst.get(TEXT)  # the free-text answers
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in texts:
        assert clean(text) in html
    assert "\uffff" not in html and "\ufdd0" not in html
    assert analyst.get(RESULTS).status_code == 200  # the dashboard
    assert analyst.get(RESULTS + "?f.district=da_lat").status_code == 200
    assert analyst.get(f"/api/v1/surveys/{DEMO_SLUG}/results").status_code == 200

    for fmt in ("csv", "xlsx"):  # the CLI export
        out = tmp_path / f"out.{fmt}"
        result = app.test_cli_runner().invoke(
            cli, ["export", DEMO_SLUG, "-o", str(out)], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        if fmt == "csv":
            cells = [c for row in csv.reader(io.StringIO(out.read_text("utf-8-sig"))) for c in row]
        else:
            book = openpyxl.load_workbook(out, read_only=True)
            cells = [
                c
                for sheet in book
                for row in sheet.iter_rows(values_only=True)
                for c in row
                if isinstance(c, str)
            ]
        for text in texts:
            assert clean(text) in cells, fmt
        assert not any(re.search("[\ud800-\udfff\x00\uffff\ufdd0]", c) for c in cells)

    for fmt in ("csv", "xlsx"):  # the export page (exporting/files.py)
        url = f"/admin/surveys/{DEMO_SLUG}/exports"
        reply = analyst.post(url, data={"csrf_token": csrf(analyst, url), "fmt": fmt})
        assert reply.status_code == 303
        event = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "exported")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.detail["rows"] == 1 + len(texts)
        download = analyst.get(f"/admin/exports/{event.detail['export']}/download")
        assert download.status_code == 200
        if fmt == "csv":
            assert clean(texts[0]) in download.data.decode("utf-8-sig")


# -- finding 6: deep JSON ------------------------------------------------------------------


@pytest.mark.parametrize("depth", [500, 5000])
def test_finding6_deep_json_body_is_400(client, depth):
    body = "[" * depth + "]" * depth
    reply = client.post(API, data=body, content_type="application/json")
    assert reply.status_code == 400
    assert "nested deeper" in reply.get_json()["error"]
    nested = "[" * depth + "]" * depth
    inside = f'{{"submission_id": "{new_id()}", "answers": {{"comment": {nested}}}}}'
    reply = client.post(API, data=inside, content_type="application/json")
    assert reply.status_code == 400 and "nested deeper" in reply.get_json()["error"]
    reply = client.post(API, data='{"submission_id": NaN}', content_type="application/json")
    assert reply.status_code == 400
    assert nothing_stored()


def test_finding6_deep_json_in_the_redis_buffer_is_a_dead_letter(buffered_app):
    deep = "[" * 1000 + "]" * 1000
    good = entry_text(valid_answers())
    buffer_raw_entry(buffered_app, good.replace('"meta": {}', f'"meta": {{"x": {deep}}}'))
    reply = buffered_app.test_client().post(
        API, data="{" * 600 + "}" * 600, content_type="application/json"
    )
    assert reply.status_code == 400
    buffer_raw_entry(buffered_app, good)
    drainer_for(buffered_app).drain_once()  # no RecursionError out of the drain
    assert len(stored_responses()) == 1
    [(_id, fields)] = stream_client(buffered_app).xrange(dead_key(find_survey(DEMO_SLUG).id))
    assert b"nested deeper" in fields[b"reason"]


# -- finding 7: parameters -----------------------------------------------------------------


HOSTILE_PAGES = ["²", "٣", "99999999999999999999", "-1", "0", "1e3", "abc"]
HOSTILE_DATES = ["0001-01-01", "9999-12-31", "２０２６-11-01", "1899-12-31", "2101-01-01"]


@pytest.mark.parametrize("value", HOSTILE_PAGES)
def test_finding7_page_parameter_is_a_400_with_a_message(app, value):
    analyst = staff(app, ANALYST, "analyst")
    reply = analyst.get(f"{TEXT}?page={value}")
    assert reply.status_code == 400
    assert "Page: Enter a whole number from 1 to 1000" in reply.get_data(as_text=True)
    admin = staff(app, ADMIN, "admin")
    reply = admin.get(f"/admin/audit?page={value}")
    assert reply.status_code == 400
    assert "Enter a whole number from 1 to 100000" in reply.get_data(as_text=True)
    assert analyst.get(f"{TEXT}?page=2").status_code == 200
    assert admin.get("/admin/audit?page=2").status_code == 200


@pytest.mark.parametrize("value", HOSTILE_DATES)
@pytest.mark.parametrize("key", ["from", "to"])
def test_finding7_date_parameters_are_a_400_with_a_message(app, key, value):
    analyst = staff(app, ANALYST, "analyst")
    for url in (RESULTS, TEXT, f"/admin/surveys/{DEMO_SLUG}/exports"):
        reply = analyst.get(f"{url}?{key}={value}")
        if url.endswith("exports"):
            assert reply.status_code in (200, 400)  # the list page reads no dates
            continue
        assert reply.status_code == 400, url
        html = reply.get_data(as_text=True)
        assert (
            "Enter a date between 1900 and 2100" in html or "Enter a date as YYYY-MM-DD" in html
        ), url
    assert analyst.get(f"{RESULTS}?{key}=2026-11-01").status_code == 200


def question_form(client, name: str) -> dict:
    from tests.test_builder import question_form as form_of

    return form_of(client, name)


@pytest.mark.parametrize(
    ("question", "field", "value", "says"),
    [
        ("school_rating", "scale", "²", "Enter a whole number from 2 to 10, in digits 0-9"),
        ("school_rating", "scale", "٧", "Enter a whole number from 2 to 10, in digits 0-9"),
        ("school_rating", "scale", "99999999999999999999", "in digits 0-9"),
        ("concerns", "min_choices", "١", "Enter a whole number from 0 to 10000"),
        ("concerns", "max_choices", "²", "Enter a whole number from 0 to 10000"),
        ("children", "min", "nan", "Enter a number in digits 0-9"),
        ("children", "max", "inf", "Enter a number in digits 0-9"),
        ("children", "max", "1e999", "The number is too large"),
        ("children", "max", "٣", "Enter a number in digits 0-9"),
    ],
)
def test_finding7_builder_number_fields_refused_at_the_field(app, question, field, value, says):
    editor = staff(app, EDITOR, "editor")
    url = f"{EDIT}/questions/{question}"
    before = find_survey(DEMO_SLUG).versions[-1].definition
    form = question_form(editor, question)
    reply = editor.post(url, data={**form, field: value})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert re.search(rf'id="{field}-error"[^>]*>.*?{re.escape(says)}', html, re.S), html[-3000:]
    db.session.expire_all()
    assert find_survey(DEMO_SLUG).versions[-1].definition == before  # nothing saved
    reply = editor.get(f"/api/v1/surveys/{DEMO_SLUG}")
    assert "NaN" not in reply.get_data(as_text=True)
    assert "Infinity" not in reply.get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("opens_at", "0001-01-01T00:00", "Enter a date between 1900 and 2100"),
        ("closes_at", "9999-12-31T23:59", "Enter a date between 1900 and 2100"),
        ("opens_at", "２０２６-12-01T08:00", "Enter a date and time"),
        ("max_responses", "²", "Enter a whole number from 1 to 1000000000"),
        ("max_responses", "99999999999999999999", "Enter a whole number from 1 to 1000000000"),
    ],
)
def test_finding7_builder_settings_refused_at_the_field(app, field, value, says):
    editor = staff(app, EDITOR, "editor")
    url = f"{EDIT}/settings"
    fields = {
        "title.vi": "Khảo sát",
        "default_language": "vi",
        "opens_at": "",
        "closes_at": "",
        "max_responses": "",
        field: value,
    }
    html = editor.get(url).get_data(as_text=True)
    hidden = {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("csrf_token", "revision")
    }
    reply = editor.post(url, data={**hidden, **fields})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert re.search(rf'id="{field}-error"[^>]*>.*?{re.escape(says)}', html, re.S)
    db.session.expire_all()
    settings = find_survey(DEMO_SLUG).versions[-1].definition.get("settings") or {}
    assert value not in json.dumps(settings)
    assert editor.get(FORM).status_code == 200  # the survey page still opens


def test_finding7_builder_list_rows_with_unicode_digits(app):
    editor = staff(app, EDITOR, "editor")
    url = f"{EDIT}/lists/agreement"
    html = editor.get(url).get_data(as_text=True)
    hidden = {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("csrf_token", "revision")
    }
    rows = dict(re.findall(r'name="(choice-\d+-[^"]+)" value="([^"]*)"', html))
    reply = editor.post(
        url,
        data={
            **hidden,
            **rows,
            "choice-²-name": "sneaky",
            "choice-٣-name": "sneaky2",
            "choice-0-position": "nan",
        },
    )
    assert reply.status_code in (302, 422)
    db.session.expire_all()
    names = [
        c["name"]
        for c in find_survey(DEMO_SLUG).versions[-1].definition["choice_lists"]["agreement"]
    ]
    assert "sneaky" not in names and "sneaky2" not in names


# -- finding 8: dates in answers -----------------------------------------------------------


def dated_definition(**limits) -> dict:
    return {
        "format": "survey-engine/1",
        "slug": "ngay-thang",
        "title": "Ngày",
        "default_language": "vi",
        "pages": [
            {
                "name": "p1",
                "questions": [{"name": "day", "type": "date", "label": "Ngày", **limits}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0001-01-01", "The date cannot be before 01/01/1900."),
        ("1899-12-31", "The date cannot be before 01/01/1900."),
        ("2101-01-01", "The date cannot be after 31/12/2100."),
        ("9999-12-31", "The date cannot be after 31/12/2100."),
    ],
)
def test_finding8_dates_outside_1900_2100_are_refused(value, says):
    definition = Definition(dated_definition())
    answers, errors = clean_answers(definition, {"day": value}, "en")
    assert errors == {"day": says} and answers == {}
    for fine in ("1900-01-01", "2100-12-31", "1975-04-30"):
        assert clean_answers(definition, {"day": fine}, "en") == ({"day": fine}, {})


def test_finding8_a_questions_own_limits_allow_older_dates():
    assert clean_answers(Definition(dated_definition()), {"day": "1850-06-01"}, "en")[1] == {
        "day": "The date cannot be before 01/01/1900."
    }  # without limits of its own
    definition = Definition(dated_definition(min="1800-01-01", max="2200-12-31"))
    assert clean_answers(definition, {"day": "1850-06-01"}, "en") == ({"day": "1850-06-01"}, {})
    assert clean_answers(definition, {"day": "2150-06-01"}, "en") == ({"day": "2150-06-01"}, {})
    assert clean_answers(definition, {"day": "1799-12-31"}, "en")[1] == {
        "day": "The date cannot be before 01/01/1800."
    }


def test_finding8_year_one_refused_in_api(client):
    reply = raw_post(
        client,
        {"submission_id": new_id(), "answers": {**valid_answers(), "last_dose": "0001-01-01"}},
    )
    assert reply.status_code == 422
    assert reply.get_json()["errors"] == {"last_dose": "The date cannot be before 01/01/1900."}
    assert nothing_stored()


def test_finding8_a_stored_year_one_is_text_in_the_workbook_not_a_serial(app, tmp_path):
    survey = find_survey(DEMO_SLUG)
    db.session.execute(
        sa.insert(Response).values(
            survey_id=survey.id,
            version_id=survey.versions[-1].id,
            submission_id=uuid.uuid4(),
            answers={**valid_answers(), "last_dose": "0001-01-01"},
            source="api",
            meta={},
            submitted_at=datetime.now(UTC),
        )
    )
    db.session.commit()
    out = tmp_path / "out.xlsx"
    result = app.test_cli_runner().invoke(
        cli, ["export", DEMO_SLUG, "-o", str(out), "--codes"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)
    values = [c for sheet in book for row in sheet.iter_rows(values_only=True) for c in row]
    assert "0001-01-01" in values
    assert not any(isinstance(v, int | float) and v < -1000 for v in values)
    assert not any(isinstance(v, datetime | date) and v.year < 1900 for v in values)


def test_finding7_no_nan_reaches_json():
    """The builder's number reader: what it makes is finite or stays text."""
    from survey_engine.admin.builder_forms import number_from_text

    problems: dict[str, list[str]] = {}
    for text in ("nan", "NaN", "inf", "-inf", "1e999", "²", "٣"):
        value = number_from_text(text, problems, "min")
        assert isinstance(value, str) or math.isfinite(value)
    assert len(problems["min"]) == 7


# -- beyond the list: NUL, which PostgreSQL refuses in text and JSON ----------------------
# Found by the route fuzz on PostgreSQL (a DataError, 500); refused or matched against
# nothing on both databases.


def test_new_nul_in_a_sign_in_email_is_a_wrong_password_not_a_500(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    create_user(ADMIN, PASSWORD, "admin")
    token = csrf(client, "/admin/login")
    reply = client.post(
        "/admin/login",
        data={"email": "admin@example.org\x00", "password": PASSWORD, "csrf_token": token},
    )
    assert reply.status_code == 200
    assert "The email or the password is wrong." in reply.get_data(as_text=True)


def test_new_nul_in_staff_lookups_is_refused_or_matches_nothing(app):
    admin = staff(app, ADMIN, "admin")
    sharing = f"/admin/surveys/{DEMO_SLUG}/sharing"
    shared = admin.post(
        sharing, data={"email": "x\x00@example.org", "csrf_token": csrf(admin, sharing)}
    )
    assert 400 <= shared.status_code < 500
    for parameter in ("survey", "action", "actor"):
        audit = admin.get("/admin/audit", query_string={parameter: "a\x00b"})
        assert audit.status_code == 200, parameter
    created = admin.post(
        "/admin/surveys/create",
        data={
            "slug": "a\x00b",
            "title": "Khảo sát",
            "language": "vi",
            "csrf_token": csrf(admin, "/admin/surveys/new"),
        },
    )
    assert created.status_code == 422
    assert find_survey("a\x00b") is None


@pytest.mark.parametrize("field", ["title.vi", "title.en"])
def test_new_nul_in_a_builder_text_is_refused_at_save(app, field):
    editor = staff(app, EDITOR, "editor")
    url = f"{EDIT}/settings"
    html = editor.get(url).get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]* name="([^"]+)" value="([^"]*)"', html))
    reply = editor.post(url, data={**fields, field: "Khảo\x00sát"})
    assert reply.status_code == 422
    assert "U+0000" in reply.get_data(as_text=True)
    db.session.expire_all()
    assert "\\u0000" not in json.dumps(find_survey(DEMO_SLUG).versions[-1].definition)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309"])
def test_new_a_number_that_is_not_finite_never_reaches_a_definition(app, value):
    from survey_engine.definition import validate_definition
    from tests.conftest import demo_definition

    data = demo_definition()
    question = data["pages"][0]["questions"][6]
    assert question["name"] == "children"  # an integer question
    question["max"] = float(value)
    assert any("a finite number" in problem for problem in validate_definition(data))
