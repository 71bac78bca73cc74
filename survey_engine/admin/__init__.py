"""Staff side: sign-in, sign-out and the list of surveys a staff member may see."""

from __future__ import annotations

from functools import partial

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user

from survey_engine.admin import (  # noqa: F401  (registers the routes)
    access_codes,
    builder,
    builder_quotas,
    builder_settings,
    exports,
    people,
    preview,
    results,
    review,
    routes,
    survey_files,
    survey_lifecycle,
    surveys,
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

    # Registered before CSRF's check, which reads the form: a workbook upload may be
    # larger than MAX_CONTENT_LENGTH, which stays the limit for the public side and
    # the API (and for every other admin request).
    @app.before_request
    def _admin_upload_limit() -> None:
        if (
            request.method == "POST"
            and request.endpoint in surveys.UPLOAD_ENDPOINTS
            and current_user.is_authenticated
        ):
            request.max_content_length = app.config["ADMIN_UPLOAD_MAX_BYTES"]

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


def _limit_only_admin_requests(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter checks every request of the app (about 0.2 ms each, a fifth of a
    submission's cost in the campaign benchmark); only staff pages have limits, so its
    hooks run for the admin blueprint alone."""
    check = limiter._check_request_limit
    app.before_request_funcs[None].remove(check)
    inject = [
        f
        for f in app.after_request_funcs[None]
        if isinstance(f, partial) and getattr(f, "args", None) == (limiter,)
    ]
    for hook in inject:
        app.after_request_funcs[None].remove(hook)
    admin = app.blueprints["admin"]
    app.before_request_funcs.setdefault(admin.name, []).append(check)
    app.after_request_funcs.setdefault(admin.name, []).extend(inject)
