"""XLSForm's sheets as survey-engine reads and writes them: the columns it knows, the
language columns' codes, a cell's text. Shared by the reader (xlsform.py) and the
writer (xlsform_writer.py), so that a written file reads back the same.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from survey_engine.definition.problems import N_
from survey_engine.definition.schema import PLAIN_SETTINGS
from survey_engine.definition.schema_common import LANG_RE
from survey_engine.definition.schema_questions import TEXT_KEYS

# One column per text and language (label::English (en)); row_label is survey-engine's own.
TEXT_COLUMNS = TEXT_KEYS
EXPRESSION_COLUMNS = ("relevant", "constraint", "choice_filter", "calculation")
# Columns only survey-engine understands (no XLSForm equivalent).
# `attention`: an attention check's expected answer (a matrix's as "row=choice ...").
EXTRA_COLUMNS = (
    "min",
    "max",
    "min_choices",
    "max_choices",
    "scale",
    "matrix_rows",
    "attention",
)
# A begin repeat row's: XLSForm's repeat_count (the roster's `count`), and the bounds on
# its rows, survey-engine's own.
REPEAT_COLUMNS = ("repeat_count", "min_count", "max_count")
PLAIN_COLUMNS = ("appearance", "default") + EXPRESSION_COLUMNS + EXTRA_COLUMNS + REPEAT_COLUMNS
SIMPLE_TYPES = {
    "note",
    "text",
    "integer",
    "decimal",
    "date",
    "calculate",
    "hidden",
    "acknowledge",
    "email",
    "phone",
    "rating",
    "nps",
    "geopoint",
    "barcode",
    "image",
    "audio",
    "video",
    "file",
}
# XLSForm types refused with a reason of their own (the rest: "is not supported").
REFUSED_TYPES = {
    "geotrace": N_("a line of points (geotrace) is not supported; use a geopoint per place"),
    "geoshape": N_("an area (geoshape) is not supported; use a geopoint per place"),
}
SELECT_ALIASES = {
    "select_one": "select_one",
    "select one": "select_one",
    "select_multiple": "select_multiple",
    "select all that apply": "select_multiple",
    "rank": "rank",
    "matrix": "matrix",
}
SELECT_RE = re.compile(
    r"^(select_one|select one|select_multiple|select all that apply|rank|"
    r"matrix)(?:\s+from)?\s+(\S+)(\s+or_other|\s+or specify other)?$",
    re.IGNORECASE,
)
# pyxform's other names of types survey-engine has ("gps": its old name of geopoint;
# "phone number" is its digits-only text; "phonenumber", without the space, is the
# device's number: a metadata type).
TYPE_ALIASES = {"string": "text", "int": "integer", "phone number": "phone", "gps": "geopoint"}
# XLSForm's metadata types: no question, nothing asked; what survey-engine keeps instead
# for every response (docs/survey-format.md, "XLSForm metadata types").
METADATA_TYPES = {
    "start": N_("the response's started_at"),
    "end": N_("the response's submitted_at"),
    "today": N_("the date of the response's submitted_at (Vietnam time)"),
    "deviceid": N_("the response's device_hash (a hash of the browser's device token)"),
    "username": N_(
        "nothing (respondents are anonymous; a closed survey keeps the access code's unit)"
    ),
    "simserial": N_("nothing (a browser cannot read the SIM)"),
    "subscriberid": N_("nothing (a browser cannot read the SIM)"),
    "phonenumber": N_("nothing (a browser cannot read the phone's number)"),
    "audit": N_("the response's duration_seconds and pages_visited"),
}
METADATA_ALIASES = {
    "start time": "start",
    "get start time": "start",
    "end time": "end",
    "get end time": "end",
    "get today": "today",
    "device id": "deviceid",
    "get device id": "deviceid",
    "imei": "deviceid",
    "uri:deviceid": "deviceid",
    "uri:username": "username",
    "sim id": "simserial",
    "get sim id": "simserial",
    "uri:simserial": "simserial",
    "subscriber id": "subscriberid",
    "get subscriber id": "subscriberid",
    "uri:subscriberid": "subscriberid",
    "get phone number": "phonenumber",
    "uri:phonenumber": "phonenumber",
}
# `bind::X` columns (pyxform's raw XForm bind attributes) that survey-engine knows by
# another name; other bind:: columns are refused by their own name.
BIND_COLUMNS = {
    "relevant": "relevant",
    "required": "required",
    "constraint": "constraint",
    "calculate": "calculation",
    "jr:constraintmsg": "constraint_message",
    "jr:requiredmsg": "required_message",
    "readonly": "read_only",
}
# pyxform's other names of columns survey-engine reads.
COLUMN_ALIASES = {
    "jr:count": "repeat_count",
    "calculate": "calculation",
    "relevance": "relevant",
    "caption": "label",
    "constraining_message": "constraint_message",
    "requiredmsg": "required_message",
    "readonly": "read_only",
    "id_string": "form_id",
    "title": "form_title",
}
# Column prefixes pyxform passes to the XForm body: display hints for ODK Collect
# (`body::accuracyThreshold`, ...), ignored with a note.
IGNORED_PREFIXES = ("body",)
# Settings that change nothing in survey-engine, ignored with a note saying why.
IGNORED_SETTINGS = {
    "name": N_("the name of the XForm's data element; survey-engine has none"),
    "instance_name": N_("a response is named by its id"),
    "style": N_("survey-engine has one page style (pages, theme-grid, ... are ODK's)"),
    "allow_choice_duplicates": N_(
        "choice names must differ within a list all the same, "
        "since an answer is stored by its choice's name"
    ),
}
# pyxform straightens typographic quotes that spreadsheet programs put in formulas.
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
MEDIA_COLUMNS = {"image", "audio", "video", "big-image", "media"}
SETTINGS_TEXTS = ("form_title", "description")
SETTINGS_PLAIN = (
    "form_id",
    "default_language",
    "version",
    *PLAIN_SETTINGS,
    *IGNORED_SETTINGS,
)
# The settings columns that become definition["settings"] (when the column is there).
SETTINGS_KEYS = PLAIN_SETTINGS
SETTINGS_NUMBERS = ("max_responses", "retention_days")
SETTINGS_SWITCHES = ("allow_edit", "link_codes", "anonymous")
TRUE_WORDS = {"yes", "true", "true()", "1"}
FALSE_WORDS = {"no", "false", "false()", "0"}
LANGUAGE_NAMES = {
    "vi": "Vietnamese",
    "en": "English",
    "fr": "French",
    "zh": "Chinese",
    "km": "Khmer",
    "lo": "Lao",
    "th": "Thai",
    "es": "Spanish",
    "de": "German",
    "ja": "Japanese",
    "ko": "Korean",
    "ru": "Russian",
    "pt": "Portuguese",
}
LANGUAGE_CODES = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
# A question's path, a roster's row question's with a third index.
QUESTION_PATH_RE = re.compile(r"^pages\[(\d+)\]\.questions\[(\d+)\](?:\.questions\[(\d+)\])?")
PAGE_PATH_RE = re.compile(r"^pages\[(\d+)\]")
CHOICE_PATH_RE = re.compile(r"^choice_lists\.([^.\[]+)\[(\d+)\]")


class Header:
    """One sheet's header row: base column name and language (or None) per column;
    pyxform's aliases and `bind::` columns under survey-engine's names, `body::`
    columns in `ignored` (and as None)."""

    def __init__(self, cells: tuple) -> None:
        self.columns: list[tuple[str, str | None, str] | None] = []
        self.ignored: list[str] = []
        for cell in cells:
            if cell is None or not str(cell).strip():
                self.columns.append(None)
                continue
            raw = str(cell).strip()
            base, sep, lang = raw.partition("::") if "::" in raw else raw.partition(":")
            base = base.strip().lower().replace(" ", "_")
            language = lang.strip() if sep else None
            if base in IGNORED_PREFIXES and language:
                self.ignored.append(raw)
                self.columns.append(None)
                continue
            if base == "bind" and language:
                base, language = BIND_COLUMNS.get(language.lower(), raw), None
            base = COLUMN_ALIASES.get(base, base)
            self.columns.append((base, language, raw))


def language_code(spec: str) -> str | None:
    """'Vietnamese (vi)' or 'vi' -> 'vi'; a bare language name has no code -> None."""
    match = re.search(r"\(([^()]+)\)\s*$", spec)
    code = (match.group(1) if match else spec).strip()
    if LANG_RE.match(code):
        return code
    if LANG_RE.match(code.lower()) and not match:
        return code.lower()
    return LANGUAGE_CODES.get(code.lower())


def cell_text(value: Any) -> str | None:
    """A cell's value as stripped text (whole floats without .0, dates in ISO), or None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def expression_text(value: Any) -> str | None:
    """An expression cell's text with typographic quotes straightened, as pyxform does:
    Excel and Word turn 'yes' into ‘yes’ as it is typed."""
    text = cell_text(value)
    return text.translate(SMART_QUOTES) if text is not None else None


def settings_value(key: str, value: Any) -> Any:
    """One settings cell as the definition holds it: numbers as numbers (a whole float
    as an int), yes/no as true/false, anything else as text; the validator then says
    what is wrong with a value that is not what the key takes."""
    if key in SETTINGS_NUMBERS and not isinstance(value, str):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if key in SETTINGS_SWITCHES:
        if isinstance(value, bool):
            return value
        word = (cell_text(value) or "").lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
    text = cell_text(value)
    return text.lower() if key == "access" and text else text
