"""Faults with real processes: what got a 2xx is stored, and stored exactly once.

Each test starts its own gunicorn web tier, `survey-engine worker` processes and a
redis-server of its own (AOF on, fsync on every write, a private port in
6400-6499, never the shared 6379), on a PostgreSQL database of its own, and then
breaks something: kill -9 a worker inside a batch, kill -9 and restart Redis under
load, cut the database off behind a TCP proxy, race three copies of one
submission. Every submission_id that got a 202 (new or duplicate) is recorded and
compared with the responses table; `survey-engine recount` must agree with the
tallies. Services that are missing make these tests fail, never skip.

They always run on PostgreSQL (the machine's, through fresh databases), so
`make test` runs them only in its PostgreSQL pass.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import flask_migrate
import pytest
import redis
import sqlalchemy as sa

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import save_definition
from survey_engine.extensions import db
from survey_engine.intake.buffer import GROUP, counters_key, dead_key, stream_key
from tests.conftest import DEMO_SLUG, demo_definition, fresh_postgres_database, valid_answers

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtualenv pytest runs from
GUNICORN = str(BIN / "gunicorn")
COMMAND = str(BIN / "survey-engine")
API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
REDIS_PORTS = range(6400, 6500)
SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "SURVEY_CACHE_SECONDS",
    "DRAIN_BATCH_SIZE",
    "DRAIN_CLAIM_IDLE_MS",
    "DRAIN_MAX_DELIVERIES",
)


# -- processes ---------------------------------------------------------------------------


class Processes:
    """Every process a test starts, each in its own session, so all can be killed."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                args,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append((name, proc))
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn's workers too) and reap it."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        proc.wait(timeout=20)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:])

    def tails(self) -> str:
        return "\n".join(self.tail(name) for name in dict(self.started))

    def close(self) -> None:
        for _, proc in reversed(self.started):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for _, proc in self.started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        print(self.tails())  # shown by pytest when the test failed


@pytest.fixture
def processes(tmp_path, make_database) -> Iterator[Processes]:
    """Killed at teardown before the databases they use are dropped."""
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs)
    try:
        yield procs
    finally:
        procs.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.1,
    details: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{details()}")
        time.sleep(interval)


# -- Redis of its own ---------------------------------------------------------------------


class RedisServer:
    """A private redis-server: AOF with fsync on every write, so what Redis
    acknowledged survives kill -9."""

    def __init__(self, processes: Processes, directory: Path) -> None:
        self.processes = processes
        self.directory = directory
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self) -> None:
        """On a free port of 6400-6499 the first time, on the same port (and dir) after."""
        ports = [self.port] if self.port else random.sample(REDIS_PORTS, len(REDIS_PORTS))
        for port in ports[:10]:
            if not self.port and not _can_bind(port):
                continue
            self.starts += 1
            self.proc = self.processes.start(
                f"redis-{port}-{self.starts}",
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--save",
                    "",
                    "--dir",
                    str(self.directory),
                    "--daemonize",
                    "no",
                ],
                dict(os.environ),
            )
            if self._ready(port):
                self.port = port
                return
            Processes.kill(self.proc)
        pytest.fail(
            "could not start a redis-server on a port of 6400-6499\n" + self.processes.tails()
        )

    def _ready(self, port: int) -> bool:
        client = redis.Redis(port=port, socket_timeout=1)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if client.ping():  # BusyLoadingError while the AOF loads
                        return True
                except redis.RedisError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def kill(self) -> None:
        Processes.kill(self.proc, signal.SIGKILL)


def _can_bind(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def private_redis(processes, tmp_path) -> RedisServer:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(processes, directory)
    server.start()
    return server


# -- PostgreSQL: a database per test, and a proxy that can cut it off ----------------------


@dataclass
class Database:
    name: str
    url: str  # direct, for the test's own checks
    engine: sa.Engine
    survey_id: int

    def rows(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM responses")).scalar_one()

    def stored_ids(self) -> Counter[str]:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.text("SELECT submission_id::text, count(*) FROM responses GROUP BY 1")
            )
            return Counter(dict(result.all()))

    def url_via(self, port: int) -> str:
        return sa.make_url(self.url).set(port=port).render_as_string(hide_password=False)


@pytest.fixture
def make_database() -> Iterator[Callable[[str], Database]]:
    """Fresh databases with the schema and the published demo survey; dropped after."""
    made: list[Database] = []

    def make(suffix: str) -> Database:
        name = f"survey_engine_faults_{suffix}_{os.getpid()}"  # two runs never share one
        url = fresh_postgres_database(name)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS_DIR)
            survey_id = save_definition(demo_definition(), publish=True).id
            db.session.remove()
            db.engine.dispose()
        database = Database(
            name, url, sa.create_engine(url, isolation_level="AUTOCOMMIT"), survey_id
        )
        made.append(database)
        return database

    yield make
    for database in made:
        database.engine.dispose()
        fresh_postgres_database(database.name, create=False)


