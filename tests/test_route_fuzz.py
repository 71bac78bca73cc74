"""Route fuzz: nothing a stranger sends gives a 5xx or shows a traceback (issue 10).

Every rule of the app's url_map, with every method it accepts, gets every hostile
value of tests/fuzz_corpus.py in each URL variable, query parameter, form field,
upload and header its view reads (the others at a baseline that reaches deep into the
view), as anonymous, analyst and admin; the JSON API's bodies are also drawn by
Hypothesis. No response may be a 5xx (except the KNOWN_5XX being fixed elsewhere,
reported apart), show a traceback, or be JSON with NaN in it.

Each role runs on an app and database of its own; within a run, reads go first and
what ends the survey, an account or the session last (Inputs.phase). CSRF is off
here (tests/test_route_matrix.py checks it on every form). The number of requests
sent is printed in the terminal summary.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase as fnmatch
from urllib.parse import quote_from_bytes

import pytest
import sqlalchemy as sa
from flask import Flask, got_request_exception
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_engine.admin.builder_drafts import revision
from survey_engine.catalog import find_survey, save_definition
from survey_engine.exporting.files import start_export
from survey_engine.exporting.survey_file import ExportOptions
from survey_engine.extensions import db
from survey_engine.intake.code_batches import create_batch, derive_code, written
from survey_engine.models import (
    ApiToken,
    ExportFile,
    Response,
    StaffSession,
    SurveyVersion,
    WebhookDelivery,
)
from survey_engine.staff.accounts import create_token, create_user, find_user, share_survey
from survey_engine.webhooks.endpoints import add_endpoint
from tests import fuzz_corpus as corpus
from tests.conftest import BACKEND, DEMO_SLUG, demo_definition, seeded_app, valid_answers
from tests.test_uploads import png

PASSWORD = "mat-khau-dai-du"
CLOSED_SLUG = "ma-truy-cap"  # a copy of the demo in closed mode (access codes)
ROLES = ("anonymous", "analyst", "admin")
# The known 5xx of this run's database: those of both, and those of this one alone.
KNOWN = {**corpus.KNOWN_5XX, **corpus.KNOWN_5XX_ONLY.get(BACKEND, {})}
TRACEBACK_RE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


# -- what the run saw, for the summary and the known-5xx check ---------------------------


@dataclass
class Failure:
    key: tuple[str, str, str]
    role: str
    method: str
    url: str
    status: int
    problem: str  # the exception, or what is wrong with the body

    def line(self) -> str:
        endpoint, param, value = self.key
        return (
            f"{self.status} {self.method} {self.url[:120]} [{self.role}] "
            f"{endpoint} {param}={value}: {self.problem}"
        )


@dataclass
class Record:
    requests: Counter = field(default_factory=Counter)  # by role
    seconds: Counter = field(default_factory=Counter)
    endpoint_seconds: Counter = field(default_factory=Counter)
    exercised: set = field(default_factory=set)  # keys sent, by any role
    known_hits: dict = field(default_factory=dict)  # key -> first Failure
    unexpected: list = field(default_factory=list)
    roles_done: set = field(default_factory=set)


RECORD = Record()


class _Summary:
    """Prints the request counts in pytest's terminal summary (shown by `make test`)."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not RECORD.requests:
            return
        write = terminalreporter.write_line
        terminalreporter.section(f"route fuzz ({BACKEND})")
        total = sum(RECORD.requests.values())
        per_role = ", ".join(
            f"{role} {n} in {RECORD.seconds[role]:.0f} s" for role, n in RECORD.requests.items()
        )
        write(f"route fuzz: {total} requests sent ({per_role})")
        slowest = ", ".join(
            f"{endpoint} {seconds:.1f} s"
            for endpoint, seconds in RECORD.endpoint_seconds.most_common(6)
        )
        write(f"route fuzz: slowest endpoints: {slowest}")
        if RECORD.known_hits:
            write(f"route fuzz: {len(RECORD.known_hits)} known 5xx (KNOWN_5XX, issue 10):")
            for key, failure in sorted(RECORD.known_hits.items()):
                write(f"  [{KNOWN[key]}] {key}: e.g. {failure.line()}")
        if path := os.environ.get("ROUTE_FUZZ_FAILURES"):  # every failure, for triage
            with open(path, "w", encoding="utf-8", errors="replace") as out:
                for failure in [*RECORD.known_hits.values(), *RECORD.unexpected]:
                    out.write(
                        "\t".join(
                            [
                                *failure.key,
                                failure.role,
                                str(failure.status),
                                failure.problem,
                                failure.url[:300],
                            ]
                        )
                        + "\n"
                    )
        groups = distinct(RECORD.unexpected)
        if groups:
            write(
                f"route fuzz: {len(RECORD.unexpected)} failures not in KNOWN_5XX, "
                f"{len(groups)} distinct (endpoint, exception):"
            )
        for count, failure in groups:
            write(f"  NEW x{count} {failure.line()}")


