"""Real Redis topologies on loopback for the tests, on private ports of 6500-6999, with
nothing on disk but a temporary folder and every process killed after:

- LoopbackCluster: a Redis Cluster of three masters with a replica each (each node also
  listens on its port + 10000, the cluster bus);
- SentinelGroup: a master, a replica and a Sentinel watching them.

Failover is quick in both (a node is judged down after 1 s) so a test can kill a master
and wait for its replica to take over.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

NODE_TIMEOUT_MS = 1000
PORTS = range(6500, 7000)


def _free(port: int, bus: bool = True) -> bool:
    for candidate in (port, port + 10000) if bus else (port,):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


def start_redis(directory: Path, port: int, *args: str, sentinel: str = "") -> subprocess.Popen:
    """A redis-server (AOF, fsync on every write) in directory/<port>, answering PING;
    with `sentinel` (its configuration lines), a Sentinel instead."""
    folder = directory / str(port)
    folder.mkdir(parents=True, exist_ok=True)
    if sentinel:
        conf = folder / "sentinel.conf"  # Sentinel rewrites it: a file of its own
        conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {folder}\n{sentinel}")
        command = ["redis-server", str(conf), "--sentinel"]
    else:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--dir", str(folder), "--appendonly", "yes", "--appendfsync", "always"]
        command += ["--save", "", *args]
    log = open(folder / "redis.log", "ab")  # noqa: SIM115 (the child keeps its copy)
    proc = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 15
    while not _answers(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            text = (folder / "redis.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"redis-server on port {port} did not start:\n{text}")
        time.sleep(0.05)
    return proc


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def wait_until(condition, what: str, timeout: float = 30) -> None:
    """Poll `condition` (a Redis error counts as not yet) until true, or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def stop_all(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs:
        proc.wait(timeout=20)


class LoopbackCluster:
    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.directory = directory
        self.size = masters * 2
        self.masters = masters
        self.ports: list[int] = []
        self.procs: dict[int, subprocess.Popen] = {}

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        self.ports = [p for p in random.sample(PORTS, 60) if _free(p)][: self.size]
        if len(self.ports) < self.size:
            pytest.fail("no free ports for a Redis Cluster in 6500-6999")
        for port in self.ports:
            self._start_node(port)
        create = subprocess.run(
            ["redis-cli", "--cluster", "create"]
            + [f"127.0.0.1:{p}" for p in self.ports]
            + ["--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if create.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed:\n{create.stdout}\n{create.stderr}")
        self.wait_until_ok()
        self.wait_for_replicas()

    def _start_node(self, port: int) -> None:
        self.procs[port] = start_redis(
            self.directory,
            port,
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        )  # fmt: skip

    def close(self) -> None:
        stop_all(self.procs.values())

    # -- reading it -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """What an operator writes: any one node (with REDIS_CLUSTER=1)."""
        return f"redis://127.0.0.1:{self.ports[-1]}"

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=5)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=5)

    def read_replica(self, port: int) -> redis.Redis:
        """A replica answers reads only on a connection that said READONLY."""
        client = redis.Redis(port=port, socket_timeout=5, single_connection_client=True)
        client.execute_command("READONLY")
        return client

    def master_of(self, key: str) -> int:
        """The port of the master that owns `key`'s slot now."""
        slot = self.node(self._alive()).cluster("keyslot", key)
        for start, end, master, *_ in self.node(self._alive()).cluster("slots"):
            if start <= slot <= end:
                return int(master[1])
        raise AssertionError(f"no master for slot {slot}")

    def replicas_of(self, port: int) -> list[int]:
        info = self.node(port).info("replication")
        return [int(info[f"slave{i}"]["port"]) for i in range(info["connected_slaves"])]

    def _alive(self) -> int:
        return next(p for p in self.ports if self.procs[p].poll() is None)

    def wait_until_ok(self, timeout: float = 30) -> None:
        wait_until(
            lambda: self.node(self._alive()).cluster("info")["cluster_state"] == "ok",
            "the Redis Cluster to reach state ok",
            timeout,
        )

    def wait_for_replicas(self, timeout: float = 30) -> None:
        """Every master has a replica in sync (`cluster create` returns before that)."""
        deadline = time.monotonic() + timeout
        while True:
            synced = 0
            for port in self.ports:
                info = self.node(port).info("replication")
                if info["role"] == "master":
                    synced += any(
                        info[f"slave{i}"]["state"] == "online"
                        for i in range(info["connected_slaves"])
                    )
            if synced == self.masters:
                return
            if time.monotonic() > deadline:
                pytest.fail("the Redis Cluster's replicas did not come in sync")
            time.sleep(0.1)

    # -- faults ---------------------------------------------------------------------------

    def kill(self, port: int) -> None:
        os.killpg(self.procs[port].pid, signal.SIGKILL)
        self.procs[port].wait(timeout=20)

    def wait_for_new_master(self, key: str, old: int, timeout: float = 30) -> int:
        """After killing `old`: the port of the replica that took its slots over."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.master_of(key)
                if (
                    port != old
                    and self.node(self._alive()).cluster("info")["cluster_state"] == "ok"
                ):
                    return port
            except redis.RedisError:
                pass
            time.sleep(0.1)
        pytest.fail(f"no replica took over from the master on port {old}")


class SentinelGroup:
    """A master and its replica, watched by one Sentinel (quorum 1) under SERVICE."""

    SERVICE = "khao-sat"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self) -> None:
        ports = [p for p in random.sample(PORTS, 30) if _free(p, bus=False)][:3]
        self.master, self.replica, self.sentinel = ports
        self.procs[self.master] = start_redis(self.directory, self.master)
        self.procs[self.replica] = start_redis(
            self.directory, self.replica, "--replicaof", "127.0.0.1", str(self.master)
        )
        self.procs[self.sentinel] = start_redis(
            self.directory,
            self.sentinel,
            sentinel=(
                f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master} 1\n"
                f"sentinel down-after-milliseconds {self.SERVICE} {NODE_TIMEOUT_MS}\n"
                f"sentinel failover-timeout {self.SERVICE} 5000\n"
            ),
        )
        self._wait(self._replica_in_sync)
        self._wait(lambda: self.current_master() == self.master)

    def _replica_in_sync(self) -> bool:
        info = self.node(self.master).info("replication")
        return info["connected_slaves"] == 1 and info["slave0"]["state"] == "online"

    def close(self) -> None:
        stop_all(self.procs.values())

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel}/{self.SERVICE}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=5)

    def current_master(self) -> int:
        _, port = self.node(self.sentinel).execute_command(
            "SENTINEL", "get-master-addr-by-name", self.SERVICE
        )
        return int(port)

    def kill_master(self) -> None:
        os.killpg(self.procs[self.master].pid, signal.SIGKILL)
        self.procs[self.master].wait(timeout=20)

    def wait_for_failover(self) -> None:
        self._wait(lambda: self.current_master() == self.replica, timeout=60)
        self._wait(lambda: self.node(self.replica).info("replication")["role"] == "master")

    @staticmethod
    def _wait(condition, timeout: float = 30) -> None:
        wait_until(condition, "the Sentinel group to reach the state waited for", timeout)
