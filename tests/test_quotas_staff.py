"""What the staff see and do with quotas: each group's fill on the dashboard, the
survey page and the results API; the builder's quotas page."""

from __future__ import annotations

import re

from survey_engine.extensions import db
from tests.conftest import DEMO_SLUG
from tests.test_admin_surveys import people  # noqa: F401 (fixture)
from tests.test_quotas import API, district_role, post, publish_quotas


def test_the_dashboard_the_survey_page_and_the_results_api_show_the_fill(app) -> None:
    from survey_engine.staff.accounts import create_user
    from tests.test_staff import PASSWORD, login

    publish_quotas(district_role(3, **{"bao_loc|teacher": 0}))
    client = app.test_client()
    for _ in range(3):
        assert post(client).status_code == 202
    assert post(client, "bao_loc", "parent").status_code == 202
    create_user("admin@example.org", PASSWORD, "admin")
    assert login(client, "admin@example.org").status_code == 302

    for path in (f"/admin/surveys/{DEMO_SLUG}/results", f"/admin/surveys/{DEMO_SLUG}"):
        html = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert 'id="quota-district_role"' in html
        rows = re.findall(r'<tr data-stratum="([^"]+)"( class="full")?>', html)
        # Fullest first: the two full groups, then Bảo Lộc's parents.
        assert rows == [
            ("bao_loc|teacher", ' class="full"'),
            ("da_lat|parent", ' class="full"'),
            ("bao_loc|parent", ""),
        ]
        assert "Da Lat City · Parent" in html
        assert "3 / 3" in html and "1 / 3" in html
        assert '<meter min="0" max="1" value="0.3333333333333333">' in html

    body = client.get(f"{API.rsplit('/', 1)[0]}/results").get_json()
    assert body["quotas"] == {
        "district_role": {
            "limit": 3,
            "strata": {
                "bao_loc|teacher": {"filled": 0, "limit": 0, "full": True},
                "da_lat|parent": {"filled": 3, "limit": 3, "full": True},
                "bao_loc|parent": {"filled": 1, "limit": 3, "full": False},
            },
        }
    }


# -- the builder -------------------------------------------------------------------------


def test_the_builder_adds_changes_and_removes_a_quota(people) -> None:  # noqa: F811
    from tests.test_admin_surveys import signed_in
    from tests.test_builder import EDIT, newest, submit

    editor = signed_in(people, "editor@example.org")
    url = f"{EDIT}/quotas"
    page = editor.get(url).get_data(as_text=True)
    assert 'name="quota-0-questions" value="district"' in page
    assert 'name="quota-0-questions" value="concerns"' not in page  # select_multiple

    added = submit(
        editor,
        url,
        {
            "quota-0-name": "district_role",
            "quota-0-questions": ["role", "district"],  # ticked: the survey's order
            "quota-0-limit": "2000",
            "quota-0-limits": "da_lat|parent 500\r\n\r\nbao_loc|teacher = 0",
        },
    )
    assert added.status_code == 302
    db.session.expire_all()
    assert newest().definition["settings"]["quotas"] == [
        district_role(2000, **{"da_lat|parent": 500, "bao_loc|teacher": 0})
    ]
    settings_page = editor.get(f"{EDIT}/settings").get_data(as_text=True)
    assert "<code>district_role</code>" in settings_page and 'id="edit-quotas"' in settings_page

    # Saving the settings keeps the quotas.
    kept = submit(editor, f"{EDIT}/settings", {"title.vi": "Khảo sát", "default_language": "vi"})
    assert kept.status_code == 302
    db.session.expire_all()
    assert newest().definition["settings"]["quotas"][0]["name"] == "district_role"

    refused = submit(
        editor,
        url,
        {
            "quota-0-name": "district_role",
            "quota-0-questions": ["district", "role"],
            "quota-0-limit": "0",
            "quota-0-limits": "da_lat|mayor 5\nnonsense",
            "quota-1-name": "1bad",
            "quota-1-questions": ["role"],
            "quota-1-limit": "5",
        },
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    for field in ("quota-0-limit", "quota-0-limits"):
        assert f'id="{field}-error"' in html
    assert 'value="1bad"' in html  # as typed

    refused = submit(
        editor,
        url,
        {
            "quota-0-name": "district_role",
            "quota-0-questions": ["district", "role"],
            "quota-0-limit": "10",
            "quota-0-limits": "da_lat|mayor 5",
            "quota-1-name": "1bad",
            "quota-1-questions": ["role"],
            "quota-1-limit": "5",
        },
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    # The validator's words in the page's language (Vietnamese).
    assert "&#39;mayor&#39; không phải một lựa chọn của &#39;role&#39;" in html
    assert 'id="quota-1-name-error"' in html

    removed = submit(
        editor,
        url,
        {"quota-0-name": "district_role", "quota-0-limit": "10", "quota-0-remove": "1"},
    )
    assert removed.status_code == 302
    db.session.expire_all()
    assert "quotas" not in newest().definition["settings"]
