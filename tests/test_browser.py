"""The public questionnaire in a real phone-sized Chromium against `make run`.

These tests start the product the way a user does (`make run`), so they catch what
the Flask test client cannot: the Makefile, the CLI, static files, real form posts,
layout at 360 px, and what actually lands in the database.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright

from survey_engine.config import database_url
from tests.conftest import BACKEND, fresh_database_url, fresh_postgres_database

BROWSER_DATABASE = f"survey_engine_browser_{os.getpid()}"

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
SLUG = "tro-lai-truong-hoc"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Loopback only, even if the environment names a proxy.
    "--no-proxy-server",
]
PORTS = range(5100, 5200)
START_TIMEOUT = 60.0
PHONE = {
    "viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
    "device_scale_factor": 2, "locale": "vi-VN",
}
REQUIRED_VI = "Vui lòng trả lời câu hỏi này."
TITLE_VI = "Khảo sát ý kiến về việc cho học sinh trở lại trường học"
TITLE_EN = "Survey on sending pupils back to school"
THANKS_URL = re.compile(rf"/s/{SLUG}/thanks(\?lang=(vi|en))?$")

# urllib must not route loopback requests through a proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Server:
    """A running `make run`: where it answers, its database, and its output."""

    base_url: str
    database_url: str
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")[-8000:]


def _free_port(exclude: set[int]) -> int:
    """A port in 5100-5199 nobody listens on now (the range other tools leave alone)."""
    candidates = [p for p in PORTS if p not in exclude]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def _healthy(base_url: str) -> bool:
    try:
        with _LOCAL.open(f"{base_url}/healthz", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stop make and the server it started: they share one process group."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(tmp: Path, port: int) -> tuple[Server, str | None]:
    """Run `make run` on `port`; return the server and None, or why it did not come up."""
    database = fresh_database_url(tmp, BROWSER_DATABASE)
    log_path = tmp / f"make-run-{port}.log"
    env = {
        **os.environ, "PORT": str(port), "HOST": "127.0.0.1",
        "DATABASE_URL": database, "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "run"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", database, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return server, f"`make run` exited with status {process.returncode}"
        # Our own server must say it serves this port; otherwise a stranger answers.
        if f"serving on {server.base_url}/" in server.output() and _healthy(server.base_url):
            return server, None
        time.sleep(0.25)
    return server, f"no 200 from {server.base_url}/healthz within {START_TIMEOUT:.0f} s"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make run` on a fresh database; a port lost to a race is retried, nothing skips."""
    tmp = tmp_path_factory.mktemp("browser")
    tried: set[int] = set()
    for _attempt in range(3):
        port = _free_port(tried)
        tried.add(port)
        srv, problem = _start(tmp, port)
        if problem is None:
            break
        _stop(srv.process)
        if "Address already in use" not in srv.output():
            pytest.fail(f"{problem}; its output:\n{srv.output()}", pytrace=False)
    else:
        pytest.fail(f"{problem}; its output:\n{srv.output()}", pytrace=False)
    try:
        yield srv
    finally:
        _stop(srv.process)
        if BACKEND == "postgresql":
            fresh_postgres_database(BROWSER_DATABASE, create=False)


@pytest.fixture
def base_url(server: Server) -> str:
    """The server's address, after checking it is still alive (a crash fails, not hangs)."""
    if server.process.poll() is not None:
        pytest.fail(f"the server died (status {server.process.returncode}):\n{server.output()}",
                    pytrace=False)
    return server.base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium: downloading Playwright's own browser does not work here."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh context: a phone in Vietnamese unless told otherwise."""
    contexts = []

    def make(**overrides: object) -> Page:
        context = browser.new_context(**{**PHONE, "base_url": base_url, **overrides})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# --- helpers ---------------------------------------------------------------------------


def stored_rows(database: str) -> list[dict]:
    """Every stored response, read straight from the database: what the server really kept."""
    engine = sa.create_engine(database_url(database))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT submission_id, answers, source FROM responses ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [
        {"submission_id": str(sid).replace("-", "").lower(),
         "answers": json.loads(answers) if isinstance(answers, str) else answers,
         "source": source}
        for sid, answers, source in rows
    ]


def rows_for(database: str, submission_id: str) -> list[dict]:
    wanted = submission_id.replace("-", "").lower()
    return [row for row in stored_rows(database) if row["submission_id"] == wanted]


def submission_id(page: Page) -> str:
    value = page.locator("input[name=submission_id]").input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}", value), value
    return value


