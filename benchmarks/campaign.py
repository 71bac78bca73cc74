#!/usr/bin/env python3
"""The campaign benchmark: 75,000 citizens answer the demo survey in one burst.

    make benchmark                      (or: .venv/bin/python benchmarks/campaign.py)

What it runs, all on loopback, all started and stopped by this script:

- a PostgreSQL database of its own (survey_engine_bench, dropped and created; the
  server at 127.0.0.1:5432 must be running) with the demo survey published;
- a private redis-server on port 6479 (AOF, fsync every second, data in a temp dir);
- gunicorn "survey_engine:create_app()", 2 workers, and gunicorn serving the
  do-nothing app of benchmarks/noop_app.py with the same settings;
- `survey-engine worker` process(es), started together with the load;
- wrk (Debian's package) with benchmarks/campaign.lua.

Phases:
  1. do-nothing endpoint, NOOP_REQUESTS requests (the same bodies, the same wrk);
  2. the campaign: 75,000 new submissions + 5% retried duplicates (same id, same
     body: must be 202 "duplicate": true) against POST /api/v1/surveys/<slug>/responses,
     the worker(s) draining meanwhile; then it waits until every accepted submission
     is stored and tallied;
  3. do-nothing endpoint again (the machine is shared: the baseline is the mean of 1 and 3);
  4. drain capacity: with no worker running, CAPACITY_ROWS submissions are put in the
     stream (through the accept script, as the web tier does), then 1 (then 2) worker
     processes are started and timed until all are stored and tallied: what the drain
     can do on a backlog, not limited by the arrival rate;
  5. `survey-engine recount` checks that the tallies equal a recount of the responses.

It prints the figures of BENCHMARKS.md, peak RSS (VmHWM) of each process, and CPU
seconds per component (the 2 cores are shared by the load generator, gunicorn, Redis,
PostgreSQL and the worker). --json FILE also writes them as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
BIN = Path(sys.executable).parent
SLUG = "tro-lai-truong-hoc"
SUBMIT_PATH = f"/api/v1/surveys/{SLUG}/responses"
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGET_RATIO = 0.5  # issue 13: target 0.5, goal 0.6
GOAL_RATIO = 0.6
ANALYZE_SECONDS = 15.0  # see Poller.run
TARGET_DRAIN = 10_000
TARGET_SECONDS = 60.0


BENCHMARK_SECRET_KEY = "benchmark"  # the web tier's and the token minter's


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--submissions", type=int, default=75_000, help="new submission ids")
    p.add_argument(
        "--dup-every",
        type=int,
        default=20,
        help="one retried duplicate after every N new ones (20 = 5%%)",
    )
    p.add_argument(
        "--noop-requests", type=int, default=30_000, help="requests per do-nothing measurement"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads (one keeps up; more end unevenly, see campaign.lua)",
    )
    p.add_argument("--connections", type=int, default=16, help="wrk connections")
    p.add_argument(
        "--access",
        choices=("device", "open"),
        default="device",
        help="the demo's access mode: one response per device (each submission carries "
        "its own browser's token), or open as before access modes",
    )
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn -w")
    p.add_argument("--worker-class", default="gthread", help="gunicorn -k")
    p.add_argument(
        "--web-threads",
        type=int,
        default=4,
        help="gunicorn --threads (the Procfile's; gthread keeps wrk's connections alive)",
    )
    p.add_argument(
        "--web-app",
        default="survey_engine:create_app()",
        help="the gunicorn app (to compare a variant; PYTHONPATH reaches it)",
    )
    p.add_argument(
        "--worker-command",
        default="survey-engine worker",
        help="command of a drain worker process (a bare name runs from .venv/bin)",
    )
    p.add_argument(
        "--drain-workers",
        type=int,
        default=1,
        help="survey-engine worker processes during the campaign",
    )
    p.add_argument(
        "--capacity-workers",
        default="1,2",
        help="worker counts for the drain-capacity phase ('' skips it)",
    )
    p.add_argument("--capacity-rows", type=int, default=75_000)
    p.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL server (a database of its own is created there)",
    )
    p.add_argument("--database", default="survey_engine_bench")
    p.add_argument("--redis-port", type=int, default=6479)
    p.add_argument("--web-port", type=int, default=8481)
    p.add_argument("--noop-port", type=int, default=8482)
    p.add_argument(
        "--deadline",
        type=float,
        default=300.0,
        help="give up waiting for rows this many seconds after the first request",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--keep", action="store_true", help="keep the database and the temp dir (logs) afterwards"
    )
    return p.parse_args(argv)


# -- processes ---------------------------------------------------------------------------


class Processes:
    """Everything this script starts, each in a session of its own, stopped in reverse."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(
        self, name: str, argv: list[str], env: dict | None = None, **kwargs
    ) -> subprocess.Popen:
        if "stdout" not in kwargs:
            log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 (closed by Popen's end)
            kwargs.update(stdout=log, stderr=subprocess.STDOUT)
        proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, start_new_session=True, stdin=subprocess.DEVNULL, **kwargs
        )
        self.started.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 15.0) -> None:
        """SIGTERM to the process's session (gunicorn and its workers), SIGKILL if it hangs.

        Signals go to the group only while its leader is unreaped, so that the group id
        cannot belong to anybody else's processes yet.
        """
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for _name, proc in reversed(self.started):
            self.stop(proc)
        self.started.clear()


