"""An editor builds a survey in real Chromium, citizens answer it, the editor changes
it into version 2, and both versions' responses come out in one workbook.

The whole staff path through the builder's own forms: no JSON file, no API call. The
editor's browser runs no JavaScript: every form posts and the page reloads, the way
the builder works without its script (the in-place builder, with it:
test_builder_inplace_browser.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SLUG = "y-kien-dat-dai"
EDITOR, PASSWORD = "bien-tap@example.org", "mat khau dai du 10"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}
DESK = {
    "viewport": {"width": 1280, "height": 900},
    "locale": "vi-VN",
    "accept_downloads": True,
    "java_script_enabled": False,
}


@pytest.fixture
def server(tmp_path):
    with demo_site(tmp_path, f"survey_engine_builder_{os.getpid()}") as site:
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        yield site.base


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"builder-{name}.png"), full_page=True)


def add_question(page: Page, on_page: str, qtype: str, name: str, label: str) -> None:
    """The "add a question" form under `on_page`; lands on the new question's form."""
    page.locator(f"#{on_page} details.add summary").click()
    page.select_option(f"#type-{on_page}", qtype)
    page.fill(f"#qname-{on_page}", name)
    page.fill(f"#qlabel-{on_page}", label)
    page.locator(f"#{on_page} details.add button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(name)


def save_question(page: Page) -> None:
    page.get_by_role("button", name="Lưu câu hỏi").click()
    expect(page.locator(".messages")).to_be_visible()


def fill_list(page: Page, list_name: str, rows: list[tuple], column: str | None = None) -> None:
    """Replace the list's choices by `rows` of (name, Vietnamese label[, column value])."""
    page.goto(page.url.split("/edit")[0] + f"/edit/lists/{list_name}")
    if column:  # the table comes back with the new, empty column
        page.fill("#new-column", column)
        page.get_by_role("button", name="Lưu danh sách").click()
        expect(page.locator("th code", has_text=column)).to_be_visible()
    count = page.locator("input[name$='-name']").count()
    while count < len(rows):  # every save leaves three empty rows
        page.get_by_role("button", name="Lưu danh sách").click()
        page.goto(page.url.split("/edit")[0] + f"/edit/lists/{list_name}")
        count = page.locator("input[name$='-name']").count()
    for i in range(1, count + 1):
        row = rows[i - 1] if i <= len(rows) else ("", "")
        page.fill(f"input[name='choice-{i}-name']", row[0])
        page.fill(f"input[name='choice-{i}-label.vi']", row[1])
        if column:
            page.fill(f"input[name='choice-{i}-x-{column}']", row[2] if len(row) > 2 else "")
    page.get_by_role("button", name="Lưu danh sách").click()
    expect(page.locator(".messages")).to_contain_text(list_name)


def publish(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/surveys/{SLUG}")
    page.get_by_role("button", name="Công bố phiên bản mới nhất").click()
    expect(page.locator("#status")).to_have_text("đã công bố")


def answer(
    browser,
    base: str,
    district: str,
    commune: str,
    support: str,
    phone: str | None = None,
    comment: str | None = None,
) -> None:
    """A citizen on a phone, through every page the answers lead to."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{base}/s/{SLUG}")
    page.get_by_label("Họ và tên").fill("Nguyễn Văn A")
    page.locator(f"#q-district input[value='{district}']").check()
    communes = page.locator("#q-commune input[type=radio]:visible")
    names = sorted(communes.evaluate_all("els => els.map(e => e.value)"))
    assert names == sorted({"da_lat": ["p1", "p2"], "bao_loc": ["b1"]}[district])  # cascading
    page.locator(f"#q-commune input[value='{commune}']").check()
    page.get_by_role("button", name="Tiếp tục").click()
    page.locator(f"#q-support input[value='{support}']").check()
    for row in ("school", "road"):
        page.locator(f"input[name='ratings[{row}]'][value='good']").check()
    if comment is not None:
        page.get_by_label("Ý kiến khác").fill(comment)
    if phone is not None:
        page.get_by_role("button", name="Tiếp tục").click()
        page.get_by_label("Số điện thoại").fill(phone)
    else:  # the contact page is skipped: this page is the last
        expect(page.get_by_role("button", name="Tiếp tục")).to_be_hidden()
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(f"**/s/{SLUG}/thanks**")
    context.close()


def test_an_editor_builds_publishes_and_revises_a_survey(server, tmp_path):
    base = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(**DESK).new_page()
        page.goto(f"{base}/admin/login")
        page.fill("#email", EDITOR)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()

        # A new survey: slug, title, first question.
        page.goto(f"{base}/admin/surveys/new")
        page.fill("#new-slug", SLUG)
        page.fill("#new-title", "Ý kiến về quản lý đất đai")
        page.fill("#new-first", "Họ và tên")
        page.get_by_role("button", name="Tạo khảo sát").click()
        expect(page.locator("h1")).to_have_text("Ý kiến về quản lý đất đai")

        # Page 1: a district and its communes (a cascading choice).
        add_question(page, "page_1", "select_one", "district", "Huyện")
        page.get_by_label("Câu trả lời là bắt buộc").check()
        save_question(page)
        fill_list(page, "district", [("da_lat", "Đà Lạt"), ("bao_loc", "Bảo Lộc")])
        page.goto(f"{base}/admin/surveys/{SLUG}/edit")
        add_question(page, "page_1", "select_one", "commune", "Xã/phường")
        page.fill("#f-choice_filter", "district = ${distrct}")
        page.get_by_role("button", name="Lưu câu hỏi").click()
        error = page.locator("#choice_filter-error")
        expect(error).to_contain_text("distrct")  # the typo named, with its position
        expect(error).to_contain_text("district")
        shot(page, "expression-error")
        page.fill("#f-choice_filter", "district = ${district}")
        save_question(page)
        fill_list(
            page,
            "commune",
            [
                ("p1", "Phường 1", "da_lat"),
                ("p2", "Phường 2", "da_lat"),
                ("b1", "Phường B'Lao", "bao_loc"),
            ],
            column="district",
        )

        # Page 2: support and a matrix.
        page.goto(f"{base}/admin/surveys/{SLUG}/edit")
        page.locator("details.add").last.evaluate("d => d.open = false")
        page.fill("#new-page-name", "opinion")
        page.fill("#new-page-title", "Ý kiến")
        page.select_option("#new-page-type", "select_one")
        page.fill("#new-page-qname", "support")
        page.fill("#new-page-qlabel", "Bạn có đồng ý với quy hoạch?")
        page.get_by_role("button", name="Thêm trang").click()
        save_question(page)
        fill_list(page, "support", [("yes", "Có"), ("no", "Không")])
        page.goto(f"{base}/admin/surveys/{SLUG}/edit")
        add_question(page, "opinion", "matrix", "ratings", "Đánh giá hạ tầng")
        page.fill("input[name='row-1-name']", "school")
        page.fill("input[name='row-1-label.vi']", "Trường học")
        page.fill("input[name='row-2-name']", "road")
        page.fill("input[name='row-2-label.vi']", "Đường sá")
        save_question(page)
        fill_list(page, "ratings", [("good", "Tốt"), ("bad", "Kém")])

        # Page 3, only for those who support: the skip rule.
        page.goto(f"{base}/admin/surveys/{SLUG}/edit")
        page.fill("#new-page-name", "contact")
        page.select_option("#new-page-type", "phone")
        page.fill("#new-page-qname", "phone")
        page.fill("#new-page-qlabel", "Số điện thoại")
        page.get_by_role("button", name="Thêm trang").click()
        save_question(page)
        page.goto(f"{base}/admin/surveys/{SLUG}/edit/pages/contact")
        page.fill("#f-relevant", "${support} = 'yes'")
        page.get_by_role("button", name="Lưu trang").click()
        expect(page.locator("#contact")).to_contain_text("${support} = 'yes'")
        shot(page, "overview")

        publish(page, base)
        answer(browser, base, "da_lat", "p2", "no")
        answer(browser, base, "bao_loc", "b1", "yes", phone="0912 345 678")

        # Version 2: one more question; version 1 stays as it was answered.
        page.goto(f"{base}/admin/surveys/{SLUG}/edit")
        expect(page.locator(".version-note")).to_contain_text("2")
        add_question(page, "opinion", "text", "comment", "Ý kiến khác")
        save_question(page)
        publish(page, base)
        answer(browser, base, "da_lat", "p1", "yes", phone="0987654321", comment="Cần công khai")

        # Both versions' responses in one workbook.
        page.goto(f"{base}/admin/surveys/{SLUG}")
        with page.expect_download() as download:
            page.get_by_role("link", name="Tải các câu trả lời (.xlsx)").click()
        path = tmp_path / "responses.xlsx"
        download.value.save_as(path)
        browser.close()

    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[1]  # the responses
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    records = [dict(zip(header, row, strict=False)) for row in rows[1:]]
    assert [r["version"] for r in records] == [1, 1, 2]
    assert [r["commune"] for r in records] == ["Phường 2", "Phường B'Lao", "Phường 1"]
    assert [r["phone"] for r in records] == [None, "+84912345678", "+84987654321"]
    assert [r["comment"] for r in records] == [None, None, "Cần công khai"]
    assert [r["ratings/school"] for r in records] == ["Tốt"] * 3
