"""The problems staff meet on admin pages in the page's language, beyond the validator's
own: the XLSForm reader's (sheet, row and column too) and its notes, an expression's
syntax, arity, regex() and count() problems, the builder's refusals and the locality
block's. Vietnamese on Vietnamese staff pages (the default), English with ?lang=en,
and always English from the command line and as data (the API, the audit log)."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path

from flask_babel import force_locale
from flask_babel import gettext as _

from survey_engine.definition import validate_definition
from survey_engine.definition.problems import Problem, in_language
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.staff.accounts import create_user
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_admin_surveys import post, signed_in, token_of
from tests.test_builder import submit
from tests.test_staff import PASSWORD
from tests.test_xlsform import invoke
from tests.xlsform_files import problems_of, workbook

# Words of the English problems that no Vietnamese problem holds: one left in a listed
# problem is a text (or a part of one) that was not translated.
ENGLISH = re.compile(
    r"\b(sheet|row|column|not supported|at character|expected|unknown|takes|"
    r"argument|pattern|browsers|repeat's|ignored|is empty|no matching|province|"
    r"must|already|workbook|got|did you mean|unterminated)\b"
)

# survey sheet: every kind of row problem the reader finds, and expressions the
# validator refuses (located at their rows by the reader).
SURVEY = [
    ["type", "name", "label", "label::Klingon", "relevant", "constraint", "buttonText"],
    ["start", "start", None, None, None, None, None],  # row 2: metadata, a note
    ["time", "t", "Giờ", None, None, None, None],  # 3: type not supported
    ["geotrace", "road", "Đường", None, None, None, None],  # 4: refused with a reason
    ["begin repeat", "kids", "Trẻ", None, None, None, None],  # 5: a roster, no problem
    ["integer", "age", "Tuổi", "Age", None, None, "Go"],  # 6: language, column
    ["end repeat", None, None, None, None, None, None],  # 7
    ["end group", None, None, None, None, None, None],  # 8: no matching begin
    ["select_one yn or_other", "q", "Có?", None, "${age} > 'x", None, None],  # 9: syntax
    ["text", "r", "Lý do", None, "not(1, 2)", "regex(., '(')", None],  # 10: arity, regex
    ["integer", "n", "Số", None, "count(${q}) > 0", None, None],  # 11: count()
    ["text", "s", "Khác", None, "${start} != ''", "${age} > 1 +", None],  # 12: metadata
    ["range", "slider", "Thang", None, None, None, None],  # 13
    ["begin group", "g", "Nhóm", None, None, None, None],  # 14: never ended
]
CHOICES = [
    ["list_name", "name", "label"],
    ["yn", "yes", "Có"],
    [None, "no", "Không"],  # row 3: list_name empty
]
SETTINGS = [["form_id", "default_language", "style"], ["hong", "Klingon", "pages"]]


def bad_workbook(tmp_path: Path) -> Path:
    return workbook(
        tmp_path / "hong.xlsx",
        {"survey": SURVEY, "choices": CHOICES, "settings": SETTINGS, "extra": [["a"], [1]]},
    )


def listed(page: str) -> list[str]:
    """The problems an upload page lists (inside its error box), as text."""
    box = page.split('class="errors"', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", box, re.S)]


def upload(client, url: str, name: str, content: bytes):
    data = {"definition": (io.BytesIO(content), name)}
    return post(client, url, data, content_type="multipart/form-data")


def vietnamese(app, problems: list[str]) -> list[str]:
    with app.test_request_context(), force_locale("vi"):
        return in_language(problems, _)


def test_an_xlsform_s_problems_in_vietnamese_on_the_upload_page(app, tmp_path):
    path = bad_workbook(tmp_path)
    english = problems_of(path)
    assert all(isinstance(problem, Problem) for problem in english)
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    reply = upload(client, "/admin/surveys/new", "hong.xlsx", path.read_bytes())
    assert reply.status_code == 422
    shown = listed(reply.get_data(as_text=True))
    assert shown == vietnamese(app, english) and len(shown) == len(english) >= 15
    for problem in shown:
        assert not ENGLISH.search(problem), problem
    for expected in [
        "trang tính extra: trang tính này không được hỗ trợ",
        "trang tính settings, dòng 2, cột default_language: 'Klingon' không phải mã "
        "ngôn ngữ như 'vi' hay 'English (en)'",
        "trang tính survey, dòng 1, cột label::Klingon: không rõ ngôn ngữ 'Klingon': "
        "hãy ghi mã ngôn ngữ, ví dụ 'label::English (en)'",
        "trang tính survey, dòng 3, cột type: loại 'time' không được hỗ trợ",
        "trang tính survey, dòng 4, cột type: không hỗ trợ đường nối các điểm (geotrace); "
        "hãy dùng một câu hỏi geopoint cho mỗi địa điểm",
        "trang tính survey, dòng 6, cột buttonText: cột 'buttonText' không được hỗ trợ",
        "trang tính survey, dòng 8, cột type: 'end group' không có dòng begin tương ứng",
        "trang tính survey, dòng 14, cột type: nhóm này không có dòng 'end group'",
        "trang tính choices, dòng 3, cột list_name: đang để trống",
    ]:
        assert expected in shown
    # The validator's problems at the rows they come from, expressions included.
    rows = {
        9: "tại ký tự 10: chuỗi chưa đóng: thiếu dấu ' đóng",
        10: "tại ký tự 1: not() cần 1 đối số, nhưng nhận được 2",
        11: "tại ký tự 1: count() đếm số dòng của một nhóm lặp",
    }
    for row, text in rows.items():
        assert any(text in p and f"(trang tính survey, dòng {row})" in p for p in shown), row
    assert any(
        "regex(): mẫu '(' không hợp lệ: missing )" in p and "cú pháp RE2" in p for p in shown
    )
    assert any(
        "tại ký tự 13: cần một giá trị, nhưng gặp cuối biểu thức (trang tính survey, dòng 12)" in p
        for p in shown
    )
    assert any(
        "không có câu hỏi '${start}'" in p
        and "đây là tên của dòng siêu dữ liệu 'start' (trang tính survey, dòng 2)" in p
        and "thay vào đó survey-engine lưu thời điểm bắt đầu của phiếu (started_at)" in p
        for p in shown
    )
    # ?lang=en: the English texts, as the command line prints them.
    reply = upload(client, "/admin/surveys/new?lang=en", "hong.xlsx", path.read_bytes())
    assert listed(reply.get_data(as_text=True)) == english


def test_the_command_line_keeps_the_english_texts(app, tmp_path):
    path = bad_workbook(tmp_path)
    result = invoke(app, "import", str(path))
    assert result.exit_code == 1
    for text in [
        "extra sheet: this sheet is not supported",
        "survey sheet, row 3, column type: 'time' is not supported",
        "survey sheet, row 6, column buttonText: column 'buttonText' is not supported",
        "survey sheet, row 14, column type: this group has no 'end group'",
        "at character 10: unterminated string: no closing ' (survey sheet, row 9)",
        "at character 1: not() takes 1 argument, got 2 (survey sheet, row 10)",
        "at character 1: count() counts a repeat's rows",
        "at character 13: expected a value, got the end of the expression (survey sheet, row 12)",
        "it names the 'start' metadata row (survey sheet, row 2), which is no question "
        "and has no answer here: survey-engine keeps the response's started_at instead",
    ]:
        assert text in result.output, text
    assert not re.search(r"trang tính|dòng|tại ký tự", result.output)
    # As data (the API's JSON, the audit log): the same English text.
    assert json.loads(json.dumps(problems_of(path))) == problems_of(path)


def test_a_workbook_that_is_no_workbook_or_has_no_survey_sheet(app, tmp_path):
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    page = upload(client, "/admin/surveys/new", "x.xlsx", b"not a zip").get_data(as_text=True)
    # The commonest reason in our words, not the reading library's English.
    assert listed(page) == [
        "không phải bảng tính XLSForm (.xlsx): tệp không phải gói zip, trong khi mọi tệp "
        ".xlsx đều là gói zip"
    ]
    page = upload(client, "/admin/surveys/new", "x.xls", b"\xd0\xcf\x11\xe0 not really")
    assert listed(page.get_data(as_text=True)) == [
        "không phải bảng tính XLSForm (.xls): tệp không phải sổ tính Excel 97-2003, hoặc đã bị hỏng"
    ]
    path = workbook(tmp_path / "none.xlsx", {"choices": CHOICES})
    page = upload(client, "/admin/surveys/new", "none.xlsx", path.read_bytes())
    assert "trang tính survey: bảng tính không có trang tính survey" in listed(
        page.get_data(as_text=True)
    )


def test_a_limit_s_numbers_are_grouped_as_the_page_s_language_groups_digits(app):
    """1,001 reads as "1 point 001" in Vietnamese, where the comma marks decimals."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as zipped:
        for n in range(1001):
            zipped.writestr(f"part{n}.xml", "")
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    page = upload(client, "/admin/surveys/new", "many.xlsx", package.getvalue())
    assert listed(page.get_data(as_text=True)) == [
        "bảng tính chứa 1.001 tệp; chỉ nhận tối đa 1.000 tệp"
    ]
    page = upload(client, "/admin/surveys/new?lang=en", "many.xlsx", package.getvalue())
    assert listed(page.get_data(as_text=True)) == [
        "the workbook holds 1,001 files; at most 1,000 are accepted"
    ]