def known_entry(key: tuple[str, str, str]) -> tuple[str, str, str] | None:
    """The KNOWN_5XX entry for a call's key; an entry's parameter may have * in it."""
    if key in KNOWN:
        return key
    endpoint, param, value = key
    return next(
        (
            entry
            for entry in KNOWN
            if entry[0] == endpoint and entry[2] == value and fnmatch(param, entry[1])
        ),
        None,
    )


def distinct(failures: list[Failure]) -> list[tuple[int, Failure]]:
    """One example of each (endpoint, exception and place), with how often it came."""
    groups: dict[tuple[str, str], list[Failure]] = {}
    for failure in failures:
        problem = re.sub(r"position \d+|'\\u[0-9a-f]{4}'|\d+", "#", failure.problem)
        groups.setdefault((failure.key[0], problem), []).append(failure)
    return [(len(group), group[0]) for group in groups.values()]


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    plugin = _Summary()
    if not request.config.pluginmanager.is_registered(plugin):
        request.config.pluginmanager.register(plugin, "route-fuzz-summary")
    yield


# -- the app under fuzz ---------------------------------------------------------------------


@pytest.fixture
def fuzz_app(database_url, tmp_path):
    """The demo app with CSRF off, the login limit out of the way, and exceptions
    turned into 500 responses as in production (TESTING would raise them)."""
    yield from seeded_app(
        database_url,
        EXPORT_DIR=str(tmp_path / "exports"),
        WTF_CSRF_ENABLED=False,
        LOGIN_RATE_LIMIT="1000000/minute",
        API_READ_RATE_LIMIT="1000000/minute",
        PROPAGATE_EXCEPTIONS=False,
    )


def _people(app: Flask) -> dict[str, str]:
    """Accounts, a token, an export and three responses; the placeholders' values."""
    demo = find_survey(DEMO_SLUG)
    admin = create_user("admin@example.org", PASSWORD, "admin")
    analyst = create_user("analyst@example.org", PASSWORD, "analyst")
    share_survey(analyst, demo)
    target = create_user("target@example.org", PASSWORD, "analyst")
    share_survey(target, demo)
    sharee = create_user("sharee@example.org", PASSWORD, "analyst")
    share_survey(sharee, demo)
    create_user("locked@example.org", PASSWORD, "editor")
    for user in (admin, analyst):
        create_token(user)
    # A quota, so that its check, its page and the submissions' quota places are reached.
    definition = demo_definition()
    definition["settings"] = {
        **(definition.get("settings") or {}),
        "quotas": [
            {
                "name": "district_role",
                "questions": ["district", "role"],
                "limit": 1_000_000,
                "limits": {"bao_loc|teacher": 0},
            }
        ],
    }
    save_definition(definition, publish=True)
    # A webhook (never sent: no worker runs here), so the responses below make deliveries.
    webhook = add_endpoint(demo.id, "https://hooks.example.invalid/fuzz", "admin@example.org")
    client = app.test_client()
    for _ in range(3):
        reply = client.post(
            f"/api/v1/surveys/{DEMO_SLUG}/responses",
            json={"submission_id": str(uuid.uuid4()), "answers": valid_answers()},
        )
        assert reply.status_code == 202, reply.get_json()
    start_export(demo, admin, ExportOptions())  # inline: finished at once
    closed = save_definition(
        {**demo_definition(), "slug": CLOSED_SLUG, "settings": {"access": "code"}}, publish=True
    )
    batch = create_batch(closed.id, "Trường A", 3, "admin@example.org")
    # The new field types' survey, one upload of it and a response that links it.
    fields = save_definition(corpus.FIELD_TYPES_DEFINITION, publish=True)
    share_survey(analyst, fields)
    token = client.post(
        f"/api/v1/surveys/{corpus.FIELDS_SLUG}/uploads",
        data={"question": "photo", "file": (io.BytesIO(png()), "anh.png")},
    ).get_json()["token"]
    reply = client.post(
        f"/api/v1/surveys/{corpus.FIELDS_SLUG}/responses",
        json={
            "submission_id": str(uuid.uuid4()),
            "answers": {"where": {"lat": 11.9, "lon": 108.4}, "sign": "SL-1", "photo": token},
        },
    )
    assert reply.status_code == 202, reply.get_json()
    return {
        "fields": corpus.FIELDS_SLUG,
        "upload": token,
        "slug": DEMO_SLUG,
        "target": str(target.id),
        "sharee": "sharee@example.org",
        "sharee_id": str(sharee.id),
        "password": PASSWORD,
        "export": str(db.session.scalar(sa.select(ExportFile.id))),
        "response": str(db.session.scalar(sa.select(sa.func.max(Response.id)))),
        "closed": CLOSED_SLUG,
        "batch": str(batch.id),
        "code": written(derive_code(closed.id, batch.id, 1)),
        "webhook": str(webhook.id),
        "delivery": str(db.session.scalar(sa.select(sa.func.max(WebhookDelivery.id)))),
    }


