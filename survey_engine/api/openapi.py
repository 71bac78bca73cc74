"""The OpenAPI 3.1 document of /api/v1, built from the code's own limits and field
lists so it cannot drift from them; served at /api/v1/openapi.json.

tests/test_openapi.py validates it (openapi-spec-validator), checks that its paths
are exactly the /api/v1 rules of the app, and fuzzes the API from it (schemathesis).
A new route or status code is added here, in the same commit as the view.
"""

from __future__ import annotations

from typing import Any

from survey_engine.api.blueprint import bp
from survey_engine.results.filters import INCLUDES
from survey_engine.results.response_pages import DEFAULT_LIMIT, MAX_LIMIT, RESPONSE_FIELDS
from survey_engine.untrusted import MAX_JSON_DEPTH
from survey_engine.web.converters import MAX_ID

JSON = "application/json"
CSV = "text/csv"
REF = "#/components"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}/{kind}/{name}"}


def _error(description: str, retry_after: bool = False, challenge: bool = False) -> dict:
    reply: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref("schemas", "Error")}},
    }
    headers: dict[str, Any] = {}
    if retry_after:
        headers["Retry-After"] = _ref("headers", "RetryAfter")
    if challenge:
        headers["WWW-Authenticate"] = {
            "description": 'Bearer realm="survey-engine"',
            "schema": {"type": "string"},
        }
    if headers:
        reply["headers"] = headers
    return reply


def _json(description: str, schema: dict, **more: Any) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}, **more}


_UNAUTHORIZED = _error(
    "no valid credentials (no token, a revoked one, no staff session)", challenge=True
)
_NOT_VISIBLE = _error(
    "no such survey, or one not shared with the caller (the same answer: slugs are not revealed)"
)
_READ_LIMIT = _json(
    "more requests than API_READ_RATE_LIMIT (120 a minute by default) from this caller",
    _ref("schemas", "ReadLimit"),
    headers={"Retry-After": _ref("headers", "RetryAfter")},
)
_STAFF: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]

