"""Every staff page (/admin/...) in real Chromium, on a 360x740 phone and at 1280x900:
no axe-core violation of WCAG 2.1 A and AA, no horizontal scroll of the page itself
(a wide table scrolls inside its own `.table-scroll` box), buttons a thumb can hit
(44 px high) on the phone. A full-page screenshot of each goes to
test-artifacts/staff-<name>.png (phone) and staff-<name>-1280.png for a person to look at.

Forms with their errors shown are visited too: the sign-in form after a wrong password,
a question with an expression naming an unknown question, a schedule that closes before
it opens, a new account refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import (
    DEMO_SLUG,
    demo_definition,
    valid_answers,
)
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ADMIN, EDITOR = "quan-tri@example.org", "bien-tap-vien-khao-sat@example.org"
PASSWORD = "mat khau dai du 10"
# bypass_csp: the pages' own policy would (rightly) refuse axe's injected script.
SIZES = {
    "phone": {
        "viewport": {"width": 360, "height": 740},
        "is_mobile": True,
        "has_touch": True,
        "locale": "vi-VN",
        "bypass_csp": True,
    },
    "desk": {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN", "bypass_csp": True},
}
SURVEY = f"/admin/surveys/{DEMO_SLUG}"
DRAFT = "ban-nhap-chua-cong-bo"  # a copy of the demo, never published, no responses
EDIT = f"{SURVEY}/edit"
SELECT_QUESTION, MATRIX_QUESTION = "district", "measures"  # in the demo survey
FIRST_PAGE, A_LIST = "about_you", "districts"
# What a thumb presses: buttons, links styled as buttons, the builder's small buttons.
BUTTONS = (
    "button, .button, .submit, a.small, input[type=submit], input[type=file], details.add > summary"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staff-pages")
    with demo_site(tmp, f"survey_engine_staffpages_{os.getpid()}") as site:
        site.cli("create-user", ADMIN, "--role", "admin", stdin=PASSWORD)
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        site.cli("share", EDITOR, DEMO_SLUG)
        site.cli("create-token", ADMIN)  # the tokens page has a row to show
        draft = tmp / "draft.json"
        draft.write_text(json.dumps({**demo_definition(), "slug": DRAFT}), "utf-8")
        site.cli("import", str(draft))
        yield site.base


@pytest.fixture(scope="module")
def browser():
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page: Page, base: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("#email", ADMIN)
    page.fill("#password", password)
    page.get_by_role("button", name="Đăng nhập").click()


@pytest.fixture(scope="module")
def staff(browser: Browser, server: str):
    """One signed-in admin per screen size, kept for the whole module."""
    pages: dict[str, Page] = {}

    def page_for(size: str) -> Page:
        if size not in pages:
            pages[size] = browser.new_context(**SIZES[size]).new_page()
            sign_in(pages[size], server)
            expect(pages[size].locator("h1")).to_have_text("Các khảo sát")
        return pages[size]

    yield page_for
    for page in pages.values():
        page.context.close()


# -- how to reach each page ----------------------------------------------------------


def _login_error(page: Page, base: str) -> None:
    sign_in(page, base, password="khong dung mat khau")
    expect(page.locator(".error-summary")).to_be_visible()


def _question_error(page: Page, base: str) -> None:
    page.goto(f"{base}{EDIT}/questions/{SELECT_QUESTION}")
    page.fill("#f-relevant", "${nope} = 1")
    page.get_by_role("button", name="Lưu câu hỏi").click()
    expect(page.locator("#relevant-error")).to_contain_text("nope")


def _settings_error(page: Page, base: str) -> None:
    page.goto(f"{base}{EDIT}/settings")
    page.fill("#f-opens_at", "2031-05-02T08:00")
    page.fill("#f-closes_at", "2031-05-01T08:00")
    page.get_by_role("button", name="Lưu cài đặt").click()
    expect(page.locator("#problems")).to_be_visible()
    expect(page.locator(".has-error")).not_to_have_count(0)


def _editor_account(page: Page, base: str, suffix: str = "") -> None:
    page.goto(f"{base}/admin/users")
    href = page.get_by_role("link", name=EDITOR).get_attribute("href")
    page.goto(f"{base}{href}{suffix}")
    expect(page.locator("h1")).to_be_visible()


def _new_account_refused(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/users")
    page.fill("#email", EDITOR)  # exists already
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page.locator(".error-summary")).to_be_visible()


def _new_token(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/tokens")
    page.get_by_role("button", name="Tạo mã truy cập mới").click()
    expect(page.locator("#new-token")).to_be_visible()


def _new_export(page: Page, base: str) -> None:
    page.goto(f"{base}{SURVEY}/exports")
    page.locator("#new-export + form button[type=submit]").click()
    expect(page.locator("#exports")).to_be_visible()


def _access_codes(page: Page, base: str) -> None:
    """With a batch made, so its table, the rates and the downloads are there."""
    page.goto(f"{base}{SURVEY}/codes")
    if page.locator("#batches").count() == 0:
        page.fill("#unit", "Trường THCS Lộc An")
        page.fill("#size", "3")
        page.get_by_role("button", name="Tạo mã").click()
    expect(page.locator("#batches")).to_be_visible()


def _webhooks(page: Page, base: str) -> None:
    """With a webhook (never sent: no worker runs) and its secret shown, and a response
    stored since, so the delivery log has a row."""
    page.goto(f"{base}{SURVEY}/webhooks")
    if page.locator("#endpoints").count() == 0:
        page.fill("#url", "https://hooks.example.invalid/khao-sat")
        page.get_by_role("button", name="Thêm webhook này").click()
        expect(page.locator("code[id^=secret-]")).to_be_visible()
        answers = {
            "submission_id": "0b0c5f6e-7c1d-4a53-9a38-4a3e3c1e7f10",
            "answers": valid_answers(),
        }
        reply = page.request.post(f"{base}/api/v1/surveys/{DEMO_SLUG}/responses", data=answers)
        assert reply.status == 202, reply.text()
        page.goto(f"{base}{SURVEY}/webhooks")
    expect(page.locator("#endpoints")).to_be_visible()


def _webhook_delivery(page: Page, base: str) -> None:
    _webhooks(page, base)
    page.locator("#deliveries a").first.click()
    expect(page.locator("#event-id")).to_be_visible()


def _go(path: str) -> Callable[[Page, str], None]:
    return lambda page, base: page.goto(base + path)


SIGNED_OUT: dict[str, Callable[[Page, str], None]] = {
    "login": _go("/admin/login"),
    "login-error": _login_error,
}
SIGNED_IN: dict[str, Callable[[Page, str], None]] = {
    "index": _go("/admin/"),
    "new-survey": _go("/admin/surveys/new"),
    "survey": _go(SURVEY),
    "builder": _go(EDIT),
    "question-select": _go(f"{EDIT}/questions/{SELECT_QUESTION}"),
    "question-matrix": _go(f"{EDIT}/questions/{MATRIX_QUESTION}"),
    "question-error": _question_error,
    "page": _go(f"{EDIT}/pages/{FIRST_PAGE}"),
    "list": _go(f"{EDIT}/lists/{A_LIST}"),
    "settings": _go(f"{EDIT}/settings"),
    "settings-error": _settings_error,
    "translations": _go(f"{EDIT}/translations"),
    "translations-add": _go(f"{EDIT}/translations?add_language=fr"),
    "preview": _go(f"{SURVEY}/preview"),
    "preview-thanks": _go(f"{SURVEY}/preview/thanks"),
    "duplicate": _go(f"{SURVEY}/duplicate"),
    "delete": _go(f"{SURVEY}/delete"),
    "survey-draft": _go(f"/admin/surveys/{DRAFT}"),
    "delete-draft": _go(f"/admin/surveys/{DRAFT}/delete"),
    "sharing": _go(f"{SURVEY}/sharing"),
    "access-codes": _access_codes,
    "webhooks": _webhooks,
    "webhook-delivery": _webhook_delivery,
    "exports": _new_export,
    "users": _go("/admin/users"),
    "users-error": _new_account_refused,
    "user": _editor_account,
    "user-delete": lambda page, base: _editor_account(page, base, "/delete"),
    "tokens": _go("/admin/tokens"),
    "tokens-new": _new_token,
    "password": _go("/admin/password"),
    "sessions": _go("/admin/sessions"),
    "audit": _go("/admin/audit"),
    "logout": _go("/admin/logout"),
}


# -- what every page must pass -------------------------------------------------------


def violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations, one readable line per element."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    lines = []
    for v in result["violations"]:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {' > '.join(map(str, node['target']))}: {summary[:300]}")
    return lines


def overflow(page: Page) -> dict:
    """How wide the page is, and the widest elements sticking out of the viewport
    (not counting what is inside a scrolling box)."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.body.querySelectorAll('*')) {
            if (el.closest('.table-scroll')) continue;
            const box = el.getBoundingClientRect();
            if (box.width && (box.right > width + 0.5 || box.left < -0.5))
                out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
                         + `${el.className && typeof el.className === 'string'
                              ? '.' + el.className.trim().split(/\\s+/).join('.') : ''}`
                         + ` ${Math.round(box.left)}..${Math.round(box.right)}`);
        }
        return {scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 10)};
    }""")


def small_buttons(page: Page) -> list[str]:
    """Visible buttons less than 44 px high (or wide), as `text: WxH`."""
    return page.locator(BUTTONS).evaluate_all("""els => els
        .filter(el => el.offsetParent !== null)
        .map(el => [el, el.getBoundingClientRect()])
        .filter(([el, box]) => box.height < 43.5 || box.width < 43.5)
        .map(([el, box]) => `${(el.innerText || el.value || '').trim().slice(0, 40)}: `
                            + `${Math.round(box.width)}x${Math.round(box.height)}`)""")


def check(page: Page, name: str, size: str) -> None:
    page.wait_for_load_state("load")
    width = SIZES[size]["viewport"]["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = f"staff-{name}.png" if size == "phone" else f"staff-{name}-{width}.png"
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    found = violations(page)
    assert not found, f"{name} at {width} px, {page.url}:\n" + "\n".join(found)
    measured = overflow(page)
    assert measured["scrollWidth"] <= width, (
        f"{name} at {width} px scrolls sideways ({measured['scrollWidth']} px): "
        + "; ".join(measured["out"])
    )
    if size == "phone":
        tiny = small_buttons(page)
        assert not tiny, f"{name}: buttons smaller than 44 px: " + "; ".join(tiny)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", SIGNED_OUT)
def test_signed_out_pages(browser, server, name, size):
    context = browser.new_context(**SIZES[size])
    try:
        page = context.new_page()
        SIGNED_OUT[name](page, server)
        check(page, name, size)
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", SIGNED_IN)
def test_staff_pages(staff, server, name, size):
    page = staff(size)
    SIGNED_IN[name](page, server)
    assert "/admin/login" not in page.url, f"{name}: signed out"
    check(page, name, size)