class Proxy:
    """A TCP proxy in front of PostgreSQL that the test can cut and restore.

    Cut: every open connection is shut down, then new ones are either closed as soon
    as they are accepted ("refused": the server is down, the host answers) or held
    without a byte in reply ("blackhole": the host is gone, nothing answers at all).
    """

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self.mode = "refused"
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.refused = 0
        self._thread = threading.Thread(target=self._accept, name="pg-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                self.refused += 1
                if self.mode == "blackhole":
                    with self._lock:
                        self._open.add(downstream)  # held silently until restore
                else:
                    _shut(downstream)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _shut(downstream)
                continue
            for sock in (downstream, upstream):
                sock.settimeout(None)
            with self._lock:
                self._open.update((downstream, upstream))
            for src, dst in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)
        for sock in socks:
            _shut(sock)

    def cut(self, mode: str = "refused") -> None:
        self.mode = mode
        self._cut.set()
        with self._lock:
            socks = list(self._open)
        self._drop(*socks)

    def restore(self) -> None:
        with self._lock:
            held = list(self._open) if self._cut.is_set() else []
        self._drop(*held)
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self.listener.close()
        self._thread.join(timeout=5)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    proxy = Proxy()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def worker_proxy() -> Iterator[Proxy]:
    """A second proxy, for the drain worker alone: its connection attempts are then
    told apart from the web tier's."""
    proxy = Proxy()
    try:
        yield proxy
    finally:
        proxy.close()


# -- the product's processes --------------------------------------------------------------


def environment(database_url: str, redis_url: str | None = None, **settings: object) -> dict:
    """The process environment: ours, minus any setting of the product, plus these."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update({"DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"})
    # Every client here is 127.0.0.1, one network: these tests are about what is
    # stored, so the circuit breakers' network and survey limits are off unless a test
    # sets them (tests/test_stuffing.py does).
    env.update({"LIMIT_NETWORK_PER_MINUTE": "0", "LIMIT_SURVEY_PER_MINUTE": "0"})
    if redis_url:
        # The production shape refuses to start without one shared key (config.py).
        env.update(REDIS_URL=redis_url, SECRET_KEY="fault-tests")
    env.update({k: str(v) for k, v in settings.items()})
    return env


@dataclass
class Web:
    port: int
    proc: subprocess.Popen
    access_log: Path

    def pids_that_served(self, path: str) -> set[str]:
        """gunicorn worker pids in the access log that answered `GET path`."""
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return {line.split()[0] for line in lines if f" GET {path} " in f" {line} "}


def start_web(processes: Processes, name: str, env: dict, workers: int = 2) -> Web:
    """gunicorn as in production; returns once /healthz answers."""
    port = free_port()
    access_log = processes.logs / f"{name}-access.log"
    proc = processes.start(
        name,
        [
            GUNICORN,
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(p)s %(m)s %(U)s %(s)s",
            "survey_engine:create_app()",
        ],
        env,
    )

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}\n{processes.tail(name)}")
        try:
            return call(port, "GET", "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(ready, 30, f"{name} to answer /healthz", details=processes.tails)
    return Web(port, proc, access_log)


def start_worker(processes: Processes, name: str, env: dict, *args: str) -> subprocess.Popen:
    return processes.start(name, [COMMAND, "worker", *args], env)


def call(
    port: int, method: str, path: str, body: dict | None = None, timeout: float = 20
) -> tuple[int, dict | str]:
    """One HTTP request on loopback (plain http.client: no proxies, no extra packages)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        reply = conn.getresponse()
        data = reply.read().decode("utf-8", errors="replace")
        if reply.getheader("Content-Type", "").startswith("application/json"):
            return reply.status, json.loads(data)
        return reply.status, data
    finally:
        conn.close()


