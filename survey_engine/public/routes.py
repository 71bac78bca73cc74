"""GET shows the questionnaire; POST hands it to intake.submit, then 303 or the page again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache

from flask import abort, make_response, redirect, render_template, request, url_for

from survey_engine.catalog import Published, published, unavailable_reason
from survey_engine.definition import Definition
from survey_engine.definition.answers import MAX_TEXT_LENGTH, printable, unstorable
from survey_engine.i18n import choose_language, language_name, message, ui_language
from survey_engine.intake.access_codes import normalize_code
from survey_engine.intake.admission import Admission, Admit, count_stored_over_limit
from survey_engine.intake.paradata import client_paradata
from survey_engine.intake.respondent import day_secret, started_at, started_token
from survey_engine.intake.submission import RETRY_AFTER_SECONDS
from survey_engine.intake.submit import Access, Result, access_mode
from survey_engine.intake.submit import submit as submit_answers
from survey_engine.public.access import gate
from survey_engine.public.blueprint import bp
from survey_engine.public.form_files import allow_files, store_form_files, upload_context
from survey_engine.public.limits import form_admission, form_over_limit, submit_limits
from survey_engine.public.rendering import (
    PageHelpers,
    answers_from_form,
    first_values,
    render_message,
    roster_pressed,
)
from survey_engine.public.visitor import (
    page_device_token,
    posted_device_token,
    respondent_from_form,
    set_device_cookie,
)


@dataclass(frozen=True)
class _Page:
    survey: Published
    d: Definition
    lang: str


def _load(slug: str, must_be_open: bool = True) -> _Page:
    """The published survey and the reader's language; 404, or a 410 page when closed."""
    survey = published(slug)
    if survey is None:
        abort(404)
    d = survey.definition
    lang = choose_language(d.languages(), d.default_language)
    if must_be_open and (reason := unavailable_reason(survey)):
        abort(make_response(render_message(lang, reason, 410)))
    return _Page(survey, d, lang)


# Messages the page's script shows itself, with their placeholders kept for it to fill.
CLIENT_MESSAGES: dict[str, tuple[str, ...]] = {
    "required": (),
    "one_choice": (),
    "unknown_choice": ("value",),
    "not_integer": (),
    "not_decimal": (),
    "number_range": (),
    "number_min": ("limit",),
    "number_max": ("limit",),
    "scale_range": ("low", "high"),
    "not_date": (),
    "date_min": ("limit",),
    "date_max": ("limit",),
    "date_future": (),
    "not_email": (),
    "not_phone": (),
    "geo_incomplete": (),
    "geo_lat": (),
    "geo_lon": (),
    "geo_accuracy": ("limit",),
    "too_few_choices": ("limit",),
    "too_many_choices": ("limit",),
    "exclusive": ("choice",),
    "rank_incomplete": (),
    "rank_positions": (),
    "matrix_incomplete": (),
    "not_acknowledged": (),
    "constraint": (),
    "rows_too_few": ("limit",),
    "rows_too_many": ("limit",),
    "errors_title": ("count",),
    "errors_page": ("count",),
    "progress": ("page", "total"),
    "restored": (),
    "sending": (),
    "offline_retrying": (),
    "busy_check": (),
    "quota_full_title": (),
    "quota_full_body": (),
}


@cache
def client_messages(lang: str) -> dict[str, str]:
    """CLIENT_MESSAGES in `lang`; survey.js fills {name}, where the catalogs say %(name)s."""
    return {
        key: message(key, lang, **{name: "{" + name + "}" for name in placeholders})
        for key, placeholders in CLIENT_MESSAGES.items()
    }


def client_logic(d: Definition, lang: str, storage_key: str) -> dict:
    """Definition.logic() in the page's language, the interface words the script shows,
    and the key its saved answers go under (a new version starts afresh)."""
    logic = d.logic(lang)
    logic["messages"] = client_messages(ui_language(lang))
    logic["key"] = storage_key
    quotas = [quota["questions"] for quota in d.settings.get("quotas") or []]
    if quotas:  # the script asks whether the citizen's group is full (quota_check.py)
        logic["quotas"] = quotas
        logic["quota_url"] = url_for("public.quota_check", slug=d.slug)
    return logic


