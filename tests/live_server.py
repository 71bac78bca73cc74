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
from pathlib import Path

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-proxy-server"]
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def demo_server(database_url: str, log_path: Path) -> Iterator[str]:
    """Seed the demo, serve it, yield the base URL; the server dies with the block."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
           "EXPORT_DIR": str(log_path.parent / "exports")}
    env.pop("REDIS_URL", None)
    subprocess.run([BIN / "survey-engine", "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen([BIN / "survey-engine", "serve", "--port", str(port)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
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