def recount(database: Database) -> subprocess.CompletedProcess:
    env = environment(database.url)
    return subprocess.run(
        [COMMAND, "recount", DEMO_SLUG],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- submissions and what came back ---------------------------------------------------------

ANSWER_VARIANTS = [
    {**valid_answers(), "district": district, "commune": commune, "role": role, "support": support}
    for district, commune in (
        ("da_lat", "dl_p1"),
        ("bao_loc", "bl_blao"),
        ("di_linh", "dli_gia_hiep"),
    )
    for role in ("parent", "pupil", "teacher")
    for support in ("yes", "no", "undecided")
]


def answers_for(submission_id: str) -> dict:
    """Answers that differ between submissions, the same for one id every time."""
    return ANSWER_VARIANTS[uuid.UUID(submission_id).int % len(ANSWER_VARIANTS)]


@dataclass
class Ledger:
    """Every reply the clients got, by submission_id."""

    replies: dict[str, list[int | str]] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)  # a 202, new or duplicate
    new: Counter[str] = field(default_factory=Counter)  # 202 without "duplicate"
    unavailable: set[str] = field(default_factory=set)  # 503
    statuses: Counter[int | str] = field(default_factory=Counter)
    slowest: float = 0.0  # seconds, the longest wait for a reply
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, port: int, submission_id: str) -> int | str:
        body = {"submission_id": submission_id, "answers": answers_for(submission_id)}
        started = time.monotonic()
        try:
            status, reply = call(port, "POST", API, body)
        except OSError as error:  # also http.client's errors: a dropped request is a failure
            status, reply = f"{error.__class__.__name__}", {}
        took = time.monotonic() - started
        with self.lock:
            self.slowest = max(self.slowest, took)
            self.replies.setdefault(submission_id, []).append(status)
            self.statuses[status] += 1
            if status == 202:
                self.accepted.add(submission_id)
                if not reply.get("duplicate"):
                    self.new[submission_id] += 1
            elif status == 503:
                self.unavailable.add(submission_id)
        return status

    def unexpected(self, allowed: set[int]) -> Counter:
        return Counter({s: n for s, n in self.statuses.items() if s not in allowed})


def submit_all(ledger: Ledger, port: int, ids: list[str], threads: int = 4) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda sid: ledger.submit(port, sid), ids))


def new_ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def assert_stored_exactly_once(database: Database, ledger: Ledger) -> Counter[str]:
    """Nothing that got a 2xx is missing; nothing is stored twice or out of nowhere."""
    stored = database.stored_ids()
    missing = ledger.accepted - set(stored)
    assert not missing, f"{len(missing)} accepted submissions are not stored: {sorted(missing)[:5]}"
    doubles = {sid: n for sid, n in stored.items() if n != 1}
    assert not doubles, f"stored more than once: {doubles}"
    # A 503 promised nothing, but a reply lost after Redis took the entry may still
    # be stored: the client's retry with the same id is then a duplicate.
    unknown = set(stored) - ledger.accepted - ledger.unavailable
    assert not unknown, f"stored but never accepted: {sorted(unknown)[:5]}"
    if not ledger.unavailable:
        assert sum(stored.values()) == len(ledger.accepted)
    return stored


def assert_recount_matches(database: Database, responses: int) -> None:
    result = recount(database)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{responses} responses; tallies match the responses" in result.stdout


def backlog(client: redis.Redis, survey_id: int) -> int:
    try:
        return client.xlen(stream_key(survey_id))
    except redis.RedisError:
        return -1


# -- 1. kill -9 a worker in the middle of a batch -------------------------------------------