def assert_no_horizontal_scroll(page: Page, width: int = 360) -> None:
    """At 360 px nothing may stick out: sideways scrolling on a phone hides answers."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width} px wide at a {width} px viewport"


def choose(page: Page, question: str, label: str, tap: bool = False) -> None:
    """Press the visible text of a choice, as a person does (not the tiny input itself)."""
    target = page.locator(f"#q-{question} fieldset").get_by_text(label, exact=True)
    if tap:
        target.tap()
    else:
        target.click()


def fill_vietnamese(page: Page, comment: str, tap: bool = False) -> None:
    """Answer every question of the demo survey in Vietnamese."""
    page.get_by_label("Bạn đang sống ở huyện/thành phố nào?").select_option(
        label="Thành phố Đà Lạt")
    choose(page, "role", "Phụ huynh học sinh", tap)
    page.get_by_label("Gia đình bạn có bao nhiêu con đang đi học?").fill("2")
    choose(page, "support", "Đồng ý", tap)
    choose(page, "concerns", "Nguy cơ lây nhiễm Covid-19", tap)
    choose(page, "concerns", "Đưa đón, đi lại", tap)
    choose(page, "concerns", "Khác", tap)
    page.get_by_label("Khác (ghi rõ)").fill("Thiếu giáo viên")
    page.get_by_label("Ý kiến, kiến nghị khác").press_sequentially(comment)


def assert_stored_vietnamese(database: str, sid: str, comment: str) -> None:
    """Exactly one row for this submission, holding the answers given, text in NFC."""
    rows = rows_for(database, sid)
    assert len(rows) == 1, rows
    answers = rows[0]["answers"]
    assert answers["district"] == "da_lat"
    assert answers["role"] == "parent"
    assert answers["children"] == 2
    assert answers["support"] == "yes"
    assert answers["concerns"] == ["infection", "transport", "other"]
    assert answers["concerns_other"] == "Thiếu giáo viên"
    assert answers["comment"] == unicodedata.normalize("NFC", comment)
    assert rows[0]["source"] == "web"


def submit_vi(page: Page) -> None:
    page.get_by_role("button", name="Gửi phiếu").click()


def expect_thanks(page: Page, heading: str = "Cảm ơn bạn!", lang: str = "vi") -> None:
    expect(page).to_have_url(THANKS_URL)
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("html")).to_have_attribute("lang", lang)


# --- tests -----------------------------------------------------------------------------


def test_phone_vietnamese_answer_is_stored(new_page: Callable[..., Page], server: Server) -> None:
    """The main path: a parent on a phone answers everything and the answer is kept."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text(TITLE_VI)
    expect(page).to_have_title(TITLE_VI)
    assert_no_horizontal_scroll(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "questionnaire-phone.png", full_page=True)

    sid = submission_id(page)
    # Typed decomposed, as some Vietnamese input methods send it; stored composed (NFC).
    comment = unicodedata.normalize("NFD", "Cần đảm bảo an toàn, giãn cách ở lớp học.")
    assert comment != unicodedata.normalize("NFC", comment)
    fill_vietnamese(page, comment, tap=True)
    expect(page.locator("#f-concerns_other")).to_have_value("Thiếu giáo viên")
    assert_no_horizontal_scroll(page)
    page.get_by_role("button", name="Gửi phiếu").tap()

    expect_thanks(page)
    assert page.url.endswith(f"/s/{SLUG}/thanks?lang=vi"), page.url
    assert_no_horizontal_scroll(page)
    assert_stored_vietnamese(server.database_url, sid, comment)


