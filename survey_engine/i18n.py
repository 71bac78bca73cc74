"""Interface text in Vietnamese and English, and choosing the reader's language.

Survey content carries its own translations; this is only the engine's own words.
They live in gettext catalogs (survey_engine/translations, `make translations`):
the msgids are the English text, vi/LC_MESSAGES/messages.po holds the Vietnamese.

Templates say `_('Submit')`: Flask-Babel translates them into the request's language,
which `choose_language` stores in `g.lang` for `request_language`, the locale selector.
Python code names a message by key, `message('required', lang)`, in an explicit
language (an API reply, a tally export): the catalogs are loaded once per process.
The workbook's words are NP_(context, text) pairs (exports/workbook.py), looked up in
the export's language through `file_translations`.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import flask_babel
from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations
from flask import g, request
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

UI_LANGUAGES = ("vi", "en")
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}  # each in its own language
DEFAULT_LANGUAGE = "vi"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def N_(text: str) -> str:
    """Marks a text for `pybabel extract`; it is translated where it is shown."""
    return text


def NP_(context: str, text: str) -> tuple[str, str]:
    """Marks a text in a context (babel.cfg: `NP_:1c,2`); `pgettext` translates the pair.

    The context keeps apart texts that read the same in English and not in Vietnamese
    (the workbook's "Responses": a sheet's name, a count's label).
    """
    return context, text


# The texts Python code shows, by key; the templates' own texts are in the templates.
MESSAGES: dict[str, str] = {
    "required": N_("Please answer this question."),
    "unknown_choice": N_("Not one of the choices: %(value)s."),
    "one_choice": N_("Choose only one option."),
    "not_integer": N_("Please enter a whole number."),
    "not_decimal": N_("Please enter a number."),
    "not_text": N_("The answer must be text."),
    "bad_character": N_(
        "The answer contains a character that cannot be stored (an invalid "
        "or control character). Please type it again."
    ),
    "too_long": N_("The answer is too long (at most %(limit)s characters)."),
    "number_range": N_("The number is too large."),
    "unknown_question": N_("There is no such question."),
    "not_answerable": N_("This question takes no answer."),
    "other_without_other": N_("Fill this in only when you choose “Other”."),
    "constraint": N_("This answer is not valid."),
    "not_date": N_("Please enter a valid date."),
    "date_min": N_("The date cannot be before %(limit)s."),
    "date_max": N_("The date cannot be after %(limit)s."),
    "date_future": N_("The date cannot be in the future."),
    "not_email": N_("Please enter a valid email address, such as name@example.com."),
    "not_phone": N_("Please enter a Vietnamese phone number, such as 0912 345 678."),
    "geo_incomplete": N_("Please give both the latitude and the longitude."),
    "geo_lat": N_("The latitude is a number from -90 to 90, such as 11.9404."),
    "geo_lon": N_("The longitude is a number from -180 to 180, such as 108.4583."),
    "geo_accuracy": N_("The accuracy is a number of metres from 0 to %(limit)s."),
    "geo_unavailable": N_("Your location could not be found. Please type it instead."),
    "upload_unknown": N_("The file was not received. Please choose it again."),
    "upload_too_large": N_("The file is too large: at most %(limit)s MB."),
    "upload_wrong_type": N_("This kind of file is not accepted here. Accepted: %(kinds)s."),
    "upload_busy": N_("Too many files sent from this network. Please try again in a minute."),
    "upload_empty": N_("The file is empty. Please choose another."),
    "number_min": N_("The smallest number allowed is %(limit)s."),
    "number_max": N_("The largest number allowed is %(limit)s."),
    "scale_range": N_("Choose a number from %(low)s to %(high)s."),
    "too_few_choices": N_("Choose at least %(limit)s options."),
    "too_many_choices": N_("Choose at most %(limit)s options."),
    "exclusive": N_("“%(choice)s” cannot be chosen together with other options."),
    "rank_incomplete": N_("Please rank every option."),
    "rank_positions": N_("Use each rank once, starting from 1."),
    "matrix_incomplete": N_("Please answer every row."),
    "unknown_row": N_("There is no such row: %(value)s."),
    "not_acknowledged": N_("Please tick the box to confirm."),
    "not_rows": N_("The answer must be a list of rows."),
    "rows_too_few": N_("Please add at least %(limit)s row(s)."),
    "rows_too_many": N_("At most %(limit)s row(s) can be added."),
    "rows_count": N_("Please fill in exactly %(limit)s row(s)."),
    "other": N_("Other"),
    # A geopoint's columns, in the data files' variable labels.
    "geo_part_lat": N_("latitude"),
    "geo_part_lon": N_("longitude"),
    "geo_part_acc": N_("accuracy (metres)"),
    "other_specify": N_("Other (please specify)"),
    # The same text as the template's error summary, for the page's script.
    "errors_title": N_("Not sent yet. Please fix the %(count)s problem(s) below."),
    "thanks_title": N_("Thank you!"),
    "thanks_body": N_("Your answers have been received."),
    "already_sent_title": N_("This form was already sent"),
    "already_sent_body": N_(
        "This form was sent before with other answers; the later sending was not stored."
    ),
    "new_response": N_("Answer again"),
    "already_answered_title": N_("You have already answered"),
    "already_answered_body": N_(
        "This survey takes one answer from each phone or computer, and yours has been "
        "received. Thank you!"
    ),
    "code_used_title": N_("This code has been used"),
    "code_used_body": N_(
        "An answer was already sent with this access code; each code can be used once. "
        "If you have not answered yet, please ask for a new code."
    ),
    "code_unknown_title": N_("Access code not recognised"),
    "code_unknown_body": N_(
        "This survey is answered with an access code, and the code given is not one of "
        "its codes. Please check the code on your sheet or message."
    ),
    "quota_full_title": N_("This group is full"),
    "quota_full_body": N_(
        "The survey has received all the answers it needs from people in your group. "
        "Thank you for your interest."
    ),
    "closed_title": N_("Survey not open"),
    "closed_body": N_("This survey is not accepting answers now."),
    "not_open_title": N_("Survey not open yet"),
    "not_open_body": N_("This survey has not started taking answers yet. Please come back later."),
    "full_title": N_("Survey full"),
    "full_body": N_(
        "This survey has received all the answers it needs. Thank you for your interest."
    ),
    "not_found_title": N_("Survey not found"),
    "not_found_body": N_("The link is wrong or the survey was removed."),
    # Which reviewed responses a view counts (results/filters.py INCLUDES).
    "include_default": N_("Counted: unreviewed, accepted and flagged responses"),
    "include_unflagged": N_("Counted: unreviewed and accepted responses (flagged left out)"),
    "include_all": N_("Counted: every response, excluded ones too"),
    "review_status_unreviewed": N_("unreviewed"),
    "review_status_accepted": N_("accepted"),
    "review_status_flagged": N_("flagged"),
    "review_status_excluded": N_("excluded"),
    "review_status_line": N_("status %(status)s"),
    "review_flag_line": N_("flag %(flag)s"),
    "review_flag_speeder": N_("too fast (speeder)"),
    "review_flag_straight_lining": N_("same answer down a grid (straight-lining)"),
    "review_flag_duplicate": N_("duplicate (same device or network and answers)"),
    "review_flag_burst": N_("burst from one network"),
    "review_flag_attention": N_("failed the attention check"),
    "review_flag_over_limit": N_("sent over the rate limit"),
    "review_flag_no_device": N_("no device token"),
    "too_large_title": N_("Too much text"),
    "too_large_body": N_("The form sent was too large. Please shorten your answers and try again."),
    "unavailable": N_(
        "The system is busy, so your answers were not sent yet. They are all "
        "still here: please press Submit again in a few minutes."
    ),
    "service_unavailable_title": N_("Service busy"),
    "service_unavailable_body": N_(
        "The service is unavailable for a moment. Please try again in a few minutes."
    ),
    # The page's script (static/survey.js): one page at a time, saved on the phone.
    "progress": N_("Page %(page)s of %(total)s"),
    "errors_page": N_("Please fix the %(count)s problem(s) below to continue."),
    "restored": N_("Your earlier answers have been restored."),
    "sending": N_("Sending…"),
    "offline_retrying": N_("Connection lost, trying to send again…"),
    # Over a circuit breaker's limit (intake/admission.py): the script's proof of work.
    "busy_check": N_(
        "Many answers are arriving at once. Your phone is making a short check before "
        "sending; your answers are all kept. Please wait…"
    ),
    # A population margins file (results/margins.py) and the raking (results/weights.py).
    "margins_too_big": N_("The file is over %(limit)s kB."),
    "margins_empty": N_("The file is empty."),
    "margins_too_long": N_("The file has more than %(limit)s rows."),
    "margins_not_utf8": N_("The file is not UTF-8 text (byte %(at)s)."),
    "margins_nul": N_("The file holds a NUL character: it is not a CSV file."),
    "margins_bad_csv": N_("The CSV file cannot be read: %(error)s"),
    "margins_bad_xlsx": N_("The file is not an Excel workbook (.xlsx) that can be read."),
    "margins_columns": N_(
        "Row 1 must name the columns variable, category and count (or share); "
        "it lacks: %(missing)s."
    ),
    "margins_not_select": N_("Row %(row)s: %(name)s is not a single-choice question."),
    "margins_not_choice": N_("Row %(row)s: %(category)s is not a choice of %(name)s."),
    "margins_not_number": N_("Row %(row)s: %(value)s is not a number of 0 or more."),
    "margins_twice": N_("Row %(row)s: %(name)s %(category)s is given twice."),
    "margins_zero": N_("%(name)s: the targets add up to 0."),
    "margins_shares": N_("%(name)s: the shares add up to %(total)s, not 1 (or 100%%)."),
    "margins_none": N_("The file holds no margins."),
    "margins_too_many": N_("At most %(limit)s weighting variables."),
    "weights_bounds": N_(
        "The lower bound must be under 1 and the upper over 1, within %(low)s and %(high)s."
    ),
    "weights_no_respondent": N_(
        "%(name)s: no response is in %(categories)s; leave them out of the margins or "
        "merge them with a neighbour."
    ),
    "weights_no_target": N_(
        "%(name)s: responses are in %(categories)s, which the margins do not give."
    ),
    "weights_bad_targets": N_("%(name)s: the targets must be numbers of 0 or more."),
}


def ui_language(lang: str | None) -> str:
    """The interface's language for a reader's language: itself when the interface has
    a catalog for it, English for another (a survey written in French or Khmer: its
    readers more likely read English than Vietnamese), Vietnamese when none is known."""
    if lang in UI_LANGUAGES:
        return lang
    return "en" if lang else DEFAULT_LANGUAGE


def language_name(code: str) -> str:
    """A language's name in itself ("Français" for fr), for the language switch; the
    code itself when it names no language Babel knows (an XLSForm's "Lao" is a name)."""
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:] if name else code


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of an interface language (English: the msgids themselves)."""
    return Translations.load(str(TRANSLATIONS_DIR), [ui_language(lang)])


def file_translations(lang: str) -> gettext.NullTranslations:
    """The catalog of a file's language (an export's: the analyst's choice, which need not
    be the interface's); English, the msgids themselves, for a language without one.

    Typed as the standard library's catalog, whose pgettext gives a str (Babel's own
    annotation adds `object` for a sentinel it never returns)."""
    return translations(lang) if lang in UI_LANGUAGES else NullTranslations()


def message(key: str, lang: str, **values: object) -> str:
    """MESSAGES[key] in `lang` (Vietnamese when not an interface language), filled in."""
    text = translations(ui_language(lang)).gettext(MESSAGES[key])
    return text % values if values else text


def request_language() -> str:
    """Flask-Babel's locale selector: the language chosen for this request, else Vietnamese."""
    return ui_language(g.get("lang"))


