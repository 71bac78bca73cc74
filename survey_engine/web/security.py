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


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        """Each header unless the view set its own. One pass over the response's
        headers instead of a setdefault (a scan of them) per header: every
        submission pays for this hook."""
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        wanted = STAFF_HEADERS if request.path.startswith("/admin") else PUBLIC_HEADERS
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
        return response
