"""Every staff page of one survey opens with the same header: the survey's title and
status, then its tabs, the current one marked; walked over every survey route of the
route matrix."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from survey_engine.admin.survey_header import TABS, current_tab
from survey_engine.extensions import db
from survey_engine.models import AccessCodeBatch, Response, WebhookDelivery
from tests.conftest import DEMO_SLUG, forget_login_user_per_request
from tests.test_route_matrix import ROUTES, S, accounts  # noqa: F401  (fixture)
from tests.test_staff import login

TITLE = "Khảo sát ý kiến về việc cho học sinh trở lại trường học"
# The survey pages that are HTML pages (not files) and the tab each belongs to.
EXPECTED_TAB = {
    "": "versions",
    "/results": "results",
    "/results/text": "results",
    "/weights": "results",
    "/exports": "exports",
    "/review": "review",
    "/duplicate": "versions",
    "/delete": "versions",
    "/edit": "builder",
    "/edit/settings": "settings",
    "/sharing": "sharing",
    "/codes": "sharing",
    "/webhooks": "settings",
}


@pytest.fixture(autouse=True)
def _each_request_loads_its_own_user(app):
    yield from forget_login_user_per_request(app)


def survey_pages() -> list[str]:
    """The GET rows of the route matrix under the demo's pages that give HTML."""
    pages = []
    for method, path, _who, status, _data in ROUTES:
        if method != "GET" or not path.startswith(S) or status != 200:
            continue
        if re.search(r"\.(json|xlsx|csv)$|/codes/\{batch\}|/preview|/edit/revision", path):
            continue  # files (the builder's revision is JSON), and the preview, which
            # shows exactly what citizens get
        pages.append(path)
    return pages


def tab_for(path: str) -> str:
    rest = path.removeprefix(S).split("?")[0]
    for prefix in sorted(EXPECTED_TAB, key=len, reverse=True):
        if rest == prefix or (prefix and rest.startswith(prefix + "/")):
            return EXPECTED_TAB[prefix]
    raise AssertionError(path)


def header_of(html: str) -> str:
    match = re.search(r'<header class="survey-header".*?</header>', html, re.S)
    assert match, "no survey header"
    return match.group(0)


def test_every_survey_page_has_the_header_and_marks_its_tab(accounts):  # noqa: F811
    client = accounts.test_client()
    assert login(client, "admin@example.org").status_code == 302
    ids = {
        "response": db.session.scalar(sa.select(sa.func.max(Response.id))),
        "delivery": db.session.scalar(sa.select(WebhookDelivery.id)),
        "batch": db.session.scalar(sa.select(AccessCodeBatch.id)),
    }
    pages = survey_pages()
    assert len(pages) >= 20
    for path in pages:
        url = path.format(**ids)
        reply = client.get(url)
        assert reply.status_code == 200, url
        html = reply.get_data(as_text=True)
        assert html.count('class="survey-header"') == 1, url
        header = header_of(html)
        assert TITLE in header and 'id="survey-status"' in header, url
        assert "đã công bố" in header, url  # the status, in the page's language
        current = re.findall(r'data-tab="(\w+)" aria-current="page"', header)
        assert current == [tab_for(path)], (url, current)
        for tab in TABS:
            assert f'data-tab="{tab.key}"' in header, (url, tab.key)


def test_an_analyst_gets_only_the_tabs_they_may_open(accounts):  # noqa: F811
    client = accounts.test_client()
    assert login(client, "analyst@example.org").status_code == 302
    header = header_of(client.get(f"{S}/results").get_data(as_text=True))
    tabs = re.findall(r'data-tab="(\w+)"', header)
    assert tabs == ["results", "review", "exports", "versions"]
    for href in re.findall(r'href="([^"]+)"', header):
        assert client.get(href).status_code == 200, href


def test_no_header_on_pages_of_no_survey_nor_on_the_preview(accounts):  # noqa: F811
    client = accounts.test_client()
    assert login(client, "admin@example.org").status_code == 302
    for url in ("/admin/", "/admin/surveys/new", f"{S}/preview", "/admin/users"):
        assert 'class="survey-header"' not in client.get(url).get_data(as_text=True), url
    # A page refused or not found shows no other survey's header either.
    assert client.get("/admin/surveys/khong-co/results").status_code == 404


def test_every_survey_endpoint_has_a_tab(app):
    """A new page of a survey cannot ship without its place in the tabs."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and "<slug>" in rule.rule:
            # Files, not pages: an export, a citizen's uploaded file.
            if re.search(r"\.(json|xlsx|<fmt>)$", rule.rule) or rule.endpoint in {
                "admin.export_responses",
                "admin.download_upload",
            }:
                continue
            assert current_tab(rule.endpoint), rule.endpoint
    assert DEMO_SLUG
