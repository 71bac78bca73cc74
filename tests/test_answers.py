"""Answer checking shared by the form and the API: typed answers or a message per question."""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from survey_engine.definition import Definition, clean_answers
from survey_engine.definition.answers import local_today
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
    assert set(errors) == {"consent", "district", "commune", "role", "support"}
    assert errors["consent"] == "Cần đồng ý để tiếp tục."  # the author's required_message
    assert errors["district"] == "Vui lòng trả lời câu hỏi này."
    assert check({}, "en")[1]["role"] == "Please answer this question."


def test_unknown_choice_and_text_for_integer():
    _, errors = check({**valid_answers(), "district": "ha_noi", "children": "hai"})
    assert errors == {
        "district": "Lựa chọn không hợp lệ: ha_noi.",
        "children": "Vui lòng nhập một số nguyên.",
    }


def test_unknown_question_and_answer_to_a_note_are_refused():
    _, errors = check({**valid_answers(), "age": "40", "privacy_note": "x"}, "en")
    assert errors == {
        "age": "There is no such question.",
        "privacy_note": "This question takes no answer.",
    }


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
    _, errors = check({**valid_answers(), "children": -1}, "en")
    assert errors == {"children": "The smallest number allowed is 0."}
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
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


any_answers = st.dictionaries(
    st.sampled_from(
        [
            "district",
            "role",
            "children",
            "support",
            "concerns",
            "concerns_other",
            "comment",
            "privacy_note",
        ]
    )
    | st.text(max_size=8),
    json_values,
    max_size=8,
)
# Answers a respondent could give: each one valid, in one of several ways.
valid_variations = st.fixed_dictionaries(
    {},
    optional={
        "support": st.sampled_from(["yes", "no", "undecided"]),
        "children": st.integers(0, 20) | st.integers(0, 20).map(str),
        "concerns": st.lists(
            st.sampled_from(["infection", "vaccination", "hygiene", "transport"]),
            max_size=3,
            unique=True,
        ),
        "comment": st.text(
            st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]), max_size=40
        ),
    },
)


@st.composite
def answer_sets(draw) -> dict:
    """Any JSON at all, or the valid answers varied, some of them dropped or replaced
    by any JSON: so that both outcomes, messages and clean answers, come up often."""
    if draw(st.booleans()):
        return draw(any_answers)
    answers = {**valid_answers(), **draw(valid_variations)}
    for key in draw(st.lists(st.sampled_from(sorted(answers)), max_size=2, unique=True)):
        del answers[key]
    answers.update(
        draw(
            st.dictionaries(
                st.sampled_from(sorted(answers)) | st.text(max_size=8), json_values, max_size=2
            )
        )
    )
    return answers


def test_any_json_answers_give_clean_answers_or_messages():
    outcomes: Counter[str] = Counter()

    @settings(max_examples=400, deadline=None, database=None)
    @given(answers=answer_sets())
    def run(answers):
        cleaned, errors = check(answers)
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())
        if not errors:  # then everything kept is a valid, typed answer, checked again clean
            assert check(cleaned) == (cleaned, {})
        outcome = "refused" if errors else "valid"
        event(outcome)
        outcomes[outcome] += 1

    run()
    total = sum(outcomes.values())
    assert total >= 400
    # Both branches really ran, each for a good share of the examples.
    assert outcomes["valid"] >= total / 6, outcomes
    assert outcomes["refused"] >= total / 6, outcomes


def test_answers_to_questions_that_do_not_apply_are_dropped():
    teacher = {**valid_answers(), "role": "teacher", "children": "abc", "levels": ["primary"]}
    answers, errors = check(teacher)
    assert errors == {}  # children does not apply to a teacher: even a bad answer is ignored
    assert "children" not in answers and "levels" not in answers
    no_contact = {**valid_answers(), "follow_up": "no", "phone": "not a phone"}
    answers, errors = check(no_contact)
    assert errors == {} and "phone" not in answers and "comment" not in answers


def test_a_required_question_only_counts_where_it_applies():
    answers, errors = check({**valid_answers(), "phone": None}, "en")
    assert errors == {"phone": "Please answer this question."}
    answers, errors = check({**valid_answers(), "phone": None, "follow_up": "no"})
    assert errors == {}


def test_cascading_choice_must_belong_to_the_chosen_district():
    _, errors = check({**valid_answers(), "district": "bao_loc", "commune": "dl_p1"}, "en")
    assert errors == {"commune": "Not one of the choices: dl_p1."}
    answers, errors = check({**valid_answers(), "district": "bao_loc", "commune": "bl_blao"})
    assert errors == {} and answers["commune"] == "bl_blao"


