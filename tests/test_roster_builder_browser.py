"""An editor builds a roster in real headless Chromium: the roster added on a page of
its own, its row's question added and set, with the builder in place (its forms
fetched into the editor under the question) and without JavaScript (every form a
page); axe-clean; screenshots in test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_accessibility import violations
from tests.test_breakers_browser import browser  # noqa: F401 (fixture)
from tests.test_builder_inplace_browser import SIZES, Editor, add_page, server, shot  # noqa: F401
from tests.test_localities_browser import sign_in
from tests.test_staff_pages_browser import AXE


@pytest.mark.parametrize("script", [True, False], ids=["in-place", "no-js"])
def test_a_roster_and_its_row_s_question_are_built(server, browser, script):
    assert AXE.exists()
    width = 390 if script else 1280
    context = browser.new_context(**SIZES[width], java_script_enabled=script, bypass_csp=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    sign_in(page, server)
    slug = f"ho-dan-{'js' if script else 'html'}"
    page.goto(f"{server}/admin/surveys/new")
    page.fill("#new-slug", slug)
    page.fill("#new-title", "Hộ dân")
    page.fill("#new-first", "Số người trong hộ")
    page.get_by_role("button", name="Tạo khảo sát").click()
    ed = Editor(page, script=script)
    add_page(ed, "people", "repeat", "members", "Thành viên của hộ")
    rows = page.locator(".row-questions")
    expect(rows).to_contain_text("members_name")
    if script:
        assert violations(page) == []
    shot(page, f"roster-{width}")
    # a row question: its own form, then back to the roster with it listed
    page.select_option("#row-type", "integer")
    page.fill("#row-qname", "age")
    page.fill("#row-qlabel", "Tuổi")
    rows.get_by_role("button", name="Thêm câu hỏi").click()
    expect(page.locator("#f-name")).to_have_value("age")
    expect(page.locator("#f-page")).to_have_count(0)  # it stays in its row
    page.fill("#f-max", "120")
    page.locator("form.builder-form button[type=submit]").first.click()
    expect(page.locator("#f-name")).to_have_value("members")
    expect(page.locator(".row-questions")).to_contain_text("age")
    page.locator(".row-questions").get_by_role("button", name="Chuyển câu hỏi age lên").click()
    expect(page.locator(".row-questions li").first).to_contain_text("age")
    assert problems == []
    context.close()