def wait_until(check, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as error:  # noqa: BLE001 (not up yet)
            last_error = error
        time.sleep(interval)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s ({last_error})")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return reply.status == 200


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# -- /proc -------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError):
                continue
    return sorted(found)


def tree(pid: int) -> list[int]:
    return [pid, *(p for child in children(pid) for p in tree(child))]


def peak_rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


TCP_COUNTERS = (
    "ListenOverflows",
    "ListenDrops",
    "TCPSynRetrans",
    "TCPReqQFullDrop",
    "TCPTimeWaitOverflow",
    "AttemptFails",
    "RetransSegs",
)


def tcp_counters() -> dict[str, int]:
    """Machine-wide TCP counters that explain slow connects (SYN retransmits after 1 s, 3 s)."""
    found: dict[str, int] = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        with open(path) as f:
            lines = f.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2], strict=False):
            for name, value in zip(names.split()[1:], values.split()[1:], strict=False):
                if name in TCP_COUNTERS:
                    found[name] = int(value)
    return found


@dataclass
class CpuMeter:
    """CPU seconds per component over a window, from /proc/<pid>/stat."""

    groups: dict[str, list[int]] = field(default_factory=dict)
    start: dict[int, float] = field(default_factory=dict)
    machine_start: tuple[float, float] = (0.0, 0.0)
    wall_start: float = 0.0

    def begin(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.start = {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids}
        self.machine_start = machine_cpu()
        self.wall_start = time.monotonic()

    def end(self, groups: dict[str, list[int]] | None = None) -> dict:
        groups = groups or self.groups
        busy0, total0 = self.machine_start
        busy1, total1 = machine_cpu()
        wall = time.monotonic() - self.wall_start
        result = {
            name: round(sum(max(cpu_seconds(p) - self.start.get(p, 0.0), 0.0) for p in pids), 2)
            for name, pids in groups.items()
        }
        result["_wall_seconds"] = round(wall, 2)
        result["_machine_busy_cpu_seconds"] = round((busy1 - busy0) / CLK_TCK, 2)
        result["_machine_cores"] = os.cpu_count()
        result["_machine_busy_percent"] = round(100 * (busy1 - busy0) / max(total1 - total0, 1), 1)
        return result


# -- wrk ---------------------------------------------------------------------------------


def run_wrk(
    procs: Processes, args: argparse.Namespace, port: int, unique: int, dup_every: int, label: str
) -> dict:
    tag = random.randrange(1, 2**31)
    cap = max(120, int(unique / 300))
    argv = [
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{cap}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "campaign.lua"),
        f"http://127.0.0.1:{port}{SUBMIT_PATH}",
        "--",
        str(tag),
        str(unique),
        str(args.threads),
        str(dup_every),
        str(args.answers_file),
        *([str(args.tokens_file)] if args.tokens_file else []),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tcp_before = tcp_counters()
    started = time.monotonic()
    proc = procs.start(
        f"wrk-{label}", argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    done_threads = 0
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("WRK_THREAD_DONE"):
            done_threads += 1
            if done_threads == args.threads:
                proc.send_signal(signal.SIGINT)  # wrk sleeps -d even when all are done
    proc.wait()
    stderr = proc.stderr.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tcp_after = tcp_counters()
    result_lines = [x for x in lines if x.startswith("WRK_RESULT ")]
    if not result_lines:
        raise RuntimeError(
            f"wrk gave no result (exit {proc.returncode}):\n" + "".join(lines) + stderr
        )
    result = json.loads(result_lines[-1].split(" ", 1)[1])
    threads = result["threads"]
    first = min(t["first_us"] for t in threads) / 1e6
    last = max(t["last_us"] for t in threads) / 1e6
    result["complete"] = all(t["received"] == t["planned"] for t in threads)
    if not result["complete"]:
        last = started + result["duration_us"] / 1e6
    result["first_request"] = first  # time.monotonic() clock
    result["last_response"] = last
    result["seconds"] = last - first
    result["started"] = started
    for key in ("planned", "received", "accepted", "duplicate", "overflow"):
        result[key] = sum(t[key] for t in threads)
    other: dict[str, int] = {}
    for t in threads:
        for status, n in t["other"].items():
            other[status] = other.get(status, 0) + n
    result["other_statuses"] = other
    result["tcp_counters"] = {
        k: tcp_after[k] - tcp_before.get(k, 0)
        for k in tcp_after
        if tcp_after[k] != tcp_before.get(k, 0)
    }
    result["cpu_seconds"] = round(
        (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2
    )
    return result


# -- the database and the stream -----------------------------------------------------------


class Store:
    """Counts in PostgreSQL and Redis, read by the benchmark's own connections."""

    def __init__(self, database_url: str, redis_client: redis.Redis, survey_id: int) -> None:
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.redis = redis_client
        self.survey_id = survey_id

    def rows(self) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM responses WHERE survey_id = %s", (self.survey_id,)
        ).fetchone()[0]

    def tallied(self) -> int:
        return int(
            self.conn.execute(
                "SELECT coalesce(sum(count), 0) FROM tallies "
                "WHERE survey_id = %s AND question = '' AND choice = ''",
                (self.survey_id,),
            ).fetchone()[0]
        )

    def backlog(self) -> int:
        from survey_engine.intake.buffer import stream_key

        return self.redis.xlen(stream_key(self.survey_id))

    def counters(self) -> dict[str, int]:
        from survey_engine.intake.buffer import counters_key

        return {
            k.decode(): int(v) for k, v in self.redis.hgetall(counters_key(self.survey_id)).items()
        }

    def backend_pids(self, database: str, exclude: tuple[int, ...] = ()) -> list[int]:
        """PostgreSQL backends of the product's processes (not this script's own)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
            if r[0] not in exclude
        ]


class Poller(threading.Thread):
    """Samples (time, tallied, rows, backlog) every `interval` seconds."""

    def __init__(self, store_factory, interval: float, with_rows: bool) -> None:
        super().__init__(daemon=True)
        self.store_factory = store_factory
        self.interval = interval
        self.with_rows = with_rows
        self.samples: list[tuple[float, int, int | None, int]] = []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.backend_pid = 0

    def run(self) -> None:
        store = self.store_factory()
        self.backend_pid = store.conn.info.backend_pid
        # A server without autovacuum (this machine's CI PostgreSQL) never analyses the
        # growing responses table, and the drain's planner then walks a network's whole
        # day per batch; ANALYZE every ANALYZE_SECONDS stands in for it (in this
        # connection, whose CPU the figures leave out, as they leave out autovacuum's).
        analyze = store.conn.execute("SHOW autovacuum").fetchone()[0] != "on"
        analyzed = time.monotonic()
        self.ready.set()
        while not self.stop.is_set():
            now = time.monotonic()
            if analyze and now - analyzed >= ANALYZE_SECONDS:
                store.conn.execute("ANALYZE responses")
                analyzed = now
            tallied = store.tallied()
            rows = store.rows() if self.with_rows else None
            self.samples.append((now, tallied, rows, store.backlog()))
            self.stop.wait(max(self.interval - (time.monotonic() - now), 0.0))
        store.conn.close()


def reset_database(pg: str, database: str) -> None:
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


def drop_database(pg: str, database: str) -> None:
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def product_app(database_url: str, redis_url: str):
    """The product's app in this process: to read the demo survey and fill the stream."""
    from survey_engine import create_app
    from survey_engine.config import database_url as sqlalchemy_url

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url),
            "REDIS_URL": redis_url,
            "SECRET_KEY": BENCHMARK_SECRET_KEY,
        }
    )


