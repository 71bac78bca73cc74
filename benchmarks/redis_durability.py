"""What each Redis durability setting costs the accept step (docs/deployment.md).

The accept script is run N times from 1 and from 16 clients at once (16 web workers),
the way a web worker runs it
(StreamBuffer.append: EVALSHA, and WAIT in the same pipeline when REDIS_WAIT_REPLICAS
is set), against private redis-servers started here, side by side in one run:

  1. one Redis, no persistence (the baseline: what a restart loses, everything);
  2. one Redis, appendonly + appendfsync everysec (a crash loses up to a second);
  3. one Redis, appendonly + appendfsync always (a crash loses nothing acknowledged);
  4. a master with a replica, appendfsync always, WAIT 1 (a failover loses nothing
     acknowledged: the replica had it before the 202).

    .venv/bin/python benchmarks/redis_durability.py [--count 20000]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey_engine.intake.buffer import StreamBuffer, accept_args  # noqa: E402
from survey_engine.intake.submission import answers_digest  # noqa: E402

PAYLOAD = (
    '{"answers": {"district": "thu_duc", "agree_return": "dong_y"}, "comment": "'
    + ("x" * 300)
    + '"}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(folder: Path, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    directory = folder / str(port)
    directory.mkdir()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
        + ["--save", "", *args],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on {port} did not start")


def run(buffer: StreamBuffer, count: int) -> list[float]:
    """Microseconds of each accept."""
    timings = []
    for _ in range(count):
        submission_id = str(uuid.uuid4())
        args = accept_args(submission_id, answers_digest({"id": submission_id}), PAYLOAD)
        began = time.perf_counter()
        outcome = buffer.append(1, args)
        timings.append((time.perf_counter() - began) * 1e6)
        if outcome != "accepted":
            raise RuntimeError(f"accept answered {outcome}")
    return timings


CLIENTS = 16


def concurrently(port: int, replicas: int, count: int, clients: int) -> tuple[float, list[float]]:
    """Accepts per second over all clients, and every accept's microseconds."""
    buffers = []
    for _ in range(clients):
        client = redis.Redis(port=port)
        buffers.append(StreamBuffer(lambda c=client: c, wait_replicas=replicas))
    run(buffers[0], 200)  # warm up: the script loaded
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        parts = list(pool.map(lambda b: run(b, count // clients), buffers))
    elapsed = time.perf_counter() - began
    timings = [t for part in parts for t in part]
    return len(timings) / elapsed, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    count = parser.parse_args().count
    setups = [
        ("no persistence", ["--appendonly", "no"], 0),
        ("AOF, fsync every second", ["--appendonly", "yes", "--appendfsync", "everysec"], 0),
        ("AOF, fsync always", ["--appendonly", "yes", "--appendfsync", "always"], 0),
        ("AOF always + replica, WAIT 1", ["--appendonly", "yes", "--appendfsync", "always"], 1),
    ]
    print(f"{count:,} accepts per row, redis-server on loopback")
    print(f"{'':44}{'accepts/s':>10}{'median µs':>11}{'p99 µs':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, args, replicas in setups:
            procs = []
            try:
                proc, port = start(folder, *args)
                procs.append(proc)
                if replicas:
                    replica, replica_port = start(
                        folder, *args, "--replicaof", "127.0.0.1", str(port)
                    )
                    procs.append(replica)
                    wait_for_sync(port)
                for clients in (1, CLIENTS):
                    rate, timings = concurrently(port, replicas, count, clients)
                    p99 = statistics.quantiles(timings, n=100)[98]
                    label = f"{name}, {clients} client{'s' if clients > 1 else ''}"
                    print(f"{label:44}{rate:10,.0f}{statistics.median(timings):11.0f}{p99:9.0f}")
            finally:
                for proc in procs:
                    proc.kill()
                    proc.wait()


def wait_for_sync(port: int) -> None:
    client = redis.Redis(port=port)
    for _ in range(200):
        info = client.info("replication")
        if info["connected_slaves"] and info["slave0"]["state"] == "online":
            return
        time.sleep(0.05)
    raise RuntimeError("the replica did not come in sync")


if __name__ == "__main__":
    main()