def _sign_in(app: Flask, role: str):
    client = app.test_client()
    if role != "anonymous":
        with app.app_context():
            reply = client.post(
                "/admin/login", data={"email": f"{role}@example.org", "password": PASSWORD}
            )
        assert reply.status_code == 302, reply.get_data(as_text=True)[:500]
    return client


# -- building requests ----------------------------------------------------------------------


def _raw(value: str | bytes) -> bytes:
    """A value as bytes on the wire: lone surrogates as their invalid UTF-8 bytes."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _encode(pairs: list[tuple[str, str | bytes]]) -> bytes:
    return b"&".join(
        quote_from_bytes(_raw(k), safe="").encode()
        + b"="
        + quote_from_bytes(_raw(v), safe="").encode()
        for k, v in pairs
    )


Part = tuple[str, str, "str | bytes | tuple[str, ...]"]  # (parameter, value id, value)


@dataclass
class Call:
    key: tuple[str, str, str]  # (endpoint, parameter, value id)
    phase: int
    method: str
    path: str
    query: bytes | _LazyPairs = b""
    body: bytes | _LazyPairs | None = None
    content_type: str | None = None
    files: dict | None = None
    # Sent beside `files` in the multipart body (the baseline form: an upload's question).
    file_form: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    # A call that puts several hostile values in several parameters at once: the
    # calls with one each, sent when it fails, to tell which value does it.
    singles: list[Call] = field(default_factory=list)
    revisit: tuple[str, ...] = ()  # pages to open after the call saved something
    # A route's baseline carries its group's calls for a role it refuses (sign-in,
    # 401, 403): all its parameters rotated together, every value in each once, as
    # it reads none of them; the group's calls that fuzz one parameter are skipped.
    group: int = 0
    when_refused: list[Call] | None = None
    skip_if_refused: bool = False


def rotations(params: tuple[str, ...], values: list[tuple[str, object]]) -> list[list[Part]]:
    """Calls that together put every value in every parameter once: call j gives
    parameter i value (i + j) mod len(values). len(values) calls, not params x values."""
    m = len(values)
    return [[(name, *values[(i + j) % m]) for i, name in enumerate(params)] for j in range(m)]


def _parts_key(endpoint: str, parts: list[Part]) -> tuple[str, str, str]:
    if not parts:
        return endpoint, "", "baseline"
    if len(parts) == 1:
        return endpoint, parts[0][0], parts[0][1]
    return endpoint, "+".join(p[0] for p in parts), "+".join(p[1] for p in parts)


class Builder:
    """The calls of one role's run, from the url_map and the corpus's ROUTES."""

    def __init__(self, app: Flask, values: dict[str, str], role: str) -> None:
        self.app = app
        self.values = values
        self.role = role
        self.groups = 0

    def fill(self, text: str) -> str:
        if text == "{revision}":
            return self.revision()
        return re.sub(r"\{(\w+)\}", lambda m: self.values[m.group(1)], text)

    def revision(self) -> str:
        with self.app.app_context():
            survey = find_survey(DEMO_SLUG)
            if survey is None:
                return "gone"
            newest = db.session.scalars(
                sa.select(SurveyVersion)
                .where(SurveyVersion.survey_id == survey.id)
                .order_by(SurveyVersion.number.desc())
                .limit(1)
            ).first()
            return revision(newest)

    def path(
        self, rule, url: dict[str, str], hostile: tuple[str, str | bytes] | None = None
    ) -> str:
        def part(match: re.Match) -> str:
            name = match.group(1).split(":")[-1]
            if hostile is not None and hostile[0] == name:
                return quote_from_bytes(_raw(hostile[1]), safe="")
            return quote_from_bytes(_raw(self.fill(url[name])), safe="")

        return re.sub(r"<(?:[^>:]+(?:\([^)]*\))?:)?([^>]+)>", part, rule.rule)

    def calls(self) -> Iterator[Call]:
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            for variant, inputs in enumerate(corpus.ROUTES[rule.endpoint]):
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    yield from self._route_calls(rule, inputs, method, first=variant == 0)

    def _combined(
        self,
        endpoint: str,
        params: tuple[str, ...],
        values: list,
        make,
        together: tuple[str, ...] = (),
    ) -> Iterator[Call]:
        """Every value in every parameter: alone, or rotated for those `together`;
        and the KNOWN_5XX cases alone (to tell a known 5xx from a fixed one)."""
        grouped = tuple(name for name in params if name in together)
        for parts in rotations(grouped, values) if grouped else ():
            call = make(parts)
            if len(parts) > 1:
                call.singles = [make([p]) for p in parts]
            yield call
        for name in params:
            if name not in grouped:
                for value_id, value in values:
                    yield make([(name, value_id, value)])
        by_id = dict(values)
        for known in KNOWN:
            for name in params:
                if known[0] == endpoint and fnmatch(name, known[1]) and known[2] in by_id:
                    yield make([(name, known[2], by_id[known[2]])])

    def _route_calls(self, rule, inputs: corpus.Inputs, method: str, first: bool) -> Iterator[Call]:
        """`first`: the rule's first Inputs, which also fuzzes its URL and headers."""
        endpoint, phase = rule.endpoint, inputs.phase
        path = self.path(rule, inputs.url)
        hostile = [*corpus.HOSTILE.items(), ("list", corpus.LIST_VALUE)]
        if method == "GET":
            params, base = (*inputs.args, *corpus.COMMON_ARGS), inputs.base_args
        else:
            # POST views read their form; a POST-only rule's query string too.
            params, base = inputs.form, inputs.base_form
        query_params = (
            (*inputs.args, *corpus.COMMON_ARGS)
            if method == "POST" and "GET" not in rule.methods and inputs.args
            else ()
        )

        revisit = (
            ()
            if method == "GET"
            else (*((path,) if "GET" in rule.methods else ()), *inputs.revisit)
        )

        def make(parts: list[Part], query_parts: list[Part] = ()) -> Call:
            changed = {name: value for name, _id, value in parts}
            return Call(
                _parts_key(endpoint, [*parts, *query_parts]),
                phase,
                method,
                path,
                revisit=revisit,
                **self._payload(method, inputs, base, changed, {n: v for n, _i, v in query_parts}),
            )

        if inputs.fuzz_roles is not None and self.role not in inputs.fuzz_roles:
            params = ()
        if not first and method == "GET" and not inputs.args:
            params = ()
        self.groups += 1
        group = self.groups
        # The baseline first: a request that reaches as deep as the view goes.
        baseline = make([])
        baseline.group = group
        baseline.when_refused = [
            *(make(parts) for parts in rotations(params, hostile) if params),
            *(make([], parts) for parts in rotations(query_params, hostile) if query_params),
        ]
        yield baseline
        fuzzed = [
            *(self._combined(endpoint, params, hostile, make, inputs.together) if params else ()),
            *(
                self._combined(endpoint, query_params, hostile, lambda parts: make([], parts))
                if query_params
                else ()
            ),
            *(
                self._file_calls(endpoint, phase, path, inputs)
                if inputs.files and method == "POST"
                else ()
            ),
        ]
        for call in fuzzed:
            call.group, call.skip_if_refused = group, True
            yield call
        for name in rule.arguments if first else ():
            for value_id, value in corpus.HOSTILE.items():
                yield Call(
                    (endpoint, f"<{name}>", value_id),
                    phase,
                    method,
                    self.path(rule, inputs.url, (name, value)),
                    **self._payload(method, inputs, base, {}),
                )
        for header in inputs.headers if first else ():
            for value_id, value in corpus.HOSTILE.items():
                if (
                    isinstance(value, bytes)
                    or not value.isascii()
                    or "\n" in value
                    or "\x00" in value
                ):
                    continue  # not a header value HTTP can carry
                for sent in (value, f"Bearer {value}"):
                    yield Call(
                        (endpoint, f"header:{header}", value_id),
                        phase,
                        method,
                        path,
                        headers={header: sent},
                        **self._payload(method, inputs, base, {}),
                    )
        if inputs.json_fields and method == "POST":
            yield from self._json_calls(endpoint, phase, path, inputs)

    def _payload(self, method, inputs, base, changed, query=None) -> dict:
        """Query string (GET) or form body (POST): the baseline with `changed` in it.
        Placeholders ({revision}) are filled when the call is sent."""
        pairs = _LazyPairs({**base, **changed}, set(changed))
        query = _LazyPairs(query or {}, set(query or {}))
        if method == "GET":
            return {"query": pairs}
        if inputs.json_fields:
            return {"body": b"{}", "content_type": "application/json", "query": query}
        return {"body": pairs, "content_type": "application/x-www-form-urlencoded", "query": query}

    def _json_calls(self, endpoint, phase, path, inputs) -> Iterator[Call]:
        """Whole bodies; then the id and every answer with every JSON value, rotated."""
        valid = {
            name: json.dumps(value, ensure_ascii=False) for name, value in valid_answers().items()
        }
        for value_id, raw in corpus.BODY_HOSTILE.items():
            yield Call(
                (endpoint, "body", value_id),
                phase,
                "POST",
                path,
                body=raw,
                content_type="application/json",
            )
        for value_id, raw in corpus.JSON_HOSTILE.items():
            yield Call(
                (endpoint, "body", value_id),
                phase,
                "POST",
                path,
                body=raw.encode("utf-8", "surrogatepass"),
                content_type="application/json",
            )

        def make(parts: list[Part]) -> Call:
            answers = dict(valid)
            top = {"submission_id": json.dumps(str(uuid.uuid4()))}
            for name, _id, raw in parts:
                if name in corpus.API_BODY_FIELDS:
                    top[name] = raw
                else:
                    answers[name.removeprefix("answers.")] = raw
            pairs = ", ".join(f"{json.dumps(k)}: {v}" for k, v in answers.items())
            tops = "".join(f"{json.dumps(k)}: {v}, " for k, v in top.items())
            text = f'{{{tops}"answers": {{{pairs}}}}}'
            return Call(
                _parts_key(endpoint, parts),
                phase,
                "POST",
                path,
                body=text.encode("utf-8", "surrogatepass"),
                content_type="application/json",
            )

        fields = (*corpus.API_BODY_FIELDS, *(f"answers.{name}" for name in inputs.json_fields))
        yield from self._combined(
            endpoint, fields, list(corpus.JSON_HOSTILE.items()), make, inputs.together
        )
        yield Call(
            (endpoint, "content-type", "form"),
            phase,
            "POST",
            path,
            body=b"answers=x",
            content_type="application/x-www-form-urlencoded",
        )

    def _file_calls(self, endpoint, phase, path, inputs) -> Iterator[Call]:
        demo = json.dumps(demo_definition()).encode()
        form = {k: self.fill(v) for k, v in inputs.base_form.items() if isinstance(v, str)}
        for name in inputs.files:
            for file_name in corpus.UPLOAD_NAMES:
                yield Call(
                    (endpoint, f"file:{name}", f"name {file_name[:20]}"),
                    phase,
                    "POST",
                    path,
                    files={name: (demo, file_name)},
                    file_form=form,
                )
            for value_id, content in corpus.UPLOAD_CONTENTS.items():
                for suffix in (".json", ".xlsx"):
                    yield Call(
                        (endpoint, f"file:{name}", f"{value_id}{suffix}"),
                        phase,
                        "POST",
                        path,
                        files={name: (content, "upload" + suffix)},
                        file_form=form,
                    )
            for value_id, value in corpus.HOSTILE.items():
                yield Call(
                    (endpoint, f"file:{name}", value_id),
                    phase,
                    "POST",
                    path,
                    files={name: (_raw(value), "upload.json")},
                    file_form=form,
                )


