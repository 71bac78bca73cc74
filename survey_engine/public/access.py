"""Who may see the questionnaire, decided before it is shown (the submission is checked
again, atomically, by intake.submit):

- one per device: a browser whose device token has answered sees "already answered"
  (409) at once, unless the survey lets answers be edited;
- closed: the link's ?code= must be one of the survey's unused codes (403 / 409); a
  link without a code shows a page asking for it (a plain GET form, no script needed).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import make_response, render_template, request, url_for
from werkzeug.wrappers import Response

from survey_engine.catalog import Published
from survey_engine.intake.access_codes import find_code, normalize_code
from survey_engine.intake.claims import is_claimed
from survey_engine.intake.respondent import DEVICE_COOKIE, device_hash
from survey_engine.intake.submit import Access, access_mode
from survey_engine.public.rendering import render_message

CODE_PARAM = "code"


@dataclass(frozen=True)
class Gate:
    refused: Response | None = None  # the page to show instead of the questionnaire
    access_code: str | None = None  # closed mode: the code, for the form's hidden field


def gate(survey: Published, lang: str) -> Gate:
    """The questionnaire's access check on GET; see the module's docstring."""
    d = survey.definition
    mode = access_mode(d)
    if mode == Access.DEVICE and not d.settings.get("allow_edit"):
        hashed = device_hash(request.cookies.get(DEVICE_COOKIE))
        if hashed and is_claimed(survey.survey_id, f"device:{hashed}"):
            return Gate(make_response(*render_message(lang, "already_answered", 409)))
    if mode != Access.CODE:
        return Gate()
    typed = request.args.get(CODE_PARAM, "")[:40]
    if not typed.strip():
        return Gate(_code_page(survey, lang, "", 200))
    found = find_code(survey.survey_id, typed)
    if found is None:
        return Gate(_code_page(survey, lang, typed, 403))
    if found.used_at is not None or is_claimed(survey.survey_id, found.claim):
        return Gate(make_response(*render_message(lang, "code_used", 409)))
    return Gate(access_code=normalize_code(typed))


def _code_page(survey: Published, lang: str, typed: str, status: int) -> Response:
    html = render_template(
        "public/code.html",
        lang=lang,
        title=survey.definition.text(survey.definition.title, lang),
        action=url_for("public.questionnaire", slug=survey.slug),
        typed=typed,
        wrong=status == 403,
        page_lang=request.args.get("lang", "")[:10],
    )
    return make_response(html, status)
