"""An analyst makes the quick report from the results page on a phone, in real
Chromium: one click on the page's button, and the PDF is on the exports page to
download; the page keeps to 360 px and passes axe-core. Screenshot:
test-artifacts/report-phone.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import DEMO_SLUG
from tests.live_server import CHROMIUM, CHROMIUM_ARGS
from tests.test_results_browser import (
    ARTIFACTS,
    PHONE,
    RESULTS,
    check_page,
    server,  # noqa: F401 (fixture)
    sign_in,
)

pytestmark = pytest.mark.browser


def test_an_analyst_makes_the_report_on_a_phone(server, tmp_path):
    base, _url = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(**PHONE, accept_downloads=True).new_page()
        sign_in(page, base)
        page.goto(f"{base}{RESULTS}?f.district=da_lat")
        button = page.locator("#report-button")
        expect(button).to_have_text("Báo cáo nhanh (PDF) của các kết quả này")
        check_page(page, 360)
        button.click()
        page.wait_for_url(f"**/admin/surveys/{DEMO_SLUG}/exports")
        link = page.locator("a", has_text=".pdf").first
        expect(link).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=True)
        check_page(page, 360)
        with page.expect_download() as download:
            link.click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.suffix == ".pdf" and saved.read_bytes().startswith(b"%PDF-")
        browser.close()