SHARE = {
    "type": "object",
    "required": ["count", "total", "ratio", "ci_low", "ci_high"],
    "properties": {
        "count": {"type": "integer"},
        "total": {"type": "integer"},
        "ratio": {"type": ["number", "null"]},
        "ci_low": {"type": ["number", "null"]},
        "ci_high": {"type": ["number", "null"]},
    },
}

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "additionalProperties": True,
    },
    "Text": {
        "description": "a text, or the same text by language ({\"vi\": ..., \"en\": ...})",
        "oneOf": [
            {"type": "string"},
            {"type": "object", "additionalProperties": {"type": "string"}},
        ],
    },
    "Definition": {
        "type": "object",
        "description": "a survey definition, format survey-engine/1 (docs/survey-format.md)",
        "required": ["format", "slug", "pages"],
        "properties": {
            "format": {"const": "survey-engine/1"},
            "slug": {"type": "string"},
            "pages": {"type": "array", "items": {"type": "object"}},
        },
    },
    "PublishedDefinition": {
        "type": "object",
        "required": ["version", "status", "definition"],
        "properties": {
            "version": {"type": "integer"},
            "status": {"enum": ["open", "closed", "not_open", "full"]},
            "definition": _ref("schemas", "Definition"),
        },
    },
    "VersionDefinition": {
        "type": "object",
        "required": ["survey", "version", "published_at", "definition"],
        "properties": {
            "survey": {"type": "string"},
            "version": {"type": "integer"},
            "published_at": {"type": "string", "format": "date-time"},
            "definition": _ref("schemas", "Definition"),
        },
    },
    "Submission": {
        "type": "object",
        "required": ["submission_id", "answers"],
        "properties": {
            "submission_id": {"type": "string", "format": "uuid"},
            "answers": {"type": "object"},
            "access_code": {"type": "string"},
            "device_token": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "Accepted": {
        "type": "object",
        "required": ["status", "submission_id"],
        "properties": {
            "status": {"const": "accepted"},
            "submission_id": {"type": "string", "format": "uuid"},
            "duplicate": {"const": True},
        },
    },
    "Upload": {
        "type": "object",
        "required": ["token", "size", "type"],
        "properties": {
            "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
            "size": {"type": "integer", "minimum": 1},
            "type": {"type": "string", "description": "the kind its content was found to be"},
        },
    },
    "AnswerErrors": {
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "TooMany": {
        "type": "object",
        "required": ["error", "limit", "retry_after"],
        "properties": {
            "error": {"type": "string"},
            "limit": {"enum": ["network", "device", "survey"]},
            "retry_after": {"type": "integer"},
        },
    },
    "ReadLimit": {
        "type": "object",
        "required": ["error", "retry_after"],
        "properties": {"error": {"type": "string"}, "retry_after": {"type": "integer"}},
    },
    "SurveyList": {
        "type": "object",
        "required": ["surveys"],
        "properties": {
            "surveys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["slug", "title", "status", "created_at", "versions", "responses"],
                    "properties": {
                        "slug": {"type": "string"},
                        "title": _ref("schemas", "Text"),
                        "status": {"enum": ["draft", "published", "closed", "archived"]},
                        "created_at": {"type": "string", "format": "date-time"},
                        "versions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["number", "published_at"],
                                "properties": {
                                    "number": {"type": "integer"},
                                    "published_at": {"type": "string", "format": "date-time"},
                                },
                            },
                        },
                        "responses": {
                            "type": "integer",
                            "description": "stored responses but the excluded (the tallies)",
                        },
                    },
                },
            }
        },
    },
    "Response": {
        "type": "object",
        "required": list(RESPONSE_FIELDS),
        "properties": {
            name: {**schema, "description": text}
            for name, (schema, text) in RESPONSE_FIELDS.items()
        },
    },
    "ResponsePage": {
        "type": "object",
        "required": ["survey", "filters", "include", "limit", "responses", "next_cursor", "more"],
        "properties": {
            "survey": {"type": "string"},
            "filters": {
                "type": "array",
                "description": "the filters applied, as [parameter, value] pairs",
                "items": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "include": {"enum": list(INCLUDES)},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "responses": {"type": "array", "items": _ref("schemas", "Response")},
            "next_cursor": {
                "type": "string",
                "description": "?cursor= of the next page (later too, for newer responses)",
            },
            "more": {
                "type": "boolean",
                "description": "true: more responses are waiting now; false: caught up",
            },
        },
    },
    "Results": {
        "type": "object",
        "required": ["survey", "status", "complete", "responses", "questions"],
        "properties": {
            "survey": {"type": "string"},
            "status": {"enum": ["complete", "counting"]},
            "complete": {"type": "boolean"},
            "responses": {"type": ["integer", "null"]},
            "all_responses": {"type": "integer"},
            "filters": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "include": {"enum": list(INCLUDES)},
            "progress": {
                "type": "object",
                "properties": {
                    "counted": {"type": "integer"},
                    "total": {"type": "integer"},
                    "ratio": {"type": "number"},
                },
            },
            "questions": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["answered", "counts"],
                    "properties": {
                        "answered": {"type": "integer"},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "answered_share": SHARE,
                        "roster": {
                            "type": "string",
                            "description": "a roster's row question: the roster it is in; its "
                            "answered, counts and shares are of the roster's rows (a "
                            "household member's sex: shares of the members), not responses",
                        },
                        "rows": {
                            "type": "object",
                            "description": "a roster and its row questions: the roster's rows "
                            "counted, in how many responses",
                            "required": ["rows", "responses"],
                            "properties": {
                                "rows": {"type": "integer"},
                                "responses": {"type": "integer"},
                            },
                        },
                    },
                },
            },
            "pages": {"type": "object"},
            "quotas": {"type": "object"},
        },
    },
}

