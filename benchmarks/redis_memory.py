"""Redis memory per 100,000 submissions, for sizing the buffer (docs/deployment.md).

A private redis-server (no persistence, a free port) takes N demo submissions through
the accept script, as the web tier sends them (device access: one claim each). Printed
side by side: the submissions' JSON as sent (the baseline: what the bytes themselves
need), then Redis's used_memory for
  1. a backlog: every submission waiting in the stream (workers stopped);
  2. after the drain: the stream emptied, what stays for as long as the survey runs
     (ids for duplicates, device claims, counters).

    .venv/bin/python benchmarks/redis_memory.py [--count 100000]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey_engine.intake.buffer import (  # noqa: E402
    ACCEPT_SCRIPT,
    accept_args,
    accept_keys,
    answers_digest,
    stream_key,
)

SURVEY_ID = 1
ANSWERS = {
    "school_level": "thcs",
    "district": "thu_duc",
    "children": 2,
    "agree_return": "dong_y",
    "concerns": ["an_toan", "hoc_phi"],
    "comment": "Nên cho các cháu đi học lại, nhưng cần đảm bảo khoảng cách.",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def submission_json(submission_id: str) -> str:
    return json.dumps(
        {
            "survey_id": SURVEY_ID,
            "version_id": 1,
            "submission_id": submission_id,
            "answers": ANSWERS,
            "source": "web",
            "meta": {"lang": "vi"},
            "submitted_at": "2026-12-04T10:00:00+07:00",
            "paradata": {"duration_seconds": 95, "device_class": "phone", "browser": "Chrome"},
        },
        ensure_ascii=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    count = parser.parse_args().count
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            measure(client, count)
        finally:
            server.kill()
            server.wait()


def measure(client: redis.Redis, count: int) -> None:
    script = client.register_script(ACCEPT_SCRIPT)
    keys = accept_keys(SURVEY_ID)
    empty = client.info("memory")["used_memory"]
    payload_bytes = 0
    for start in range(0, count, 1000):
        pipe = client.pipeline(transaction=False)
        for _ in range(start, min(start + 1000, count)):
            submission_id = str(uuid.uuid4())
            text = submission_json(submission_id)
            payload_bytes += len(text.encode())
            claim = f"device:{uuid.uuid4().hex}"
            args = accept_args(submission_id, answers_digest(ANSWERS), text, claims=[claim])
            script(keys=keys, args=args, client=pipe)
        pipe.execute()
    backlog = client.info("memory")["used_memory"] - empty
    # What the drain does after storing: the entries leave the stream.
    client.xtrim(stream_key(SURVEY_ID), maxlen=0)
    client.memory_purge()
    drained = client.info("memory")["used_memory"] - empty
    keys_left = {key.decode(): client.memory_usage(key, samples=0) or 0 for key in client.keys("*")}
    per = 100_000 / count
    print(f"redis {client.info('server')['redis_version']}, {count:,} submissions")
    print(f"{'':44}{'MB per 100k':>12}{'bytes each':>12}")
    rows = [
        ("submissions as JSON (baseline)", payload_bytes),
        ("Redis, a backlog of all of them", backlog),
        ("Redis, after the drain (ids, claims)", drained),
    ]
    rows += [(f"  of which {key}", size) for key, size in sorted(keys_left.items())]
    for name, size in rows:
        print(f"{name:44}{size * per / 1e6:12.1f}{size / count:12.0f}")


if __name__ == "__main__":
    main()