def answer_pool(app, count: int, seed: int = 2022) -> tuple[int, int, list[dict]]:
    """(survey id, version id, `count` valid answer sets) of the published demo survey.

    Made by the product's own generator (survey_engine.fake), so they follow the demo
    definition whatever it asks; each is checked again as the API would check it.
    """
    from survey_engine.catalog import definition_of, published
    from survey_engine.definition import clean_answers
    from survey_engine.definition.fake import fake_answers

    rng = random.Random(seed)
    with app.app_context():
        survey = published(SLUG)
        definition = definition_of(survey.version_id)
        pool = []
        for _ in range(count):
            answers = fake_answers(definition, rng)
            _, errors = clean_answers(definition, answers, definition.default_language)
            if errors:
                raise RuntimeError(f"generated answers are refused: {errors} ({answers})")
            pool.append(answers)
    return survey.survey_id, survey.version_id, pool


def one_per_device(app, tokens_file: Path, count: int) -> None:
    """Publish the demo in one-per-device mode and mint a browser token per submission
    (with the web tier's SECRET_KEY, as its pages would hand them out), plus slack for
    the per-thread split of campaign.lua."""
    from survey_engine.catalog import find_survey, save_definition
    from survey_engine.intake.respondent import new_device_token

    with app.app_context():
        definition = dict(find_survey(SLUG).versions[-1].definition)
        definition["settings"] = {**(definition.get("settings") or {}), "access": "device"}
        save_definition(definition, publish=True)
        tokens = [new_device_token() for _ in range(count + 64)]
    tokens_file.write_text("\n".join(tokens) + "\n")