def test_select_multiple_limits_and_exclusive_choice():
    _, errors = check(
        {**valid_answers(), "concerns": ["infection", "hygiene", "transport", "wellbeing"]}, "en"
    )
    assert errors == {"concerns": "Choose at most 3 options."}
    _, errors = check({**valid_answers(), "concerns": ["none", "infection"]}, "en")
    assert errors == {"concerns": "“No concerns” cannot be chosen together with other options."}
    assert check({**valid_answers(), "concerns": ["none"]})[1] == {}


def test_rank_matrix_scales_and_acknowledge():
    answers, errors = check(
        {
            **valid_answers(),
            "priorities": {"hygiene": "2", "distancing": "1", "ventilation": "4", "catch_up": "3"},
            "measures": {"masks": "agree", "testing": "disagree"},
            "school_rating": "4",
            "recommend": 0,
        }
    )
    assert errors == {}
    assert answers["priorities"] == ["distancing", "hygiene", "catch_up", "ventilation"]
    assert answers["measures"] == {"masks": "agree", "testing": "disagree"}
    assert answers["school_rating"] == 4 and answers["recommend"] == 0
    _, errors = check(
        {
            **valid_answers(),
            "priorities": ["hygiene", "hygiene"],
            "measures": {"roof": "agree"},
            "school_rating": 6,
            "recommend": 11,
            "consent": "no",
        },
        "en",
    )
    assert errors == {
        "consent": "Please tick the box to confirm.",
        "measures": "There is no such row: roof.",
        "priorities": "Please rank every option.",
        "school_rating": "Choose a number from 1 to 5.",
        "recommend": "Choose a number from 0 to 10.",
    }


def test_dates_emails_and_vietnamese_phone_numbers():
    today = local_today()
    answers, errors = check(
        {
            **valid_answers(),
            "last_dose": "2022-01-15",
            "phone": "+84 (91) 234-5678",
            "email": "An.Nguyen@Example.VN",
        }
    )
    assert errors == {}
    assert answers["last_dose"] == "2022-01-15"
    assert answers["phone"] == "+84912345678"
    assert answers["email"] == "An.Nguyen@example.vn"
    assert check({**valid_answers(), "phone": "0912.345.678"})[0]["phone"] == "+84912345678"
    assert "phone" in check({**valid_answers(), "phone": "09١٢٣٤٥٦٧٨"})[1]  # ASCII digits only
    tomorrow = (today + timedelta(days=1)).isoformat()
    _, errors = check(
        {**valid_answers(), "last_dose": tomorrow, "phone": "12345", "email": "an@"}, "en"
    )
    assert errors == {
        "last_dose": "The date cannot be in the future.",
        "phone": "Please enter a Vietnamese phone number, such as 0912 345 678.",
        "email": "Please enter a valid email address, such as name@example.com.",
    }
    _, errors = check({**valid_answers(), "last_dose": "2022-02-30"}, "en")
    assert errors == {"last_dose": "Please enter a valid date."}


def test_calculations_are_computed_here_whatever_the_page_sent():
    answers, _ = check({**valid_answers(), "concern_count": 99})
    assert answers["concern_count"] == 2
    answers, _ = check({**valid_answers(), "concerns": []})
    assert answers["concern_count"] == 0


def test_constraint_with_the_authors_message():
    definition = demo_definition()
    children = definition["pages"][0]["questions"][6]
    children.update(constraint=". != 7", constraint_message={"vi": "Không nhận số 7."})
    d = Definition(definition)
    _, errors = clean_answers(d, {**valid_answers(), "children": "7"}, "en")
    assert errors == {"children": "Không nhận số 7."}  # no English text: the default language
    assert clean_answers(d, {**valid_answers(), "children": "6"}, "en")[1] == {}


