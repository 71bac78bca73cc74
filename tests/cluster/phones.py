"""The citizens' side of the multi-host test, run on the client host:

    python -m tests.cluster.phones campaign --url http://10.213.0.10 --slug S --count N --out DIR
    python -m tests.cluster.phones audit --database-url URL --redis-url URL --out DIR
    python -m tests.cluster.phones get URL [--token T]

`campaign`: N submissions through the balancer from many threads, each on a kept-alive
connection, as phones do: every submission has its own submission_id and is sent
again, with the same id and answers, until it gets a 202; a refused connection, a
502/503/504 from the balancer, a 503 or 429 from the app or no answer at all are all
"try again". What came back is written to DIR: acknowledged.txt (one id a line),
campaign.json (figures) and, every half second, progress (acknowledged so far).

`audit`: what the stores hold afterwards: the primary's submission_ids (stored.txt,
with how many times each), and the length of every survey's stream, pending list and
dead letters on every master of the Redis Cluster (audit.json).

`get`: one GET (the dashboard's figures with an analyst's token, /healthz) through the
balancer: its status, the web host that served it and the JSON body.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

from tests.test_faults import answers_for

RETRY = {429, 500, 502, 503, 504}  # nothing promised: the same request again


class Campaign:
    def __init__(self, url: str, slug: str, count: int, threads: int, out: Path) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.path = f"/api/v1/surveys/{slug}/responses"
        self.todo: queue.Queue[str] = queue.Queue()
        for _ in range(count):
            self.todo.put(str(uuid.uuid4()))
        self.threads = threads
        self.out = out
        self.lock = threading.Lock()
        self.acknowledged: list[str] = []
        self.statuses: Counter[str] = Counter()
        self.retries = 0
        self.refused: dict[str, int] = {}  # submissions given up on: their last status
        self.longest_wait = 0.0  # from first try to 202, the slowest submission
        self.last_ack = 0.0
        self.longest_stall = (0.0, 0.0)  # (seconds into the campaign, seconds without a 202)
        self.per_second: Counter[int] = Counter()  # 202s in each second of the campaign
        self.started = time.monotonic()
        self.done = threading.Event()

    def run(self) -> dict:
        started = self.started = self.last_ack = time.monotonic()
        # The test times its faults on this clock (wall time: another process).
        (self.out / "started").write_text(repr(time.time()))
        reporter = threading.Thread(target=self._report, daemon=True)
        reporter.start()
        phones = [threading.Thread(target=self._phone) for _ in range(self.threads)]
        for phone in phones:
            phone.start()
        for phone in phones:
            phone.join()
        seconds = time.monotonic() - started
        self.done.set()
        reporter.join()
        (self.out / "acknowledged.txt").write_text("\n".join(self.acknowledged) + "\n")
        figures = {
            "acknowledged": len(self.acknowledged),
            "retries": self.retries,
            "statuses": dict(self.statuses),
            "refused": self.refused,
            "seconds": round(seconds, 1),
            "per_second": round(len(self.acknowledged) / seconds, 1),
            "longest_wait_seconds": round(self.longest_wait, 1),
            "longest_stall": {
                "at_seconds": round(self.longest_stall[0], 1),
                "seconds_without_202": round(self.longest_stall[1], 2),
            },
            "acknowledged_per_second": [
                self.per_second[s] for s in range(max(self.per_second, default=0) + 1)
            ],
        }
        (self.out / "campaign.json").write_text(json.dumps(figures, indent=1))
        return figures

    def _report(self) -> None:
        while not self.done.wait(0.5):
            (self.out / "progress.tmp").write_text(f"{len(self.acknowledged)} {self.retries}")
            (self.out / "progress.tmp").rename(self.out / "progress")

    def _phone(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            try:
                submission_id = self.todo.get_nowait()
            except queue.Empty:
                break
            answers = answers_for(submission_id)
            body = json.dumps({"submission_id": submission_id, "answers": answers})
            first_try = time.monotonic()
            for attempt in range(1000):
                if attempt:
                    with self.lock:
                        self.retries += 1
                    time.sleep(min(0.05 * 2**attempt, 1.0))
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
                    conn.request(
                        "POST", self.path, body=body, headers={"Content-Type": "application/json"}
                    )
                    reply = conn.getresponse()
                    reply.read()
                    status: int | str = reply.status
                    # The balancer's own errors (no healthy web host, a web host gone
                    # mid-request) are HTML; the app's are JSON.
                    from_app = reply.getheader("Content-Type", "").startswith("application/json")
                    label = str(status) if from_app or status == 202 else f"{status} (HAProxy)"
                    if reply.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as error:
                    status = label = error.__class__.__name__  # maybe stored, maybe not
                    if conn is not None:
                        conn.close()
                    conn = None
                with self.lock:
                    self.statuses[label] += 1
                if status == 202:
                    now = time.monotonic()
                    with self.lock:
                        self.acknowledged.append(submission_id)
                        self.longest_wait = max(self.longest_wait, now - first_try)
                        if now - self.last_ack > self.longest_stall[1]:
                            self.longest_stall = (self.last_ack - self.started, now - self.last_ack)
                        self.last_ack = now
                        self.per_second[int(now - self.started)] += 1
                    break
                if isinstance(status, int) and status not in RETRY:
                    with self.lock:
                        self.refused[submission_id] = status  # a bug: answers are valid
                    break
        if conn is not None:
            conn.close()


def audit(database_url: str, redis_url: str, out: Path) -> dict:
    import sqlalchemy as sa
    from redis.cluster import RedisCluster

    from survey_engine.config import database_url as psycopg_url

    engine = sa.create_engine(psycopg_url(database_url))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT submission_id::text, count(*) FROM responses GROUP BY 1")
        ).all()
        total = conn.execute(sa.text("SELECT count(*) FROM responses")).scalar_one()
    engine.dispose()
    (out / "stored.txt").write_text("".join(f"{sid} {n}\n" for sid, n in rows))

    parts = urllib.parse.urlsplit(redis_url)
    client = RedisCluster(host=parts.hostname, port=parts.port or 6379)
    lengths: dict[str, int] = {}
    pending: dict[str, int] = {}
    # scan_iter of a cluster client walks every master.
    for key in client.scan_iter(match="se:*", count=1000):
        name = key.decode()
        if name.endswith((":dead", ":stream")):
            lengths[name] = client.xlen(name)
        if name.endswith(":stream"):
            groups = client.xinfo_groups(name)
            pending[name] = sum(g["pending"] for g in groups)
    client.close()
    figures = {
        "rows": total,
        "distinct": len(rows),
        "dead": {k: v for k, v in lengths.items() if k.endswith(":dead")},
        "streams": {k: v for k, v in lengths.items() if k.endswith(":stream")},
        "pending": pending,
    }
    (out / "audit.json").write_text(json.dumps(figures, indent=1))
    return figures


def look(url: str, token: str | None) -> dict:
    """GET url (as an analyst with `token`, if given): status, which web host served
    it (HAProxy's X-Served-By) and the JSON body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        text = reply.read().decode("utf-8", errors="replace")
    finally:
        conn.close()
    try:
        body = json.loads(text)
    except ValueError:
        body = {"text": text[:500]}
    return {"status": reply.status, "served_by": reply.getheader("X-Served-By"), "body": body}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("campaign")
    run.add_argument("--url", required=True)
    run.add_argument("--slug", required=True)
    run.add_argument("--count", type=int, required=True)
    run.add_argument("--threads", type=int, default=32)
    run.add_argument("--out", type=Path, required=True)
    check = commands.add_parser("audit")
    check.add_argument("--database-url", required=True)
    check.add_argument("--redis-url", required=True)
    check.add_argument("--out", type=Path, required=True)
    get = commands.add_parser("get")
    get.add_argument("url")
    get.add_argument("--token")
    args = parser.parse_args()
    if args.command == "campaign":
        figures = Campaign(args.url, args.slug, args.count, args.threads, args.out).run()
    elif args.command == "audit":
        figures = audit(args.database_url, args.redis_url, args.out)
    else:
        figures = look(args.url, args.token)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
