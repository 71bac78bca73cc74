"""The data API's rate limit: API_READ_RATE_LIMIT requests per caller, counted by the
app's Flask-Limiter (in Redis when there is one, like the login's), so one script
paging in a tight loop cannot take a web node's time from everyone else. The
submission API is not limited here: citizens share networks (docs/abuse.md). The
upload route is, per client address (UPLOAD_RATE_LIMIT): a file costs far more."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RequestLimit

from survey_engine.api import data, uploads
from survey_engine.i18n import message

# The views that read data for staff.
LIMITED_VIEWS: dict[str, Callable[..., Any]] = {
    "api.list_surveys": data.list_surveys,
    "api.list_responses": data.list_responses,
    "api.version_definition": data.version_definition,
}


def caller_key() -> str:
    """A token's digest (never the token), else the address of a session's browser."""
    header = request.headers.get("Authorization", "")
    if header:
        return "api:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()
    return f"api-session:{request.remote_addr}"


def too_many_reads(limit: RequestLimit) -> Response:
    """429 with Retry-After, as the submission API's."""
    wait = max(1, int(limit.reset_at - time.time()))
    body = {
        "error": f"more than {current_app.config['API_READ_RATE_LIMIT']} requests; "
        f"ask again in {wait} seconds",
        "retry_after": wait,
    }
    return current_app.response_class(
        current_app.json.dumps(body) + "\n",
        429,
        {"Retry-After": str(wait)},
        mimetype="application/json",
    )


def too_many_uploads(limit: RequestLimit) -> Response:
    """429 with Retry-After, in the shape the page's script reads ({"error"})."""
    wait = max(1, int(limit.reset_at - time.time()))
    body = {"error": message("upload_busy", g.get("lang") or "vi"), "retry_after": wait}
    return current_app.response_class(
        current_app.json.dumps(body) + "\n",
        429,
        {"Retry-After": str(wait)},
        mimetype="application/json",
    )


def init_app(app: Flask) -> None:
    """Wrap the data views in the limit, and the upload route in its own (per client
    address: a file costs far more than an answer); after admin.init_app made the
    limiter."""
    limiter: Limiter = app.extensions["login_limiter"]
    app.view_functions["api.upload_file"] = limiter.limit(
        lambda: app.config["UPLOAD_RATE_LIMIT"],
        key_func=lambda: f"upload:{request.remote_addr}",
        on_breach=too_many_uploads,
    )(uploads.upload_file)
    for endpoint, view in LIMITED_VIEWS.items():
        app.view_functions[endpoint] = limiter.shared_limit(
            lambda: app.config["API_READ_RATE_LIMIT"],
            scope="api-read",  # one count over the three views
            key_func=caller_key,
            on_breach=too_many_reads,
        )(view)