PARAMETERS: dict[str, dict] = {
    "slug": {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[^/]+$"},
        "description": "the survey's slug, e.g. tro-lai-truong-hoc",
    },
    "lang": {
        "name": "lang",
        "in": "query",
        "schema": {"type": "string"},
        "description": "language of messages and labels (then Accept-Language, then the survey's)",
    },
    "filters": {
        "name": "filters",
        "in": "query",
        "style": "form",
        "explode": True,
        "description": (
            "f.<question>=<choice>: keep responses whose answer to that select question is "
            "that choice; repeat for any of several; several questions must all match "
            "(the results dashboard's filters)"
        ),
        "schema": {
            "type": "object",
            "propertyNames": {"pattern": "^f\\."},
            "additionalProperties": {"type": "string"},
        },
    },
    "from": {
        "name": "from",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "first day kept, YYYY-MM-DD, Vietnam time",
    },
    "to": {
        "name": "to",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "last day kept, YYYY-MM-DD, Vietnam time",
    },
    "include": {
        "name": "include",
        "in": "query",
        "schema": {"enum": list(INCLUDES)},
        "description": (
            "which reviewed responses: default (all but the excluded), unflagged (also not "
            "the flagged), all"
        ),
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "next_cursor of the previous page (opaque, signed); absent: the first page",
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "description": f"responses per JSON page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
    },
    "number": {
        "name": "number",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        "description": "a published version's number (1, 2, ...)",
    },
}

FILTER_PARAMETERS = [_ref("parameters", n) for n in ("filters", "from", "to", "include")]


