"""Access modes in a phone-sized Chromium (360 x 740) against `survey-engine serve`:
one answer per device (a second answer from the same phone sees "already answered",
even after its cookies were cleared: the page's script kept the token), and closed
mode from a QR code on the sheet staff downloaded, to the thank-you page."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from survey_engine.definition.schema import FORMAT
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_accessibility import violations

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ADMIN, PASSWORD = "quan-tri@example.org", "mat khau dai du 10"
DEVICE_SLUG, CLOSED_SLUG = "mot-may-mot-phieu", "ma-qr"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "vi-VN",
    "bypass_csp": True,  # lets axe's injected script run (tests/test_accessibility.py)
}
ALREADY_ANSWERED_VI = "Bạn đã trả lời rồi"
CODE_USED_VI = "Mã này đã được sử dụng"


def tiny_survey(slug: str, access: str) -> dict:
    """One page, one question: the access mode is what is tested, not the form."""
    return {
        "format": FORMAT,
        "slug": slug,
        "title": {"vi": "Ý kiến về bữa trưa ở trường"},
        "default_language": "vi",
        "settings": {"access": access},
        "pages": [
            {
                "name": "p1",
                "questions": [
                    {
                        "name": "lunch",
                        "type": "select_one",
                        "required": True,
                        "label": {"vi": "Bữa trưa ở trường có ngon không?"},
                        "choices": "yes_no",
                    }
                ],
            }
        ],
        "choice_lists": {
            "yes_no": [
                {"name": "yes", "label": {"vi": "Có"}},
                {"name": "no", "label": {"vi": "Không"}},
            ]
        },
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("access-browser")
    with demo_site(tmp, f"survey_engine_access_{os.getpid()}") as site:
        site.cli("create-user", ADMIN, "--role", "admin", stdin=PASSWORD)
        for slug, access in ((DEVICE_SLUG, "device"), (CLOSED_SLUG, "code")):
            path = tmp / f"{slug}.json"
            path.write_text(json.dumps(tiny_survey(slug, access)), "utf-8")
            site.cli("import", str(path), "--publish")
        yield site.base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def answer(page: Page, label: str = "Có") -> None:
    page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Gửi phiếu").click()


def expect_thanks(page: Page, slug: str) -> None:
    expect(page).to_have_url(re.compile(rf"/s/{slug}/thanks(\?lang=vi)?$"))
    expect(page.locator("h1")).to_have_text("Cảm ơn bạn!")


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"access-{name}.png"), full_page=True)


def test_a_second_answer_from_the_same_phone_sees_already_answered(browser: Browser, server):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{server}/s/{DEVICE_SLUG}")
    answer(page)
    expect_thanks(page, DEVICE_SLUG)

    reply = page.goto(f"{server}/s/{DEVICE_SLUG}")  # told at once, before the form
    assert reply is not None and reply.status == 409
    expect(page.locator("h1")).to_have_text(ALREADY_ANSWERED_VI)
    expect(page.locator("form.survey-form")).to_have_count(0)
    screenshot(page, "already-answered")

    # Cookies cleared: the page is new, but its script puts back the kept token.
    context.clear_cookies()
    reply = page.goto(f"{server}/s/{DEVICE_SLUG}")
    assert reply is not None and reply.status == 200
    kept = page.evaluate("localStorage.getItem('se:device')")
    expect(page.locator("input[name=device_token]")).to_have_value(kept)
    answer(page, "Không")
    expect(page.locator("h1")).to_have_text(ALREADY_ANSWERED_VI)
    context.close()

    other = browser.new_context(**PHONE).new_page()  # another phone answers as usual
    other.goto(f"{server}/s/{DEVICE_SLUG}")
    answer(other)
    expect_thanks(other, DEVICE_SLUG)
    other.context.close()


def sheet_links(browser: Browser, server: str) -> list[str]:
    """Staff make a batch of two codes and download the PNG sheet; its QR codes read by
    a decoder we did not write."""
    staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = staff.new_page()
    page.goto(f"{server}/admin/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.goto(f"{server}/admin/surveys/{CLOSED_SLUG}/codes")
    page.fill("#unit", "Trường THCS Lộc An")
    page.fill("#size", "2")
    page.get_by_role("button", name="Tạo mã").click()
    expect(page.locator("#batches")).to_contain_text("0 / 2")
    with page.expect_download() as download:
        page.get_by_role("link", name="Thẻ QR (PNG)").click()
    png = Path(download.value.path()).read_bytes()
    staff.close()
    return sorted(r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png))))


def test_closed_mode_from_a_qr_link_to_the_thank_you_page(browser: Browser, server):
    links = sheet_links(browser, server)
    assert len(links) == 2 and all(f"/s/{CLOSED_SLUG}?code=" in link for link in links)
    page = browser.new_context(**PHONE).new_page()
    page.goto(links[0])
    expect(page.locator("input[name=access_code]")).to_have_count(1)
    screenshot(page, "closed-form")
    answer(page)
    expect_thanks(page, CLOSED_SLUG)

    reply = page.goto(links[0])  # the same code again
    assert reply is not None and reply.status == 409
    expect(page.locator("h1")).to_have_text(CODE_USED_VI)

    page.goto(f"{server}/s/{CLOSED_SLUG}")  # without a code: asked for one
    code = links[1].split("code=")[1]
    page.get_by_label("Mã truy cập").fill(code.lower())
    page.get_by_role("button", name="Tiếp tục").click()
    answer(page, "Không")
    expect_thanks(page, CLOSED_SLUG)
    page.context.close()


def test_the_code_page_and_the_refusals_have_no_axe_violation(browser: Browser, server):
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{server}/s/{CLOSED_SLUG}")  # asked for a code
    assert violations(page) == []
    page.get_by_label("Mã truy cập").fill("ABCD-EFGH")
    page.get_by_role("button", name="Tiếp tục").click()  # a made-up code: 403, asked again
    expect(page.locator("#error-summary")).to_be_visible()
    assert violations(page) == []
    page.goto(f"{server}/s/{DEVICE_SLUG}")
    answer(page)
    expect_thanks(page, DEVICE_SLUG)
    page.goto(f"{server}/s/{DEVICE_SLUG}")  # already answered
    expect(page.locator("h1")).to_have_text(ALREADY_ANSWERED_VI)
    assert violations(page) == []
    page.context.close()