class _LazyPairs:
    """Form or query fields whose placeholders are filled when sent (the revision
    changes with every saved edit)."""

    def __init__(self, fields: dict, hostile: set[str]) -> None:
        self.fields, self.hostile = fields, hostile

    def encode(self, builder: Builder) -> bytes:
        pairs: list[tuple[str, str | bytes]] = []
        for name, value in self.fields.items():
            values = value if isinstance(value, tuple) else (value,)
            for one in values:
                if name not in self.hostile and isinstance(one, str):
                    one = builder.fill(one)
                pairs.append((name, one))
        return _encode(pairs)


# -- sending and judging ------------------------------------------------------------------


def _exception_line(error: BaseException) -> str:
    """The exception and the innermost frame of our code it came from."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if "survey_engine" in f.filename or "/exports/" in f.filename
    ]
    where = (
        f" at {frames[-1].filename.split('/')[-1]}:{frames[-1].lineno} ({frames[-1].name})"
        if frames
        else ""
    )
    return f"{type(error).__name__}: {str(error)[:160]}{where}"


def _json_problem(text: str) -> str | None:
    def refuse(name):
        raise ValueError(f"{name} in a JSON reply")

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError as error:
        return f"not valid JSON: {str(error)[:100]}"
    return None


class Runner:
    """Sends one role's calls with one client and judges each reply."""

    def __init__(self, app: Flask, role: str, builder: Builder) -> None:
        self.app, self.role, self.builder = app, role, builder
        self.client = _sign_in(app, role)
        self.caught: list[BaseException] = []
        self.refused_groups: set[int] = set()

    def send(self, call: Call) -> Failure | None:
        """The call's failure (5xx, a traceback, JSON with NaN), or None."""
        self.caught.clear()
        query = (
            call.query.encode(self.builder) if isinstance(call.query, _LazyPairs) else call.query
        )
        body = call.body.encode(self.builder) if isinstance(call.body, _LazyPairs) else call.body
        kwargs = {"query_string": query.decode("ascii"), "headers": call.headers}
        if call.files is not None:
            kwargs["data"] = {
                **call.file_form,
                **{k: (io.BytesIO(content), name) for k, (content, name) in call.files.items()},
            }
        elif body is not None:
            kwargs.update(data=body, content_type=call.content_type)
        started = time.perf_counter()
        # A fresh app context per request, as in production: its own g and session.
        with self.app.app_context():
            reply = self.client.open(call.path, method=call.method, **kwargs)
            text = reply.get_data().decode("utf-8", "replace")
            reply.close()
        RECORD.endpoint_seconds[call.key[0]] += time.perf_counter() - started
        RECORD.requests[self.role] += 1
        self.status = reply.status_code
        self.refused = reply.status_code in (401, 403) or (
            300 <= reply.status_code < 400 and "/admin/login" in reply.headers.get("Location", "")
        )
        if len(call.key[1].split("+")) == 1:
            RECORD.exercised.add(call.key)
        problem = None
        if reply.status_code >= 500:
            problem = (
                _exception_line(self.caught[0])
                if self.caught
                else f"no exception seen: {text[:100]!r}"
            )
        elif TRACEBACK_RE.search(text):
            problem = "a traceback in the body"
        elif reply.mimetype == "application/json":
            problem = _json_problem(text)
        if problem is None:
            return None
        url = call.path + ("?" + query.decode() if query else "")
        return Failure(call.key, self.role, call.method, url, reply.status_code, problem)

    def judge(self, call: Call) -> None:
        if call.skip_if_refused and call.group in self.refused_groups:
            return
        failure = self.send(call)
        status, refused = self.status, self.refused
        if failure is None and call.revisit and 300 <= status < 400 and not refused:
            # Saved: the pages that show what was saved must still open, not 500 for
            # good (a survey opening in year 1 did).
            for path in call.revisit:
                after = self.send(Call(call.key, call.phase, "GET", self.builder.fill(path)))
                if after is not None:
                    after.problem = f"GET {path} after it: {after.problem}"
                    failure = failure or after
        if call.when_refused is not None and refused:
            self.refused_groups.add(call.group)
            for other in call.when_refused:
                self.judge(other)
        if failure is None:
            return
        if call.singles:  # which of its values does it?
            failures = [f for f in map(self.send, call.singles) if f is not None]
            if failures:
                for single in failures:
                    self.file(single)
                return
            # Only the combination fails: named by where it fails.
            place = re.sub(r": .*? at ", " at ", failure.problem)
            failure.key = (failure.key[0], "combined", place)
        self.file(failure)

    def file(self, failure: Failure) -> None:
        known = known_entry(failure.key)
        if known is not None and failure.status >= 500:
            RECORD.known_hits.setdefault(known, failure)
        else:
            RECORD.unexpected.append(failure)


