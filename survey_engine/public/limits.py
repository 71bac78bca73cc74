"""The circuit breakers at the door: the questionnaire's POST and the API's submit.

The request's network key and device hash go to intake/admission.py, which says
whether the submission passes, needs a proof of work, is stored with a flag, or (the
API) waits. The form fields the page's script adds: `js` (it is running, so it can
solve a challenge), `pow_challenge` and `pow_counter` (a challenge and its solution).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import current_app, request

from survey_engine.intake.admission import Admission, admit_api, admit_page

FIELDS = ("js", "pow_challenge", "pow_counter")


def network_key() -> str | None:
    """The client's IPv4 /24 or IPv6 /64, keyed (interim: until the visitor module)."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, str(network).encode(), hashlib.sha256).hexdigest()


def device_hash() -> str | None:
    """The browser's device token, keyed (interim: until the visitor module)."""
    token = request.cookies.get("se_device") or request.form.get("device_token")
    if not token:
        return None
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, token[:200].encode(), hashlib.sha256).hexdigest()


def form_admission(survey_id: int) -> Admission:
    """The questionnaire's POST: with the page's script, a challenge when over."""
    form = request.form
    return admit_page(
        survey_id,
        network_key(),
        device_hash(),
        script=form.get("js") == "1",
        challenge=form.get("pow_challenge", ""),
        counter=form.get("pow_counter", ""),
    )


def api_admission(survey_id: int) -> Admission:
    """The API's submit: a program has no device token; over a limit it waits."""
    return admit_api(survey_id, network_key(), None)
