#!/usr/bin/env python3
"""Instructions per submission, counted by valgrind: the product beside a do-nothing app.

    .venv/bin/python benchmarks/submit_instructions.py --redis redis://127.0.0.1:6379/10

Why beside benchmarks/submit_cpu.py: CPU time on these shared machines moves by
±5% from one run to the next, so a cut of 2-3% cannot be seen in it. valgrind's
callgrind counts the instructions the process executes, the same count whatever else
runs on the machine (seen here: the same total within 0.6% run to run, while the CPU
times of the same runs moved by 8%). It does not see the kernel's work (system calls)
nor what a cold cache costs, so a cut in instructions is a lower bound of the cut in
time, and the ratio here (do-nothing : API) is kinder than submit_cpu.py's.

Each kind runs in its own process under callgrind, collection switched on only around
the measured requests (callgrind_control), after 200 warm-up requests; the requests
are built as submit_cpu.py builds them (the demo survey in one-per-device mode, real
Redis, a fresh SQLite file).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 200


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", required=True, help="a Redis of your own (its survey keys are reset)")
    p.add_argument("-n", "--requests", type=int, default=200, help="requests counted per kind")
    p.add_argument("--only", default="api,form,noop", help="which to count")
    p.add_argument("--inner", help=argparse.SUPPRESS)  # the kind, inside valgrind
    return p.parse_args()


def inner(kind: str, redis_url: str, count: int) -> None:
    """Runs under callgrind: warm up, then count `count` requests of `kind`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import noop_app
    import submit_cpu

    app = submit_cpu.make_app(f"sqlite:///{tempfile.mkdtemp()}/bench.db", redis_url)
    _, pool, tokens = submit_cpu.prepare(app, count + WARM_UP)
    with app.app_context(), app.test_request_context():
        from survey_engine.intake.respondent import started_token

        started = started_token()
    target = noop_app.create_app().wsgi_app if kind == "noop" else app.wsgi_app
    body_kind = "api" if kind == "noop" else kind
    expect = {"303"} if kind == "form" else {"202"}
    warm = submit_cpu.requests_for(body_kind, pool, tokens[:WARM_UP], started)
    submit_cpu.run(target, warm, expect)
    measured = submit_cpu.requests_for(body_kind, pool, tokens[WARM_UP:], started)
    switch = ["callgrind_control", "-i"]
    subprocess.run([*switch, "on", str(os.getpid())], check=True, capture_output=True)
    submit_cpu.run(target, measured, expect)
    subprocess.run([*switch, "off", str(os.getpid())], check=True, capture_output=True)


def count_instructions(kind: str, args: argparse.Namespace) -> int:
    out = Path(tempfile.mkdtemp(prefix="submit-instructions-")) / "callgrind.out"
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--redis",
            args.redis,
            "-n",
            str(args.requests),
            "--inner",
            kind,
        ],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"{kind}: valgrind failed\n{result.stderr[-2000:]}")
    shutil.rmtree(out.parent, ignore_errors=True)
    return int(found.group(1)) // args.requests


def main() -> int:
    args = parse_args()
    if args.inner:
        inner(args.inner, args.redis, args.requests)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    counts = {kind: count_instructions(kind, args) for kind in args.only.split(",")}
    for kind, instructions in counts.items():
        print(f"{kind:6} {instructions:>12,} instructions per request ({args.requests} counted)")
    if "noop" in counts:
        for kind in ("api", "form"):
            if kind in counts:
                print(f"noop/{kind} instruction ratio: {counts['noop'] / counts[kind]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
