"""The overview (/admin/) and a survey's header in real Chromium at 390 px (a phone)
and 1280 px: axe-clean with many surveys, with none and with a search matching none;
no sideways scrolling (on a phone each survey is a card of "label: value" lines); the
search and status filter work with JavaScript off. Screenshots go to
test-artifacts/overview-*.png."""

from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import Browser, Page, expect

from survey_engine.catalog import save_definition
from survey_engine.extensions import db
from tests.conftest import DEMO_SLUG, make_app
from tests.live_server import demo_site
from tests.test_overview import small_definition
from tests.test_staff_pages_browser import (  # noqa: F401  (browser: a fixture)
    ARTIFACTS,
    browser,
    overflow,
    small_buttons,
    violations,
)

pytestmark = pytest.mark.browser

ADMIN, LONELY = "quan-tri@example.org", "chua-duoc-chia-se@example.org"
PASSWORD = "mat khau dai du 10"
WIDTHS = {"390": 390, "1280": 1280}
EXTRA = [
    ("tham-do-dat-dai", "Thăm dò ý kiến người dân về công tác quản lý đất đai", True),
    ("hai-long-dich-vu-cong", "Mức độ hài lòng với dịch vụ hành chính công 2026", True),
    ("ban-nhap-y-te", "Khảo sát nháp về y tế cơ sở", False),
]


def small(slug: str, title: str, closes_at: str | None = None) -> dict:
    return {
        "format": "survey-engine/1",
        "slug": slug,
        "title": {"vi": title, "en": title},
        "default_language": "vi",
        "settings": {"opens_at": None, "closes_at": closes_at, "max_responses": 500},
        "pages": [
            {
                "name": "p1",
                "title": {"vi": "Trang 1"},
                "questions": [{"name": "y_kien", "type": "text", "label": {"vi": "Ý kiến?"}}],
            }
        ],
        "choice_lists": {},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("overview")
    with demo_site(tmp, f"survey_engine_overview_{os.getpid()}") as site:
        site.cli("create-user", ADMIN, "--role", "admin", stdin=PASSWORD)
        site.cli("create-user", LONELY, "--role", "editor", stdin=PASSWORD)
        site.cli("fake-responses", DEMO_SLUG, "--count", "40")
        for slug, title, publish in EXTRA:
            path = tmp / f"{slug}.json"
            path.write_text(json.dumps(small(slug, title)), "utf-8")
            site.cli("import", str(path), *(["--publish"] if publish else []))
        site.cli("fake-responses", "tham-do-dat-dai", "--count", "7")
        yield site.base


def signed_in(browser: Browser, base: str, width: int, email: str = ADMIN, js: bool = True):
    phone = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 900},
        is_mobile=phone,
        has_touch=phone,
        locale="vi-VN",
        bypass_csp=True,
        java_script_enabled=js,
    )
    page = context.new_page()
    page.goto(f"{base}/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("h1")).to_have_text("Các khảo sát")
    return page


def check(page: Page, name: str, width: int) -> None:
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"overview-{name}-{width}.png"), full_page=True)
    found = violations(page)
    assert not found, f"{name} at {width} px:\n" + "\n".join(found)
    measured = overflow(page)
    assert measured["scrollWidth"] <= width, (name, width, measured)
    if width < 600:
        assert not small_buttons(page), small_buttons(page)


@pytest.mark.parametrize("width", WIDTHS.values())
def test_full_overview(browser, server, width):
    page = signed_in(browser, server, width)
    try:
        rows = page.locator("#overview tbody tr")
        expect(rows).to_have_count(4)
        demo = page.locator(f'tr[data-slug="{DEMO_SLUG}"]')
        expect(demo.locator("td.total")).to_have_text("40")
        expect(demo.locator("td.today")).to_have_text("40")
        expect(page.locator('tr[data-slug="ban-nhap-y-te"] td.state')).to_contain_text(
            "chưa công bố"
        )
        expect(page.locator('tr[data-slug="tham-do-dat-dai"] td.state')).to_contain_text(
            "Giới hạn: 7 trên 500"
        )
        if width < 600:  # cards: the column names sit beside each value
            label = demo.locator("td.total").evaluate(
                "el => getComputedStyle(el, '::before').content"
            )
            assert "Tổng số trả lời" in label
            assert demo.evaluate("el => getComputedStyle(el).display") == "block"
        check(page, "full", width)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS.values())
def test_overview_with_no_survey_and_with_no_match(browser, server, width):
    page = signed_in(browser, server, width, email=LONELY)
    try:
        expect(page.get_by_text("Chưa có khảo sát nào được chia sẻ với bạn.")).to_be_visible()
        check(page, "empty", width)
    finally:
        page.context.close()
    page = signed_in(browser, server, width)
    try:
        page.goto(f"{server}/admin/?q=không+có+khảo+sát+này")
        expect(page.locator("#no-match")).to_be_visible()
        check(page, "no-match", width)
    finally:
        page.context.close()