def run_role(app: Flask, role: str, values: dict[str, str]) -> None:
    builder = Builder(app, values, role)
    runner = Runner(app, role, builder)
    calls = sorted(builder.calls(), key=lambda call: call.phase)  # stable: keeps route order

    def remember(sender, exception, **extra):
        runner.caught.append(exception)

    got_request_exception.connect(remember, app)
    started = time.perf_counter()
    try:
        for call in calls:
            runner.judge(call)
    finally:
        got_request_exception.disconnect(remember, app)
        RECORD.seconds[role] += time.perf_counter() - started


@pytest.mark.parametrize("role", ROLES)
def test_route_fuzz_no_5xx(fuzz_app, role):
    """Every route, every hostile value in every input, as `role`: no 5xx ever."""
    values = _people(fuzz_app)
    # The token revoked is the signed-in account's own (anonymous: someone else's).
    owner = find_user(f"{'admin' if role == 'anonymous' else role}@example.org")
    values["token"] = str(
        db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == owner.id))
    )
    # ... and so is the session ended: a second one of the same account.
    _sign_in(fuzz_app, "admin" if role == "anonymous" else role)
    values["session"] = str(
        db.session.scalar(
            sa.select(sa.func.max(StaffSession.id)).where(StaffSession.user_id == owner.id)
        )
    )
    before = len(RECORD.unexpected)
    run_role(fuzz_app, role, values)
    RECORD.roles_done.add(role)
    mine = RECORD.unexpected[before:]
    groups = distinct(mine)
    assert not mine, (
        f"{len(mine)} responses with a 5xx, a traceback or bad JSON "
        f"({len(groups)} distinct):\n" + "\n".join(f"x{n} {f.line()}" for n, f in groups)
    )


