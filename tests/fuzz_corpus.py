"""The route fuzz test's corpus: hostile values, and what each route reads.

tests/test_route_fuzz.py sends every value below in every query parameter, form
field and URL variable of every route of the app's url_map, as anonymous, analyst
and admin, and asserts that no request ever gets a 5xx or shows a traceback.

Extend it here, in one place:
- a new kind of hostile input: add it to HOSTILE (query strings, forms, URL
  variables and uploads) and, if it only makes sense inside JSON, to JSON_HOSTILE;
- a new route: add its endpoint to ROUTES with the parameters and fields its view
  reads (test_every_endpoint_has_fuzz_inputs fails until you do);
- a 5xx that is known and being fixed elsewhere: KNOWN_5XX, with the finding. The
  test fails when such an entry no longer gives a 5xx: remove it once fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DEMO_SLUG = "tro-lai-truong-hoc"

# -- hostile values -----------------------------------------------------------------
# id -> value. A str is sent UTF-8 encoded, lone surrogates as their (invalid) UTF-8
# bytes (%ED%A0%80); a bytes value is sent as those raw bytes (%FF). Ids name the
# value in reports and in KNOWN_5XX.


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HOSTILE: dict[str, str | bytes] = {
    # numbers that are not what int()/float() expect, or are, and are too large
    "unicode_digit_sup2": "²",
    "unicode_digit_arabic3": "٣",
    "unicode_digit_fullwidth5": "５",
    "huge_int": "99999999999999999999",
    "huge_negative_int": "-99999999999999999999",
    "int64_overflow": "9223372036854775808",
    "int32_overflow": "2147483648",
    "negative": "-1",
    "zero": "0",
    "decimal_comma": "1,5",
    "float_overflow": "1e309",
    "nan": "nan",
    "NaN": "NaN",
    "inf": "inf",
    "negative_inf": "-inf",
    "Infinity": "Infinity",
    # dates
    "year_1": "0001-01-01",
    "year_9999": "9999-12-31",
    "feb_30": "2024-02-30",
    "month_13": "2024-13-01",
    "year_0": "0000-01-01",
    "slashed_date": "31/12/2024",
    "datetime_year_1": "0001-01-01T00:00",
    "datetime_year_9999": "9999-12-31T23:59",
    "datetime_offset": "2024-01-01T00:00+14:00",
    "five_digit_year": "10000-01-01",
    # text that breaks encoders, parsers and writers
    "lone_surrogate": "\ud800",
    "invalid_utf8": b"\xff",
    "overlong_utf8": b"\xc0\xaf",
    "nul": "a\x00b",
    "rtl_override": "\u202eabc",
    "non_character": "\uffff",
    "bom": "\ufeffx",
    "emoji": "😀",
    "vietnamese": "Đà Lạt",
    "long_10000": "x" * 10_000,
    "deep_json_600": _deep(600),
    "deep_json_5000": _deep(5000),
    "deep_object_600": _deep_object(600),
    "empty": "",
    "whitespace": " \t ",
    "crlf": "a\r\nb",
    "path_traversal": "../../etc/passwd",
    "script": "<script>alert(1)</script>",
    "formula": '=HYPERLINK("http://evil.example","x")',
    "sql_quote": "' OR '1'='1",
    "percent": "%",
    "expression": "${district}",
    "regex_bomb": "^(a+)+$",
    "json_object": '{"a": 1}',
    "json_list": "[1, 2]",
    "true": "true",
    "null": "null",
}

# Values a form or query string can only carry as a shape: the parameter twice
# (a list where one value is expected). Sent for every parameter as well.
LIST_VALUE = ("1", "2")

# -- hostile JSON values --------------------------------------------------------------
# id -> raw JSON text: a value where an answer, an id or the whole body is expected.
# Raw text, so that NaN, Infinity, 1e309, huge integers and lone surrogates reach the
# server exactly as a hand-made client would send them.
JSON_HOSTILE: dict[str, str] = {
    **{
        key: json.dumps(value)
        for key, value in HOSTILE.items()
        if isinstance(value, str) and not key.startswith("deep_")
    },
    "raw_NaN": "NaN",
    "raw_Infinity": "Infinity",
    "raw_negative_Infinity": "-Infinity",
    "raw_1e309": "1e309",
    "raw_huge_int": "99999999999999999999",
    "raw_huge_float": "1.7976931348623157e308",
    "raw_tiny_float": "5e-324",
    "raw_negative_zero": "-0",
    "raw_true": "true",
    "raw_false": "false",
    "raw_null": "null",
    "raw_empty_list": "[]",
    "raw_empty_object": "{}",
    "raw_list": '["da_lat", "bao_loc"]',
    "raw_nested_list": '[["a"]]',
    "raw_object": '{"masks": "agree"}',
    "raw_number": "3",
    "raw_float": "2.5",
    "raw_escaped_surrogate_pair_half": '"\\udc00"',
    "raw_escaped_nul": '"\\u0000"',
    "raw_deep_600": _deep(600),
    "raw_deep_5000": _deep(5000),
    "raw_deep_object_600": _deep_object(600),
    "raw_key_surrogate": '{"\\ud800": 1}',
}

# Whole request bodies for JSON routes: not JSON, not UTF-8, not an object.
BODY_HOSTILE: dict[str, bytes] = {
    "body_empty": b"",
    "body_not_json": b"not json",
    "body_invalid_utf8": b'{"answers": "\xff"}',
    "body_truncated": b'{"answers": {',
    "body_NaN": b"NaN",
    "body_list": b"[]",
    "body_string": b'"x"',
    "body_null": b"null",
    "body_deep_600": _deep(600).encode(),
    "body_deep_5000": _deep(5000).encode(),
    "body_deep_object_5000": _deep_object(5000).encode(),
    "body_duplicate_keys": b'{"answers": {}, "answers": []}',
    "body_bom": b'\xef\xbb\xbf{"answers": {}}',
}

# -- what each route reads --------------------------------------------------------------
# Placeholders in URL values and baselines, filled in by the test: {slug}, {target}
# (a staff account the admin may change and delete), {export}, {token}, {revision}
# (the survey's newest revision, read before each request), {password}, {sharee},
# {webhook} (a webhook endpoint of the demo) and {delivery} (one of its deliveries).


@dataclass(frozen=True)
class Inputs:
    """One way to call a route: its URL variables, the query parameters and form
    fields its view reads (each fuzzed with every hostile value, the others at their
    baseline), JSON bodies, uploads and headers.

    phase orders requests with effects: 0 reads, 1 edits, 2 the survey's lifecycle
    (publish, close, delete), 3 what ends an account, 4 signing out. Within one role's
    run, phase 0 of every route runs before phase 1 of any.
    """

    url: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    base_args: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    base_form: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    json_fields: tuple[str, ...] = ()  # keys of the JSON body's "answers" object
    files: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    phase: int = 0
    # Fields the view reads all of before it refuses any (answers, a question's
    # properties): fuzzed together, each request a different value in each, so that
    # every value meets every field in len(HOSTILE) requests. Every other parameter
    # is fuzzed alone, the rest at their baseline, so that no refusal of one hides
    # another (a bad ?row= would stop ?from= from being read).
    together: tuple[str, ...] = ()
    # Pages opened after a POST that saved (answered 3xx), besides the form itself:
    # what was saved must not break them.
    revisit: tuple[str, ...] = ()
    # Roles whose run fuzzes the fields (None: every role); the others send the
    # baseline and the URL variables only.
    fuzz_roles: tuple[str, ...] | None = None


# Every page reads ?lang= (choose_language, before any admin view): fuzzed on the
# routes that list it, and on these, rather than on all of them (one code path).
COMMON_ARGS: tuple[str, ...] = ()

_DEMO = {"slug": "{slug}"}
# A survey of the new field types (tests/fuzz_corpus.FIELD_TYPES_DEFINITION): a place,
# a barcode and file questions; {upload} is one of its uploads' tokens.
_FIELDS = {"slug": "{fields}"}
_CLOSED = {"slug": "{closed}"}  # the demo in closed mode, with a batch of codes
_REV = {"revision": "{revision}"}

# The form's own fields beside the answers (public/rendering.CONTROL_FIELDS).
# pages: the paradata's count of the pages survey.js showed (intake/paradata.py);
# js, pow_challenge, pow_counter: the page's script runs, and its proof of work
# (public/limits.py).
CONTROL_FIELDS = (
    "submission_id",
    "device_token",
    "started",
    "access_code",
    "pages",
    "js",
    "pow_challenge",
    "pow_counter",
)
# The API body's properties beside "answers".
API_BODY_FIELDS = ("submission_id", "device_token", "access_code")
# Answers of the demo survey, as its form sends them (public.submit, admin.preview).
ANSWER_FIELDS = (
    *CONTROL_FIELDS,
    "source",
    "privacy_note",
    "consent",
    "district",
    "commune",
    "role",
    "children",
    "levels",
    "support",
    "concerns",
    "concerns_other",
    "measures[masks]",
    "measures[half_classes]",
    "priorities[hygiene]",
    "priorities[catch_up]",
    "last_dose",
    "school_rating",
    "recommend",
    "follow_up",
    "concern_count",
    "phone",
    "email",
    "comment",
)
VALID_FORM = {
    "consent": "OK",
    "district": "da_lat",
    "commune": "dl_p1",
    "role": "parent",
    "children": "2",
    "support": "yes",
    "concerns": ("infection", "transport"),
    "follow_up": "yes",
    "phone": "0912 345 678",
    "comment": "Cần đảm bảo an toàn.",
}
ANSWER_NAMES = tuple(
    name for name in ANSWER_FIELDS if name not in CONTROL_FIELDS and "[" not in name
) + ("measures", "priorities", "no_such_question")
# Free text: most hostile strings are valid answers, so each is sent alone, the other
# answers valid, to reach where answers are stored; the others are fuzzed together.
TEXT_ANSWERS = ("source", "comment")
TOGETHER_ANSWERS = tuple(n for n in ANSWER_FIELDS if n not in TEXT_ANSWERS and n != "submission_id")
FILTER_ARGS = (
    "f.district",
    "f.role",
    "f.concerns",
    "f.comment",
    "f.nothing",
    "from",
    "to",
    "include",
)
# The export form's filters go through the same Filters.from_args as the dashboard's.
EXPORT_FILTER_ARGS = ("f.district", "from", "to", "include")
# The review page's filters (admin/review.py read_query), in its list and its bulk form.
REVIEW_ARGS = ("status", "flag", "unit", "from", "to")

_QUESTION_TEXTS = (
    "label.vi",
    "label.en",
    "hint.vi",
    "required_message.vi",
    "constraint_message.vi",
    "required",
    "relevant",
    "constraint",
    "default",
)
_QUESTION_COMMON = ("name", "type", "page", "revision", *_QUESTION_TEXTS)

# The builder's quotas form: the demo's quota (quota-0) and a new one (quota-1).
QUOTA_FIELDS = (
    "quota-0-name",
    "quota-0-questions",
    "quota-0-limit",
    "quota-0-limits",
    "quota-0-remove",
    "quota-1-name",
    "quota-1-questions",
    "quota-1-limit",
    "quota-1-limits",
    "revision",
)

FIELDS_SLUG = "loai-cau-hoi-moi"
FIELD_TYPES_DEFINITION = {
    "format": "survey-engine/1",
    "slug": FIELDS_SLUG,
    "title": "Địa điểm, mã và tệp",
    "default_language": "vi",
    "pages": [
        {
            "name": "p1",
            "questions": [
                {"name": "where", "type": "geopoint", "label": "Ở đâu?"},
                {"name": "sign", "type": "barcode", "label": "Mã"},
                {"name": "photo", "type": "image", "label": "Ảnh"},
                {"name": "voice", "type": "audio", "label": "Ghi âm"},
                {"name": "paper", "type": "file", "label": "Giấy tờ"},
                # rosters: one the citizen sizes, one sized by an answer
                {
                    "name": "members",
                    "type": "repeat",
                    "label": "Thành viên",
                    "max_count": 5,
                    "questions": [
                        {"name": "member_name", "type": "text", "label": "Tên"},
                        {"name": "age", "type": "integer", "label": "Tuổi", "max": 120},
                    ],
                },
                {"name": "kid_count", "type": "integer", "label": "Số con"},
                {
                    "name": "kids",
                    "type": "repeat",
                    "label": "Con",
                    "count": "${kid_count}",
                    "max_count": 5,
                    "questions": [{"name": "kid_age", "type": "integer", "label": "Tuổi"}],
                },
            ],
        }
    ],
}
# The form's fields for it: the place typed in parts, or as ODK's text; the tokens.
FIELD_TYPES_FORM = (
    "where[lat]",
    "where[lon]",
    "where[acc]",
    "where",
    "sign",
    "photo",
    "voice",
    "paper",
)
FIELD_TYPES_VALID = {"where[lat]": "11.94", "where[lon]": "108.45", "sign": "SL-1"}
# A roster's fields (public/rosters.py): a row's marker and answers, a row far past
# max_count, and the buttons that draw the page again (add, remove row N, show the rows).
ROSTER_FORM = (
    "members.1",
    "members.1.member_name",
    "members.1.age",
    "members.2.age",
    "members.9999.age",
    "members.add",
    "members.remove",
    "members.rows",
    "kid_count",
    "kids.1",
    "kids.1.kid_age",
    "kids.rows",
)
ROSTER_VALID = {
    **FIELD_TYPES_VALID,
    "members.1": "",
    "members.1.member_name": "Lan",
    "members.1.age": "30",
    "kid_count": "1",
    "kids.1": "",
    "kids.1.kid_age": "3",
}

ROUTES: dict[str, list[Inputs]] = {
    # -- public side
    "public.questionnaire": [
        Inputs(_DEMO, args=("source", "lang")),
        # Closed mode: the link's code (a used, made-up or hostile one).
        Inputs(_CLOSED, args=("code",), base_args={"code": "{code}"}),
        Inputs(_FIELDS, args=("lang",)),
    ],
    "public.submit": [
        Inputs(
            _DEMO,
            form=ANSWER_FIELDS,
            base_form=VALID_FORM,
            args=("lang",),
            together=TOGETHER_ANSWERS,
            # read for the paradata's device class and browser (useragent.py)
            headers=("User-Agent",),
            phase=1,
        ),
        Inputs(
            _CLOSED,
            form=("access_code",),
            base_form={**VALID_FORM, "access_code": "{code}"},
            phase=1,
        ),
        # geopoint, barcode and file questions; files sent with the multipart form too
        Inputs(
            _FIELDS,
            form=(*CONTROL_FIELDS, *FIELD_TYPES_FORM),
            base_form={**FIELD_TYPES_VALID, "photo": "{upload}"},
            together=FIELD_TYPES_FORM,
            files=("photo", "voice", "paper"),
            phase=1,
        ),
        Inputs(_FIELDS, form=ROSTER_FORM, base_form=ROSTER_VALID, together=ROSTER_FORM, phase=1),
    ],
    # A citizen's file, before the answers (api/uploads.py): the question named, the file.
    "api.upload_file": [
        Inputs(
            _FIELDS,
            args=("lang",),
            form=("question",),
            base_form={"question": "photo"},
            files=("file",),
            phase=1,
        )
    ],
    "public.thanks": [Inputs(_DEMO, args=("lang",))],
    # The demo has a quota by district and role in this test (test_route_fuzz._people).
    "public.quota_check": [
        Inputs(
            _DEMO,
            args=("district", "role", "lang"),
            base_args={"district": "da_lat", "role": "parent"},
        )
    ],
    "public.favicon": [Inputs()],
    "static": [Inputs({"filename": "survey.css"}, args=("v",))],
    "health.healthz": [Inputs()],
    "metrics.metrics": [Inputs(headers=("Authorization",))],
    # -- API
    "api.definition": [Inputs(_DEMO)],
    "api.submit_response": [
        Inputs(
            _DEMO,
            json_fields=ANSWER_NAMES,
            phase=1,
            together=tuple(f"answers.{n}" for n in ANSWER_NAMES if n not in TEXT_ANSWERS),
            headers=("User-Agent",),
        ),
        Inputs(
            _FIELDS,
            json_fields=("where", "sign", "photo", "voice", "paper"),
            phase=1,
            together=("answers.where", "answers.photo", "answers.voice", "answers.paper"),
        ),
    ],
    # The dashboard's filters, read by the same Filters.from_args.
    "api.results": [Inputs(_DEMO, args=FILTER_ARGS, headers=("Authorization",))],
    # The data API: the same filters, the page's cursor and limit, JSON or CSV.
    "api.list_surveys": [Inputs(headers=("Authorization",))],
    "api.list_responses": [
        Inputs(
            _DEMO,
            args=(*FILTER_ARGS, "cursor", "limit", "lang"),
            base_args={"limit": "5"},
            headers=("Authorization", "Accept"),
        )
    ],
    "api.version_definition": [Inputs({**_DEMO, "number": "1"}, headers=("Authorization",))],
    "api.openapi": [Inputs()],
    # -- sign-in, one's own account
    "admin.login": [
        Inputs(
            args=("next", "lang"),
            form=("email", "password", "next"),
            base_form={"email": "locked@example.org", "password": "wrong-pw"},
            together=("email", "password", "next"),
            # Each POST checks an Argon2 hash (~0.1-0.3 s): the form does
            # the same for everyone, so anonymous alone fuzzes it.
            fuzz_roles=("anonymous",),
        )
    ],
    "admin.logout": [Inputs(phase=4)],
    "admin.index": [Inputs(args=("lang", "q", "status", "page"), together=("q", "status", "page"))],
    "admin.password": [
        Inputs(
            form=("password", "new_password", "confirm_password"),
            base_form={
                "password": "{password}",
                "new_password": "{password}",
                "confirm_password": "{password}",
            },
            together=("password", "new_password", "confirm_password"),
            phase=3,
        )
    ],
    "admin.tokens": [Inputs(phase=1)],
    "admin.sessions": [Inputs()],
    "admin.end_own_session": [Inputs({"session_id": "{session}"}, phase=3)],
    "admin.end_other_sessions": [Inputs(phase=3)],
    "admin.revoke_own_token": [Inputs({"token_id": "{token}"}, phase=2)],
    # -- accounts (admins)
    "admin.users": [
        Inputs(
            form=("email", "role", "password"),
            base_form={"email": "new@example.org", "role": "analyst", "password": "short"},
            phase=1,
        )
    ],
    "admin.user": [Inputs({"user_id": "{target}"})],
    "admin.change_role": [
        Inputs({"user_id": "{target}"}, form=("role",), base_form={"role": "editor"}, phase=1)
    ],
    "admin.reset_password": [
        Inputs(
            {"user_id": "{target}"}, form=("password",), base_form={"password": "short"}, phase=1
        )
    ],
    "admin.unlock_user": [Inputs({"user_id": "{target}"}, phase=1)],
    "admin.delete_account": [Inputs({"user_id": "{target}"}, phase=3)],
    "admin.audit_log": [
        Inputs(args=("survey", "action", "actor", "page"), base_args={"action": "login"})
    ],
    # -- surveys
    "admin.new_survey": [Inputs(files=("definition",), phase=1)],
    "admin.create_survey": [
        Inputs(
            form=("slug", "title", "language", "first_question"),
            base_form={"slug": DEMO_SLUG, "title": "x", "language": "vi"},
            phase=1,
        )
    ],
    "admin.survey_from_template": [
        Inputs(
            form=("template", "slug", "title"),
            base_form={"template": "y-kien-quan-ly-dat-dai", "slug": DEMO_SLUG, "title": "x"},
            phase=1,
        )
    ],
    "admin.copy_questions": [
        Inputs(
            _DEMO,
            args=("source",),
            form=("source", "page", "question", "revision"),
            base_form={**_REV, "source": "{closed}", "question": "district"},
            phase=1,
        )
    ],
    "admin.survey": [Inputs(_DEMO, files=("definition",), phase=1)],
    "admin.definition_json": [Inputs(_DEMO)],
    "admin.definition_xlsx": [Inputs(_DEMO)],
    "admin.export_responses": [Inputs(_DEMO)],
    "admin.duplicate_survey": [
        Inputs(
            _DEMO,
            form=("slug", "title"),
            base_form={"slug": "ban-sao", "title": "Bản sao"},
            phase=1,
        )
    ],
    "admin.publish": [
        Inputs(
            _DEMO, phase=2, revisit=("/s/{slug}", "/api/v1/surveys/{slug}", "/admin/surveys/{slug}")
        )
    ],
    "admin.change_status": [
        Inputs({**_DEMO, "action": "close"}, phase=2),
        Inputs({**_DEMO, "action": "reopen"}, phase=2),
        Inputs({**_DEMO, "action": "archive"}, phase=2),
    ],
    "admin.delete_survey": [
        Inputs(
            _DEMO,
            form=("confirm", "confirm_slug"),
            base_form={"confirm": "yes", "confirm_slug": "{slug}"},
            phase=2,
        )
    ],
    "admin.sharing": [Inputs(_DEMO, form=("email",), base_form={"email": "{sharee}"}, phase=1)],
    "admin.access_codes": [
        Inputs(_DEMO, form=("unit", "size"), base_form={"unit": "Trường A", "size": "3"}, phase=1)
    ],
    "admin.download_codes": [
        Inputs({**_CLOSED, "batch_id": "{batch}", "fmt": fmt}, args=("part",))
        for fmt in ("csv", "pdf", "png")
    ],
    "admin.unshare": [Inputs({**_DEMO, "user_id": "{sharee_id}"}, phase=1)],
    # The margins file, its bounds and the remove action (with a real file too).
    "admin.weights": [
        Inputs(_DEMO, form=("low", "high", "action"), files=("margins",), phase=1),
        Inputs(_DEMO, form=("low", "high", "action"), base_form={"low": "0.2", "high": "5"}),
    ],
    # -- webhooks ({webhook}: an endpoint of the demo, {delivery}: one of its deliveries)
    "admin.webhooks": [
        Inputs(
            _DEMO,
            args=("before",),
            form=("url",),
            base_form={"url": "https://hooks.example.invalid/fuzz"},
            phase=1,
        )
    ],
    "admin.webhook_secret": [
        Inputs(
            {**_DEMO, "endpoint_id": "{webhook}"},
            form=("action",),
            base_form={"action": "show"},
            phase=1,
        )
    ],
    "admin.webhook_delivery": [Inputs({**_DEMO, "delivery_id": "{delivery}"})],
    "admin.replay_webhook": [Inputs({**_DEMO, "delivery_id": "{delivery}"}, phase=1)],
    "admin.delete_webhook": [Inputs({**_DEMO, "endpoint_id": "{webhook}"}, phase=2)],
    # -- results and exports
    "admin.results": [
        Inputs(
            _DEMO,
            args=(*FILTER_ARGS, "row", "col", "by"),
            base_args={"row": "district", "col": "support"},
        )
    ],
    "admin.text_answers": [
        Inputs({**_DEMO, "question": "comment"}, args=(*FILTER_ARGS, "q", "page"))
    ],
    "admin.exports": [Inputs(_DEMO, args=EXPORT_FILTER_ARGS)],
    "admin.start_export": [
        Inputs(
            _DEMO,
            form=("fmt", "lang", "breakdown", "codes", *EXPORT_FILTER_ARGS),
            base_form={"fmt": fmt},
            phase=1,
        )
        for fmt in ("csv", "sav")  # dta and r: the same form, the same checks
    ]
    + [
        # The quick report: its language and breakdown (the filters are fuzzed above;
        # each report rendered costs a second, so not again here).
        Inputs(
            _DEMO,
            form=("lang", "breakdown"),
            base_form={"fmt": "pdf"},
            phase=1,
        ),
    ],
    "admin.review_list": [
        Inputs(_DEMO, args=(*REVIEW_ARGS, "page", "limit"), base_args={"status": "any"})
    ],
    "admin.review_many": [
        Inputs(
            _DEMO,
            form=("action", "reason", "scope", "ids", *REVIEW_ARGS),
            base_form={"action": "accept", "scope": "matching", "status": "excluded"},
            phase=1,
        )
    ],
    "admin.review_response": [
        Inputs(
            {**_DEMO, "response_id": "{response}"},
            form=("action", "reason"),
            base_form={"action": "flag", "reason": "x"},
            phase=1,
        )
    ],
    "admin.export_progress": [Inputs({"export_id": "{export}"})],
    "admin.download_export": [Inputs({"export_id": "{export}"})],
    # A citizen's uploaded file, for staff who may see its survey.
    "admin.download_upload": [Inputs({**_FIELDS, "token": "{upload}"})],
    # -- builder
    "admin.builder": [Inputs(_DEMO)],
    "admin.change_structure": [
        Inputs(
            _DEMO,
            form=(
                "change",
                "target",
                "type",
                "question_name",
                "question_label",
                "page_name",
                "page_title",
                "revision",
            ),
            base_form={
                **_REV,
                "change": "add_question",
                "target": "contact",
                "type": "text",
                "question_name": "fuzz_q",
            },
            phase=1,
        ),
        Inputs(
            _DEMO,
            form=("change", "target"),
            base_form={**_REV, "change": "question_down", "target": "comment"},
            phase=1,
        ),
        # A drag and drop, and a copy of a question (builder_live.py's script).
        Inputs(
            _DEMO,
            form=("target", "page", "before"),
            base_form={
                **_REV,
                "change": "place_question",
                "target": "comment",
                "page": "contact",
                "before": "phone",
            },
            phase=1,
        ),
        Inputs(
            _DEMO,
            form=("target", "before"),
            base_form={**_REV, "change": "place_page", "target": "contact", "before": "opinion"},
            phase=1,
        ),
        Inputs(
            _DEMO,
            form=("target",),
            base_form={**_REV, "change": "duplicate_question", "target": "comment"},
            phase=1,
        ),
        # A question of a roster's row, from the roster's page (the demo has none:
        # refused, after every field is read).
        Inputs(
            _DEMO,
            form=("target", "row_type", "question_name", "question_label", "roster"),
            base_form={
                **_REV,
                "change": "add_row_question",
                "target": "children",
                "row_type": "integer",
                "question_name": "fuzz_row",
                "roster": "children",
            },
            phase=1,
        ),
        Inputs(
            _DEMO,
            form=("target",),
            base_form={**_REV, "change": "duplicate_page", "target": "contact"},
            phase=1,
        ),
        # The "where do you live?" block (builder_localities.py).
        Inputs(
            _DEMO,
            form=("target", "provinces", "depth", "prefix"),
            base_form={
                **_REV,
                "change": "add_locality",
                "target": "contact",
                "provinces": "2025:68",
                "depth": "commune",
                "prefix": "fuzz_",
            },
            phase=1,
        ),
    ],
    # The builder in place (builder_live.py; the drop and duplicate changes above).
    "admin.draft_revision": [Inputs(_DEMO)],
    "admin.check_expression": [
        Inputs(
            _DEMO,
            form=("question", "page", "field", "expression"),
            base_form={"question": "children", "field": "relevant", "expression": "2 > 1"},
            phase=0,
        ),
        Inputs(
            _DEMO,
            form=("page", "expression"),
            base_form={"page": "opinion", "field": "relevant", "expression": "1 = 1"},
            phase=0,
        ),
    ],
    "admin.undo_change": [Inputs(_DEMO, form=("revision",), base_form=_REV, phase=1)],
    "admin.new_list": [Inputs(_DEMO, args=("name",))],
    "admin.edit_list": [
        Inputs(
            {**_DEMO, "name": "districts"},
            args=("new", "column", "row"),
            form=(
                "choice-0-name",
                "choice-0-label.vi",
                "choice-0-label.en",
                "choice-0-position",
                "choice-0-exclusive",
                "choice-0-delete",
                "choice-0-x-district",
                "choice-99999999999999999999-name",
                "new_column",
                "delete_list",
                "revision",
            ),
            together=(
                "choice-0-label.vi",
                "choice-0-label.en",
                "choice-0-position",
                "choice-0-exclusive",
                "choice-0-x-district",
            ),
            base_form={
                **_REV,
                "choice-0-name": "da_lat",
                "choice-0-label.vi": "Đà Lạt",
                "choice-0-position": "1",
            },
            phase=1,
        ),
        # One choice changed by a button of the table (builder.py's _change_choice).
        Inputs(
            {**_DEMO, "name": "roles"},
            form=("change", "before", "choice-0-name", "choice-1-name", "choice-1-delete"),
            base_form={
                **_REV,
                "choice-0-name": "parent",
                "choice-1-name": "pupil",
                "change": "place_choice:1",
                "before": "0",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "roles"},
            form=("change",),
            base_form={**_REV, "choice-0-name": "parent", "change": "duplicate_choice:0"},
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "communes"},
            form=("choice-0-name", "choice-0-x-district", "choice-0-position"),
            base_form={
                **_REV,
                "choice-0-name": "dl_p1",
                "choice-0-x-district": "da_lat",
                "choice-0-label.vi": "Phường 1",
            },
            phase=1,
        ),
    ],
    "admin.edit_page": [
        Inputs(
            {**_DEMO, "name": "opinion"},
            form=("name", "title.vi", "title.en", "relevant", "revision"),
            base_form={**_REV, "name": "opinion", "title.vi": "Ý kiến"},
            phase=1,
        )
    ],
    "admin.edit_question": [
        # a question turned into a roster, its counts typed
        Inputs(
            {**_DEMO, "name": "children"},
            form=("min_count", "max_count", "count", "row_label.vi", "row_label.en"),
            together=("min_count", "max_count", "count", "row_label.vi"),
            base_form={
                **_REV,
                "name": "children",
                "type": "repeat",
                "page": "about_you",
                "label.vi": "Con",
                "max_count": "5",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "children"},
            form=(*_QUESTION_COMMON, "min", "max"),
            together=(*_QUESTION_TEXTS, "min", "max"),
            base_form={
                **_REV,
                "name": "children",
                "type": "integer",
                "page": "about_you",
                "label.vi": "Số con",
                "min": "0",
                "max": "10",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "school_rating"},
            form=("scale", "default"),
            base_form={
                **_REV,
                "name": "school_rating",
                "type": "rating",
                "page": "opinion",
                "label.vi": "Đánh giá",
                "scale": "5",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "concerns"},
            form=(
                "min_choices",
                "max_choices",
                "choices",
                "other",
                "choice_filter",
                "appearance",
                "default",
            ),
            together=(
                "min_choices",
                "max_choices",
                "other",
                "choice_filter",
                "appearance",
                "default",
            ),
            base_form={
                **_REV,
                "name": "concerns",
                "type": "select_multiple",
                "page": "opinion",
                "label.vi": "Lo ngại",
                "choices": "concerns",
                "max_choices": "3",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "measures"},
            form=("row-0-name", "row-0-label.vi", "row-0-position", "rows"),
            base_form={
                **_REV,
                "name": "measures",
                "type": "matrix",
                "page": "opinion",
                "label.vi": "Biện pháp",
                "choices": "agreement",
                "row-0-name": "masks",
                "row-0-label.vi": "Khẩu trang",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "last_dose"},
            form=("min", "max", "default"),
            base_form={
                **_REV,
                "name": "last_dose",
                "type": "date",
                "page": "opinion",
                "label.vi": "Ngày",
                "max": "today",
            },
            phase=1,
        ),
        Inputs(
            {**_DEMO, "name": "concern_count"},
            form=("calculation",),
            base_form={
                **_REV,
                "name": "concern_count",
                "type": "calculate",
                "page": "opinion",
                "calculation": "1",
            },
            phase=1,
        ),
    ],
    "admin.edit_settings": [
        Inputs(
            _DEMO,
            form=(
                "default_language",
                "title.vi",
                "title.en",
                "description.vi",
                "opens_at",
                "closes_at",
                "max_responses",
                "access",
                "allow_edit",
                "link_codes",
                "anonymous",
                "retention_days",
                "revision",
            ),
            together=("title.vi", "title.en", "description.vi"),
            revisit=("/admin/surveys/{slug}/preview", "/admin/surveys/{slug}/edit"),
            base_form={
                **_REV,
                "default_language": "vi",
                "title.vi": "Trở lại trường học",
                "max_responses": "100",
            },
            phase=1,
        )
    ],
    "admin.edit_quotas": [
        Inputs(
            _DEMO,
            form=QUOTA_FIELDS,
            together=QUOTA_FIELDS[:4],
            revisit=("/admin/surveys/{slug}/edit/settings", "/admin/surveys/{slug}/preview"),
            base_form={
                **_REV,
                "quota-0-name": "district_role",
                "quota-0-questions": ("district", "role"),
                "quota-0-limit": "1000000",
                "quota-0-limits": "bao_loc|teacher 0",
                "quota-1-name": "by_role",
                "quota-1-questions": "role",
                "quota-1-limit": "5",
            },
            phase=1,
        )
    ],
    "admin.edit_translations": [
        Inputs(
            _DEMO,
            args=("add_language",),
            form=(
                "add_language",
                "only_add",
                "title|vi",
                "title|en",
                "question:district:label|en",
                "choice:districts:da_lat|vi",
                "revision",
            ),
            base_form={**_REV, "title|en": "Back to school"},
            together=(
                "title|vi",
                "title|en",
                "question:district:label|en",
                "choice:districts:da_lat|vi",
            ),
            phase=1,
        )
    ],
    "admin.preview": [
        Inputs(
            _DEMO,
            args=("lang",),
            form=ANSWER_FIELDS,
            base_form=VALID_FORM,
            together=TOGETHER_ANSWERS,
        ),
        Inputs(_FIELDS, form=ROSTER_FORM, base_form=ROSTER_VALID, together=ROSTER_FORM),
    ],
    "admin.preview_thanks": [Inputs(_DEMO, args=("lang",))],
}

# Uploads: (file name, content) for file fields; the content's hostile values too.
UPLOAD_NAMES = (
    "definition.json",
    "definition.xlsx",
    "definition.xls",
    "../../x.json",
    "\u202ejson.xlsx",
    ".json",
    "x.JSON",
    "x" * 300 + ".json",
)
UPLOAD_CONTENTS: dict[str, bytes] = {
    "json_deep_600": _deep(600).encode(),
    "json_deep_5000": _deep(5000).encode(),
    "json_deep_object_5000": _deep_object(5000).encode(),
    "json_NaN": b'{"format": 1, "slug": "x", "pages": NaN}',
    "json_surrogate": b'{"format": 1, "slug": "x", "title": "\\ud800", "pages": []}',
    "json_huge_int": b'{"format": 99999999999999999999, "slug": "x", "pages": []}',
    "json_list": b"[]",
    "json_string": b'"x"',
    "not_utf8": b"\xff\xfe{}",
    "empty": b"",
    "zip_garbage": b"PK\x03\x04" + b"\x00" * 100,
    # for the file questions: a real signature with nothing after it, a page or a
    # script named as a photo, an SVG (script inside), a Windows program
    "png_header_only": b"\x89PNG\r\n\x1a\n",
    "jpeg_truncated": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "html_page": b"<!doctype html><script>alert(1)</script>",
    "svg_script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "exe": b"MZ\x90\x00" + b"\x00" * 60,
}

# -- known 5xx ---------------------------------------------------------------------------
# (endpoint, parameter, value id) -> the finding of issue 10 it belongs to. The
# parameter is a query/form name, "<var>" for a URL variable, "body" for a whole JSON
# body, "answers.<name>" for a JSON answer (* matches any), "file:<field>" for an
# upload; value ids "hypothesis_*" name the kind of a Hypothesis body. The test
# reports these apart and fails when one of them no longer gives a 5xx.
KNOWN_5XX: dict[tuple[str, str, str], str] = {
    # (endpoint, parameter, value id): "finding N". Empty: issue 10 fixed the 66 it
    # held (unencodable text, deep JSON, parameters, NUL on PostgreSQL).
}

# Known 5xx on one database only (the strict check runs on each).
KNOWN_5XX_ONLY: dict[str, dict[tuple[str, str, str], str]] = {"postgresql": {}, "sqlite": {}}
