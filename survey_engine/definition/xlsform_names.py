"""Choice list and choice names as people write them in XLSForm, made into names
survey-engine/1 takes (xlsform.py reads; the schema checks the result).

Why: pyxform accepts a list named `yes no` or `q:1` and choices named `Có`, `a b` or
`(1)`; survey-engine stores answers by choice name and uses list names as
identifiers, so both are turned into the nearest plain name (accents dropped, other
characters as `_`) and every expression's string literal naming an old choice name is
rewritten, so `${q} = 'a b'` still means the same choice. Two names that become the
same are still caught, as repeated choices or lists.
"""

from __future__ import annotations

import re
import unicodedata

from survey_engine.definition.schema import CHOICE_NAME_RE
from survey_engine.definition.schema_common import NAME_RE

_NOT_LIST_NAME = re.compile(r"[^A-Za-z0-9_]+")
_NOT_CHOICE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# A quoted literal of an XPath expression: '...' or "..." (no escapes in XPath).
_LITERAL = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _ascii(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def list_name_of(raw: str) -> str:
    """A choice list's name as an identifier: 'yes no' -> 'yes_no', 'q:1' -> 'q_1'."""
    if NAME_RE.match(raw):
        return raw
    name = _NOT_LIST_NAME.sub("_", _ascii(raw)).strip("_") or "list"
    return ("_" + name if name[0].isdigit() else name)[:64]


def choice_name_of(raw: str) -> str:
    """A choice's name as survey-engine stores it: 'Có' -> 'Co', 'a b' -> 'a_b'."""
    if CHOICE_NAME_RE.match(raw):
        return raw
    name = _NOT_CHOICE_NAME.sub("_", _ascii(raw)).strip("_.-") or "_"
    return name[:64]


def rename_literals(expression: str, renamed: dict[str, str]) -> str:
    """`expression` with every quoted literal that is an old choice name replaced by
    the new name, in single quotes (a choice name holds none)."""

    def swap(match: re.Match) -> str:
        text = match[1] if match[1] is not None else match[2]
        return f"'{renamed[text]}'" if text in renamed else match[0]

    return _LITERAL.sub(swap, expression)
