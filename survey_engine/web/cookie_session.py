"""Flask's signed-cookie sessions, without their cost on requests that carry no cookie.

Flask builds an itsdangerous serializer for every request before it even looks for
the session cookie. A citizen's submission never has one (only staff sign in), and
building it cost about as much as checking the device token's signature. Here the
cookie is looked for first; with one, Flask's own code reads it, so staff sessions,
SECRET_KEY_FALLBACKS and expiry work exactly as before.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieFirstSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookieFirstSessions()
