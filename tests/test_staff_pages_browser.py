"""Every staff page (/admin/...) in real Chromium, on a 390x844 phone and at 1280x900,
each in two states. "Empty": a survey just made on the new-survey form (one question,
no response, nothing set up), the overview finding only it or nothing, and a copy of
the demo published with no response yet. "Full": the demo survey with its seeded
responses, weights, a batch of codes, a webhook and its delivery, an export; and two
copies with responses, one closed and one archived.

On every one: no axe-core violation of WCAG 2.1 A and AA, no horizontal scroll of the
page itself (a wide table scrolls inside its own `.table-scroll` box), buttons a thumb
can hit (44 px high) on the phone. A full-page screenshot of each goes to
test-artifacts/staff-<state>-<name>-<width>.png for a person to look at.

The walk keeps itself complete: each visit names the endpoint it lands on (checked
against the page's address), and a test fails naming any GET route of the admin
blueprint not visited in both states; EXCLUDED lists, with reasons, the routes that
are not pages. Forms with their errors shown are visited too: the sign-in form after a
wrong password, a question with an expression naming an unknown question, a schedule
that closes before it opens, a new account refused.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import (
    DEMO_SLUG,
    demo_definition,
    make_app,
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
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "locale": "vi-VN",
        "bypass_csp": True,
    },
    "desk": {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN", "bypass_csp": True},
}
DRAFT = "ban-nhap-chua-cong-bo"  # a copy of the demo, never published, no responses
LAUNCHED = "vua-cong-bo"  # a copy of the demo, published, no responses yet
EMPTY = "khao-sat-trong"  # made on the new-survey form by the walk: one question, nothing else
# Copies of the demo with responses: closed by the walk, and closed then archived.
CLOSED, ARCHIVED = "da-dong", "da-luu-tru"
SLUGS = {"empty": EMPTY, "full": DEMO_SLUG}
SELECT_QUESTION, MATRIX_QUESTION = "district", "measures"  # in the demo survey
FIRST_PAGE, A_LIST = "about_you", "districts"
# What a thumb presses: buttons, links styled as buttons, the builder's small buttons.
BUTTONS = (
    "button, .button, .submit, a.small, input[type=submit], input[type=file], details.add > summary"
)

# GET routes of the admin blueprint that are not pages, so the walk does not visit them.
EXCLUDED = {
    "admin.definition_json": "a download (JSON)",
    "admin.definition_xlsx": "a download (XLSForm)",
    "admin.export_responses": "a download (responses.xlsx)",
    "admin.download_export": "a download (the export's file)",
    "admin.download_codes": "a download (the batch's codes as CSV/PDF)",
    "admin.download_upload": "a download (a citizen's file)",
    "admin.export_progress": "JSON for exports.js",
    "admin.draft_revision": "JSON for the builder's script",
    "admin.new_list": "a redirect to the new list's page (edit_list, visited)",
}
# Pages that exist only for a row the empty survey cannot have.
FULL_ONLY = {
    "admin.review_response": "one response: the empty survey has none",
    "admin.webhook_delivery": "one delivery: the empty survey has no webhook",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.test_weighting_browser import MARGINS  # (it imports this module)

    tmp = tmp_path_factory.mktemp("staff-pages")
    with demo_site(tmp, f"survey_engine_staffpages_{os.getpid()}") as site:
        site.cli("fake-responses", DEMO_SLUG, "--count", "60", "--seed", "3")
        site.cli("create-user", ADMIN, "--role", "admin", stdin=PASSWORD)
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        site.cli("share", EDITOR, DEMO_SLUG)
        site.cli("create-token", ADMIN)  # the tokens page has a row to show
        published = [LAUNCHED, CLOSED, ARCHIVED]
        for slug in (DRAFT, *published):
            copy = tmp / f"{slug}.json"
            copy.write_text(json.dumps({**demo_definition(), "slug": slug}), "utf-8")
            site.cli("import", str(copy), *(["--publish"] if slug in published else []))
        for slug in (CLOSED, ARCHIVED):
            site.cli("fake-responses", slug, "--count", "12", "--seed", "5")
        margins = tmp / "dan-so.csv"
        margins.write_text(MARGINS, encoding="utf-8")
        yield site.base, margins


@pytest.fixture(scope="module")
def base(server) -> str:
    return server[0]


@pytest.fixture(scope="module")
def browser():
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def url_map():
    """The app's routes, to name the endpoint each visited address belongs to."""
    return make_app("sqlite://").url_map