def preload_stream(
    redis_url: str, survey_id: int, version_id: int, pool: list[dict], count: int
) -> None:
    """Put `count` new submissions in the stream, through the web tier's accept script."""
    from survey_engine.intake.buffer import (
        ACCEPT_SCRIPT,
        SURVEYS_KEY,
        accept_args,
        accept_keys,
    )
    from survey_engine.intake.submission import Submission, answers_digest

    client = redis.Redis.from_url(redis_url)
    script = client.register_script(ACCEPT_SCRIPT)
    keys = accept_keys(survey_id)
    client.sadd(SURVEYS_KEY, survey_id)
    for start in range(0, count, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + 1000, count)):
            a = pool[i % len(pool)]
            s = Submission(
                survey_id, version_id, uuid.uuid4(), a, source="api", meta={"lang": "vi"}
            )
            args = accept_args(str(s.submission_id), answers_digest(a), s.to_json())
            script(keys=keys, args=args, client=pipe)
        replies = pipe.execute()
        if any(r != b"accepted" for r in replies):
            raise RuntimeError("preloading the stream: a submission was not accepted")
    client.close()


# -- the run -------------------------------------------------------------------------------


def machine_description() -> dict:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kib / 2**20, 1),
        "kernel": os.uname().release,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def versions() -> dict:
    from importlib.metadata import version

    out = {name: version(name) for name in ("flask", "gunicorn", "sqlalchemy", "psycopg", "redis")}
    out["python"] = sys.version.split()[0]
    out["survey-engine"] = (
        subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        or "?"
    )
    out["wrk"] = (
        subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        .stdout.split("[")[0]
        .replace("wrk", "")
        .strip()
    )
    out["redis-server"] = (
        subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        .stdout.split()[2]
        .removeprefix("v=")
    )
    return out