def _paths() -> dict[str, dict]:
    slug = _ref("parameters", "slug")
    return {
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "this document",
                "responses": {"200": _json("the OpenAPI 3.1 document", {"type": "object"})},
            }
        },
        "/surveys": {
            "get": {
                "operationId": "listSurveys",
                "summary": "the surveys the caller may read",
                "security": _STAFF,
                "responses": {
                    "200": _json(
                        "every survey shared with the caller (admins: all)",
                        _ref("schemas", "SurveyList"),
                    ),
                    "401": _UNAUTHORIZED,
                    "429": _READ_LIMIT,
                },
            }
        },
        "/surveys/{slug}": {
            "get": {
                "operationId": "publishedDefinition",
                "summary": "the newest published definition (public)",
                "parameters": [slug],
                "responses": {
                    "200": _json("the definition", _ref("schemas", "PublishedDefinition")),
                    "404": _error("no published survey with this slug"),
                },
            }
        },
        "/surveys/{slug}/versions/{number}/definition": {
            "get": {
                "operationId": "versionDefinition",
                "summary": "one published version's definition",
                "security": _STAFF,
                "parameters": [slug, _ref("parameters", "number")],
                "responses": {
                    "200": _json("the definition", _ref("schemas", "VersionDefinition")),
                    "401": _UNAUTHORIZED,
                    "429": _READ_LIMIT,
                    "404": _error(
                        "no such survey for the caller, or no published version of that number"
                    ),
                },
            }
        },
        "/surveys/{slug}/responses": {
            "get": {
                "operationId": "listResponses",
                "summary": "the responses, a page at a time (JSON) or all (CSV)",
                "description": (
                    "In id order. JSON: up to `limit` responses after `cursor`; follow "
                    "`next_cursor` while `more` is true. With `Accept: text/csv`: every "
                    "response after `cursor` (limit does not apply), as the CSV export."
                ),
                "security": _STAFF,
                "parameters": [
                    slug,
                    *FILTER_PARAMETERS,
                    _ref("parameters", "cursor"),
                    _ref("parameters", "limit"),
                    _ref("parameters", "lang"),
                ],
                "responses": {
                    "200": {
                        "description": "a page of responses, or the CSV text",
                        "content": {
                            JSON: {"schema": _ref("schemas", "ResponsePage")},
                            CSV: {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("a filter, cursor or limit that cannot be read"),
                    "401": _UNAUTHORIZED,
                    "429": _READ_LIMIT,
                    "404": _NOT_VISIBLE,
                    "503": _error(
                        "responses being stored hold the page up: ask again after Retry-After",
                        retry_after=True,
                    ),
                },
            },
            "post": {
                "operationId": "submitResponse",
                "summary": "submit a response (public)",
                "parameters": [slug, _ref("parameters", "lang")],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("schemas", "Submission")}},
                },
                "responses": {
                    "202": _json(
                        "stored, or already stored with the same answers",
                        _ref("schemas", "Accepted"),
                    ),
                    "400": _error(
                        f"not JSON, not an object, or nested deeper than {MAX_JSON_DEPTH}"
                    ),
                    "403": _error("closed mode: the access code is missing or unknown"),
                    "404": _error("no published survey with this slug"),
                    "409": _error(
                        "this id was stored with other answers, or the device or code has answered"
                    ),
                    "410": _error("the survey takes no answers now, or this group's quota is full"),
                    "413": _error("the body is over MAX_CONTENT_LENGTH (256 KB by default)"),
                    "415": _error("the body is not application/json"),
                    "422": _json(
                        "answers that do not fit the survey", _ref("schemas", "AnswerErrors")
                    ),
                    "429": _json(
                        "over a circuit breaker's limit: nothing stored; send it again",
                        _ref("schemas", "TooMany"),
                        headers={"Retry-After": _ref("headers", "RetryAfter")},
                    ),
                    "503": _error("cannot be stored now: send the same again", retry_after=True),
                },
            },
        },
        "/surveys/{slug}/uploads": {
            "post": {
                "operationId": "uploadFile",
                "summary": "store a file for a file question (public); answer with its token",
                "description": (
                    "An image, audio, video or file question's answer is the token this "
                    "returns: upload first, then submit the response with the token as the "
                    "question's answer. Checked by content, at most UPLOAD_MAX_BYTES (10 MB "
                    "by default); UPLOAD_RATE_LIMIT uploads a minute per client address."
                ),
                "parameters": [slug, _ref("parameters", "lang")],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["question", "file"],
                                "properties": {
                                    "question": {"type": "string"},
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json("stored", _ref("schemas", "Upload")),
                    "400": _error("no file in the field 'file'"),
                    "404": _error("no published survey with this slug, or no such file question"),
                    "410": _error("the survey takes no answers now"),
                    "413": _error("the file is over UPLOAD_MAX_BYTES"),
                    "415": _error("the file's content is not a kind the question takes"),
                    "422": _error("the file is empty"),
                    "429": _json(
                        "more uploads than UPLOAD_RATE_LIMIT from this address",
                        _ref("schemas", "ReadLimit"),
                        headers={"Retry-After": _ref("headers", "RetryAfter")},
                    ),
                },
            }
        },
        "/surveys/{slug}/results": {
            "get": {
                "operationId": "results",
                "summary": "the dashboard's figures",
                "security": _STAFF,
                "parameters": [slug, *FILTER_PARAMETERS, _ref("parameters", "lang")],
                "responses": {
                    "200": _json("the figures", _ref("schemas", "Results")),
                    "202": _json(
                        "still being counted: what the tallies know",
                        _ref("schemas", "Results"),
                        headers={"Retry-After": _ref("headers", "RetryAfter")},
                    ),
                    "400": _error("a filter that cannot be read"),
                    "401": _UNAUTHORIZED,
                    "403": _error("this survey is not shared with the caller"),
                    "404": _error("no survey with this slug"),
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "survey-engine API",
            "version": "1",
            "description": "docs/api.md says the same in words.",
        },
        "servers": [{"url": bp.url_prefix}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "headers": {
                "RetryAfter": {
                    "description": "seconds to wait before sending the same request again",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a personal token: survey-engine create-token EMAIL",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "a staff session (sign in at /admin/login)",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return openapi_document(), 200
