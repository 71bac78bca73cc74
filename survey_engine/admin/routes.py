"""GET/POST /admin/login, /admin/logout, and /admin/: the surveys this account may see."""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlsplit

from flask import g, make_response, redirect, render_template, request, url_for
from flask_babel import format_number
from flask_login import current_user, login_required, login_user, logout_user

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import may_manage, status_name, title_of
from survey_engine.admin.surveys import availability
from survey_engine.i18n import UI_LANGUAGES, choose_language
from survey_engine.localtime import local_text as local_time
from survey_engine.models import SurveyStatus
from survey_engine.params import page_or_400
from survey_engine.staff.accounts import check_login, normalize_email
from survey_engine.staff.audit import record
from survey_engine.staff.overview import overview, page_of, surveys_for
from survey_engine.staff.sessions import (
    clear_browser_session,
    current_session,
    end_session,
    start_session,
)
from survey_engine.untrusted import safe_text

STATUSES = (
    SurveyStatus.DRAFT,
    SurveyStatus.PUBLISHED,
    SurveyStatus.CLOSED,
    SurveyStatus.ARCHIVED,
)


@bp.before_request
def _language() -> None:
    choose_language(UI_LANGUAGES, "vi")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
        and "\\" not in target
    ):
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("admin.index"))
        return render_template(
            "admin/login.html", lang=g.lang, email="", error=None, next=request.args.get("next", "")
        )
    email = request.form.get("email", "")[:254]
    password = request.form.get("password", "")[:1024]
    next_url = request.form.get("next", "")
    result = check_login(email, password)
    if result.user is None:
        # The same page, status and (a dummy hash) time for an unknown email as for a
        # known one: only the email typed is echoed back.
        record("login_failed", email=safe_text(normalize_email(email)))
        minutes = math.ceil(result.locked_for.total_seconds() / 60) if result.locked_for else 0
        html = render_template(
            "admin/login.html",
            lang=g.lang,
            email=email,
            next=next_url,
            error="locked" if minutes else "wrong",
            minutes=minutes,
        )
        return html, 200
    # A new session at sign-in: nothing planted before it (session fixation) survives.
    clear_browser_session()
    start_session(result.user)  # the cookie names this session, not the account
    login_user(result.user)
    record("login", actor=result.user)
    return redirect(_safe_next(next_url))


def too_many_attempts(limit):
    """Flask-Limiter's on_breach for POST /admin/login: 429 with Retry-After."""
    retry_after = max(1, int(limit.reset_at - time.time()))
    choose_language(UI_LANGUAGES, "vi")
    html = render_template(
        "admin/login.html",
        lang=g.lang,
        email="",
        next="",
        error="rate_limited",
        minutes=math.ceil(retry_after / 60),
    )
    response = make_response(html, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    if request.method == "GET":  # a question, so that a link elsewhere cannot sign anyone out
        return render_template("admin/logout.html", lang=g.lang)
    record("logout")
    row = current_session()
    if row is not None:  # ended on the server: a copy of the cookie stops working too
        end_session(row, "logout")
    logout_user()
    clear_browser_session()
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def index():
    """The overview: the surveys this account may see, with their figures (a few
    queries for the page, staff/overview.py), searchable, by status, PAGE_SIZE a page
    (?page=N; past the last page: the last)."""
    status = request.args.get("status", "")[:16]
    status = status if status in STATUSES else ""
    search = request.args.get("q", "")[:200]
    page = page_of(surveys_for(current_user, status, search), page_or_400(request.args.get("page")))
    kept: dict[str, Any] = {
        name: value for name, value in (("q", search), ("status", status)) if value
    }
    return render_template(
        "admin/index.html",
        lang=g.lang,
        lines=overview(page.items),
        page=page,
        page_url=lambda n: url_for("admin.index", **kept, **({"page": n} if n > 1 else {})),
        user=current_user,
        status_name=status_name,
        statuses=STATUSES,
        status=status,
        search=search,
        title_of=title_of,
        local_time=local_time,
        may_manage=may_manage,
        availability=availability,
        number=format_number,
        filtered=bool(status or search.strip()),
    )