def render_survey_page(
    d: Definition,
    lang: str,
    submission_id: str,
    action: str,
    storage_key: str,
    language_link: Callable[[str], str] | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
    preview: bool = False,
    challenge: tuple[str, int] | None = None,
    respondent_fields: dict | None = None,
    focus: str | None = None,
):
    """The questionnaire as citizens see it; the staff preview draws it the same way.
    `challenge`: a proof of work (token, difficulty) for the page's script to solve;
    `focus`: the id of the roster row (or button) a roster's button led to."""
    # Every language the survey is written in; the engine's own words follow in the
    # language's catalog, or English (i18n.ui_language).
    other_langs = {code: language_name(code) for code in d.languages() if code != lang}
    labels = {q.name: d.text(q.label, lang) for q in d.questions}
    labels.update({q.other_field: message("other_specify", lang) for q in d.questions if q.other})
    values = printable(values or {})  # refused text is shown, its bad characters as �
    helpers = PageHelpers(d, lang, values)
    labels.update(helpers.row_labels(errors or {}))
    html = render_template(
        "public/survey.html",
        d=d,
        lang=lang,
        other_langs=other_langs,
        language_link=language_link,
        action=action,
        preview=preview,
        submission_id=submission_id,
        values=values,
        errors=errors or {},
        labels=labels,
        field_ids=helpers.field_ids(errors),
        pipe=helpers.pipe,
        row_pipe=helpers.row_pipe,
        row_title=helpers.row_title,
        row_word=helpers.row_word,
        roster_rows=helpers.rows,
        option_groups=helpers.option_groups,
        rank_position=helpers.rank_position,
        date_limit=helpers.date_limit,
        logic=client_logic(d, lang, storage_key),
        max_text=MAX_TEXT_LENGTH,
        challenge=challenge,
        respondent_fields=respondent_fields,
        uploads=upload_context(d),
        focus=focus,
    )
    return html, status


def _render_form(
    page: _Page,
    submission_id: str,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
    access_code: str | None = None,
    challenge: tuple[str, int] | None = None,
    focus: str | None = None,
):
    """The questionnaire, carrying the browser's device token (set as its cookie too),
    the time of the first view (kept when the page comes back with errors) and, in
    closed mode, the access code."""
    slug = page.survey.slug
    token = posted_device_token() if request.method == "POST" else None
    token = token or page_device_token()
    started = request.form.get("started") if request.method == "POST" else None
    day_secret(datetime.now(UTC).date())  # at hand for the submission, even in an outage
    fields = {
        "device_token": token,
        "started": started if started_at(started) else started_token(),
        "access_code": access_code or normalize_code(request.form.get("access_code")),
    }
    html, status = render_survey_page(
        page.d,
        page.lang,
        submission_id,
        action=url_for("public.questionnaire", slug=slug, lang=page.lang),
        storage_key=f"{slug}:{page.survey.version_number}",
        language_link=lambda code: url_for(
            "public.questionnaire", slug=slug, lang=code, code=fields["access_code"]
        ),
        values=values,
        errors=errors,
        status=status,
        challenge=challenge,
        respondent_fields=fields,
        focus=focus,
    )
    response = make_response(html, status)
    set_device_cookie(response, token)
    return response


@bp.get("/s/<slug>")
def questionnaire(slug: str):
    page = _load(slug)
    access = gate(page.survey, page.lang)
    if access.refused is not None:
        return access.refused
    # A hidden answer from the link (?source=) that could never be stored is left out:
    # the citizen could not see, let alone correct it.
    values = {
        name: value
        for name, value in first_values(page.d, request.args).items()
        if not unstorable(value)
    }
    return _render_form(page, str(uuid.uuid4()), values, access_code=access.access_code)


# What a refused submission's page says, and its status.
REFUSED_PAGES = {
    Result.CLAIMED: ("already_answered", 409),
    Result.FULL: ("quota_full", 410),
    Result.CODE_UNKNOWN: ("code_unknown", 403),
}


