"""The header every staff page of one survey shows: its title and status, then tabs
to its pages, the current one marked. One table (TABS) says which page belongs to
which tab; templates/admin/_survey_header.html draws it, included once by base.html,
so a page gets the header by having a `slug` in its address and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import may_manage, status_name, title_of
from survey_engine.catalog import find_survey
from survey_engine.i18n import N_
from survey_engine.staff.accounts import may_see


@dataclass(frozen=True)
class Tab:
    key: str
    label: str  # marked for translation; translated when drawn
    endpoint: str  # where the tab leads
    endpoints: frozenset[str]  # the pages it is current on
    managers_only: bool


def _tab(key: str, label: str, endpoints: str, managers_only: bool = False) -> Tab:
    names = frozenset(f"admin.{name}" for name in endpoints.split())
    return Tab(key, label, f"admin.{endpoints.split()[0]}", names, managers_only)


TABS = (
    _tab(
        "builder",
        N_("Builder"),
        "builder change_structure new_list edit_list edit_page edit_question edit_quotas "
        "edit_translations preview preview_thanks copy_questions "
        "draft_revision check_expression undo_change",
        managers_only=True,
    ),
    # Weighting changes what the results say: it lives beside them.
    _tab("results", N_("Results"), "results text_answers weights"),
    _tab("review", N_("Review"), "review_list review_many review_response"),
    _tab("exports", N_("Exports"), "exports start_export"),
    _tab("sharing", N_("Sharing"), "sharing unshare access_codes", managers_only=True),
    _tab(
        "settings",
        N_("Settings"),
        "edit_settings webhooks webhook_delivery webhook_secret delete_webhook replay_webhook",
        managers_only=True,
    ),
    _tab(
        "versions",
        N_("Versions"),
        "survey publish change_status duplicate_survey delete_survey",
    ),
)


def current_tab(endpoint: str | None) -> str | None:
    """The tab an endpoint belongs to; None for a page of no survey tab."""
    return next((tab.key for tab in TABS if endpoint in tab.endpoints), None)


@bp.context_processor
def survey_header() -> dict[str, Any]:
    """The header's data on a page of one survey the signed-in account may see; no
    header elsewhere (the preview shows exactly what citizens get, base.html)."""
    slug = (request.view_args or {}).get("slug")
    tab = current_tab(request.endpoint)
    if not isinstance(slug, str) or tab is None or not current_user.is_authenticated:
        return {"survey_header": None}
    survey = find_survey(slug)
    if survey is None or not may_see(current_user, survey):
        return {"survey_header": None}
    manages = may_manage(current_user, survey)
    tabs = [
        {
            "key": t.key,
            "label": _(t.label),
            "url": url_for(t.endpoint, slug=survey.slug),
            "current": t.key == tab,
        }
        for t in TABS
        if manages or not t.managers_only
    ]
    header = {
        "title": title_of(survey, getattr(g, "lang", "vi")),
        "status": survey.status,
        "status_name": status_name(survey.status),
        "slug": survey.slug,
        "tabs": tabs,
    }
    return {"survey_header": header}
