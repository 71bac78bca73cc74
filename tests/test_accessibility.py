"""axe-core (WCAG 2.1 A and AA rules) on every page of the demo, with and without errors,
with and without JavaScript, in Chromium at phone size. No violation is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import BACKEND, DEMO_SLUG, fresh_database_url, fresh_postgres_database
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_server

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a11y")
    with demo_server(fresh_database_url(tmp, "survey_engine_a11y"), tmp / "serve.log") as base:
        yield base
    if BACKEND == "postgresql":
        fresh_postgres_database("survey_engine_a11y", create=False)


@pytest.fixture(scope="module")
def browser():
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(n["target"][0] for n in v["nodes"][:5])
        for v in result["violations"]
    ]


def phone(browser, javascript: bool = True, locale: str = "vi-VN") -> Page:
    """A phone; without `javascript` the page's own scripts never load (axe itself
    still runs, which it could not with JavaScript switched off in the browser)."""
    # bypass_csp: the page's own policy would (rightly) refuse axe's injected script.
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale=locale,
        is_mobile=True,
        has_touch=True,
        bypass_csp=True,
    )
    if not javascript:
        context.route("**/static/*.js*", lambda route: route.abort())
    return context.new_page()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_questionnaire_has_no_violation_empty_and_with_errors(browser, base_url, javascript):
    page = phone(browser, javascript)
    page.goto(f"{base_url}/s/{DEMO_SLUG}?source=zalo")
    assert violations(page) == []
    page.locator("button.next:visible, button.submit:visible").first.click()
    page.wait_for_selector(".error:not([hidden])")
    assert violations(page) == []


@pytest.mark.browser
def test_every_page_of_the_flow_has_no_violation(browser, base_url):
    """Page 1, 2 and 3 (contact), reached by answering, in English too."""
    for locale in ("vi-VN", "en-US"):
        page = phone(browser, locale=locale)
        page.goto(f"{base_url}/s/{DEMO_SLUG}")
        assert violations(page) == [], f"page 1, {locale}"
        seen = 1
        _answer_visible(page)
        while page.locator("button.next:visible").count():
            page.locator("button.next:visible").click()
            seen += 1
            assert violations(page) == [], f"page {seen}, {locale}"
            _answer_visible(page)
        assert seen >= 3


@pytest.mark.browser
def test_message_pages_have_no_violation(browser, base_url):
    page = phone(browser)
    for path in (f"/s/{DEMO_SLUG}/thanks", "/s/khong-co"):
        page.goto(base_url + path)
        assert violations(page) == [], path


def _answer_visible(page: Page) -> None:
    """Pick the first option of everything visible, and the contact page's follow-up."""
    for check in page.locator("input[type=checkbox]:visible").all()[:1]:
        check.check()
    for position, select in enumerate(page.locator("select:visible").all()):
        options = select.locator("option:not([value=''])")
        if options.count():  # a ranking gets 1, 2, 3 ... in turn
            pick = (
                min(position, options.count() - 1)
                if "[" in (select.get_attribute("name") or "")
                else 0
            )
            select.select_option(options.nth(pick).get_attribute("value"))
    for group in page.locator("fieldset:visible").all():
        choices = group.locator("label:has(input[type=radio]):visible")
        if choices.count():
            choices.first.click()
    follow_up = page.locator("label:has(input[name=follow_up][value=yes]):visible")
    if follow_up.count():
        follow_up.click()
    for phone_input in page.locator("input[type=tel]:visible").all():
        phone_input.fill("0912345678")
