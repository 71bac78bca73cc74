"""Security headers on every response.

The policy allows only this origin's own files: no inline script or style (the page's
logic travels as a JSON data block), no eval, nothing from elsewhere. Staff pages may
not be framed at all; the public questionnaire may be embedded by a provincial portal.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        policy = CONTENT_SECURITY_POLICY
        if request.path.startswith("/admin"):
            policy += "; frame-ancestors 'none'"
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", policy)
        return response