def test_every_endpoint_has_fuzz_inputs(fuzz_app):
    """A new route cannot ship without its row in fuzz_corpus.ROUTES: the row names
    what its view reads, and gives a real value for each URL variable."""
    endpoints = {rule.endpoint for rule in fuzz_app.url_map.iter_rules()}
    missing = sorted(endpoints - set(corpus.ROUTES))
    assert not missing, f"add these endpoints to tests/fuzz_corpus.py ROUTES: {missing}"
    stale = sorted(set(corpus.ROUTES) - endpoints)
    assert not stale, f"ROUTES names endpoints the app no longer has: {stale}"
    for rule in fuzz_app.url_map.iter_rules():
        for inputs in corpus.ROUTES[rule.endpoint]:
            assert set(rule.arguments) <= set(inputs.url), (
                f"{rule.endpoint}: no value for {set(rule.arguments) - set(inputs.url)}"
            )
    for key in KNOWN:
        assert key[0] in endpoints, f"KNOWN_5XX names no endpoint of the app: {key}"


# -- the JSON API, driven by Hypothesis -------------------------------------------------


def _string(text: str) -> str:
    return json.dumps(text)  # lone surrogates become \ud800 escapes


def _join_list(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _join_object(pairs: dict[str, str]) -> str:
    return "{" + ",".join(f"{_string(k)}:{v}" for k, v in pairs.items()) + "}"


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)  # surrogates too
JSON_LEAVES = st.one_of(
    st.just("null"),
    st.sampled_from(["true", "false"]),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats().map(json.dumps),  # NaN, Infinity and -Infinity as raw text
    st.sampled_from(["1e309", "-1e309", "5e-324", "-0", "1E400"]),
    ANY_TEXT.map(_string),
    st.sampled_from(sorted(corpus.JSON_HOSTILE.values(), key=len)[:60]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(_join_list),
        st.dictionaries(ANY_TEXT, children, max_size=4).map(_join_object),
    ),
    max_leaves=12,
)
DEEP_JSON = st.builds(
    lambda depth, opener, inner: opener * depth + inner + ("]" if opener == "[" else "}") * depth,
    st.integers(min_value=100, max_value=6000),
    st.just("["),
    JSON_LEAVES,
) | st.builds(
    lambda depth, inner: '{"a":' * depth + inner + "}" * depth,
    st.integers(min_value=100, max_value=6000),
    JSON_LEAVES,
)
QUESTION_NAMES = tuple(name for name in corpus.ANSWER_NAMES)