@pytest.mark.faults
def test_worker_killed_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    processes, private_redis, make_database, record_property
) -> None:
    """A worker may die anywhere; its batch must neither vanish nor be stored twice."""
    database = make_database("kill_worker")
    redis_client = private_redis.client()
    key = stream_key(database.survey_id)
    env = environment(
        database.url, private_redis.url, DRAIN_BATCH_SIZE=200, DRAIN_CLAIM_IDLE_MS=1000
    )
    web = start_web(processes, "web", env)

    # A burst while no worker runs: everything waits in the stream.
    ledger = Ledger()
    submit_all(ledger, web.port, new_ids(3000))
    assert ledger.statuses == Counter({202: 3000}), ledger.statuses
    assert sum(ledger.new.values()) == 3000
    assert redis_client.xlen(key) == 3000 and database.rows() == 0

    # Worker A; SIGKILL it while a batch transaction is open in PostgreSQL (it has
    # written rows: backend_xid is set), once some batches are already stored.
    worker_a = start_worker(processes, "worker-a", env)
    probe = sa.text(
        "SELECT (SELECT count(*) FROM responses), (SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_xid IS NOT NULL)"
    )
    rows_at_kill = -1
    with database.engine.connect() as conn:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker_a.poll() is None:
            rows, writing = conn.execute(probe).one()
            if rows >= 3000:
                break
            if rows > 0 and writing:
                os.killpg(worker_a.pid, signal.SIGKILL)
                rows_at_kill = rows
                break
    assert 0 < rows_at_kill < 3000, (
        f"never caught worker A inside a batch (rows {database.rows()}, "
        f"exit {worker_a.poll()})\n{processes.tail('worker-a')}"
    )
    worker_a.wait(timeout=10)
    # PostgreSQL rolls back the open transaction once it sees the client gone.
    with database.engine.connect() as conn:
        wait_for(lambda: conn.execute(probe).one()[1] == 0, 20, "the killed batch to end")
    rows_after_kill = database.rows()
    left_pending = redis_client.xpending(key, GROUP)["pending"]
    assert left_pending > 0  # worker A held a batch it never acknowledged
    # A batch is all or nothing: whole batches of 200 only, whenever the kill landed.
    assert rows_after_kill % 200 == 0 and rows_at_kill <= rows_after_kill < 3000

    # Worker B takes A's pending batch over once it has been idle DRAIN_CLAIM_IDLE_MS.
    worker_b = start_worker(processes, "worker-b", env, "--burst")
    try:
        assert worker_b.wait(timeout=60) == 0, processes.tail("worker-b")
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker B did not drain the stream\n{processes.tails()}")
    assert redis_client.xlen(key) == 0
    assert redis_client.xpending(key, GROUP)["pending"] == 0
    assert redis_client.xlen(dead_key(database.survey_id)) == 0
    stored = assert_stored_exactly_once(database, ledger)
    assert sum(stored.values()) == 3000
    assert_recount_matches(database, 3000)
    assert call(web.port, "GET", "/healthz")[1]["backlog"] == 0

    figures = {
        "rows_at_kill": rows_at_kill,
        "rows_after_kill": rows_after_kill,
        "pending_left_by_a": left_pending,
    }
    print(f"kill -9 in a batch: {figures}")
    for name, value in figures.items():
        record_property(name, value)
    redis_client.close()


# -- 2. Redis killed and restarted while submissions flow ------------------------------------


@pytest.mark.faults
def test_redis_restarted_under_load_loses_and_doubles_nothing(
    processes, private_redis, make_database, record_property
) -> None:
    """Acknowledged XADDs survive kill -9 (AOF, fsync always); the outage falls back to
    the database; nothing is lost, doubled, or answered with a 500."""
    database = make_database("redis_restart")
    redis_client = private_redis.client()
    env = environment(
        database.url, private_redis.url, DRAIN_BATCH_SIZE=100, DRAIN_CLAIM_IDLE_MS=1000
    )
    web = start_web(processes, "web", env)
    worker = start_worker(processes, "worker", env)

    ledger = Ledger()
    stop = threading.Event()

    def client_loop() -> None:
        while not stop.is_set():
            ledger.submit(web.port, str(uuid.uuid4()))

    key = stream_key(database.survey_id)
    clients = [threading.Thread(target=client_loop) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1.0)
        # The worker pauses, so that acknowledged entries wait in the stream when Redis
        # dies: only the AOF can bring them back.
        os.killpg(worker.pid, signal.SIGSTOP)
        time.sleep(1.0)
        backlog_at_kill = redis_client.xlen(key)
        before_kill = sum(ledger.statuses.values())
        private_redis.kill()  # harsher than SHUTDOWN: no final save, no goodbye
        killed_at = time.monotonic()
        time.sleep(1.0)
        during_outage = sum(ledger.statuses.values()) - before_kill
        private_redis.start()  # same port, same dir: the AOF is replayed
        outage = time.monotonic() - killed_at
        backlog_after_restart = redis_client.xlen(key)
        os.killpg(worker.pid, signal.SIGCONT)  # it finds its connection gone
        time.sleep(3.0)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGCONT)

    assert backlog_at_kill > 0
    assert backlog_after_restart >= backlog_at_kill  # nothing acknowledged was lost
    assert not ledger.unexpected({202, 503}), (ledger.statuses, processes.tails())
    assert worker.poll() is None, processes.tail("worker")
    wait_for(
        lambda: (
            backlog(redis_client, database.survey_id) == 0
            and database.rows() >= len(ledger.accepted)
        ),
        45,
        "the worker to drain the stream after the restart",
        details=lambda: f"{database.rows()} rows\n{processes.tails()}",
    )
    assert redis_client.xlen(dead_key(database.survey_id)) == 0
    stored = assert_stored_exactly_once(database, ledger)
    assert_recount_matches(database, sum(stored.values()))
    assert call(web.port, "GET", "/metrics")[0] == 200
    # The accept script counts what went through Redis; the rest the web tier stored.
    through_redis = int(redis_client.hget(counters_key(database.survey_id), "accepted") or 0)

    figures = {
        "requests": sum(ledger.statuses.values()),
        "accepted": len(ledger.accepted),
        "unavailable_503": ledger.statuses[503],
        "requests_while_redis_down": during_outage,
        "backlog_at_kill": backlog_at_kill,
        "backlog_after_restart": backlog_after_restart,
        "redis_outage_seconds": round(outage, 2),
        "stored_directly_by_web_tier": len(ledger.accepted) - through_redis,
        "rows": sum(stored.values()),
    }
    print(f"Redis restart under load: {figures}")
    for name, value in figures.items():
        record_property(name, value)
    assert len(ledger.accepted) > 100  # submissions really flowed
    redis_client.close()


