"""Flask's signed-cookie sessions, without their cost on requests that carry no cookie.

Flask builds an itsdangerous serializer for every request before it even looks for
the session cookie, and parses the Vary header of every response to add "Cookie" to
it. A citizen's submission never has a session (only staff sign in), and on the submit
API these two cost more than checking the device token's signature. Here the raw
Cookie header is looked for first, and an empty session that nothing changed only adds
its Vary header; otherwise Flask's own code runs, so staff sessions,
SECRET_KEY_FALLBACKS and expiry work exactly as before.
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin


class CookieFirstSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ
            or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session or session.modified:
            super().save_session(app, session, response)
        elif session.accessed:  # what Flask does for a session read but never filled
            if response.headers.getlist("Vary"):
                response.vary.add("Cookie")
            else:
                response.headers.add("Vary", "Cookie")


def init_app(app: Flask) -> None:
    app.session_interface = CookieFirstSessions()