@st.composite
def near_valid_bodies(draw) -> str:
    """The demo's valid answers with some questions given values of other types, some
    left out, and now and then a hostile id or an unknown property."""
    answers = {
        name: json.dumps(value, ensure_ascii=False) for name, value in valid_answers().items()
    }
    for name in draw(st.lists(st.sampled_from(QUESTION_NAMES), max_size=4, unique=True)):
        answers[name] = draw(
            st.one_of(JSON_VALUES, DEEP_JSON) if draw(st.booleans()) else JSON_VALUES
        )
    for name in draw(st.lists(st.sampled_from(sorted(answers)), max_size=3, unique=True)):
        answers.pop(name, None)
    sid = draw(st.one_of(st.uuids().map(lambda u: _string(str(u))), JSON_VALUES))
    extra = draw(st.one_of(st.just({}), st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=2)))
    return _join_object({"submission_id": sid, "answers": _join_object(answers), **extra})


API_BODIES = st.one_of(
    near_valid_bodies(),
    JSON_VALUES,
    DEEP_JSON,
    JSON_VALUES.map(lambda v: _join_object({"answers": v})),
)


def _classify(body: str) -> str:
    """Which KNOWN_5XX value id a body that gave a 5xx stands for."""
    from survey_engine.untrusted import json_depth

    if json_depth(body) >= 100:
        return "hypothesis_deep"
    if re.search(r"\\u[dD][89a-fA-F]", body):
        return "hypothesis_lone_surrogate"
    if "\\u0000" in body:
        return "hypothesis_nul"
    return "hypothesis_other"


@pytest.fixture
def api_fuzz_app(request, database_url, tmp_path):
    """The app inline, or buffered through Redis (db TEST_REDIS_URL), as production."""
    config = {"EXPORT_DIR": str(tmp_path / "exports"), "PROPAGATE_EXCEPTIONS": False}
    if request.param == "redis":
        from tests.conftest import TEST_REDIS_URL

        request.getfixturevalue("redis_client")
        config.update(REDIS_URL=TEST_REDIS_URL, DRAIN_CLAIM_IDLE_MS=0)
    yield from seeded_app(database_url, **config)


