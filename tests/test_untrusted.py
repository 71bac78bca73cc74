"""The shared checks on untrusted text and JSON (survey_engine/untrusted.py), against
references written from the standards' definitions, not from the module."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.untrusted import (
    MAX_JSON_DEPTH,
    TooDeep,
    bad_character_at,
    first_bad_text,
    json_depth,
    load_json,
    safe_text,
)

PLANE_ENDS = {plane * 0x10000 + end for plane in range(17) for end in (0xFFFE, 0xFFFF)}


def unicode_says_bad(code: int) -> bool:
    """NUL (PostgreSQL's text cannot hold it), surrogates (Unicode 15, section 3.8)
    and the 66 non-characters (section 23.7)."""
    return code == 0 or 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code in PLANE_ENDS


def test_every_code_point_is_judged_as_unicode_says():
    every = "".join(map(chr, range(0x110000)))
    # Two replacements, so a character equal to one of them is still seen replaced.
    cleaned = zip(every, safe_text(every, "\ufffd"), safe_text(every, "?"), strict=True)
    replaced = [
        code
        for code, (before, one, other) in enumerate(cleaned)
        if before != one or before != other
    ]
    expected = [code for code in range(0x110000) if unicode_says_bad(code)]
    assert len(expected) == 1 + 2048 + 66
    assert replaced == expected
    for code in expected[::50] + expected[-3:]:
        assert bad_character_at("ab" + chr(code)) == 2
    assert bad_character_at("Đà Lạt \U0001f600 ok \ufdd0") == 12
    assert bad_character_at("plain ascii\x00") == 11


def test_safe_text_replaces_only_the_bad_characters():
    assert safe_text("Đà\ud800Lạt\U0010ffff!") == "Đà\ufffdLạt\ufffd!"
    assert safe_text("Đà Lạt") == "Đà Lạt"
    assert first_bad_text({"a": ["ok", {"b\udfff": 1}]}) == "b\udfff"
    assert first_bad_text({"a": ["ok", 1.5, None, True]}) is None


def real_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(real_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(real_depth, value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\u00e0'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=3), children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(json_values)
def test_json_depth_matches_the_parsed_structure(value):
    text = json.dumps(value, ensure_ascii=False)
    assert json_depth(text) == real_depth(value)
    assert json_depth(text.encode()) == real_depth(value)


def test_load_json_refuses_deep_nesting_before_parsing_and_nan():
    assert load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(TooDeep):
        load_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(TooDeep):
        load_json(b'{"a":' * 100_000)  # would exhaust the parser's recursion
    assert load_json('["' + "[" * 100 + '"]') == ["[" * 100]  # brackets in a string
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="not a JSON number"):
            load_json(f'{{"x": {constant}}}')