def test_the_reader_s_notes_in_vietnamese_after_an_upload(app, tmp_path):
    path = workbook(
        tmp_path / "ghi-chu.xlsx",
        {
            "survey": [
                ["type", "name", "label", "body::accuracyThreshold"],
                ["start", "start", None, None],
                ["text", "ten", "Tên", "5"],
            ],
            "settings": [["form_id", "style"], ["ghi-chu", "pages"]],
        },
    )
    english: list[str] = []
    read_xlsform(path, english)
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    reply = upload(client, "/admin/surveys/new", "ghi-chu.xlsx", path.read_bytes())
    assert reply.status_code == 302
    page = html.unescape(client.get(reply.headers["Location"]).get_data(as_text=True))
    for note in vietnamese(app, english):
        assert f"Đã đọc, có ghi chú: {note}" in page
    assert (
        "trang tính survey, dòng 2, cột type: 'start' không phải câu hỏi: survey-engine lưu "
        "thời điểm bắt đầu của phiếu (started_at) cho mỗi phiếu"
    ) in page
    assert "trang tính settings, dòng 2, cột style: đã bỏ qua: survey-engine chỉ có" in page
    assert "trang tính survey, dòng 1, cột body::accuracyThreshold: đã bỏ qua" in page
    assert "ignored" not in page and "is no question" not in page