@pytest.mark.parametrize("api_fuzz_app", ["inline", "redis"], indirect=True)
def test_api_bodies_fuzzed_by_hypothesis(api_fuzz_app):
    """POST /api/v1/surveys/<slug>/responses with arbitrary and near-valid JSON:
    never a 5xx, and every reply is JSON without NaN."""
    app = api_fuzz_app
    client = app.test_client()
    url = f"/api/v1/surveys/{DEMO_SLUG}/responses"
    caught: list[BaseException] = []
    got_request_exception.connect(
        lambda s, exception, **e: caught.append(exception), app, weak=False
    )
    seen: Counter = Counter()
    started = time.perf_counter()

    @settings(
        max_examples=250,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(API_BODIES)
    def check(body: str) -> None:
        caught.clear()
        with app.app_context():
            reply = client.post(
                url, data=body.encode("utf-8", "surrogatepass"), content_type="application/json"
            )
        RECORD.requests["api (Hypothesis)"] += 1
        seen[reply.status_code] += 1
        text = reply.get_data(as_text=True)
        if reply.status_code >= 500:
            kind = _classify(body)
            key = ("api.submit_response", "body", kind)
            failure = Failure(
                key,
                "anonymous",
                "POST",
                url,
                reply.status_code,
                _exception_line(caught[0]) if caught else text[:100],
            )
            if key in KNOWN:
                RECORD.known_hits.setdefault(key, failure)
                return
            RECORD.unexpected.append(failure)
            raise AssertionError(failure.line() + "\nbody: " + body[:300])
        assert reply.mimetype == "application/json", (reply.status_code, text[:200])
        assert _json_problem(text) is None, (body[:200], text[:200])
        assert not TRACEBACK_RE.search(text)

    try:
        check()
    finally:
        RECORD.seconds["api (Hypothesis)"] += time.perf_counter() - started
    # Both ends of the contract were reached: stored, and refused.
    assert seen[202] and seen[422], seen


def test_known_5xx_still_fail():
    """xfail-strict for KNOWN_5XX: an entry the run sent that no longer gives a 5xx
    for any role must be removed (its finding is fixed)."""
    if RECORD.roles_done != set(ROLES):
        pytest.skip("needs the fuzz of every role in this run")
    sent = {entry for key in RECORD.exercised if (entry := known_entry(key)) is not None}
    fixed = sorted(key for key in KNOWN if key in sent and key not in RECORD.known_hits)
    assert not fixed, "fixed: remove these from KNOWN_5XX in tests/fuzz_corpus.py:\n" + "\n".join(
        f"{key}: {KNOWN[key]}" for key in fixed
    )


# -- 5xx the fuzz found outside the list, fixed here ---------------------------


@pytest.mark.parametrize(
    "user_id", ["99999999999999999999", "9223372036854775808", "2147483648", "٣", "５"]
)
def test_new_an_id_in_the_url_beyond_the_id_column_is_a_404(fuzz_app, user_id):
    """/admin/users/99999999999999999999 was a 500 (SQLite OverflowError, PostgreSQL
    integer out of range) on every <int:...> route; Unicode digits ("٣") were taken
    for ASCII ones. An id is 0-9, within the id column: anything else is no page."""
    values = _people(fuzz_app)
    client = _sign_in(fuzz_app, "admin")
    with fuzz_app.app_context():
        for path in (
            f"/admin/users/{user_id}",
            f"/admin/exports/{user_id}/progress",
            f"/admin/exports/{user_id}/download",
            f"/admin/surveys/{DEMO_SLUG}/review/{user_id}",
        ):
            assert client.get(path).status_code == 404, path
        for path in (
            f"/admin/users/{user_id}/unlock",
            f"/admin/surveys/{DEMO_SLUG}/sharing/{user_id}/remove",
            f"/admin/surveys/{DEMO_SLUG}/review/{user_id}",
        ):
            assert client.post(path).status_code == 404, path
        # The largest id there can be is still looked up: no such account.
        assert client.get("/admin/users/2147483647").status_code == 404
        assert client.get(f"/admin/users/{values['target']}").status_code == 200


def test_new_a_nul_in_a_slug_or_name_is_a_404(fuzz_app):
    """/s/a%00b was a 500 on PostgreSQL (text cannot hold NUL: DataError in
    find_survey) on every route with a slug or a name in its URL."""
    _people(fuzz_app)
    anonymous, admin = fuzz_app.test_client(), _sign_in(fuzz_app, "admin")
    with fuzz_app.app_context():
        for path in ("/s/a%00b", "/s/a%00b/thanks", "/api/v1/surveys/a%00b"):
            assert anonymous.get(path).status_code == 404, path
        assert anonymous.post("/api/v1/surveys/a%00b/responses", json={}).status_code == 404
        for path in (
            "/admin/surveys/a%00b",
            "/admin/surveys/a%00b/results",
            f"/admin/surveys/{DEMO_SLUG}/edit/questions/a%00b",
            f"/admin/surveys/{DEMO_SLUG}/results/text/a%00b",
        ):
            assert admin.get(path).status_code == 404, path
        assert anonymous.get(f"/s/{DEMO_SLUG}").status_code == 200
