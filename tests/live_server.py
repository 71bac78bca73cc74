"""A real `survey-engine serve` on a free port, with the demo survey, for browser checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A free loopback port; LIVE_SERVER_PORT names one instead (a developer sharing the
    machine keeps to the ports given to them)."""
    if os.environ.get("LIVE_SERVER_PORT"):
        return int(os.environ["LIVE_SERVER_PORT"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def demo_server(database_url: str, log_path: Path) -> Iterator[str]:
    """Seed the demo, serve it, yield the base URL; the server dies with the block."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        "EXPORT_DIR": str(log_path.parent / "exports"),
    }
    env.pop("REDIS_URL", None)
    subprocess.run([BIN / "survey-engine", "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [BIN / "survey-engine", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with _LOCAL.open(base + "/healthz", timeout=2):
                    break
            except OSError as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log_path.read_text()}") from error
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass
class DemoSite:
    """A served demo: its address, its database, and the CLI pointed at that database."""

    base: str
    database_url: str

    def cli(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run(
            [BIN / "survey-engine", *args],
            check=True,
            capture_output=True,
            env={**os.environ, "DATABASE_URL": self.database_url},
            input=stdin.encode() if stdin else None,
        )


@contextmanager
def demo_site(folder: Path, name: str) -> Iterator[DemoSite]:
    """The demo served from a database of its own (of the backend under test),
    dropped afterwards when it is a PostgreSQL one."""
    from tests.conftest import BACKEND, fresh_database_url, fresh_postgres_database

    url = fresh_database_url(folder, name)
    try:
        with demo_server(url, folder / "server.log") as base:
            yield DemoSite(base, url)
    finally:
        if BACKEND == "postgresql":
            fresh_postgres_database(name, create=False)
