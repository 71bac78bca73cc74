"""The circuit breakers at the door: the questionnaire's POST and the API's submit.

The respondent's network key and device hash (public/visitor.py) go to
intake/admission.py, which says whether the submission passes, needs a proof of
work, is stored with a flag, or (the API) waits. The form fields the page's script
adds: `js` (it is running, so it can solve a challenge), `pow_challenge` and
`pow_counter` (a challenge and its solution).
"""

from __future__ import annotations

from flask import request

from survey_engine.intake import admission
from survey_engine.intake.admission import Admission, admit_api, admit_page
from survey_engine.intake.breakers import Limits, Verdict
from survey_engine.intake.respondent import Respondent

FIELDS = ("js", "pow_challenge", "pow_counter")


def form_admission(survey_id: int, respondent: Respondent) -> Admission:
    """The questionnaire's POST: with the page's script, a challenge when over."""
    form = request.form
    return admit_page(
        survey_id,
        respondent.network_key,
        respondent.device_hash,
        script=form.get("js") == "1",
        challenge=form.get("pow_challenge", ""),
        counter=form.get("pow_counter", ""),
    )


def api_admission(survey_id: int, respondent: Respondent) -> Admission:
    """The API's submit: over a limit, the client is asked to wait (429)."""
    return admit_api(survey_id, respondent.network_key, respondent.device_hash)


def submit_limits(survey_id: int, respondent: Respondent) -> Limits | None:
    """The breakers' check for intake.submit to run with the accept script; None when
    the form carries a proof of work (form_admission checks it first, as before)."""
    form = request.form
    if form.get("pow_challenge") and form.get("pow_counter"):
        return None
    return admission.limits(survey_id, respondent.network_key, respondent.device_hash)


def form_over_limit(survey_id: int, verdict: Verdict) -> Admission:
    """The questionnaire's submission was over `verdict`'s limit: a challenge when the
    page's script sent it, else stored with the over_limit flag."""
    return admission.page_over_limit(survey_id, verdict, script=request.form.get("js") == "1")


def api_over_limit(survey_id: int, verdict: Verdict) -> Admission:
    return admission.api_over_limit(survey_id, verdict)