ACCEPT_LANGUAGE_REMEMBERED = 200  # characters of a header worth remembering


def _best_match(header: str, available: tuple[str, ...]) -> str | None:
    """request.accept_languages.best_match(available), remembered for short headers:
    browsers send a handful of distinct ones, and parsing one costs every submission."""
    if len(header) > ACCEPT_LANGUAGE_REMEMBERED:
        return parse_accept_header(header, LanguageAccept).best_match(available)
    return _remembered_best_match(header, available)


@lru_cache(maxsize=1024)
def _remembered_best_match(header: str, available: tuple[str, ...]) -> str | None:
    return parse_accept_header(header, LanguageAccept).best_match(available)


def choose_language(available: Iterable[str], default: str) -> str:
    """`?lang=`, then the browser's Accept-Language, then the survey's default.

    The choice becomes the request's language, the one the templates' `_()` speak.
    """
    available = tuple(available)
    # One proxy lookup, not one per attribute (Flask types the proxy as the request).
    req = request._get_current_object()  # type: ignore[attr-defined]
    # Most requests have no query string: its parsing is skipped, not only its lookup.
    asked = req.args.get("lang") if req.query_string else None
    if asked in available:
        lang = asked
    else:
        lang = _best_match(req.headers.get("Accept-Language", ""), available) or default
    g.lang = lang
    if "_flask_babel" in g:  # Flask-Babel's state: a locale already looked up is dropped
        flask_babel.refresh()
    return lang
