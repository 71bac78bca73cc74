"""Choices and pages in place, in real Chromium at 1280 and 390 px: an editor adds,
edits, moves (by keyboard and by drag and drop), duplicates and deletes the choices of
a list, and moves and deletes pages, without one full page load after the builder
opens, the preview following each change; with JavaScript off the same buttons work,
each a page load; the builder stays axe-clean with a list open in it.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.test_breakers_browser import browser  # noqa: F401 (fixture)
from tests.test_builder_inplace_browser import (
    ARTIFACTS,
    SIZES,
    Editor,
    add_page,
    add_question,
    close_editor,
    record,
    server,  # noqa: F401 (fixture)
    shot,
)
from tests.test_localities_browser import sign_in
from tests.test_results_browser import check_page
from tests.test_staff_pages_browser import AXE

pytestmark = pytest.mark.browser

TABLE = "form.choice-form"


def new_survey(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/surveys/new")
    page.fill("#new-slug", slug)
    page.fill("#new-title", "Màu yêu thích")
    page.fill("#new-first", "Họ và tên")
    page.get_by_role("button", name="Tạo khảo sát").click()
    expect(page.locator("#builder-body")).to_be_visible()


def add_select(ed: Editor) -> None:
    """A select_one `color` on page_1: its list `color` starts with choices 1 and 2."""
    add_question(ed, "page_1", "select_one", "color", "Màu bạn thích?")
    close_editor(ed)


def choices(page: Page) -> list[str]:
    return page.locator(f"{TABLE} tr.choice-row input[name$='-name']").evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )


def preview_labels(page: Page) -> list[str]:
    return page.frame_locator("#preview-frame").locator("#q-color label.choice").all_inner_texts()


def said(ed: Editor, text: str) -> None:
    if ed.script:
        expect(ed.page.locator("#builder-status")).to_contain_text(text)


def change_choices(ed: Editor, width: int) -> None:
    page = ed.page
    ed.click(page.locator("#lists a", has_text="color"))
    # Edited: names and labels typed, the list saved.
    ed.fill(f"{TABLE} input[name='choice-1-name']", "red")
    ed.fill(f"{TABLE} input[name='choice-1-label.vi']", "Đỏ")
    ed.fill(f"{TABLE} input[name='choice-2-name']", "blue")
    ed.fill(f"{TABLE} input[name='choice-2-label.vi']", "Xanh")
    # Enter in a field saves the table (it moves no choice: the first button is "save").
    page.locator(f"{TABLE} input[name='choice-2-label.vi']").press("Enter")
    expect(page.locator("#lists")).to_contain_text("color (2)")
    if ed.script:
        if width < 600:  # on a phone the preview folds away under its title
            ed.click(page.locator("#preview-box summary"))
        expect(page.frame_locator("#preview-frame").locator("#q-color")).to_contain_text("Đỏ")
        assert preview_labels(page) == ["Đỏ", "Xanh"]

    # Added: a third row, its name field ready; typed, then moved up by keyboard.
    ed.click(page.locator("#lists a", has_text="color"))
    ed.click(page.locator(f"{TABLE} button[value=add_choice]"))
    expect(page.locator(f"{TABLE} input[name='choice-3-name']")).to_have_value("3")
    if ed.script:
        expect(page.locator(f"{TABLE} input[name='choice-3-name']")).to_be_focused()
    said(ed, "thêm")
    ed.fill(f"{TABLE} input[name='choice-3-name']", "yellow")
    ed.fill(f"{TABLE} input[name='choice-3-label.vi']", "Vàng")
    if ed.script:
        page.locator(f"{TABLE} input[name='choice-3-label.vi']").focus()
        page.keyboard.press("Alt+ArrowUp")
        ed.clicks += 1  # a key pressed: one action, as a click
        said(ed, "2 trên 3")
        expect(page.locator(f"{TABLE} input[name='choice-2-label.vi']")).to_be_focused()
    else:
        ed.click(page.locator(f"{TABLE} button[value='choice_up:3']"))
    expect(page.locator(f"{TABLE} input[name='choice-2-label.vi']")).to_have_value("Vàng")
    assert choices(page) == ["red", "yellow", "blue"]

    # Duplicated: the copy right after, its name field ready.
    ed.click(page.locator(f"{TABLE} button[value='duplicate_choice:1']"))
    expect(page.locator(f"{TABLE} input[name='choice-2-name']")).to_have_value("red_2")
    if ed.script:
        expect(page.locator(f"{TABLE} input[name='choice-2-name']")).to_be_focused()
    assert choices(page) == ["red", "red_2", "yellow", "blue"]

    # Moved by drag and drop (its handle, onto the row above), or by its ↑ button.
    if ed.script:
        page.evaluate("document.getElementById('choice-row-3').scrollIntoView()")  # both in view
        handle = page.locator(f"{TABLE} #choice-row-4 .drag-handle")
        handle.drag_to(page.locator(f"{TABLE} #choice-row-3 input[name='choice-3-name']"))
        ed.clicks += 1
        said(ed, "3 trên 4")
    else:
        ed.click(page.locator(f"{TABLE} button[value='choice_up:4']"))
    expect(page.locator(f"{TABLE} input[name='choice-3-name']")).to_have_value("blue")
    assert choices(page) == ["red", "red_2", "blue", "yellow"]

    # Deleted.
    ed.click(page.locator(f"{TABLE} button[value='delete_choice:2']"))
    expect(page.locator(f"{TABLE} tr.choice-row")).to_have_count(3)
    said(ed, "xóa")
    assert choices(page) == ["red", "blue", "yellow"]
    if ed.script:
        expect(page.locator("#lists")).to_contain_text("color (3)")  # the overview follows
        assert preview_labels(page) == ["Đỏ", "Xanh", "Vàng"]
    shot(page, f"choices-{'js' if ed.script else 'nojs'}-{width}")
    close_editor(ed)
    expect(page.locator("#lists")).to_contain_text("color (3)")


def pages(page: Page) -> list[str]:
    return page.locator(".builder-page[data-page]").evaluate_all(
        "sections => sections.map(s => s.dataset.page)"
    )


def change_pages(ed: Editor, width: int) -> None:
    page = ed.page
    add_page(ed, "p2", "text", "street", "Đường nào?")
    close_editor(ed)
    add_page(ed, "p3", "text", "city", "Thành phố nào?")
    close_editor(ed)
    assert pages(page) == ["page_1", "p2", "p3"]
    if ed.script:  # by keyboard: the page itself focused, Alt+ArrowUp
        page.locator("#p3").focus()
        page.keyboard.press("Alt+ArrowUp")
        ed.clicks += 1  # a key pressed: one action, as a click
        said(ed, "trang 2 trên 3")
        expect(page.locator("#p3")).to_be_focused()
    else:
        ed.click(page.locator("#p3 > .row form:has(input[value=page_up]) button"))
    expect(page.locator(".builder-page[data-page]").nth(1)).to_have_id("p3")
    # p3 first: dragged by its title row onto the first page, or by its ↑ button.
    if ed.script:
        page.evaluate("document.getElementById('page_1').scrollIntoView()")  # both in view
        page.locator("#p3 > .row h2").drag_to(page.locator("#page_1 > .row h2"))
        ed.clicks += 1
        said(ed, "trang 1 trên 3")
        expect(page.locator("#p3")).to_be_focused()
    else:
        ed.click(page.locator("#p3 > .row form:has(input[value=page_up]) button"))
    expect(page.locator(".builder-page[data-page]").first).to_have_id("p3")
    assert pages(page) == ["p3", "page_1", "p2"]
    if ed.script:  # the preview's survey starts with p3's question now
        first = page.frame_locator("#preview-frame").locator(".question[data-name]").first
        expect(first).to_have_attribute("data-name", "city")
    ed.click(page.locator("#p2 > .row form:has(input[value=delete_page]) button"))
    expect(page.locator("#p2")).to_have_count(0)
    said(ed, "p2")
    assert pages(page) == ["p3", "page_1"]
    shot(page, f"pages-{'js' if ed.script else 'nojs'}-{width}")


@pytest.mark.parametrize("width", [1280, 390])
def test_choices_and_pages_change_in_place(server, browser, width):  # noqa: F811
    context = browser.new_context(**SIZES[width])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    sign_in(page, server)
    new_survey(page, server, f"mau-{width}")
    ed = Editor(page, script=True)
    ed.start_counting()  # from here on: the builder is open
    add_select(ed)
    change_choices(ed, width)
    change_pages(ed, width)
    assert ed.loads == [], ed.loads  # not one full page load
    record(f"choices and pages in place, {width} px", ed)
    assert problems == []  # no script error, nothing the page's CSP refused
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_same_changes_without_javascript(server, browser, width):  # noqa: F811
    context = browser.new_context(**SIZES[width], java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server)
    new_survey(page, server, f"mau-khong-js-{width}")
    ed = Editor(page, script=False)
    ed.start_counting()
    add_select(ed)
    change_choices(ed, width)
    change_pages(ed, width)
    assert len(ed.loads) >= 15  # each button a page load, and each still works
    record(f"choices and pages, no script, {width} px", ed)
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_builder_with_a_list_open_is_axe_clean(server, browser, width):  # noqa: F811
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    context = browser.new_context(**SIZES[width], bypass_csp=True)  # axe is injected
    page = context.new_page()
    sign_in(page, server)
    new_survey(page, server, f"mau-axe-{width}")
    ed = Editor(page, script=True)
    add_select(ed)
    ed.click(page.locator("#lists a", has_text="color"))
    ed.click(page.locator(f"{TABLE} button[value='duplicate_choice:1']"))
    expect(page.locator(f"{TABLE} tr.choice-row")).to_have_count(3)
    check_page(page, width)  # the list's table open in the builder, a row just changed
    shot(page, f"choices-axe-{width}")
    page.locator(".inline-editor").screenshot(
        path=str(ARTIFACTS / f"builder-choices-table-{width}.png")
    )
    # The list's own page (without the script: the table as a page of its own).
    page.goto(f"{server}/admin/surveys/mau-axe-{width}/edit/lists/color?row=2")
    check_page(page, width)
    context.close()
