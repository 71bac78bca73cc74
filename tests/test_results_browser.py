"""An analyst reads the results dashboard on a phone in real Chromium: the counts on the
page are the database's, the page's own filter form narrows them to one district, the
free-text search finds answers without tone marks; no axe-core WCAG 2.1 AA violation,
no sideways scroll at 360 px. Screenshots: test-artifacts/results-*.png.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import DEMO_SLUG
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_staff_pages_browser import AXE, overflow, violations

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ANALYST, PASSWORD = "phan-tich-vien@example.org", "mat khau dai du 10"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
    "bypass_csp": True,
}
DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US", "bypass_csp": True}
RESULTS = f"/admin/surveys/{DEMO_SLUG}/results"


@pytest.fixture
def server(tmp_path):
    with demo_site(tmp_path, f"survey_engine_results_{os.getpid()}") as site:
        site.cli("fake-responses", DEMO_SLUG, "--count", "300", "--seed", "1")
        site.cli("create-user", ANALYST, "--role", "analyst", stdin=PASSWORD)
        site.cli("share", ANALYST, DEMO_SLUG)
        yield site.base, site.database_url


def stored_answers(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT answers FROM responses")).scalars().all()
    finally:
        engine.dispose()
    # SQLite hands JSON back as text.
    return [row if isinstance(row, dict) else json.loads(row) for row in rows]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"results-{name}.png"), full_page=True)


def number(text: str) -> int:
    """'1.234' (Vietnamese) or '1,234' (English) as 1234."""
    return int(text.strip().replace(".", "").replace(",", ""))


def row_count(page: Page, question: str, label: str) -> int:
    """The count cell of a choice in a question's table."""
    row = page.locator(f"#q-{question} table tr", has=page.locator(f"th:text-is('{label}')"))
    return number(row.locator("td").first.inner_text())


def check_page(page: Page, width: int) -> None:
    found = violations(page)
    assert not found, "\n".join(found)
    measured = overflow(page)
    assert measured["scrollWidth"] <= width, measured


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("#email", ANALYST)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/admin/")


def test_an_analyst_reads_and_filters_the_results_on_a_phone(server):
    base, url = server
    answers = stored_answers(url)
    districts = Counter(a["district"] for a in answers)
    da_lat = [a for a in answers if a["district"] == "da_lat"]
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(**PHONE).new_page()
        sign_in(page, base)
        page.goto(f"{base}/admin/surveys/{DEMO_SLUG}")
        page.locator("#results-link").click()
        expect(page.locator("#response-count")).to_have_text("300")
        assert row_count(page, "district", "Thành phố Đà Lạt") == districts["da_lat"]
        assert row_count(page, "district", "Thành phố Bảo Lộc") == districts["bao_loc"]
        shot(page, "phone")
        check_page(page, 360)

        # The page's own GET form: a district, then the button.
        page.locator("#filters > summary").click()
        page.select_option("#f-district", "da_lat")
        page.locator("#apply-filters").click()
        page.wait_for_url("**f.district=da_lat**")
        expect(page.locator("#response-count")).to_have_text(str(len(da_lat)))
        expect(page.locator("#all-responses")).to_have_text("300")
        support = Counter(a["support"] for a in da_lat)
        for name, label in (("yes", "Đồng ý"), ("no", "Không đồng ý")):
            assert row_count(page, "support", label) == support[name], name
        assert row_count(page, "district", "Thành phố Bảo Lộc") == 0
        shot(page, "phone-filtered")
        check_page(page, 360)

        # A cross-tab through its form keeps the filter.
        page.select_option("#row", "role")
        page.select_option("#col", "support")
        page.locator("#show-crosstab").click()
        page.wait_for_url("**row=role**")
        assert "f.district=da_lat" in page.url
        parents_yes = sum(1 for a in da_lat if a["role"] == "parent" and a["support"] == "yes")
        cell = page.locator("#crosstab-count tr[data-choice=parent] td[data-choice=yes]")
        assert number(cell.inner_text()) == parents_yes
        page.locator("#crosstab").screenshot(path=str(ARTIFACTS / "results-phone-crosstab.png"))

        # Free text: searched without tone marks, through the search form.
        page.goto(f"{base}{RESULTS}")
        page.locator("#q-comment a").click()
        page.fill("#q", "dam bao")
        page.locator(".search-form button[type=submit]").click()
        page.wait_for_url("**q=dam+bao**")
        matching = sum(1 for a in answers if "đảm bảo" in (a.get("comment") or "").lower())
        expect(page.locator("#answer-count")).to_contain_text(str(matching))
        expect(page.locator(".text-answers > li")).to_have_count(min(matching, 50))
        shot(page, "phone-text")
        check_page(page, 360)

        desk = browser.new_context(**DESK).new_page()
        sign_in(desk, base)
        desk.goto(f"{base}{RESULTS}?row=district&col=support")
        expect(desk.locator("#response-count")).to_have_text("300")
        assert row_count(desk, "district", "Da Lat City") == districts["da_lat"]
        shot(desk, "1280")
        check_page(desk, 1280)
        browser.close()