def test_a_json_upload_s_expression_problems_in_vietnamese(app):
    definition = demo_definition()
    questions = definition["pages"][0]["questions"]
    questions[6]["relevant"] = "${role} = 'parent"
    questions[6]["constraint"] = "regex(., '[[:alpha:]]')"
    questions[5]["relevant"] = "round(1, 2, 3) > 0 )"
    definition["slug"] = "hong"
    english = validate_definition(definition)
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    body = json.dumps(definition).encode()
    shown = listed(upload(client, "/admin/surveys/new", "hong.json", body).get_data(as_text=True))
    assert shown == vietnamese(app, english)
    assert shown == [
        "pages[0].questions[5].relevant: tại ký tự 20: cần một toán tử, nhưng gặp ')'",
        "pages[0].questions[6].relevant: tại ký tự 11: chuỗi chưa đóng: thiếu dấu ' đóng",
        "pages[0].questions[6].constraint: tại ký tự 1: regex(): mẫu '[[:alpha:]]': trình "
        "duyệt không đọc được các lớp như [:alpha:]; hãy dùng \\p{L}",
    ]
    english_page = upload(client, "/admin/surveys/new?lang=en", "hong.json", body)
    assert listed(english_page.get_data(as_text=True)) == english


def test_the_builder_s_refusals_and_live_check_in_vietnamese(app):
    create_user("editor@example.org", PASSWORD, "admin")
    client = signed_in(app, "editor@example.org")
    builder = f"/admin/surveys/{DEMO_SLUG}/edit"
    fields = {"change": "add_question", "target": "contact", "type": "text"}
    reply = submit(client, builder, {**fields, "question_name": "1bad", "question_label": "X"})
    assert reply.status_code == 422
    page = html.unescape(reply.get_data(as_text=True))
    assert "'1bad' không phải là tên hợp lệ: chữ cái không dấu, chữ số và _" in page
    assert "is not a name" not in page
    reply = submit(client, builder, {"change": "add_locality", "target": "contact"})
    page = html.unescape(reply.get_data(as_text=True))
    assert reply.status_code == 422 and "hãy chọn ít nhất một tỉnh" in page
    assert "pick at least one province" not in page
    check = {
        "csrf_token": token_of(client),
        "question": "role",
        "field": "relevant",
        "expression": "${district} = 'x",
    }
    reply = client.post(f"{builder}/check", data=check)
    assert reply.get_json() == {
        "ok": False,
        "problems": ["tại ký tự 15: chuỗi chưa đóng: thiếu dấu ' đóng"],
    }
    reply = client.post(f"{builder}/check?lang=en", data=check)
    assert reply.get_json()["problems"] == ["at character 15: unterminated string: no closing '"]


def test_an_account_s_refusal_and_a_bad_filter_in_vietnamese(app):
    create_user("admin@example.org", PASSWORD, "admin")
    client = signed_in(app, "admin@example.org")
    form = {"email": "ngan@example.org", "role": "editor", "password": "ngan"}
    page = html.unescape(post(client, "/admin/users", form).get_data(as_text=True))
    assert "mật khẩu phải có ít nhất 10 ký tự" in page and "at least" not in page
    english = html.unescape(post(client, "/admin/users?lang=en", form).get_data(as_text=True))
    assert "the password must have at least 10 characters" in english
    results = f"/admin/surveys/{DEMO_SLUG}/results"
    reply = client.get(f"{results}?f.nope=1")
    assert reply.status_code == 400
    assert "không có câu hỏi lựa chọn nào tên &#39;nope&#39;" in reply.get_data(as_text=True)
    reply = client.get(f"{results}?f.nope=1&lang=en")
    assert "no select question named &#39;nope&#39;" in reply.get_data(as_text=True)