def test_phone_errors_then_fixed(new_page: Callable[..., Page], server: Server) -> None:
    """An empty form comes back with every problem shown, nothing typed lost, then goes."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    comment = "Nhà trường cần thông báo sớm lịch học."
    page.get_by_label("Ý kiến, kiến nghị khác").fill(comment)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        submit_vi(page)
    assert posted.value.status == 422

    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Phiếu chưa gửi được")
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(summary).to_be_focused()  # read out first by a screen reader
    for name, field in (("district", "f-district"), ("role", "f-role-1"),
                        ("support", "f-support-1")):
        expect(page.locator(f"#q-{name}-error")).to_have_text(REQUIRED_VI)
        expect(summary.locator(f'li:has(a[href="#{field}"])')).to_contain_text(REQUIRED_VI)
    summary.locator('a[href="#f-role-1"]').click()
    expect(page.locator("#f-role-1")).to_be_focused()  # the link leads to the answer itself
    expect(page.locator("#f-district")).to_have_attribute("aria-invalid", "true")
    for name in ("role", "support"):
        radios = page.locator(f"#q-{name} input[type=radio]")
        for index in range(radios.count()):
            expect(radios.nth(index)).to_have_attribute("aria-invalid", "true")
    # Optional questions are not marked wrong.
    expect(page.locator("#f-children")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-comment")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-comment")).to_have_value(comment)
    assert submission_id(page) == sid, "the retry must keep the form's submission_id"
    assert_no_horizontal_scroll(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "questionnaire-errors.png", full_page=True)
    assert rows_for(server.database_url, sid) == []

    page.locator("#f-district").select_option(label="Huyện Di Linh")
    choose(page, "role", "Giáo viên, cán bộ quản lý")
    choose(page, "support", "Chưa quyết định")
    submit_vi(page)
    expect_thanks(page)
    rows = rows_for(server.database_url, sid)
    assert len(rows) == 1
    assert rows[0]["answers"] == {"district": "di_linh", "role": "teacher",
                                  "support": "undecided", "comment": comment}


@pytest.mark.parametrize(("locale", "query"), [("en-US", ""), ("vi-VN", "?lang=en")],
                         ids=["accept-language", "query"])
def test_english(new_page: Callable[..., Page], server: Server, locale: str, query: str) -> None:
    """English comes from the browser's language or from ?lang=en, through to the thanks."""
    page = new_page(locale=locale)
    page.goto(f"/s/{SLUG}{query}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(TITLE_EN)
    expect(page.get_by_role("link", name="Tiếng Việt")).to_be_visible()
    assert_no_horizontal_scroll(page)
    sid = submission_id(page)

    page.get_by_label("Which district or city do you live in?").select_option(
        label="Bao Loc City")
    choose(page, "role", "Pupil")
    choose(page, "support", "No")
    choose(page, "concerns", "Gaps in learning")
    page.get_by_label("Other comments or suggestions").fill("More time for homework, please.")
    page.get_by_role("button", name="Submit").click()

    expect_thanks(page, "Thank you!", "en")
    rows = rows_for(server.database_url, sid)
    assert len(rows) == 1
    assert rows[0]["answers"] == {
        "district": "bao_loc", "role": "pupil", "support": "no",
        "concerns": ["learning_gap"], "comment": "More time for homework, please.",
    }


def test_without_javascript(new_page: Callable[..., Page], server: Server) -> None:
    """Old phones and strict settings: the server-rendered form works with no script at all."""
    page = new_page(java_script_enabled=False)
    page.goto(f"/s/{SLUG}")
    expect(page.locator("h1")).to_have_text(TITLE_VI)
    sid = submission_id(page)

    submit_vi(page)
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#q-district-error")).to_have_text(REQUIRED_VI)

    comment = "Không dùng JavaScript vẫn gửi được phiếu."
    fill_vietnamese(page, comment)
    submit_vi(page)
    expect_thanks(page)
    assert_stored_vietnamese(server.database_url, sid, comment)


def test_double_submission_stored_once(new_page: Callable[..., Page], server: Server) -> None:
    """A resent form (double tap, back and resend, flaky network) is stored exactly once."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    comment = "Gửi hai lần chỉ được tính một lần."
    fill_vietnamese(page, comment)
    sid = submission_id(page)
    action = page.eval_on_selector("form", "form => form.action")
    pairs = page.eval_on_selector("form", "form => Array.from(new FormData(form).entries())")
    assert ["submission_id", sid] in pairs
    assert sum(1 for key, _ in pairs if key == "concerns") == 3
    body = urlencode([tuple(pair) for pair in pairs])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    submit_vi(page)
    expect_thanks(page)
    for _resend in range(2):
        reply = page.request.post(action, data=body, headers=headers)
        assert reply.status == 200, reply.text()
        assert "/thanks" in reply.url
        assert "Cảm ơn bạn!" in reply.text()
    assert_stored_vietnamese(server.database_url, sid, comment)

    # The same id with other answers is refused, and the first answer stays.
    changed = urlencode([(k, "no" if k == "support" else v) for k, v in pairs])
    reply = page.request.post(action, data=changed, headers=headers)
    assert reply.status == 409
    assert "Phiếu này đã được gửi" in reply.text()
    assert_stored_vietnamese(server.database_url, sid, comment)