def run(args: argparse.Namespace, procs: Processes, logdir: Path) -> dict:
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(
                f"{tool} is not installed (make benchmark installs wrk; "
                "redis-server comes with Debian's redis-server package)"
            )
    for port in (args.redis_port, args.web_port, args.noop_port):
        if not port_free(port):
            raise SystemExit(f"port {port} is in use; choose another with the options")

    results: dict = {
        "machine": machine_description(),
        "versions": versions(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    results["settings"]["answer_sets"] = 5000
    database_url = f"{args.pg}/{args.database}"
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": BENCHMARK_SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
        # Every request of wrk comes from 127.0.0.1, one network: its limit (600 a minute
        # for a commune behind one NAT address) would turn the campaign into 429s. Set
        # out of reach, the breakers still run (and cost) on every submission.
        "LIMIT_NETWORK_PER_MINUTE": str(10**9),
        "LIMIT_SURVEY_PER_MINUTE": str(10**9),
    }
    env.pop("FLASK_APP", None)

    say(f"logs in {logdir}")
    say("PostgreSQL: fresh database " + args.database)
    reset_database(args.pg, args.database)
    redis_dir = logdir / "redis"
    redis_dir.mkdir()
    redis_proc = procs.start(
        "redis",
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(args.redis_port),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            str(redis_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ],
    )
    client = redis.Redis.from_url(redis_url)
    wait_until(client.ping, 10, "redis-server")

    demo = subprocess.run(
        [str(BIN / "survey-engine"), "demo"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if demo.returncode:
        raise RuntimeError("survey-engine demo failed:\n" + demo.stdout + demo.stderr)
    with psycopg.connect(database_url) as conn:
        results["versions"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    survey_id, version_id, pool = answer_pool(product_app(database_url, redis_url), 5000)
    answers_file = logdir / "answers.jsonl"
    answers_file.write_text(
        "".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) + "\n" for a in pool),
        encoding="utf-8",
    )
    args.answers_file = answers_file  # every run_wrk sends these
    args.tokens_file = None
    if args.access == "device":
        args.tokens_file = logdir / "device-tokens.txt"
        one_per_device(product_app(database_url, redis_url), args.tokens_file, args.submissions)
    lines = answers_file.read_bytes().splitlines()
    # {"submission_id":"<36>","answers":<set>}
    results["settings"]["body_bytes_mean"] = round(sum(len(x) for x in lines) / len(lines) + 56, 1)

    def preload(count: int) -> None:
        preload_stream(redis_url, survey_id, version_id, pool, count)

    def store() -> Store:
        return Store(database_url, redis.Redis.from_url(redis_url), survey_id)

    gunicorn = [
        str(BIN / "gunicorn"),
        "-w",
        str(args.web_workers),
        "-k",
        args.worker_class,
        "--threads",
        str(args.web_threads),
        "--log-level",
        "warning",
    ]
    web = procs.start(
        "gunicorn-survey-engine",
        [*gunicorn, "-b", f"127.0.0.1:{args.web_port}", args.web_app],
        env=env,
    )
    noop = procs.start(
        "gunicorn-noop",
        [
            *gunicorn,
            "-b",
            f"127.0.0.1:{args.noop_port}",
            "--chdir",
            str(BENCH),
            "noop_app:create_app()",
        ],
        env=env,
    )
    web_url = f"http://127.0.0.1:{args.web_port}"
    noop_url = f"http://127.0.0.1:{args.noop_port}"
    wait_until(lambda: http_ok(web_url + "/healthz"), 30, "gunicorn (survey-engine)")
    wait_until(lambda: http_ok(noop_url + "/healthz"), 30, "gunicorn (noop)")
    for _ in range(40):  # every gunicorn worker loads the survey and opens its connections
        http_ok(web_url + f"/api/v1/surveys/{SLUG}")
        http_ok(web_url + "/healthz")
        http_ok(noop_url + "/healthz")

    # 1. the do-nothing endpoint
    say(f"1/5 do-nothing endpoint: {args.noop_requests:,} requests")
    noop_runs = [measure_noop(procs, args, noop)]

    # 2. the campaign
    unique = args.submissions
    say(
        f"2/5 campaign: {unique:,} submissions + 1 retry per {args.dup_every} "
        f"({args.drain_workers} worker process(es) draining)"
    )
    base = store()
    poller = Poller(store, 0.5, with_rows=True)
    poller.start()
    poller.ready.wait(10)
    mine = (poller.backend_pid,)
    meter = CpuMeter()
    meter.begin(
        {
            "gunicorn (survey-engine)": tree(web.pid),
            "redis-server": [redis_proc.pid],
            "postgres backends": base.backend_pids(args.database, mine),
        }
    )
    drainers = [
        procs.start(f"worker-{i}", worker_argv(args), env=env) for i in range(args.drain_workers)
    ]
    campaign = run_wrk(procs, args, args.web_port, unique, args.dup_every, "campaign")
    accepted = campaign["accepted"]
    # With no worker draining (--drain-workers 0) the web tier is measured alone: the
    # stream holds the campaign, and the drain-capacity phase measures the drain.
    deadline = campaign["first_request"] + (args.deadline if args.drain_workers else 0)
    while time.monotonic() < deadline:
        if (
            poller.samples
            and poller.samples[-1][1] >= accepted
            and poller.samples[-1][2] >= accepted
        ):
            break
        time.sleep(0.1)
    poller.stop.set()
    poller.join()
    groups = {
        "gunicorn (survey-engine)": tree(web.pid),
        "survey-engine worker": [p for d in drainers for p in tree(d.pid)],
        "redis-server": [redis_proc.pid],
        "postgres backends": base.backend_pids(args.database, mine),
    }
    cpu = meter.end(groups)
    cpu["wrk"] = campaign["cpu_seconds"]
    rss = {
        "gunicorn master": peak_rss_mib(web.pid),
        **{f"gunicorn worker {i + 1}": peak_rss_mib(p) for i, p in enumerate(children(web.pid))},
        **{f"survey-engine worker {i + 1}": peak_rss_mib(d.pid) for i, d in enumerate(drainers)},
        "redis-server": peak_rss_mib(redis_proc.pid),
        "postgres backend (largest)": max(
            (peak_rss_mib(p) or 0) for p in base.backend_pids(args.database, mine)
        ),
    }
    for d in drainers:
        procs.stop(d)
    rows, tallied, counters = base.rows(), base.tallied(), base.counters()
    results["campaign"] = summarize_campaign(
        campaign, poller.samples, rows, tallied, counters, cpu, rss
    )

    # 3. the do-nothing endpoint again
    say(f"3/5 do-nothing endpoint again: {args.noop_requests:,} requests")
    noop_runs.append(measure_noop(procs, args, noop))
    rss["gunicorn (do-nothing) master"] = peak_rss_mib(noop.pid)
    for i, p in enumerate(children(noop.pid)):
        rss[f"gunicorn (do-nothing) worker {i + 1}"] = peak_rss_mib(p)
    results["noop"] = noop_runs

    # 4. drain capacity on a backlog
    results["capacity"] = []
    for n in [int(x) for x in args.capacity_workers.split(",") if x.strip()]:
        say(
            f"4/5 drain capacity: {args.capacity_rows:,} submissions in the stream, "
            f"{n} worker process(es)"
        )
        results["capacity"].append(measure_capacity(procs, args, env, store, preload, n))

    # 5. tallies equal a recount
    say("5/5 recount")
    recount = subprocess.run(
        [str(BIN / "survey-engine"), "recount", SLUG],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    results["recount"] = {
        "ok": recount.returncode == 0,
        "output": (recount.stdout + recount.stderr).strip(),
    }
    results["final_rows"] = base.rows()
    base.conn.close()
    return results


def worker_argv(args: argparse.Namespace) -> list[str]:
    argv = shlex.split(args.worker_command)
    if "/" not in argv[0] and (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    return argv


def measure_noop(procs: Processes, args: argparse.Namespace, noop: subprocess.Popen) -> dict:
    meter = CpuMeter()
    meter.begin({"gunicorn (do-nothing)": tree(noop.pid)})
    result = run_wrk(procs, args, args.noop_port, args.noop_requests, args.dup_every, "noop")
    cpu = meter.end()
    cpu["wrk"] = result["cpu_seconds"]
    return {
        "requests": result["received"],
        "ok": result["accepted"] + result["duplicate"],
        "other_statuses": result["other_statuses"],
        "errors": result["errors"],
        "complete": result["complete"],
        "seconds": round(result["seconds"], 3),
        "requests_per_second": round(result["received"] / result["seconds"], 1),
        "latency_ms": latency_ms(result),
        "tcp_counters": result["tcp_counters"],
        "cpu_seconds": cpu,
    }


def latency_ms(result: dict) -> dict:
    lat = result["latency_us"]
    return {k: round(lat[k] / 1000, 2) for k in ("p50", "p90", "p99", "max", "mean")}


def summarize_campaign(
    w: dict, samples: list, rows: int, tallied: int, counters: dict, cpu: dict, rss: dict
) -> dict:
    t0 = w["first_request"]
    done_at = next(
        (
            t
            for t, tal, r, _ in samples
            if tal >= w["accepted"] and r is not None and r >= w["accepted"]
        ),
        None,
    )
    first_row_at = next((t for t, tal, _, _ in samples if tal > 0), None)
    web_seconds = w["seconds"]
    drain_rate = None
    if done_at is not None and first_row_at is not None and done_at > first_row_at:
        drain_rate = round(w["accepted"] / (done_at - first_row_at), 1)
    return {
        "requests": w["received"],
        "accepted": w["accepted"],
        "duplicates": w["duplicate"],
        "other_statuses": w["other_statuses"],
        "errors": w["errors"],
        "overflow_requests": w["overflow"],
        "complete": w["complete"],
        "web_seconds": round(web_seconds, 3),
        "accepted_per_second": round(w["accepted"] / web_seconds, 1),
        "requests_per_second": round(w["received"] / web_seconds, 1),
        "latency_ms": latency_ms(w),
        "tcp_counters": w["tcp_counters"],
        "seconds_until_stored_and_tallied": None if done_at is None else round(done_at - t0, 2),
        "drain_rows_per_second_during_campaign": drain_rate,
        "peak_backlog": max((b for *_, b in samples), default=0),
        "rows_stored": rows,
        "tallied": tallied,
        "redis_counters": counters,
        "timeline": [(round(t - t0, 2), tal, r, b) for t, tal, r, b in samples],
        "cpu_seconds": cpu,
        "peak_rss_mib": {k: None if v is None else round(v, 1) for k, v in rss.items()},
    }


def measure_capacity(
    procs: Processes, args: argparse.Namespace, env: dict, store_factory, preload, workers: int
) -> dict:
    store = store_factory()
    before = store.tallied()
    preload(args.capacity_rows)
    target = before + args.capacity_rows
    poller = Poller(store_factory, 0.05, with_rows=False)
    poller.start()
    poller.ready.wait(10)
    mine = (poller.backend_pid,)
    meter = CpuMeter()
    meter.begin({"postgres backends": store.backend_pids(args.database, mine)})
    started = time.monotonic()
    drainers = [
        procs.start(f"capacity-{workers}-worker-{i}", worker_argv(args), env=env)
        for i in range(workers)
    ]
    deadline = started + args.deadline
    while time.monotonic() < deadline:
        if poller.samples and poller.samples[-1][1] >= target:
            break
        time.sleep(0.05)
    poller.stop.set()
    poller.join()
    samples = poller.samples
    first = next((t for t, tal, *_ in samples if tal > before), None)
    done = next((t for t, tal, *_ in samples if tal >= target), None)
    # Rows per second once the first batch is in: the steady drain, without start-up.
    first_count = next((tal for t, tal, *_ in samples if tal > before), before)
    rate = None
    if first is not None and done is not None and done > first:
        rate = round((target - first_count) / (done - first), 1)
    cpu = meter.end(
        {
            "survey-engine worker": [p for d in drainers for p in tree(d.pid)],
            "postgres backends": store.backend_pids(args.database, mine),
        }
    )
    rss = {
        f"survey-engine worker {i + 1}": round(peak_rss_mib(d.pid) or 0, 1)
        for i, d in enumerate(drainers)
    }
    for d in drainers:
        procs.stop(d)
    rows = store.rows()
    store.conn.close()
    return {
        "workers": workers,
        "rows": args.capacity_rows,
        "stored": (samples[-1][1] - before) if samples else 0,
        "rows_per_second": rate,
        "seconds_from_start": None if done is None else round(done - started, 2),
        "seconds_first_to_last_batch": None
        if (done is None or first is None)
        else round(done - first, 2),
        "worker_cpu_seconds": cpu,
        "peak_rss_mib": rss,
        "rows_total_after": rows,
    }


# -- the report ------------------------------------------------------------------------------


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def verdicts(r: dict) -> dict:
    c = r["campaign"]
    # The faster of the two do-nothing phases: something else on the machine can only
    # slow a phase down, and a slowed baseline would flatter the ratios.
    noop_rate = max(n["requests_per_second"] for n in r["noop"])
    ratio = c["accepted_per_second"] / noop_rate
    capacity = [x["rows_per_second"] for x in r["capacity"] if x["rows_per_second"]]
    best_drain = max(capacity, default=c["drain_rows_per_second_during_campaign"] or 0)
    seconds = c["seconds_until_stored_and_tallied"]
    noop_cpu = min(n["cpu_seconds"]["gunicorn (do-nothing)"] / n["requests"] for n in r["noop"])
    web_cpu = c["cpu_seconds"]["gunicorn (survey-engine)"] / c["requests"]
    return {
        # The web tier's own CPU per request, do-nothing : submission; what the
        # throughput ratio tends to when nothing else competes for the cores.
        "cpu_ratio": round(noop_cpu / web_cpu, 3),
        "noop_requests_per_second": round(noop_rate, 1),
        "ratio": round(ratio, 3),
        "ratio_requests": round(c["requests_per_second"] / noop_rate, 3),
        "ratio_met": ratio >= TARGET_RATIO,
        "drain_rows_per_second": best_drain,
        "drain_met": best_drain >= TARGET_DRAIN,
        "seconds": seconds,
        "seconds_met": seconds is not None
        and seconds <= TARGET_SECONDS
        and c["accepted"] == r["settings"]["submissions"],
        "rows_equal_accepted": (
            c["rows_stored"] == c["accepted"] == c["tallied"] == c["redis_counters"].get("accepted")
        ),
    }


def report(r: dict) -> str:
    c, v, m, s = r["campaign"], verdicts(r), r["machine"], r["settings"]
    before, after = r["noop"][0], r["noop"][-1]

    def ok(flag: bool) -> str:
        return "met" if flag else "NOT MET"

    def n(x, fmt="{:,.0f}") -> str:
        return "-" if x is None else fmt.format(x)

    def row(label: str, a: str, b: str, c_: str, note: str = "") -> str:
        return f"  {label:<38}{a:>14}{b:>14}{c_:>14}  {note}".rstrip()

    def lat(x: dict) -> str:
        return f"{x['latency_ms']['p50']:.1f} / {x['latency_ms']['p99']:.1f}"

    lines = [
        "",
        f"campaign benchmark, {m['date']}: {m['cores']} cores ({m['cpu']}), "
        f"{m['ram_gib']} GiB RAM, shared with whatever else runs on the machine; "
        f"survey-engine {r['versions']['survey-engine']}",
        f"gunicorn -w {s['web_workers']} -k {s['worker_class']} --threads {s['web_threads']}; "
        f"wrk -t{s['threads']} "
        f"-c{s['connections']}; {s['drain_workers']} survey-engine worker process(es) "
        "during the campaign; Redis AOF everysec",
        f"bodies: {s['answer_sets']:,} answer sets of the demo survey from survey_engine.fake, "
        f"{s['body_bytes_mean']:.0f} bytes on average, to both endpoints",
        "",
        "web tier" + " " * 32 + f"{'do-nothing':>14}{'campaign':>14}{'do-nothing':>14}",
        row("", "(before)", "", "(after)"),
        row("requests", n(before["requests"]), n(c["requests"]), n(after["requests"])),
        row("new submissions accepted (202)", "", n(c["accepted"]), ""),
        row("retries answered 202 duplicate", "", n(c["duplicates"]), ""),
        row("other statuses / socket errors", fmt_errors(before), fmt_errors(c), fmt_errors(after)),
        row(
            "requests/s",
            n(before["requests_per_second"]),
            n(c["requests_per_second"]),
            n(after["requests_per_second"]),
        ),
        row("accepted/s (new submissions)", "", n(c["accepted_per_second"]), ""),
        row(
            "accepted/s : do-nothing req/s (best)",
            "",
            f"{v['ratio']:.2f}",
            "",
            f"target >= {TARGET_RATIO}: {ok(v['ratio_met'])}, "
            f"goal {GOAL_RATIO}: {ok(v['ratio'] >= GOAL_RATIO)}",
        ),
        row("requests/s : do-nothing req/s", "", f"{v['ratio_requests']:.2f}", ""),
        row(
            "web CPU per request, do-nothing : ours",
            "",
            f"{v['cpu_ratio']:.2f}",
            "",
            f"target >= {TARGET_RATIO}: {ok(v['cpu_ratio'] >= TARGET_RATIO)}, "
            f"goal {GOAL_RATIO}: {ok(v['cpu_ratio'] >= GOAL_RATIO)}",
        ),
        row("latency p50 / p99, ms", lat(before), lat(c), lat(after)),
        row(
            "latency max, ms",
            n(before["latency_ms"]["max"]),
            n(c["latency_ms"]["max"]),
            n(after["latency_ms"]["max"]),
        ),
        *[
            f"  WARNING: {label}: wrk got no response to some planned requests and ran to its "
            "-d cap; its rates are wrong"
            for label, x in (
                ("do-nothing (before)", before),
                ("campaign", c),
                ("do-nothing (after)", after),
            )
            if not x["complete"]
        ],
        "  TCP counters that moved (machine-wide): "
        + "; ".join(
            f"{label} {x['tcp_counters'] or '-'}"
            for label, x in (("before", before), ("campaign", c), ("after", after))
        ),
        "",
        "drain and storage",
        f"  first request to all {n(c['accepted'])} stored and tallied: "
        f"{n(c['seconds_until_stored_and_tallied'], '{:.1f}')} s   "
        f"target <= {TARGET_SECONDS:.0f} s: {ok(v['seconds_met'])}",
        f"  rows stored {n(c['rows_stored'])}, tallied {n(c['tallied'])}, accepted "
        f"{n(c['accepted'])} (wrk) and {n(c['redis_counters'].get('accepted'))} (Redis): "
        f"{'equal' if v['rows_equal_accepted'] else 'NOT EQUAL'}",
        f"  Redis counters: {c['redis_counters']}",
        f"  drain during the campaign (paced by arrivals): "
        f"{n(c['drain_rows_per_second_during_campaign'])} rows/s, peak backlog "
        f"{n(c['peak_backlog'])}",
    ]
    for cap in r["capacity"]:
        lines.append(
            f"  drain capacity, {cap['workers']} worker process(es), {n(cap['rows'])} "
            f"waiting: {n(cap['rows_per_second'])} rows/s "
            f"({n(cap['seconds_first_to_last_batch'], '{:.1f}')} s first to last batch, "
            f"{n(cap['seconds_from_start'], '{:.1f}')} s from process start)"
        )
    lines.append(
        f"  drain rows/s (best): {n(v['drain_rows_per_second'])}   "
        f"target >= {TARGET_DRAIN:,}: {ok(v['drain_met'])}"
    )
    lines.append(f"  recount: {r['recount']['output']}")
    lines += ["", "peak RSS (VmHWM), MiB"]
    for name, mib in c["peak_rss_mib"].items():
        lines.append(f"  {name:<44}{n(mib, '{:.1f}'):>8}")
    for cap in r["capacity"]:
        for name, mib in cap["peak_rss_mib"].items():
            lines.append(
                f"  {name + ' (capacity run, ' + str(cap['workers']) + ')':<44}"
                f"{n(mib, '{:.1f}'):>8}"
            )
    cpu = c["cpu_seconds"]
    lines += [
        "",
        f"CPU seconds, campaign ({cpu['_wall_seconds']:.1f} s wall from start to "
        f"all stored; machine busy {cpu['_machine_busy_percent']}% of "
        f"{cpu['_machine_cores']} cores = {cpu['_machine_busy_cpu_seconds']:.1f} "
        "CPU s, other users included)",
    ]
    for name, sec in cpu.items():
        if not name.startswith("_"):
            per = sec / c["requests"] * 1e6 if c["requests"] else 0
            lines.append(f"  {name:<40}{sec:>8.1f} s {per:>7.0f} µs per request")
    ours = sum(sec for name, sec in cpu.items() if not name.startswith("_"))
    lines.append(
        f"  {'all of the above':<40}{ours:>8.1f} s; the rest of the machine's "
        f"{cpu['_machine_busy_cpu_seconds']:.1f} busy CPU s: "
        f"{cpu['_machine_busy_cpu_seconds'] - ours:.1f} s (other users, kernel)"
    )
    for label, x in (("before", before), ("after", after)):
        g = x["cpu_seconds"]["gunicorn (do-nothing)"]
        lines.append(
            f"  do-nothing ({label}): gunicorn {g:.1f} s = "
            f"{g / x['requests'] * 1e6:.0f} µs per request; wrk "
            f"{x['cpu_seconds']['wrk']:.1f} s; machine busy "
            f"{x['cpu_seconds']['_machine_busy_percent']}%"
        )
    for cap in r["capacity"]:
        w = cap["worker_cpu_seconds"]
        lines.append(
            f"  drain capacity, {cap['workers']} worker(s): worker "
            f"{w['survey-engine worker']:.1f} s = "
            f"{w['survey-engine worker'] / cap['rows'] * 1e6:.0f} µs per row; "
            f"postgres {w['postgres backends']:.1f} s; machine busy "
            f"{w['_machine_busy_percent']}%"
        )
    lines.append("")
    return "\n".join(lines)


def fmt_errors(x: dict) -> str:
    other = sum(x["other_statuses"].values())
    errors = sum(v for k, v in x["errors"].items() if k != "status")
    return f"{other}/{errors}"


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Also when started in the background of a script, where SIGINT comes ignored.
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    logdir = Path(tempfile.mkdtemp(prefix="survey-engine-bench-"))
    procs = Processes(logdir)
    ok = False
    try:
        results = run(args, procs, logdir)
        procs.stop_all()
        text = report(results)
        print(text)
        results["verdicts"] = verdicts(results)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
            say(f"results written to {args.json}")
        v = results["verdicts"]
        ok = v["rows_equal_accepted"] and results["recount"]["ok"]
        return 0 if ok else 1
    except KeyboardInterrupt:
        say("interrupted; stopping everything")
        return 130
    finally:
        procs.stop_all()
        if not args.keep:
            with contextlib.suppress(Exception):
                drop_database(args.pg, args.database)
            if ok:
                shutil.rmtree(logdir, ignore_errors=True)
            else:
                say(f"logs kept in {logdir}")


if __name__ == "__main__":
    sys.exit(main())