def test_search_and_filter_work_without_javascript(browser, server):
    page = signed_in(browser, server, 390, js=False)
    try:
        page.fill("#q", "dat dai")
        page.get_by_role("button", name="Xem", exact=True).click()
        expect(page.locator("#overview tbody tr")).to_have_count(1)
        expect(page.locator("#overview tbody tr")).to_have_attribute("data-slug", "tham-do-dat-dai")
        page.fill("#q", "")
        page.select_option("#status", "draft")
        page.get_by_role("button", name="Xem", exact=True).click()
        expect(page.locator("#overview tbody tr")).to_have_count(1)
        assert "status=draft" in page.url
        page.get_by_role("link", name="Xem tất cả").click()
        expect(page.locator("#overview tbody tr")).to_have_count(4)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS.values())
@pytest.mark.parametrize(
    "name,path", [("survey", ""), ("results", "/results"), ("builder", "/edit")]
)
def test_survey_header_and_tabs(browser, server, width, name, path):
    page = signed_in(browser, server, width)
    try:
        page.goto(f"{server}/admin/surveys/{DEMO_SLUG}{path}")
        tabs = page.get_by_role("navigation", name="Các trang của khảo sát này")
        expect(tabs.get_by_role("link")).to_have_count(7)
        expect(tabs.locator("[aria-current=page]")).to_have_count(1)
        check(page, f"header-{name}", width)
        # Each tab leads to its page, where it is the one marked.
        if name == "survey":
            for index in range(7):
                link = tabs.get_by_role("link").nth(index)
                text = link.inner_text()
                link.click()
                expect(tabs.locator("[aria-current=page]")).to_have_text(text)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS.values())
def test_new_survey_from_a_template_and_copying_questions(browser, server, width):
    """The template list and the copy page: axe-clean, no sideways scrolling; a survey
    made from a template, then a question copied into it from the demo."""
    page = signed_in(browser, server, width)
    slug = f"hai-long-{width}"
    try:
        page.goto(f"{server}/admin/surveys/new")
        check(page, "new-survey", width)
        page.get_by_label("Sự hài lòng với dịch vụ hành chính công").check()
        page.fill("#template-slug", slug)
        page.get_by_role("button", name="Tạo từ mẫu").click()
        expect(page).to_have_url(f"{server}/admin/surveys/{slug}/edit")
        expect(page.locator("#survey-header")).to_contain_text("bản nháp")
        page.get_by_role("link", name="Sao chép từ khảo sát khác").click()
        page.select_option("#source", DEMO_SLUG)
        page.get_by_role("button", name="Xem các câu hỏi").click()
        check(page, "copy", width)
        page.locator('input[name="question"][value="district"]').check()
        page.get_by_role("button", name="Sao chép vào khảo sát này").click()
        expect(page.locator(".messages")).to_contain_text("Đã sao chép 1 câu hỏi")
        expect(page.locator("#q-district")).to_be_visible()
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """The demo and 120 more surveys (written straight into the served database)."""
    tmp = tmp_path_factory.mktemp("crowded")
    with demo_site(tmp, f"survey_engine_crowded_{os.getpid()}") as site:
        site.cli("create-user", ADMIN, "--role", "admin", stdin=PASSWORD)
        app = make_app(site.database_url)
        with app.app_context():
            for n in range(120):
                save_definition(small_definition(f"khao-sat-{n:03}", f"Khảo sát số {n}"))
            db.session.remove()
            db.engine.dispose()
        yield site.base


@pytest.mark.parametrize("width", WIDTHS.values())
def test_hundreds_of_surveys_are_paged_and_the_pages_reached_by_their_links(
    browser, crowded, width
):
    page = signed_in(browser, crowded, width)
    try:
        page.goto(f"{crowded}/admin/?q=khao+sat")
        rows = page.locator("#overview tbody tr")
        expect(rows).to_have_count(50)
        expect(page.locator("#survey-count")).to_have_text("Khảo sát 1 đến 50 trên tổng số 121")
        pages = page.get_by_role("navigation", name="Các trang danh sách khảo sát")
        expect(pages.locator("[aria-current=page]")).to_have_text("Trang 1")
        check(page, "paged", width)
        pages.get_by_role("link", name="Trang sau").click()
        expect(pages.locator("[aria-current=page]")).to_have_text("Trang 2")
        expect(rows.first).to_have_attribute("data-slug", "khao-sat-050")  # by address
        assert "q=khao+sat" in page.url  # the search kept
        pages.get_by_role("link", name="Trang 3").click()
        expect(rows).to_have_count(21)
        expect(page.locator("#q")).to_have_value("khao sat")
        check(page, "paged-last", width)
    finally:
        page.context.close()