ROWS = [{"name": "r1"}, {"name": "r2"}, {"name": "r3"}]
ODD_CHOICES = Definition(
    {
        "slug": "odd",
        "title": "odd",
        "choice_lists": {
            "odd": [
                {"name": "a"},
                {"name": " b"},  # not stripped: the rule would send "b"
                {"name": unicodedata.normalize("NFD", "é")},  # not NFC
                {"name": "7"},
            ],
            "picks": [
                {"name": "a"},
                {"name": "7"},
                {"name": "none", "exclusive": True},
                {"name": " b"},
            ],
        },
        "pages": [
            {
                "name": "p",
                "questions": [
                    {"name": "one", "type": "select_one", "choices": "odd", "other": True},
                    {"name": "count", "type": "integer", "min": 0, "max": 5},
                    {"name": "half", "type": "integer", "min": 0.5},
                    {"name": "open", "type": "integer"},
                    {"name": "stars", "type": "rating", "scale": 7},
                    {"name": "nps", "type": "nps"},
                    {"name": "ok", "type": "acknowledge"},
                    {"name": "many", "type": "select_multiple", "choices": "picks"},
                    {
                        "name": "two",
                        "type": "select_multiple",
                        "choices": "odd",
                        "other": True,
                        "min_choices": 2,
                        "max_choices": 3,
                    },
                    {"name": "grid", "type": "matrix", "choices": "odd", "rows": ROWS},
                    {
                        "name": "full_grid",
                        "type": "matrix",
                        "choices": "odd",
                        "rows": ROWS,
                        "required": True,
                    },
                ],
            }
        ],
    }
)


NAMES = st.sampled_from(["a", " b", "b", unicodedata.normalize("NFD", "é"), "é", "7", "other"])


@settings(max_examples=1000, deadline=None, database=None)
@given(
    name=st.sampled_from([q.name for q in ODD_CHOICES.questions]),
    value=NAMES
    | st.lists(NAMES | st.sampled_from(["none", "", 7]), max_size=5)
    | st.lists(st.sampled_from(["a", "7", "none", "other"]), max_size=4)
    | st.dictionaries(st.sampled_from(["r1", "r2", "r3", "r4"]), NAMES | st.just(""), max_size=4)
    | st.dictionaries(st.sampled_from(["r1", "r2", "r3"]), st.sampled_from(["a", "7"]))
    | st.sampled_from(["OK", "ok", True, 1])
    | st.integers(-(2**54), 2**54)
    | st.integers(-3, 12)
    | json_values,
)
def test_an_answer_taken_as_sent_is_what_its_rule_returns(name, value):
    """The answers check takes a select_one's choice name, a scale's or an integer's
    whole number, the acknowledgement, a select_multiple's or a matrix's clean names as
    sent, without asking the question's rule (answer_types.kept_as_sent); for any
    answer at all, what it takes so must be exactly what the rule returns, in the same
    order."""
    from survey_engine.definition.answer_types import Invalid, cleaner, kept_as_sent

    q = ODD_CHOICES.by_name[name]
    kept = kept_as_sent(q)
    if kept is None or type(value) is not kept[0] or value not in kept[1]:
        return
    event(f"{q.type} taken as sent")
    try:
        ruled = cleaner(q.type)(q, value, local_today())
    except Invalid as problem:
        raise AssertionError(f"{name}: {value!r} taken as sent, refused by the rule") from problem
    assert ruled == value and type(ruled) is type(value)
    if isinstance(value, dict):
        assert list(ruled) == list(value)


def test_what_the_rule_would_change_is_not_taken_as_sent():
    from survey_engine.definition.answer_types import kept_as_sent

    assert kept_as_sent(ODD_CHOICES.by_name["one"])[1] == {"a", "7", "other"}
    assert kept_as_sent(ODD_CHOICES.by_name["half"]) is None  # a limit that is no integer
    count = kept_as_sent(ODD_CHOICES.by_name["count"])
    assert count[0] is int and 0 in count[1] and 5 in count[1] and 6 not in count[1]
    assert check({**valid_answers(), "children": True})[1]["children"]  # bool is no integer
    many = kept_as_sent(ODD_CHOICES.by_name["many"])[1]
    assert ["a", "7"] in many and ["none"] in many
    assert ["7", "a"] not in many  # the rule puts them in the question's order
    assert ["a", "a"] not in many and [] not in many and ["a", "none"] not in many
    assert [" b"] not in many and ["b"] not in many
    two = kept_as_sent(ODD_CHOICES.by_name["two"])[1]
    assert ["a"] not in two and ["a", "7"] in two and ["a", "7", "other"] in two
    grid = kept_as_sent(ODD_CHOICES.by_name["grid"])[1]
    full_grid = kept_as_sent(ODD_CHOICES.by_name["full_grid"])[1]
    assert {"r1": "a", "r3": "7"} in grid and {"r1": "a", "r3": "7"} not in full_grid
    assert {"r3": "7", "r1": "a"} not in grid and {"r1": ""} not in grid and {} not in grid
    assert {"r1": "a", "r2": "a", "r3": "7"} in full_grid
    assert {"r1": "a", "r2": "a", "r3": "other"} not in full_grid  # no "other" here