def _challenge_page(page: _Page, submission_id: str, values: dict, admission: Admission):
    """Over a limit, with the page's script: 429, the same form, answers and id, and a
    proof of work that the script solves before it sends them again (docs/abuse.md)."""
    response = _render_form(
        page,
        submission_id,
        values,
        {"": message("busy_check", page.lang)},
        status=429,
        challenge=(admission.challenge or "", admission.difficulty),
    )
    response.headers["Retry-After"] = str(admission.verdict.retry_after)
    return response


@bp.post("/s/<slug>")
def submit(slug: str):
    # Open or not is submit()'s first check: not asked twice on the hot path.
    page = _load(slug, must_be_open=False)
    lang = page.lang
    try:
        submission_id = uuid.UUID(request.form.get("submission_id", ""))
    except ValueError:
        # A page without an id (an old copy, a hand-made form) still counts once.
        submission_id = uuid.uuid4()

    if page.d.repeats and (pressed := roster_pressed(request.form, page.d)):
        # a roster's button without the page's script: the page again, nothing stored
        return _render_form(page, str(submission_id), pressed[0], focus=pressed[1])
    allow_files(page.d)
    values = answers_from_form(request.form, page.d)
    # Files first (public/form_files.py): the answers then carry their tokens.
    file_problems = store_form_files(page.survey, values, lang) if page.d.file_questions else {}
    respondent = respondent_from_form(
        access_code=request.form.get("access_code"),
        paradata=client_paradata(
            request.headers.get("User-Agent"), request.form.get("pages"), len(page.d.pages)
        ),
    )
    survey_id = page.survey.survey_id
    # The circuit breakers come first: checked by the accept script with the
    # submission, or alone before any other refusal (intake/submit.py); a proof of
    # work sent with the form is checked here at once, as it must be to count.
    limits = submit_limits(survey_id, respondent)
    admission = None if limits is not None else form_admission(survey_id, respondent)
    submitted = None
    if admission is None:
        submitted = submit_answers(
            page.survey,
            submission_id,
            values,
            lang,
            "web",
            problems=file_problems,
            respondent=respondent,
            limits=limits,
        )
        if submitted.result is Result.LIMITED and submitted.verdict is not None:
            admission = form_over_limit(survey_id, submitted.verdict)
            submitted = None
    if admission is not None and admission.admit is Admit.CHALLENGE:
        return _challenge_page(page, str(submission_id), values, admission)
    if admission is not None and admission.flag:
        # over a limit without the script: stored, for staff to review
        respondent = replace(respondent, flags=(*respondent.flags, admission.flag))
    if submitted is None:
        submitted = submit_answers(
            page.survey,
            submission_id,
            values,
            lang,
            source="web",
            problems=file_problems,
            respondent=respondent,
        )
    if admission is not None and admission.flag and submitted.result is Result.ACCEPTED:
        count_stored_over_limit(survey_id)
    if submitted.result is Result.CLOSED:
        return render_message(lang, submitted.reason or "closed", 410)
    if submitted.result in REFUSED_PAGES:
        key, status = REFUSED_PAGES[submitted.result]
        if submitted.result is Result.CLAIMED and access_mode(page.d) == Access.CODE:
            key = "code_used"
        return render_message(lang, key, status)
    if submitted.result is Result.REJECTED:
        errors = {**submitted.errors, **file_problems}  # a refused file's own reason
        return _render_form(page, str(submission_id), values, errors, status=422)
    if submitted.result is Result.UNAVAILABLE:
        # Nothing was stored: the page comes back with every answer and the same id.
        response = _render_form(
            page, str(submission_id), values, {"": message("unavailable", lang)}, status=503
        )
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if submitted.result is Result.CONFLICT:
        link = {
            "href": url_for("public.questionnaire", slug=slug, lang=lang),
            "text": message("new_response", lang),
        }
        return render_message(lang, "already_sent", 409, link)
    return redirect(url_for("public.thanks", slug=slug, lang=lang), code=303)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every visit: answer at once, and only once a day."""
    return "", 204, {"Cache-Control": "public, max-age=86400"}


@bp.get("/s/<slug>/thanks")
def thanks(slug: str):
    return render_message(_load(slug, must_be_open=False).lang, "thanks", 200)
