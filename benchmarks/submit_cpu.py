#!/usr/bin/env python3
"""The web tier's CPU per submission, in one process: the product beside a do-nothing app.

    .venv/bin/python benchmarks/submit_cpu.py --redis redis://127.0.0.1:6379/10 [--profile]

Why beside the campaign benchmark: wrk's throughput moves with whatever else runs on
the machine; CPU time of this one process does much less. Each request is handed to
the app's WSGI callable as gunicorn would hand it (an environ with the body), with no
HTTP parsing or socket of the server's own: the figures are the application's part of
a submission, the one this project can cut. Redis is real (the accept script and the
breakers run); the database is a fresh SQLite file by default (the submit path reads
it only every SURVEY_CACHE_SECONDS), or --database.

The demo survey is published in one-per-device mode, every submission with its own
browser token, limits out of reach (as in benchmarks/campaign.py). It measures:

- api:  POST /api/v1/surveys/<slug>/responses (JSON, as campaign.lua sends it);
- form: POST /s/<slug> (the questionnaire's form, as the page's script sends it);
- noop: benchmarks/noop_app.py's POST, the same JSON bodies.

Printed: CPU µs per request (process time: user + system of this process, Redis's
own CPU not included), the ratio noop/api (the throughput ratio `make benchmark` reports
when the web tier is CPU-bound), and with --profile the top functions of cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
SLUG = "tro-lai-truong-hoc"
SECRET = "benchmark"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", required=True, help="a Redis of your own (its survey keys are reset)")
    p.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    p.add_argument("-n", "--requests", type=int, default=3000, help="requests per measurement")
    p.add_argument("--repeat", type=int, default=3, help="measurements of each; the best is kept")
    p.add_argument("--only", default="api,form,noop", help="which to measure")
    p.add_argument("--profile", action="store_true", help="also cProfile the api and form runs")
    p.add_argument("--top", type=int, default=35, help="functions shown per profile")
    p.add_argument("--parts", action="store_true", help="also time the API path's parts one by one")
    return p.parse_args()


def make_app(database: str, redis_url: str):
    from survey_engine import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET,
            "LIMIT_NETWORK_PER_MINUTE": 10**9,
            "LIMIT_SURVEY_PER_MINUTE": 10**9,
        }
    )


def prepare(app, count: int) -> tuple[int, list[dict], list[str]]:
    """The demo published one-per-device, its stream keys reset; answer sets and tokens."""
    from survey_engine.catalog import definition_of, find_survey, published, save_definition
    from survey_engine.definition.fake import fake_answers
    from survey_engine.extensions import db
    from survey_engine.intake.buffer import current_buffer
    from survey_engine.intake.respondent import new_device_token

    with app.app_context():
        db.create_all()
        data = json.loads((ROOT / "survey_engine/demo/tro-lai-truong-hoc.json").read_text())
        data["settings"] = {**(data.get("settings") or {}), "access": "device"}
        if find_survey(SLUG) is None or find_survey(SLUG).published_version() is None:
            save_definition(data, publish=True)
        survey = published(SLUG)
        current_buffer().forget(survey.survey_id)
        d = definition_of(survey.version_id)
        rng = random.Random(2022)
        pool = [fake_answers(d, rng) for _ in range(500)]
        tokens = [new_device_token() for _ in range(count)]
    return survey.survey_id, pool, tokens


def form_fields(answers: dict) -> list[tuple[str, str]]:
    """Answers as the questionnaire's form posts them."""
    fields: list[tuple[str, str]] = []
    for name, value in answers.items():
        if isinstance(value, dict):
            for part, sub in value.items():
                for item in sub if isinstance(sub, list) else [sub]:
                    fields.append((f"{name}[{part}]", str(item)))
        elif isinstance(value, list):
            fields += [(name, str(item)) for item in value]
        elif isinstance(value, bool):
            fields.append((name, "1" if value else ""))
        else:
            fields.append((name, str(value)))
    return fields


def environ_for(path: str, body: bytes, content_type: str) -> dict:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path=path,
        method="POST",
        data=body,
        content_type=content_type,
        headers={
            "User-Agent": "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
            "Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8",
        },
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    environ.pop("wsgi.input")
    return environ


def requests_for(kind: str, pool: list[dict], tokens: list[str], started: str) -> list[tuple]:
    out = []
    for i, token in enumerate(tokens):
        answers = pool[i % len(pool)]
        sid = str(uuid.uuid4())
        if kind == "form":
            fields = [("submission_id", sid), ("device_token", token), ("started", started)]
            fields += [("js", "1"), ("pages", "3"), *form_fields(answers)]
            body = urlencode(fields).encode()
            path, ctype = f"/s/{SLUG}", "application/x-www-form-urlencoded"
        else:
            payload = {"submission_id": sid, "answers": answers, "device_token": token}
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            path, ctype = f"/api/v1/surveys/{SLUG}/responses", "application/json"
        environ = environ_for(path, body, ctype)
        out.append((environ, body))
    return out


