"""Staff side: sign-in, sign-out and the list of surveys a staff member may see."""

from __future__ import annotations

from functools import partial

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user

from survey_engine.admin import (  # noqa: F401  (registers the routes)
    access_codes,
    builder,
    builder_copy,
    builder_live,
    builder_quotas,
    builder_settings,
    exports,
    people,
    preview,
    question_types,
    results,
    review,
    routes,
    survey_files,
    survey_header,
    survey_lifecycle,
    survey_starters,
    surveys,
    uploads,
    webhooks,
    weights,
)
from survey_engine.admin.blueprint import bp
from survey_engine.extensions import csrf, login_manager
from survey_engine.models import User
from survey_engine.staff.sessions import user_for_session

__all__ = ["bp", "init_app"]


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    """The cookie names a server-side session (User.get_id), never a user id."""
    return user_for_session(session_token)


def init_app(app: Flask) -> None:
    """Sessions, CSRF and the login rate limit; call after registering the blueprints."""

    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = None  # the login page says enough
    csrf.init_app(app)
    # The citizen's form is anonymous and keeps no session: its submission_id already
    # makes a replayed or forged POST harmless. The JSON API takes no cookies' word
    # for a write, so neither needs (or could use) a CSRF token.
    csrf.exempt("survey_engine.public.routes.submit")
    # The staff preview checks answers and stores nothing: a forged POST changes nothing.
    csrf.exempt("survey_engine.admin.preview.preview")
    csrf.exempt(app.blueprints["api"])
    _staff_hooks_off_the_api(app)

    # Only the login form is limited per address: citizens share carrier-grade NAT,
    # so the questionnaire and the response API never are.
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI")
        # The jobs' plain Redis: a cluster client would need the cluster up to start.
        or app.config.get("RQ_REDIS_URL")
        or "memory://",
        on_breach=routes.too_many_attempts,
    )
    app.extensions["login_limiter"] = limiter
    _limit_only_admin_requests(app, limiter)
    app.view_functions["admin.login"] = limiter.limit(  # the view the blueprint registered
        lambda: app.config["LOGIN_RATE_LIMIT"], methods=["POST"]
    )(routes.login)


def _admin_upload_limit() -> None:
    """A workbook upload may be larger than MAX_CONTENT_LENGTH, which stays the limit
    for the public side and the API (and for every other admin request). Runs before
    CSRF's check, which reads the form."""
    if (
        request.method == "POST"
        and request.endpoint in surveys.UPLOAD_ENDPOINTS
        and current_user.is_authenticated
    ):
        request.max_content_length = current_app.config["ADMIN_UPLOAD_MAX_BYTES"]


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _staff_hooks_off_the_api(app: Flask) -> None:
    """The hooks of staff work run where they can matter, not on every submission
    (together about 100,000 instructions of one, BENCHMARKS.md, issue 13): CSRF's check
    for every blueprint but the API's (exempt: it takes no cookie's word for a write),
    the upload limit and Flask-Login's remember-cookie update for the staff pages,
    where staff sign in and out."""
    protect = next(f for f in app.before_request_funcs[None] if f.__name__ == "csrf_protect")
    app.before_request_funcs[None].remove(protect)
    for name in app.blueprints:
        if name != "api":
            app.before_request_funcs.setdefault(name, []).insert(0, protect)
    app.before_request_funcs["admin"].insert(0, _admin_upload_limit)
    remember = login_manager._update_remember_cookie
    app.after_request_funcs[None].remove(remember)
    app.after_request_funcs.setdefault("admin", []).append(remember)
    refuse_writes_outside_blueprints(app)


def refuse_writes_outside_blueprints(app: Flask) -> None:
    """CSRF's check runs per blueprint: a route that takes a write outside every
    blueprint would be unprotected, so the app does not start with one."""
    for rule in app.url_map.iter_rules():
        writes = sorted(STATE_CHANGING & (rule.methods or set()))
        if "." not in rule.endpoint and writes:
            raise RuntimeError(
                f"{rule.rule} takes {', '.join(writes)} outside a blueprint: "
                "register it on one, so that CSRF's check runs for it"
            )


def _limit_only_admin_requests(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter checks every request of the app (about 0.2 ms each, a fifth of a
    submission's cost in the campaign benchmark); only staff pages have limits, so its
    hooks (before, after and teardown) run for the admin blueprint alone."""
    check = limiter._check_request_limit
    app.before_request_funcs[None].remove(check)
    inject = [
        f
        for f in app.after_request_funcs[None]
        if isinstance(f, partial) and getattr(f, "args", None) == (limiter,)
    ]
    for hook in inject:
        app.after_request_funcs[None].remove(hook)
    # Its teardown only resets the state of those hooks, yet made that state for every
    # request first (about 50 µs of a submission).
    release = [
        f for f in app.teardown_request_funcs[None] if getattr(f, "__self__", None) is limiter
    ]
    for teardown in release:
        app.teardown_request_funcs[None].remove(teardown)
    admin = app.blueprints["admin"]
    app.before_request_funcs.setdefault(admin.name, []).append(check)
    app.after_request_funcs.setdefault(admin.name, []).extend(inject)
    app.teardown_request_funcs.setdefault(admin.name, []).extend(release)
