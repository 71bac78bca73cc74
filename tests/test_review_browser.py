"""The review page in real Chromium on a 390x844 phone: an editor filters the flagged
responses, ticks two, excludes them with a reason, opens one; the pages pass axe-core
(WCAG 2.1 A and AA), never scroll sideways, and their buttons are thumb-sized.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import DEMO_SLUG
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_staff_pages_browser import AXE, SIZES, check

pytestmark = pytest.mark.browser

EDITOR = "xem-xet@example.org"
PASSWORD = "mat khau dai du 10"
REVIEW = f"/admin/surveys/{DEMO_SLUG}/review"
FLAGGED = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo with 40 responses, 12 of them flagged (speeder or burst), some from a unit."""
    tmp = tmp_path_factory.mktemp("review-page")
    with demo_site(tmp, f"survey_engine_review_{os.getpid()}") as site:
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        site.cli("share", EDITOR, DEMO_SLUG)
        site.cli("fake-responses", DEMO_SLUG, "--count", "40", "--seed", "12")
        engine = sa.create_engine(site.database_url)
        with engine.begin() as conn:
            ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM responses ORDER BY id"))]
            # Only these flags (the quality checks may have flagged fake answers).
            conn.execute(sa.text("UPDATE responses SET status = 'unreviewed', flags = '[]'"))
            for n, response_id in enumerate(ids[:FLAGGED]):
                flag = "speeder" if n % 2 else "burst"
                flags = f'[{{"flag": "{flag}", "reason": "thử nghiệm {flag}"}}]'
                conn.execute(
                    sa.text(
                        "UPDATE responses SET status = 'flagged', flags = :flags, "
                        "unit = 'Trường THCS Nguyễn Du', duration_seconds = 7 WHERE id = :id"
                    ),
                    {"flags": flags, "id": response_id},
                )
        engine.dispose()
        yield site.base


@pytest.fixture(scope="module")
def phone(server):
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(**SIZES["phone"])
        page = context.new_page()
        page.goto(f"{server}/admin/login")
        page.fill("#email", EDITOR)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Các khảo sát")
        yield page
        context.close()
        browser.close()


def test_the_review_page_on_a_phone(phone, server):
    page = phone
    page.goto(f"{server}/admin/surveys/{DEMO_SLUG}")
    page.locator("#review-link").click()
    expect(page.locator("h1")).to_contain_text("Xem xét phiếu")
    expect(page.locator("#match-count")).to_have_attribute("data-total", str(FLAGGED))
    check(page, "review", "phone")

    page.select_option("#flag", "burst")
    page.locator("#apply-review-filters").click()
    expect(page.locator("#match-count")).to_have_attribute("data-total", str(FLAGGED // 2))
    rows = page.locator("#review-table tbody tr")
    expect(rows).to_have_count(FLAGGED // 2)
    expect(rows.first).to_contain_text("dồn dập từ một mạng")

    first, second = (rows.nth(i).get_attribute("data-response") for i in (0, 1))
    page.check(f"#tick-{first}")
    page.check(f"#tick-{second}")
    page.select_option("#action", "exclude")
    page.get_by_role("button", name="Thực hiện").click()
    # No reason: refused, nothing changed.
    expect(page.locator(".error-summary")).to_contain_text("Hãy nêu lý do")
    expect(page.locator("#match-count")).to_have_attribute("data-total", str(FLAGGED // 2))

    page.check(f"#tick-{first}")
    page.check(f"#tick-{second}")
    page.select_option("#action", "exclude")
    page.fill("#reason", "Cùng một mạng, cùng câu trả lời")
    page.get_by_role("button", name="Thực hiện").click()
    expect(page.locator(".messages")).to_contain_text("Số phiếu đã loại: 2.")
    expect(page.locator("#match-count")).to_have_attribute("data-total", str(FLAGGED // 2 - 2))
    check(page, "review-after", "phone")

    page.goto(f"{server}{REVIEW}/{first}")
    expect(page.locator("#status")).to_have_text("đã loại")
    expect(page.locator("#review-note")).to_have_text("Cùng một mạng, cùng câu trả lời")
    expect(page.locator("#history")).to_contain_text("responses_excluded")
    expect(page.locator("#flags")).to_contain_text("thử nghiệm burst")
    check(page, "review-response", "phone")

    page.get_by_role("button", name="Chấp nhận").click()
    expect(page.locator("#status")).to_have_text("đã chấp nhận")
    expect(page.locator(".messages")).to_contain_text("Số phiếu đã chấp nhận: 1.")


def test_the_results_offer_the_three_views(phone, server):
    page = phone
    page.goto(f"{server}/admin/surveys/{DEMO_SLUG}/results")
    total = int(page.locator(".key-figures").get_attribute("data-responses"))
    page.locator("#filters summary").click()
    page.select_option("#include", "unflagged")
    page.get_by_role("button", name="Áp dụng bộ lọc").click()
    unflagged = int(page.locator(".key-figures").get_attribute("data-responses"))
    # Above: two excluded, one of them accepted again; flagged ones count by default.
    assert (total, unflagged) == (40 - 1, 40 - FLAGGED + 1)
    check(page, "results-unflagged", "phone")