def run(app_callable, reqs: list[tuple], expect: set[str]) -> float:
    """CPU seconds for all requests; every status must be one of `expect`."""
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    begin = time.process_time()
    for environ, body in reqs:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        result = app_callable(env, start_response)
        for _ in result:
            pass
        if hasattr(result, "close"):
            result.close()
    spent = time.process_time() - begin
    wrong = {s for s in statuses if s.split()[0] not in expect}
    if wrong:
        raise SystemExit(f"unexpected statuses: {wrong}")
    return spent


def parts(app, reqs: list[tuple], rounds: int = 2000) -> dict[str, float]:
    """CPU µs of each step of the API's submit path, each timed alone in a loop inside
    one request's context (the first request's body; Redis steps on fresh ids)."""
    from survey_engine.api import routes
    from survey_engine.catalog import published
    from survey_engine.definition import clean_answers
    from survey_engine.i18n import choose_language
    from survey_engine.intake import breakers
    from survey_engine.intake.accept import accept
    from survey_engine.intake.paradata import client_paradata
    from survey_engine.intake.respondent import device_hash, network_key
    from survey_engine.intake.submission import answers_digest
    from survey_engine.intake.submit import _submission
    from survey_engine.untrusted import load_json

    environ, body = reqs[0]
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    out: dict[str, float] = {}
    with app.request_context(env) as ctx:
        survey = published(SLUG)
        d = survey.definition
        parsed = load_json(body)
        lang = choose_language(d.languages(), d.default_language)
        respondent = routes._respondent(ctx.request, parsed)
        cleaned, _ = clean_answers(d, parsed["answers"], lang)
        ua = env["HTTP_USER_AGENT"]

        def submission():
            return _submission(survey, uuid.uuid4(), cleaned, lang, "api", respondent, None)

        steps = {
            "published() (cached)": lambda: published(SLUG),
            "load_json(body)": lambda: load_json(body),
            "choose_language": lambda: choose_language(d.languages(), d.default_language),
            "device_hash(token)": lambda: device_hash(parsed["device_token"]),
            "network_key(address)": lambda: network_key("127.0.0.1"),
            "client_paradata(User-Agent)": lambda: client_paradata(ua),
            "breakers.check (Redis)": lambda: breakers.check(
                survey.survey_id, respondent.network_key, None
            ),
            "clean_answers": lambda: clean_answers(d, parsed["answers"], lang),
            "_submission (incl. quota places)": submission,
            "Submission.to_json": submission().to_json,
            "answers_digest": lambda: answers_digest(cleaned),
            "accept (accept script, Redis)": lambda: accept(submission()),
        }
        for name, step in steps.items():
            step()
            begin = time.process_time()
            for _ in range(rounds):
                step()
            out[name] = (time.process_time() - begin) / rounds * 1e6
    return out


def main() -> int:
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="submit-cpu-")
    database = args.database or f"sqlite:///{tmp}/bench.db"
    app = make_app(database, args.redis)
    kinds = args.only.split(",")
    total = args.requests * args.repeat * (1 + args.profile) + 400 + 10
    survey_id, pool, tokens = prepare(app, total * len(kinds))
    with app.app_context():
        from survey_engine.intake.respondent import started_token

        with app.test_request_context():
            started = started_token()
    import noop_app

    noop = noop_app.create_app()
    token_iter = iter(tokens)
    results = {}
    for kind in kinds:
        target = noop.wsgi_app if kind == "noop" else app.wsgi_app
        expect = {"202"} if kind != "form" else {"303"}
        warm = requests_for(
            "api" if kind == "noop" else kind, pool, [next(token_iter) for _ in range(200)], started
        )
        run(target, warm, expect)
        best = None
        for _ in range(args.repeat):
            reqs = requests_for(
                "api" if kind == "noop" else kind,
                pool,
                [next(token_iter) for _ in range(args.requests)],
                started,
            )
            spent = run(target, reqs, expect)
            best = spent if best is None else min(best, spent)
        results[kind] = best / args.requests * 1e6
        print(
            f"{kind:5s} {results[kind]:8.0f} µs CPU per request "
            f"(best of {args.repeat} x {args.requests})"
        )
        if args.profile and kind != "noop":
            reqs = requests_for(
                kind, pool, [next(token_iter) for _ in range(args.requests)], started
            )
            profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
            profiler.enable()
            run(target, reqs, expect)
            profiler.disable()
            if os.environ.get("PROFILE_DUMP"):
                profiler.dump_stats(f"{os.environ['PROFILE_DUMP']}.{kind}")
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
    if args.parts:
        reqs = requests_for("api", pool, [next(token_iter)], started)
        for name, micro in parts(app, reqs).items():
            print(f"  {name:36s} {micro:7.0f} µs")
    if "noop" in results:
        for kind in ("api", "form"):
            if kind in results:
                print(f"noop/{kind} CPU ratio: {results['noop'] / results[kind]:.2f}")
    with app.app_context():
        from survey_engine.intake.buffer import current_buffer

        current_buffer().forget(survey_id)
    os.environ.get("KEEP") or __import__("shutil").rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
