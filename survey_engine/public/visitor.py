"""The request's side of respondent.py: the device token's cookie and the page's copy,
the first-view time, the client's network; what a submission keeps of them."""

from __future__ import annotations

from flask import Request, Response, request

from survey_engine.intake.respondent import (
    DEVICE_COOKIE,
    Respondent,
    device_hash,
    network_key,
    new_device_token,
    started_at,
)

DEVICE_COOKIE_SECONDS = 365 * 24 * 3600


def page_device_token(req: Request | None = None) -> str:
    """The browser's token for a page to carry (hidden field `device_token`): its
    cookie's when genuine, else a new one (set_device_cookie then keeps it)."""
    req = req or request
    token = req.cookies.get(DEVICE_COOKIE)
    return token if token and device_hash(token) else new_device_token()


def posted_device_token(req: Request | None = None) -> str | None:
    """The page's copy first (survey.js puts back the one kept in localStorage when the
    cookie was cleared), else the cookie; None when neither is genuine."""
    return _posted_device(req or request)[0]


def _posted_device(req: Request) -> tuple[str | None, str | None]:
    """The genuine posted token and its hash (a signature checked once per request)."""
    for token in (req.form.get("device_token"), req.cookies.get(DEVICE_COOKIE)):
        if hashed := device_hash(token):
            return token, hashed
    return None, None


def set_device_cookie(response: Response, token: str | None, req: Request | None = None) -> None:
    """HttpOnly: the page's script never reads it (it keeps its own copy)."""
    req = req or request
    if token and req.cookies.get(DEVICE_COOKIE) != token:
        response.set_cookie(
            DEVICE_COOKIE,
            token,
            max_age=DEVICE_COOKIE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=req.is_secure,
        )


def respondent_from_form(req: Request | None = None, **extra) -> Respondent:
    """What a posted questionnaire tells about who answers (see intake/respondent.py)."""
    req = req or request
    return Respondent(
        device_hash=_posted_device(req)[1],
        network_key=network_key(req.remote_addr),
        started_at=started_at(req.form.get("started")),
        **extra,
    )