# -- 3. PostgreSQL unreachable for a while -------------------------------------------------


@pytest.mark.faults
@pytest.mark.parametrize("mode", ["refused", "blackhole"])
def test_database_cut_off_buffers_everything_and_stores_it_once_back(
    mode, processes, private_redis, make_database, proxy, worker_proxy, record_property
) -> None:
    """Refused: connections fail at once. Blackhole: they hang, and only the connect
    timeout and the snapshot kept while the database is away keep requests short.

    No assertion depends on how fast the (shared, busy) machine is: instead of a bound
    on each request's wall-clock time, what is counted is how often each side tried
    the database; instead of a pause, the test waits until the worker has tried."""
    database = make_database(f"db_cut_{mode}")
    redis_client = private_redis.client()
    survey_id = database.survey_id
    cache_seconds = 1
    settings = {"SURVEY_CACHE_SECONDS": cache_seconds, "DRAIN_CLAIM_IDLE_MS": 1000}
    env = environment(database.url_via(proxy.port), private_redis.url, **settings)
    web = start_web(processes, "web", env)
    worker = start_worker(
        processes,
        "worker",
        environment(database.url_via(worker_proxy.port), private_redis.url, **settings),
    )

    # Both gunicorn workers hold a snapshot of the survey (the access log says who served).
    page = f"/s/{DEMO_SLUG}"

    def both_workers_served() -> bool:
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(lambda _: call(web.port, "GET", page)[0], range(8))) == {200}
        return len(web.pids_that_served(page)) >= 2

    wait_for(both_workers_served, 20, "both gunicorn workers to serve the questionnaire")
    ledger = Ledger()
    submit_all(ledger, web.port, new_ids(10))
    wait_for(lambda: database.rows() == 10, 20, "the warm-up submissions to be stored")

    proxy.cut(mode)
    worker_proxy.cut(mode)
    # A lower bound, not a race: however busy the machine, every snapshot is at least
    # this old afterwards, so the burst does ask the database (and finds it gone).
    time.sleep(cache_seconds * 1.5)
    tries_before, burst_started = proxy.refused, time.monotonic()
    submit_all(ledger, web.port, new_ids(300))
    burst = time.monotonic() - burst_started
    web_tries = proxy.refused - tries_before
    assert ledger.statuses == Counter({202: 310}), ledger.statuses
    assert sum(ledger.new.values()) == 310
    # Each gunicorn worker asks the database at most once per SURVEY_CACHE_SECONDS
    # (a try may cost libpq up to 3 connections: SSL, then plain, then GSS), not once
    # per request: 300 requests asking would be 300 tries and more.
    assert 1 <= web_tries <= 3 * 2 * (burst / cache_seconds + 1), (web_tries, burst)
    status, health = call(web.port, "GET", "/healthz")
    assert status == 200  # Redis can still take submissions
    assert health["database"] == "unreachable" and health["queue"] == "redis"
    assert health["backlog"] == 300
    # The worker has tried to store the backlog, again and again, and was refused:
    # it had every chance to (wrongly) drop or store something.
    worker_tries = worker_proxy.refused
    wait_for(
        lambda: worker_proxy.refused >= worker_tries + 3,
        60,
        "the worker to try the database again",
        details=processes.tails,
    )
    assert database.rows() == 10  # counted on a direct connection, not through the proxy
    assert redis_client.xlen(stream_key(survey_id)) == 300
    assert redis_client.xlen(dead_key(survey_id)) == 0
    assert worker.poll() is None, processes.tail("worker")
    refused = proxy.refused + worker_proxy.refused

    worker_proxy.restore()
    proxy.restore()
    restored_at = time.monotonic()
    wait_for(
        lambda: database.rows() == 310 and redis_client.xlen(stream_key(survey_id)) == 0,
        30,
        "the backlog to be stored after the database came back",
        details=lambda: f"{database.rows()} rows\n{processes.tails()}",
    )
    catch_up = time.monotonic() - restored_at
    assert redis_client.xlen(dead_key(survey_id)) == 0  # nothing dead-lettered
    stored = assert_stored_exactly_once(database, ledger)
    assert sum(stored.values()) == 310
    assert_recount_matches(database, 310)
    status, health = call(web.port, "GET", "/healthz")
    assert status == 200 and health["status"] == "ok" and health["backlog"] == 0
    # Redis stayed up all along, so the worker's RQ loop must never have lost it (it
    # did, every few seconds, while it shared the drain's 2 s socket timeout).
    assert "could not connect to Redis" not in processes.tail("worker", 10_000)

    figures = {
        "connections_stopped_while_cut": refused,
        "web_tier_connections_during_burst": web_tries,
        "burst_seconds": round(burst, 2),
        "slowest_submission_seconds": round(ledger.slowest, 2),
        "seconds_to_store_backlog_after_restore": round(catch_up, 2),
    }
    print(f"database cut off ({mode}): {figures}")
    for name, value in figures.items():
        record_property(name, value)
    redis_client.close()


