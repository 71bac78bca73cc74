"""Answer checking shared by the form and the API: typed answers or a message per question."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.definition import Definition, clean_answers
from tests.conftest import demo_definition, valid_answers

DEMO = Definition(demo_definition())


def check(answers: dict, lang: str = "vi"):
    return clean_answers(DEMO, answers, lang)


def test_valid_answers_are_typed():
    answers, errors = check(valid_answers())
    assert errors == {}
    assert answers["children"] == 2
    assert answers["concerns"] == ["infection", "transport"]


def test_missing_required_answers_are_named():
    answers, errors = check({"comment": "chỉ góp ý"})
    assert set(errors) == {"district", "role", "support"}
    assert errors["district"] == "Vui lòng trả lời câu hỏi này."
    assert check({}, "en")[1]["role"] == "Please answer this question."


def test_unknown_choice_and_text_for_integer():
    _, errors = check({**valid_answers(), "district": "ha_noi", "children": "hai"})
    assert errors == {"district": "Lựa chọn không hợp lệ: ha_noi.",
                      "children": "Vui lòng nhập một số nguyên."}


def test_unknown_question_and_answer_to_a_note_are_refused():
    _, errors = check({**valid_answers(), "age": "40", "privacy_note": "x"}, "en")
    assert errors == {"age": "There is no such question.",
                      "privacy_note": "This question takes no answer."}


def test_select_one_takes_only_one_choice():
    _, errors = check({**valid_answers(), "role": ["parent", "teacher"]}, "en")
    assert errors == {"role": "Choose only one option."}


def test_select_multiple_keeps_the_lists_order_and_drops_repeats():
    answers, _ = check({**valid_answers(), "concerns": ["transport", "infection", "transport"]})
    assert answers["concerns"] == ["infection", "transport"]


def test_other_text_goes_with_the_other_choice():
    answers, errors = check({**valid_answers(), "concerns": ["other"], "concerns_other": "Bão"})
    assert errors == {} and answers["concerns_other"] == "Bão"
    _, errors = check({**valid_answers(), "concerns": ["other"]}, "en")
    assert errors == {"concerns_other": "Please answer this question."}
    _, errors = check({**valid_answers(), "concerns": ["infection"], "concerns_other": "x"}, "en")
    assert errors == {"concerns_other": "Fill this in only when you choose “Other”."}


def test_text_is_normalised_to_nfc_and_empty_answers_are_dropped():
    decomposed = unicodedata.normalize("NFD", "Đà Lạt mưa nhiều")
    answers, errors = check({**valid_answers(), "comment": "  " + decomposed, "children": ""})
    assert errors == {}
    assert answers["comment"] == unicodedata.normalize("NFC", "Đà Lạt mưa nhiều")
    assert "children" not in answers


def test_numbers_from_json_and_limits():
    assert check({**valid_answers(), "children": 3})[0]["children"] == 3
    assert check({**valid_answers(), "children": -1})[0]["children"] == -1
    _, errors = check({**valid_answers(), "children": 2.5}, "en")
    assert errors == {"children": "Please enter a whole number."}
    _, errors = check({**valid_answers(), "children": True}, "en")
    assert errors == {"children": "Please enter a whole number."}
    _, errors = check({**valid_answers(), "children": 10**30}, "en")
    assert errors == {"children": "The number is too large."}


def test_overlong_text_is_refused():
    _, errors = check({**valid_answers(), "comment": "a" * 5001}, "en")
    assert errors == {"comment": "The answer is too long (at most 5000 characters)."}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(answers=st.dictionaries(
    st.sampled_from(["district", "role", "children", "support", "concerns", "concerns_other",
                     "comment", "privacy_note"]) | st.text(max_size=8),
    json_values, max_size=8))
def test_any_json_answers_give_clean_answers_or_messages(answers):
    cleaned, errors = check(answers)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())
    if not errors:  # then everything kept is a valid, typed answer, checked again clean
        assert check(cleaned) == (cleaned, {})