def sign_in(page: Page, base: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("#email", ADMIN)
    page.fill("#password", password)
    page.get_by_role("button", name="Đăng nhập").click()


def _make_empty_survey(page: Page, base: str) -> None:
    """The empty survey, made as staff make one: the new-survey form."""
    page.goto(f"{base}/admin/surveys/new")
    page.fill("#new-slug", EMPTY)
    page.fill("#new-title", "Khảo sát chưa có gì")
    page.fill("#new-first", "Họ và tên")
    page.get_by_role("button", name="Tạo khảo sát").click()
    expect(page).to_have_url(f"{base}/admin/surveys/{EMPTY}/edit")


@pytest.fixture(scope="module")
def staff(browser: Browser, server):
    """One signed-in admin per screen size, kept for the whole module; the first one
    makes the empty survey and weights the demo."""
    base, margins = server
    pages: dict[str, Page] = {}

    def page_for(size: str) -> Page:
        if size not in pages:
            page = browser.new_context(**SIZES[size]).new_page()
            sign_in(page, base)
            expect(page.locator("h1")).to_have_text("Các khảo sát")
            if not pages:
                _make_empty_survey(page, base)
                _weight_the_demo(page, base, margins)
            pages[size] = page
        return pages[size]

    yield page_for
    for page in pages.values():
        page.context.close()


# -- how to reach each page ----------------------------------------------------------
# Each visit: (the endpoint it lands on, how to get there from (page, base, slug)).

Go = Callable[[Page, str, str], None]


def _at(path: str) -> Go:
    """`path` under the state's survey's address."""
    return lambda page, base, slug: page.goto(f"{base}/admin/surveys/{slug}{path}")


def _go(path: str) -> Go:
    """`path` under /admin/."""
    return lambda page, base, slug: page.goto(f"{base}/admin/{path}")


def _weight_the_demo(page: Page, base: str, margins: Path) -> None:
    page.goto(f"{base}/admin/surveys/{DEMO_SLUG}/weights")
    page.set_input_files("#margins", str(margins))
    page.locator("#compute-weights").click()
    expect(page.locator("#weighted-responses")).to_have_text("60")


def _first(kind: str) -> Go:
    """The builder's first link to a page/question/list of the survey."""

    def go(page: Page, base: str, slug: str) -> None:
        page.goto(f"{base}/admin/surveys/{slug}/edit")
        href = page.locator(f"a[href*='/edit/{kind}/']")
        page.goto(base + href.first.get_attribute("href"))

    return go


def _login_error(page: Page, base: str, slug: str) -> None:
    sign_in(page, base, password="khong dung mat khau")
    expect(page.locator(".error-summary")).to_be_visible()


def _question_error(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/surveys/{slug}/edit/questions/{SELECT_QUESTION}")
    page.fill("#f-relevant", "${nope} = 1")
    page.get_by_role("button", name="Lưu câu hỏi").click()
    expect(page.locator("#relevant-error")).to_contain_text("nope")


def _settings_error(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/surveys/{slug}/edit/settings")
    page.fill("#f-opens_at", "2031-05-02T08:00")
    page.fill("#f-closes_at", "2031-05-01T08:00")
    page.get_by_role("button", name="Lưu cài đặt").click()
    expect(page.locator("#problems")).to_be_visible()
    expect(page.locator(".has-error")).not_to_have_count(0)


def _editor_account(suffix: str = "") -> Go:
    def go(page: Page, base: str, slug: str) -> None:
        page.goto(f"{base}/admin/users")
        href = page.get_by_role("link", name=EDITOR).get_attribute("href")
        page.goto(f"{base}{href}{suffix}")
        expect(page.locator("h1")).to_be_visible()

    return go


def _new_account_refused(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/users")
    page.fill("#email", EDITOR)  # exists already
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page.locator(".error-summary")).to_be_visible()


def _new_token(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/tokens")
    page.get_by_role("button", name="Tạo mã truy cập mới").click()
    expect(page.locator("#new-token")).to_be_visible()


def _new_export(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/surveys/{slug}/exports")
    page.locator("#new-export + form button[type=submit]").click()
    expect(page.locator("#exports")).to_be_visible()


def _quick_report(page: Page, base: str, slug: str) -> None:
    """The exports page after the results page's quick report (a PDF) of one district."""
    page.goto(f"{base}/admin/surveys/{slug}/results?f.district=da_lat")
    page.locator("#report-button").click()
    expect(page).to_have_url(re.compile(r"/exports"))
    expect(page.locator("#exports")).to_be_visible()


def _access_codes(page: Page, base: str, slug: str) -> None:
    """With a batch made, so its table, the rates and the downloads are there."""
    page.goto(f"{base}/admin/surveys/{slug}/codes")
    if page.locator("#batches").count() == 0:
        page.fill("#unit", "Trường THCS Lộc An")
        page.fill("#size", "3")
        page.get_by_role("button", name="Tạo mã").click()
    expect(page.locator("#batches")).to_be_visible()


def _webhooks(page: Page, base: str, slug: str) -> None:
    """With a webhook (never sent: no worker runs) and its secret shown, and a response
    stored since, so the delivery log has a row."""
    page.goto(f"{base}/admin/surveys/{slug}/webhooks")
    if page.locator("#endpoints").count() == 0:
        page.fill("#url", "https://hooks.example.invalid/khao-sat")
        page.get_by_role("button", name="Thêm webhook này").click()
        expect(page.locator("code[id^=secret-]")).to_be_visible()
        answers = {
            "submission_id": "0b0c5f6e-7c1d-4a53-9a38-4a3e3c1e7f10",
            "answers": valid_answers(),
        }
        reply = page.request.post(f"{base}/api/v1/surveys/{slug}/responses", data=answers)
        assert reply.status == 202, reply.text()
        page.goto(f"{base}/admin/surveys/{slug}/webhooks")
    expect(page.locator("#endpoints")).to_be_visible()


def _webhook_delivery(page: Page, base: str, slug: str) -> None:
    _webhooks(page, base, slug)
    page.locator("#deliveries a").first.click()
    expect(page.locator("#event-id")).to_be_visible()


def _review_response(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/surveys/{slug}/review?status=any")
    page.goto(base + page.locator("a[href*='/review/']").first.get_attribute("href"))


def _copy_from(source: str) -> Go:
    return _at(f"/edit/copy?source={source}")


def _text_answers(page: Page, base: str, slug: str) -> None:
    """The first text question's answers (the empty survey's only question is one)."""
    if slug == DEMO_SLUG:
        page.goto(f"{base}/admin/surveys/{slug}/results/text/comment")
    else:
        _first("questions")(page, base, slug)
        name = page.url.rsplit("/", 1)[-1]
        page.goto(f"{base}/admin/surveys/{slug}/results/text/{name}")


def _localities(page: Page, base: str, slug: str) -> None:
    """The unpublished copy of the demo with the locality block added in the builder
    (two provinces, down to the commune): its questions and long lists."""
    page.goto(f"{base}/admin/surveys/{DRAFT}/edit")
    if page.locator("#q-noi_o_commune").count() == 0:
        page.select_option("#locality-provinces", ["2025:68", "2025:56"])  # Lâm Đồng, Khánh Hòa
        page.select_option("#locality-depth", "commune")
        page.fill("#locality-prefix", "noi_o_")
        page.locator("#localities button[type=submit]").click()
        expect(page.locator("#q-noi_o_commune")).to_contain_text("${noi_o_province}")


def _locality_question(page: Page, base: str, slug: str) -> None:
    _localities(page, base, slug)
    page.goto(f"{base}/admin/surveys/{DRAFT}/edit/questions/noi_o_commune")


def _other(slug: str, path: str) -> Go:
    """A page of another survey than the state's (the unpublished copy of the demo)."""
    return lambda page, base, _slug: page.goto(f"{base}/admin/surveys/{slug}{path}")


def _ended(slug: str, path: str) -> Go:
    """A page of the closed or the archived copy, closed (and archived) first, as staff
    do it: the survey page's buttons."""

    def go(page: Page, base: str, _slug: str) -> None:
        page.goto(f"{base}/admin/surveys/{slug}")
        for action in ("close", "archive") if slug == ARCHIVED else ("close",):
            button = page.locator(f"form[action$='/{slug}/{action}'] button")
            if button.count():  # not yet: the first visit does it
                button.click()
                expect(page.locator(f"form[action$='/{slug}/{action}']")).to_have_count(0)
        page.goto(f"{base}/admin/surveys/{slug}{path}")

    return go


def _ended_visits() -> dict[str, tuple[str, Go]]:
    """The pages whose buttons and notices change once a survey has ended."""
    pages = {
        "survey": ("admin.survey", ""),
        "builder": ("admin.builder", "/edit"),
        "settings": ("admin.edit_settings", "/edit/settings"),
        "sharing": ("admin.sharing", "/sharing"),
        "results": ("admin.results", "/results"),
        "review": ("admin.review_list", "/review"),
        "exports": ("admin.exports", "/exports"),
    }
    return {
        f"{state}-{name}": (endpoint, _ended(slug, path))
        for state, slug in (("closed", CLOSED), ("archived", ARCHIVED))
        for name, (endpoint, path) in pages.items()
        # An archived survey's builder and settings lead back to its page: no edits.
        if state == "closed" or name not in ("builder", "settings")
    }


SIGNED_OUT: dict[str, tuple[str, Go]] = {
    "login": ("admin.login", _go("login")),
    "login-error": ("admin.login", _login_error),
}
# Pages of one survey, in both states (the state's survey given as slug).
EVERY_STATE: dict[str, tuple[str, Go]] = {
    "survey": ("admin.survey", _at("")),
    "builder": ("admin.builder", _at("/edit")),
    "page": ("admin.edit_page", _first("pages")),
    "question": ("admin.edit_question", _first("questions")),
    "settings": ("admin.edit_settings", _at("/edit/settings")),
    "settings-error": ("admin.edit_settings", _settings_error),
    "translations": ("admin.edit_translations", _at("/edit/translations")),
    "translations-add": ("admin.edit_translations", _at("/edit/translations?add_language=fr")),
    "quotas": ("admin.edit_quotas", _at("/edit/quotas")),
    "copy": ("admin.copy_questions", _at("/edit/copy")),
    "copy-from-draft": ("admin.copy_questions", _copy_from(DRAFT)),
    "preview": ("admin.preview", _at("/preview")),
    "preview-thanks": ("admin.preview_thanks", _at("/preview/thanks")),
    "duplicate": ("admin.duplicate_survey", _at("/duplicate")),
    "delete": ("admin.delete_survey", _at("/delete")),
    "sharing": ("admin.sharing", _at("/sharing")),
    "results": ("admin.results", _at("/results")),
    "text-answers": ("admin.text_answers", _text_answers),
    "review": ("admin.review_list", _at("/review")),
    "exports": ("admin.exports", _at("/exports")),
    "weights": ("admin.weights", _at("/weights")),
    "codes": ("admin.access_codes", _at("/codes")),
    "webhooks": ("admin.webhooks", _at("/webhooks")),
}
EMPTY_ONLY: dict[str, tuple[str, Go]] = {
    "list-new": ("admin.edit_list", _at("/edit/lists?name=ds_moi")),
    "overview-one": ("admin.index", _go(f"?q={EMPTY}")),
    "overview-none": ("admin.index", _go("?q=không+có+khảo+sát+này")),
    # The unpublished copy of the demo: its publishing and deleting.
    "draft-survey": ("admin.survey", _other(DRAFT, "")),
    "draft-delete": ("admin.delete_survey", _other(DRAFT, "/delete")),
    # The published copy: questions, no response yet.
    "launched-results": ("admin.results", _other(LAUNCHED, "/results")),
    "launched-text-answers": ("admin.text_answers", _other(LAUNCHED, "/results/text/comment")),
    "launched-review": ("admin.review_list", _other(LAUNCHED, "/review")),
    "launched-exports": ("admin.exports", _other(LAUNCHED, "/exports")),
    "launched-weights": ("admin.weights", _other(LAUNCHED, "/weights")),
}
FULL_ONLY_VISITS: dict[str, tuple[str, Go]] = {
    "overview": ("admin.index", _go("")),
    "overview-search": ("admin.index", _go("?q=tro+lai&status=published")),
    "new-survey": ("admin.new_survey", _go("surveys/new")),
    "question-select": ("admin.edit_question", _at(f"/edit/questions/{SELECT_QUESTION}")),
    "question-matrix": ("admin.edit_question", _at(f"/edit/questions/{MATRIX_QUESTION}")),
    "question-error": ("admin.edit_question", _question_error),
    "page-named": ("admin.edit_page", _at(f"/edit/pages/{FIRST_PAGE}")),
    "list": ("admin.edit_list", _at(f"/edit/lists/{A_LIST}")),
    "draft-localities": ("admin.builder", _localities),
    "draft-locality-question": ("admin.edit_question", _locality_question),
    "results-filtered": ("admin.results", _at("/results?f.district=da_lat")),
    "results-crosstab": ("admin.results", _at("/results?row=district&col=support")),
    "text-answers-search": ("admin.text_answers", _at("/results/text/comment?q=a")),
    "exports-report": ("admin.exports", _quick_report),
    "review-all": ("admin.review_list", _at("/review?status=any")),
    "review-response": ("admin.review_response", _review_response),
    "exports": ("admin.exports", _new_export),
    "codes": ("admin.access_codes", _access_codes),
    "webhooks": ("admin.webhooks", _webhooks),
    "webhook-delivery": ("admin.webhook_delivery", _webhook_delivery),
    "users": ("admin.users", _go("users")),
    "users-error": ("admin.users", _new_account_refused),
    "user": ("admin.user", _editor_account()),
    "user-delete": ("admin.delete_account", _editor_account("/delete")),
    "tokens": ("admin.tokens", _go("tokens")),
    "tokens-new": ("admin.tokens", _new_token),
    "password": ("admin.password", _go("password")),
    "sessions": ("admin.sessions", _go("sessions")),
    "audit": ("admin.audit_log", _go("audit")),
    **_ended_visits(),
    "logout": ("admin.logout", _go("logout")),
}
# Full: the same names made full (an export, a batch, a webhook) replace the empty ones.
VISITS: dict[str, dict[str, tuple[str, Go]]] = {
    "empty": {**EVERY_STATE, **EMPTY_ONLY},
    "full": {**EVERY_STATE, **FULL_ONLY_VISITS},
}


# -- what every page must pass -------------------------------------------------------


def violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations, one readable line per element."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        TAGS,
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
    """Visible buttons less than 44 px high (or wide), as `text: WxH`. A button clipped
    away (.visually-hidden), out of the tab order and hidden from screen readers is
    nobody's target: the list page's first button, there only for Enter to press."""
    return page.locator(BUTTONS).evaluate_all("""els => els
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.getAttribute('aria-hidden') === 'true' && el.tabIndex < 0
                        && getComputedStyle(el).clip !== 'auto'))
        .map(el => [el, el.getBoundingClientRect()])
        .filter(([el, box]) => box.height < 43.5 || box.width < 43.5)
        .map(([el, box]) => `${(el.innerText || el.value || '').trim().slice(0, 40)}: `
                            + `${Math.round(box.width)}x${Math.round(box.height)}`)""")


def check(page: Page, name: str, size: str) -> None:
    page.wait_for_load_state("load")
    width = SIZES[size]["viewport"]["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"staff-{name}-{width}.png"), full_page=True)
    problems = []
    found = violations(page)
    if found:
        problems.append("axe:\n" + "\n".join(found))
    measured = overflow(page)
    if measured["scrollWidth"] > width:
        problems.append(
            f"scrolls sideways ({measured['scrollWidth']} px): " + "; ".join(measured["out"])
        )
    if size == "phone":
        tiny = small_buttons(page)
        if tiny:
            problems.append("buttons smaller than 44 px: " + "; ".join(tiny))
    assert not problems, f"{name} at {width} px, {page.url}:\n" + "\n".join(problems)


def landed_on(url_map, url: str) -> str:
    """The endpoint of the address the browser shows."""
    endpoint, _args = url_map.bind("localhost").match(urlsplit(url).path, method="GET")
    return endpoint


def test_the_walk_visits_every_staff_page_in_both_states(url_map):
    """A new staff page fails here until the walk visits it, empty and full."""
    pages = {
        rule.endpoint: rule.rule
        for rule in url_map.iter_rules()
        if rule.endpoint.startswith("admin.") and "GET" in rule.methods
    }
    assert set(EXCLUDED) <= set(pages), "an exclusion names no route any more"
    missing = []
    for endpoint, rule in sorted(pages.items()):
        if endpoint in EXCLUDED:
            continue
        signed_out = {e for e, _go in SIGNED_OUT.values()}
        for state, visits in VISITS.items():
            visited = {e for e, _go in visits.values()} | signed_out
            if state == "empty" and ("<slug>" not in rule or endpoint in FULL_ONLY):
                continue  # a page of no survey: one state is the page
            if endpoint not in visited:
                missing.append(f"{rule} ({endpoint}) in the {state} state")
    assert not missing, "staff pages the walk does not visit:\n" + "\n".join(missing)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", SIGNED_OUT)
def test_signed_out_pages(browser, base, url_map, name, size):
    context = browser.new_context(**SIZES[size])
    try:
        page = context.new_page()
        endpoint, go = SIGNED_OUT[name]
        go(page, base, "")
        assert landed_on(url_map, page.url) == endpoint, page.url
        check(page, name, size)
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "state,name", [(state, name) for state, visits in VISITS.items() for name in visits]
)
def test_staff_pages(staff, base, url_map, state, name, size):
    page = staff(size)
    endpoint, go = VISITS[state][name]
    go(page, base, SLUGS[state])
    assert "/admin/login" not in page.url, f"{name}: signed out"
    assert landed_on(url_map, page.url) == endpoint, f"{state}-{name}: landed on {page.url}"
    check(page, f"{state}-{name}", size)
