"""Security headers on every response.

The policy allows only this origin's own files: no inline script or style (the page's
logic travels as a JSON data block), no eval, nothing from elsewhere. Staff pages may
not be framed at all; the public questionnaire may be embedded by a provincial portal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)


PUBLIC_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
)
STAFF_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY + "; frame-ancestors 'none'"),
)
STAFF_PREFIX = "/admin"


class SecurityHeaders:
    """WSGI middleware: each header added to the response unless the view set its own.

    Why not an after_request hook: werkzeug's Headers checks every value it is given and
    Flask reaches the request through its context proxies, which cost a submission
    about 57,000 instructions; appending constant pairs to the list the server gets
    costs a fraction of that (a do-nothing view in the app now costs 26,000 more than
    in a bare Flask app, all hooks and this included; BENCHMARKS.md, issue 13). It
    still sees every response, error pages and static files included."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        staff = environ.get("PATH_INFO", "").startswith(STAFF_PREFIX)
        wanted = STAFF_HEADERS if staff else PUBLIC_HEADERS

        def start_with_headers(status: str, headers: list, exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(pair for pair in wanted if pair[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)


def init_app(app: Flask) -> None:
    # Flask's documented way to wrap the WSGI app; mypy sees a method replaced.
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