# -- 4. the same submission three times at once ----------------------------------------------


def race_duplicates(port: int, rounds: int) -> Ledger:
    """Each round sends one new id three times, released together by a barrier."""
    ledger = Ledger()
    for _ in range(rounds):
        submission_id = str(uuid.uuid4())
        barrier = threading.Barrier(3)

        def send(sid: str = submission_id, gate: threading.Barrier = barrier) -> None:
            gate.wait(timeout=10)
            ledger.submit(port, sid)

        threads = [threading.Thread(target=send) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    return ledger


def assert_one_new_two_duplicates(ledger: Ledger, rounds: int) -> None:
    assert ledger.statuses == Counter({202: 3 * rounds}), ledger.statuses
    assert len(ledger.accepted) == rounds
    assert all(ledger.new[sid] == 1 for sid in ledger.accepted), ledger.new


@pytest.mark.faults
def test_the_same_submission_three_times_at_once_is_stored_once(
    processes, private_redis, make_database
) -> None:
    """A double tap on a slow network: three copies race through different web
    processes; the accept script (Redis) or the unique key (inline) lets one in."""
    rounds = 20
    buffered = make_database("dups_redis")
    inline = make_database("dups_inline")
    redis_client = private_redis.client()
    buffered_env = environment(buffered.url, private_redis.url, DRAIN_CLAIM_IDLE_MS=1000)
    buffered_web = start_web(processes, "web-redis", buffered_env, workers=3)
    start_worker(processes, "worker", buffered_env, "--no-jobs")
    inline_web = start_web(processes, "web-inline", environment(inline.url), workers=3)

    ledger = race_duplicates(buffered_web.port, rounds)
    assert_one_new_two_duplicates(ledger, rounds)
    wait_for(
        lambda: buffered.rows() == rounds and backlog(redis_client, buffered.survey_id) == 0,
        30,
        "the worker to store the raced submissions",
        details=processes.tails,
    )
    assert_stored_exactly_once(buffered, ledger)
    assert_recount_matches(buffered, rounds)

    ledger = race_duplicates(inline_web.port, rounds)
    assert_one_new_two_duplicates(ledger, rounds)
    assert_stored_exactly_once(inline, ledger)
    assert_recount_matches(inline, rounds)
    redis_client.close()
