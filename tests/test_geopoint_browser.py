"""A citizen answers a place in real headless Chromium: with the browser's location
(Geolocation API, faked by playwright's geolocation permission) on a 390 px phone, and
by typing it with JavaScript off, errors kept in Vietnamese; axe-clean at 390 and 1280 px.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect, sync_playwright

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_accessibility import AXE, violations
from tests.test_geopoint import SLUG, place_definition

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
    "bypass_csp": True,  # for axe's injected script only; the page's own obey the CSP
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN", "bypass_csp": True}
DA_LAT = {"latitude": 11.9404192, "longitude": 108.4583132, "accuracy": 18.5}


@pytest.fixture
def site(tmp_path):
    with demo_site(tmp_path, f"survey_engine_geo_browser_{os.getpid()}") as served:
        definition = tmp_path / "places.json"
        definition.write_text(json.dumps(place_definition()))
        served.cli("import", str(definition), "--publish")
        yield served


@pytest.fixture
def browser():
    assert AXE.exists()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def stored_places(database_url: str) -> list[dict]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT answers FROM responses ORDER BY id")).all()
    finally:
        engine.dispose()
    answers = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
    return [a for a in answers if "where" in a]


def test_use_my_location_fills_the_place_on_a_phone(site, browser):
    context = browser.new_context(
        **PHONE, base_url=site.base, geolocation=DA_LAT, permissions=["geolocation"]
    )
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    page.goto(f"/s/{SLUG}")
    button = page.get_by_role("button", name="Dùng vị trí của tôi")
    expect(button).to_be_visible()
    assert violations(page) == []
    button.click()
    expect(page.get_by_label("Vĩ độ")).to_have_value("11.9404192")
    expect(page.get_by_label("Kinh độ")).to_have_value("108.4583132")
    expect(page.get_by_label("Độ chính xác, tính bằng mét (không bắt buộc)")).to_have_value("18.5")
    expect(page.locator("#q-where-geo")).to_have_text("11.94042, 108.45831")
    assert violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "geopoint-located-390.png"), full_page=True)
    # No camera scan where the browser has no BarcodeDetector: the typed field only.
    if not page.evaluate("'BarcodeDetector' in window"):
        expect(page.get_by_role("button", name="Quét bằng máy ảnh")).to_be_hidden()
    page.get_by_label("Mã biển báo").fill("SL-0042")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert stored_places(site.database_url) == [
        {"where": {"lat": 11.9404192, "lon": 108.4583132, "acc": 18.5}, "sign": "SL-0042"}
    ]


def test_a_denied_location_says_so_and_typing_still_works(site, browser):
    context = browser.new_context(**PHONE, base_url=site.base)  # no permission given
    page = context.new_page()
    page.goto(f"/s/{SLUG}")
    page.get_by_role("button", name="Dùng vị trí của tôi").click()
    expect(page.locator("#q-where-geo")).to_have_text(
        "Không xác định được vị trí của bạn. Vui lòng nhập tay."
    )
    page.get_by_label("Vĩ độ").fill("95")
    page.get_by_label("Kinh độ").fill("108")
    page.get_by_role("button", name="Gửi").click()
    expect(page.locator("#q-where-error")).to_have_text(
        "Vĩ độ là một số từ -90 đến 90, ví dụ 11.9404."
    )
    assert violations(page) == []
    page.get_by_label("Vĩ độ").fill("11,5")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert stored_places(site.database_url) == [{"where": {"lat": 11.5, "lon": 108.0}}]


@pytest.mark.parametrize("size", ["390", "1280"])
def test_without_javascript_the_place_is_typed_and_checked_by_the_server(site, browser, size):
    context = browser.new_context(**(PHONE if size == "390" else DESKTOP), base_url=site.base)
    context.route("**/static/*.js*", lambda route: route.abort())
    page = context.new_page()
    page.goto(f"/s/{SLUG}")
    expect(page.get_by_role("button", name="Dùng vị trí của tôi")).to_be_hidden()
    assert violations(page) == []
    page.get_by_label("Vĩ độ").fill("11.9404")
    page.get_by_label("Kinh độ").fill("abc")
    page.get_by_role("button", name="Gửi").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Kinh độ là một số từ -180 đến 180, ví dụ 108.4583.")
    expect(page.get_by_label("Vĩ độ")).to_have_value("11.9404")  # nothing lost
    assert violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"geopoint-typed-error-{size}.png"), full_page=True)
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Vĩ độ")).to_be_focused()
    page.get_by_label("Kinh độ").fill("108.4583")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert stored_places(site.database_url) == [{"where": {"lat": 11.9404, "lon": 108.4583}}]


# A BarcodeDetector and a camera for the page (Chromium on Linux has neither): the
# camera is a canvas's stream, the detector reads "SL-0042" on its third look.
FAKE_SCANNER = """
window.BarcodeDetector = class {
  constructor() { this.looks = 0; }
  async detect(video) { return ++this.looks < 3 ? [] : [{ rawValue: 'SL-0042' }]; }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 48;
  canvas.getContext('2d').fillRect(0, 0, 64, 48);
  return canvas.captureStream(5);
};
"""


def test_a_barcode_is_scanned_where_the_browser_can_and_typed_anyway(site, browser):
    context = browser.new_context(**PHONE, base_url=site.base)
    context.add_init_script(FAKE_SCANNER)
    page = context.new_page()
    page.goto(f"/s/{SLUG}")
    scan = page.get_by_role("button", name="Quét bằng máy ảnh")
    expect(scan).to_be_visible()
    assert violations(page) == []
    scan.click()
    expect(page.get_by_label("Mã biển báo")).to_have_value("SL-0042")
    expect(page.locator("video.barcode-video")).to_have_count(0)  # the camera let go
    page.get_by_label("Vĩ độ").fill("11.9")
    page.get_by_label("Kinh độ").fill("108.4")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert stored_places(site.database_url) == [
        {"where": {"lat": 11.9, "lon": 108.4}, "sign": "SL-0042"}
    ]
