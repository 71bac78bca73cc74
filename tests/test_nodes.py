"""Several web nodes behind a load balancer (issue 13).

Two app instances on one database (and one Redis where the test says so), with the
same SECRET_KEY, behind `Balancer`: a WSGI stand-in for HAProxy's `balance
roundrobin` with `option forwardfor`. Request 1 goes to node A, request 2 to node B,
and so on; everything signed on one node must be accepted on the other: the staff
session and its CSRF token, the respondent's device token and started time, a proof
of work; a survey closed on one node is refused by the other within
SURVEY_CACHE_SECONDS; an export made on one node downloads from the other. The real
processes' side (gunicorn refusing to start without SECRET_KEY, repeated
X-Forwarded-For header lines) is at the end.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g, request_started
from werkzeug.test import Client

from survey_engine import create_app
from survey_engine.catalog import find_survey, save_definition, set_status
from survey_engine.config import ConfigError
from survey_engine.exporting import files as export_files
from survey_engine.exporting.survey_file import ExportOptions
from survey_engine.extensions import db
from survey_engine.intake.respondent import DEVICE_COOKIE, network_key
from survey_engine.models import ExportChunk, ExportFile, Response, SurveyStatus, utcnow
from survey_engine.results.filters import Filters
from survey_engine.staff.accounts import create_user, find_user
from tests.conftest import (
    DEMO_SLUG,
    TEST_REDIS_URL,
    demo_definition,
    make_app,
    seeded_app,
    stored_responses,
)
from tests.test_breakers import challenge_in, drain_once, solve
from tests.test_export_files import fake_responses
from tests.test_public_form import form_data
from tests.test_staff import LOGIN, PASSWORD

ADMIN = "quan-tri@example.org"
PROXY = "10.0.0.2"  # the balancer's own address, as the nodes see the connection
PHONE = "203.0.113.9"  # a citizen's (documentation) address
OTHER_PHONE = "198.51.100.20"
FORM = f"/s/{DEMO_SLUG}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Balancer:
    """Round robin over the nodes, as HAProxy forwards: the node's peer is the
    balancer, which appends the client's address to X-Forwarded-For (a client's own
    header stays in front of it) and says the scheme in X-Forwarded-Proto."""

    def __init__(self, *nodes: Flask) -> None:
        self.nodes = nodes
        self.served: list[str] = []  # "A", "B", ... per request

    def __call__(self, environ, start_response):
        index = len(self.served) % len(self.nodes)
        self.served.append("AB"[index])
        client, before = environ["REMOTE_ADDR"], environ.get("HTTP_X_FORWARDED_FOR")
        environ["HTTP_X_FORWARDED_FOR"] = f"{before},{client}" if before else client
        environ["HTTP_X_FORWARDED_PROTO"] = "http"
        environ["REMOTE_ADDR"] = PROXY
        return self.nodes[index](environ, start_response)


class Browser(Client):
    """One browser (one cookie jar) at `address`, talking to the balancer."""

    def __init__(self, balancer: Balancer, address: str) -> None:
        super().__init__(balancer)
        self.environ = {"REMOTE_ADDR": address, "HTTP_ACCEPT_LANGUAGE": "en"}

    def open(self, *args, **kwargs):
        kwargs.setdefault("environ_base", self.environ)
        return super().open(*args, **kwargs)


def browser(balancer: Balancer, address: str = PHONE) -> Browser:
    return Browser(balancer, address)


def _forget_request_globals(sender, **extra) -> None:
    """Requests to node A run in the test's own app context (seeded_app's): drop what
    Flask-WTF and Flask-Login keep in g, so each request works from its cookies only,
    as on a real node."""
    g.pop("csrf_token", None)
    g.pop("_login_user", None)


def two_nodes(database_url: str, tmp_path: Path, **config) -> Iterator[tuple[Flask, Flask]]:
    """Node A (seeded, its app context pushed for the test) and node B, one database,
    one SECRET_KEY (make_app's), each its own EXPORT_DIR unless `config` names one."""
    config = {"TRUSTED_PROXIES": 1, **config}
    a_dir, b_dir = config.pop("A_EXPORT_DIR", None), config.pop("B_EXPORT_DIR", None)
    seeded = seeded_app(database_url, EXPORT_DIR=a_dir or str(tmp_path / "a"), **config)
    node_a = next(seeded)
    node_b = make_app(database_url, EXPORT_DIR=b_dir or str(tmp_path / "b"), **config)
    for node in (node_a, node_b):
        request_started.connect(_forget_request_globals, node)
    try:
        yield node_a, node_b
    finally:
        for node in (node_a, node_b):
            request_started.disconnect(_forget_request_globals, node)
        with node_b.app_context():
            db.engine.dispose()
        next(seeded, None)


@pytest.fixture
def nodes(database_url, tmp_path) -> Iterator[tuple[Flask, Flask]]:
    yield from two_nodes(database_url, tmp_path)


def csrf_of(reply) -> str:
    return CSRF.search(reply.get_data(as_text=True)).group(1)


def sign_in(client: Client) -> None:
    """GET the form on one node, POST it on the next."""
    token = csrf_of(client.get(LOGIN))
    signed = client.post(LOGIN, data={"email": ADMIN, "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 302, signed.get_data(as_text=True)[:300]


# -- staff: session and CSRF ------------------------------------------------------------


def test_staff_signed_in_on_one_node_post_a_csrf_form_on_the_other(nodes):
    node_a, node_b = nodes
    create_user(ADMIN, PASSWORD, "admin")
    balancer = Balancer(node_a, node_b)
    staff = browser(balancer)

    sign_in(staff)  # the login page from A, the form posted to B
    survey_page = staff.get(f"/admin/surveys/{DEMO_SLUG}")  # A: signed in by B's cookie
    assert survey_page.status_code == 200
    closed = staff.post(  # B: the CSRF token A put in the page
        f"/admin/surveys/{DEMO_SLUG}/close", data={"csrf_token": csrf_of(survey_page)}
    )
    assert closed.status_code == 302
    assert balancer.served == ["A", "B", "A", "B"]
    db.session.expire_all()
    assert find_survey(DEMO_SLUG).status == SurveyStatus.CLOSED
    # A form without its token is still refused, on either node.
    for _ in range(2):
        refused = staff.post(f"/admin/surveys/{DEMO_SLUG}/reopen", data={})
        assert refused.status_code == 400
    db.session.expire_all()
    assert find_survey(DEMO_SLUG).status == SurveyStatus.CLOSED


def test_nodes_with_different_secret_keys_lose_the_staff_session(database_url, tmp_path):
    """What a node with a key of its own would do, and why the production shape
    refuses to start without SECRET_KEY (test_a_node_without_secret_key_refuses...)."""
    for node_a, node_b in two_nodes(database_url, tmp_path):
        node_b.config["SECRET_KEY"] = "another-key"
        create_user(ADMIN, PASSWORD, "admin")
        staff = browser(Balancer(node_a, node_b))
        token = csrf_of(staff.get(LOGIN))  # A
        refused = staff.post(  # B cannot read A's session: no CSRF token in it
            LOGIN, data={"email": ADMIN, "password": PASSWORD, "csrf_token": token}
        )
        assert refused.status_code == 400


# -- the respondent: device token, started time, network --------------------------------


def test_a_questionnaire_opened_on_one_node_is_submitted_on_the_other(nodes):
    node_a, node_b = nodes
    data = {**demo_definition(), "slug": "mot-may-hai-nut"}
    data["settings"] = {**data.get("settings", {}), "access": "device"}
    survey_id = save_definition(data, publish=True).id
    url = f"/s/{data['slug']}"
    balancer = Balancer(node_a, node_b)
    phone = browser(balancer)

    page = phone.get(url).get_data(as_text=True)  # A: device cookie, token, started
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert phone.get_cookie(DEVICE_COOKIE) is not None and hidden["started"]
    answers = form_data(device_token=hidden["device_token"], started=hidden["started"])
    assert phone.post(url, data=answers).status_code == 303  # B
    again = phone.post(url, data=form_data(device_token=hidden["device_token"]))  # A
    assert again.status_code == 409  # one answer per device, whichever node asks
    assert balancer.served == ["A", "B", "A"]

    (stored,) = db.session.scalars(sa.select(Response).where(Response.survey_id == survey_id))
    # B took A's signatures as genuine: a device and a start time, no "no_device" flag.
    assert stored.device_hash and stored.started_at is not None
    assert "no_device" not in [flag["flag"] for flag in stored.flags or []]
    # The network is the phone's (behind one trusted proxy), not the balancer's.
    assert stored.network_key == network_key(PHONE) != network_key(PROXY)


# -- the circuit breakers and the proof of work across nodes ----------------------------


@pytest.fixture
def limited_nodes(database_url, tmp_path, redis_client) -> Iterator[tuple[Flask, Flask]]:
    """Three a minute per network, four bits of work; the breakers' windows and the
    used challenges are in the Redis both nodes share."""
    yield from two_nodes(
        database_url,
        tmp_path,
        REDIS_URL=TEST_REDIS_URL,
        DRAIN_CLAIM_IDLE_MS=0,
        LIMIT_NETWORK_PER_MINUTE=3,
        POW_DIFFICULTY_BITS=4,
    )


def test_the_network_limit_sees_the_client_behind_the_balancer(limited_nodes):
    node_a, node_b = limited_nodes
    balancer = Balancer(node_a, node_b)
    phone = browser(balancer)
    # Each time another made-up X-Forwarded-For: the balancer appends the real
    # address after it, and one trusted hop reads only that.
    sent = [
        phone.post(
            FORM, data=form_data(js="1"), headers={"X-Forwarded-For": f"192.0.2.{i}"}
        ).status_code
        for i in range(4)
    ]
    assert sent == [303, 303, 303, 429]  # counted together over A and B
    # Another citizen behind the same balancer has a window of their own.
    assert browser(balancer, OTHER_PHONE).post(FORM, data=form_data(js="1")).status_code == 303
    drain_once(node_a)
    keys = {r.network_key for r in stored_responses()}
    assert keys == {network_key(PHONE), network_key(OTHER_PHONE)}


def test_a_challenge_issued_by_one_node_is_solved_on_the_other_and_used_up(limited_nodes):
    node_a, node_b = limited_nodes
    balancer = Balancer(node_a, node_b)
    phone = browser(balancer)
    for _ in range(3):
        assert phone.post(FORM, data=form_data(js="1")).status_code == 303
    data = form_data(js="1", comment="Lần thứ tư")
    over = phone.post(FORM, data=data)  # B: over the limit, a challenge signed by B
    assert over.status_code == 429
    challenge, bits = challenge_in(over.get_data(as_text=True))
    solved = {**data, "pow_challenge": challenge, "pow_counter": solve(challenge, bits)}
    assert phone.post(FORM, data=solved).status_code == 303  # A verifies B's challenge
    replay = phone.post(FORM, data={**solved, "submission_id": form_data()["submission_id"]})
    assert replay.status_code == 429  # B knows A used it up (Redis)
    assert challenge_in(replay.get_data(as_text=True))[0] != challenge
    assert balancer.served == ["A", "B", "A", "B", "A", "B"]
    drain_once(node_a)
    assert len(stored_responses()) == 4


# -- the per-process survey cache -------------------------------------------------------


def test_a_survey_closed_on_one_node_is_refused_by_the_other_within_the_cache_time(
    database_url, tmp_path
):
    """Each node keeps a published survey for SURVEY_CACHE_SECONDS: the node that closes
    it forgets at once, another one once its copy is that old (the bound the operator
    sets; docs/deployment.md)."""
    seconds = 1.0
    for node_a, node_b in two_nodes(database_url, tmp_path, SURVEY_CACHE_SECONDS=seconds):
        on_a, on_b = node_a.test_client(), node_b.test_client()
        assert on_b.get(FORM).status_code == 200  # B now holds the survey as published
        set_status(find_survey(DEMO_SLUG), SurveyStatus.CLOSED)  # on A
        assert on_a.get(FORM).status_code == 410
        time.sleep(seconds + 0.05)  # past B's bound, whatever the machine's speed
        assert on_b.get(FORM).status_code == 410
        assert on_b.post(FORM, data=form_data()).status_code == 410
        assert stored_responses() == []


# -- exports: made on one node, downloaded from the other -------------------------------


def _export_on(node_a: Flask, fmt: str = "xlsx") -> ExportFile:
    """An export run on node A (inline mode: in this call), by the admin."""
    options = ExportOptions(fmt=fmt, lang=None, filters=Filters(), codes=False, breakdown=None)
    export = export_files.start_export(find_survey(DEMO_SLUG), find_user(ADMIN), options)
    assert export.status == "done", export.error
    return export


def _signed_in(node: Flask) -> Client:
    client = node.test_client()
    token = csrf_of(client.get(LOGIN))
    client.post(LOGIN, data={"email": ADMIN, "password": PASSWORD, "csrf_token": token})
    return client


@pytest.mark.parametrize("storage", ["database", "folder"])
def test_an_export_made_on_one_node_downloads_from_the_other(
    database_url, tmp_path, storage, monkeypatch
):
    """database: each node its own EXPORT_DIR, the file is in the database; folder: the
    shared folder the operator mounts on every node."""
    # Small chunks, so that this file comes in several and the streaming shows.
    monkeypatch.setattr(export_files, "CHUNK_BYTES", 4096)
    shared = str(tmp_path / "shared")
    folders = {"A_EXPORT_DIR": shared, "B_EXPORT_DIR": shared} if storage == "folder" else {}
    for node_a, node_b in two_nodes(database_url, tmp_path, EXPORT_STORAGE=storage, **folders):
        create_user(ADMIN, PASSWORD, "admin")
        fake_responses(node_a, 60)
        export = _export_on(node_a)
        url = f"/admin/exports/{export.id}/download"
        from_a = _signed_in(node_a).get(url)
        from_b = _signed_in(node_b).get(url)
        assert from_a.status_code == from_b.status_code == 200
        assert from_b.data == from_a.data and len(from_b.data) == export.size
        assert from_b.data[:2] == b"PK"  # an xlsx is a zip
        assert from_b.headers["Content-Disposition"].startswith("attachment; filename=")
        chunks = db.session.scalars(
            sa.select(sa.func.count()).where(ExportChunk.export_id == export.id)
        ).one()
        if storage == "database":
            assert not list(Path(tmp_path / "a").glob("export-*"))  # nothing left on A
            assert chunks == -(-export.size // 4096) > 1
            streamed = _signed_in(node_b).get(url, buffered=False)
            assert streamed.is_streamed
            pieces = list(streamed.response)
            assert len(pieces) == chunks and max(map(len, pieces)) == 4096
            streamed.close()
        else:
            assert chunks == 0


def test_with_separate_folders_the_other_node_cannot_send_a_folder_export(database_url, tmp_path):
    """Why folder mode needs one shared folder (or EXPORT_STORAGE=database)."""
    for node_a, node_b in two_nodes(database_url, tmp_path, EXPORT_STORAGE="folder"):
        create_user(ADMIN, PASSWORD, "admin")
        fake_responses(node_a, 5)
        export = _export_on(node_a, "csv")
        url = f"/admin/exports/{export.id}/download"
        assert _signed_in(node_a).get(url).status_code == 200
        assert _signed_in(node_b).get(url).status_code == 404


def test_a_database_export_expires_with_its_chunks_and_goes_with_its_survey(database_url, tmp_path):
    for node_a, node_b in two_nodes(database_url, tmp_path, EXPORT_STORAGE="database"):
        create_user(ADMIN, PASSWORD, "admin")
        fake_responses(node_a, 5)
        kept, due = _export_on(node_a, "csv"), _export_on(node_a, "csv")
        db.session.execute(
            sa.update(ExportFile).where(ExportFile.id == due.id).values(expires_at=utcnow())
        )
        db.session.commit()
        assert export_files.expire_old() == 1

        def chunks(export_id: int) -> int:
            query = sa.select(sa.func.count()).where(ExportChunk.export_id == export_id)
            return db.session.scalars(query).one()

        assert chunks(due.id) == 0 and chunks(kept.id) >= 1
        on_b = _signed_in(node_b)
        assert on_b.get(f"/admin/exports/{due.id}/download").status_code == 404
        assert on_b.get(f"/admin/exports/{kept.id}/download").status_code == 200
        # Deleting the survey deletes its exports' bytes (SQLite does not cascade).
        survey = find_survey(DEMO_SLUG)
        set_status(survey, SurveyStatus.CLOSED)
        deleted = on_b.post(
            f"/admin/surveys/{DEMO_SLUG}/delete",
            data={
                "csrf_token": csrf_of(on_b.get(f"/admin/surveys/{DEMO_SLUG}/delete")),
                "confirm_slug": DEMO_SLUG,
            },
        )
        assert deleted.status_code in (302, 303), deleted.get_data(as_text=True)[:500]
        assert db.session.scalars(sa.select(sa.func.count()).select_from(ExportChunk)).one() == 0


def test_export_storage_is_checked_at_startup(database_url):
    with pytest.raises(ConfigError, match="EXPORT_STORAGE"):
        make_app(database_url, EXPORT_STORAGE="s3")
    assert make_app(database_url, EXPORT_STORAGE=" Database ").config["EXPORT_STORAGE"] == (
        "database"
    )


# -- /healthz for the balancer -----------------------------------------------------------


def test_healthz_drains_the_node_while_the_drain_file_exists(database_url, tmp_path):
    drain = tmp_path / "drain"
    for node_a, node_b in two_nodes(database_url, tmp_path, HEALTH_DRAIN_FILE=str(drain)):
        client = node_b.test_client()
        assert client.get("/healthz").status_code == 200
        drain.touch()
        draining = client.get("/healthz")
        # 404: HAProxy's `http-check disable-on-404` drains the server on it.
        assert draining.status_code == 404
        body = draining.get_json()
        assert body["status"] == "draining" and body["database"] == "ok"
        assert {"queue", "backlog"} <= set(body)
        assert node_a.test_client().get("/healthz").status_code == 404  # same file here
        # Draining stops new work from the balancer only: the node still serves.
        assert client.get(FORM).status_code == 200
        drain.unlink()
        assert client.get("/healthz").status_code == 200


def test_healthz_costs_one_select_1(nodes):
    """The balancer polls every node every second or two: one trivial statement."""
    _node_a, node_b = nodes
    statements: list[str] = []
    with node_b.app_context():
        engine = db.engine

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        client = node_b.test_client()
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert statements == ["SELECT 1"] * 3


# -- SECRET_KEY: the production shape refuses to start without it ------------------------


def test_the_production_shape_refuses_to_start_without_secret_key(database_url):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set, and REDIS_URL is"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": TEST_REDIS_URL})
    # The embedded mode (make run, one process) still makes up a key of its own.
    inline = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    assert len(inline.config["SECRET_KEY"]) == 64
    given = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": TEST_REDIS_URL, "SECRET_KEY": "k"}
    )
    assert given.config["SECRET_KEY"] == "k"


BIN = Path(sys.executable).parent


def _free_port() -> int:
    """A port of this helper's range (8400-8499) nothing listens on."""
    for port in range(8400, 8500):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 8400-8499")


def _environment(database_url: str, **settings: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TRUSTED_PROXIES")
    }
    return {**env, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **settings}


def test_a_gunicorn_node_without_secret_key_exits_with_the_reason(database_url, tmp_path):
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.run(
            [
                BIN / "gunicorn",
                *("--workers", "1", "-b", f"127.0.0.1:{port}", "--no-control-socket"),
                "survey_engine:create_app()",
            ],
            env=_environment(database_url, REDIS_URL=TEST_REDIS_URL),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
    text = log.read_text()
    assert proc.returncode != 0
    assert "SECRET_KEY is not set, and REDIS_URL is" in text


def test_gunicorn_behind_one_proxy_reads_the_last_of_repeated_forwarded_lines(
    database_url, tmp_path
):
    """HAProxy's `option forwardfor` adds its own X-Forwarded-For line after any the
    client sent; gunicorn joins repeated lines with commas, and TRUSTED_PROXIES=1
    takes the last entry: the client's real address, whatever it wrote itself."""
    for _node_a, _node_b in two_nodes(database_url, tmp_path):
        port = _free_port()
        log = tmp_path / "gunicorn.log"
        env = _environment(database_url, TRUSTED_PROXIES="1", SECRET_KEY="nodes-test")
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    BIN / "gunicorn",
                    *("--workers", "1", "-b", f"127.0.0.1:{port}", "--no-control-socket"),
                    "survey_engine:create_app()",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_for(port, proc, log)
            page = _raw(port, f"GET {FORM} HTTP/1.1\r\n", b"")
            assert page.startswith(b"HTTP/1.1 200"), page[:300]
            # The scheme is the balancer's too: the device cookie is for HTTPS only.
            cookie = re.search(rb"Set-Cookie: se_device=[^\r]*", page).group(0)
            assert b"; Secure" in cookie
            sent = _raw(port, f"POST {FORM} HTTP/1.1\r\n", _urlencode(form_data()))
            assert sent.startswith(b"HTTP/1.1 303"), sent[:300]
            (stored,) = stored_responses()
            assert stored.network_key == network_key(PHONE)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _raw(port: int, request_line: str, body: bytes) -> bytes:
    """One request as HAProxy would pass it on: the client's own X-Forwarded-For line
    first, the balancer's appended after it, and the scheme it was reached by."""
    head = (
        request_line + f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "X-Forwarded-For: 192.0.2.66\r\n"
        f"X-Forwarded-For: {PHONE}\r\n"
        "X-Forwarded-Proto: https\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode() + body)
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def _urlencode(data: dict) -> bytes:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True).encode()


def _wait_for(port: int, proc: subprocess.Popen, log: Path) -> None:
    """Until the node answers /healthz (its worker has booted, not only its arbiter
    bound the port)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text()[-2000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer on {port}:\n{log.read_text()[-2000:]}")


# -- a real HAProxy in front of two gunicorn nodes ---------------------------------------

HAPROXY = "/usr/sbin/haproxy"  # Debian's package (make's debian-tools installs it)
CITIZEN_ADDRESS = "127.0.5.5"  # loopback, but another /24 than HAProxy's 127.0.0.1


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    for port in range(8400, 8500):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError("not enough free ports in 8400-8499")


HAPROXY_CONFIG = """
global
    maxconn 200
    stats socket {socket} mode 600 level admin

defaults
    mode http
    option forwardfor
    option redispatch
    retries 2
    timeout connect 2s
    timeout client 30s
    timeout server 35s
    timeout check 5s

frontend www
    bind 127.0.0.1:{port}
    http-request set-header X-Forwarded-Proto http
    http-request del-header X-Forwarded-Host
    default_backend web

backend web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host survey.test
    http-check disable-on-404
    default-server check inter 300ms fall 3 rise 1
    server a 127.0.0.1:{port_a}
    server b 127.0.0.1:{port_b}
"""


def _server_states(admin_socket: Path) -> dict[str, str]:
    """HAProxy's `show stat`: each web server's status (UP, NOLB = draining, DOWN)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(admin_socket))
        conn.sendall(b"show stat\n")
        text = b""
        while chunk := conn.recv(65536):
            text += chunk
    rows = [line.split(",") for line in text.decode().splitlines() if line.startswith("web,")]
    return {row[1]: row[17] for row in rows if row[1] in ("a", "b")}


def _wait_states(admin_socket: Path, wanted: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            states = _server_states(admin_socket)
        except OSError:
            states = {}
        if all(states.get(name, "").startswith(state) for name, state in wanted.items()):
            return
        time.sleep(0.1)
    raise AssertionError(f"HAProxy's servers never reached {wanted}: {states}")


def _served_by(logs: dict[str, Path], path: str, total: int) -> dict[str, int]:
    """Requests for `path` in each node's access log, once `total` are written (gunicorn
    writes the line after sending the reply)."""
    deadline = time.monotonic() + 10
    while True:
        counts = {
            name: sum(f" {path} " in line for line in log.read_text().splitlines())
            if log.exists()
            else 0
            for name, log in logs.items()
        }
        if sum(counts.values()) >= total or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def test_haproxy_in_front_of_two_gunicorn_nodes_drains_one_and_sees_the_client(
    database_url, tmp_path
):
    """Debian's HAProxy with the guide's checks (faster), two gunicorn nodes: round robin,
    the citizen's address (not the balancer's, not the one it made up) in the network
    key, and a node drained by its HEALTH_DRAIN_FILE takes nothing new until the file
    goes."""
    assert os.access(HAPROXY, os.X_OK), f"{HAPROXY} missing: apt-get install haproxy"
    for _node_a, _node_b in two_nodes(database_url, tmp_path):
        port, port_a, port_b = _free_ports(3)
        admin_socket = tmp_path / "haproxy.sock"
        config = tmp_path / "haproxy.cfg"
        config.write_text(
            HAPROXY_CONFIG.format(socket=admin_socket, port=port, port_a=port_a, port_b=port_b)
        )
        drains = {"a": tmp_path / "drain-a", "b": tmp_path / "drain-b"}
        logs = {"a": tmp_path / "access-a.log", "b": tmp_path / "access-b.log"}
        procs: list[subprocess.Popen] = []
        try:
            for name, node_port in (("a", port_a), ("b", port_b)):
                env = _environment(
                    database_url,
                    TRUSTED_PROXIES="1",
                    SECRET_KEY="nodes-test",
                    HEALTH_DRAIN_FILE=str(drains[name]),
                )
                with (tmp_path / f"gunicorn-{name}.log").open("wb") as out:
                    procs.append(
                        subprocess.Popen(
                            [
                                BIN / "gunicorn",
                                *("--workers", "1", "--threads", "4"),
                                *("-b", f"127.0.0.1:{node_port}"),
                                *("--access-logfile", str(logs[name]), "--no-control-socket"),
                                "survey_engine:create_app()",
                            ],
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
                _wait_for(node_port, procs[-1], tmp_path / f"gunicorn-{name}.log")
            with (tmp_path / "haproxy.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [HAPROXY, "-db", "-f", str(config)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            _wait_states(admin_socket, {"a": "UP", "b": "UP"})

            pages = [_via(port, "GET", FORM) for _ in range(4)]
            assert [status for status, _ in pages] == [200] * 4
            assert _served_by(logs, FORM, 4) == {"a": 2, "b": 2}  # round robin

            status, _ = _via(port, "POST", FORM, _urlencode(form_data()))
            assert status == 303
            (stored,) = stored_responses()
            assert stored.network_key == network_key(CITIZEN_ADDRESS)

            drains["a"].touch()  # the operator, before restarting node a
            _wait_states(admin_socket, {"a": "NOLB", "b": "UP"})
            # The node logs: 4 GETs and the POST above (same path), then 6 more GETs.
            before = _served_by(logs, FORM, 5)
            assert all(_via(port, "GET", FORM)[0] == 200 for _ in range(6))
            after = _served_by(logs, FORM, 11)
            assert (after["a"] - before["a"], after["b"] - before["b"]) == (0, 6)

            drains["a"].unlink()
            _wait_states(admin_socket, {"a": "UP", "b": "UP"})
            assert all(_via(port, "GET", FORM)[0] == 200 for _ in range(4))
            assert _served_by(logs, FORM, 15)["a"] > after["a"]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


def _via(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request to HAProxy from the citizen's address, with a made-up
    X-Forwarded-For of its own that must not count."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(CITIZEN_ADDRESS, 0)
    )
    headers = {"X-Forwarded-For": "192.0.2.99", "Connection": "close"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()
