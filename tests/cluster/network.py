"""Hosts on one machine: network namespaces joined by a bridge (tests/cluster).

Each host is a network namespace `semh-<name>` with its own loopback and one
interface, eth0, addressed 10.213.0.<n>/24. The other end of each eth0 is plugged
into a bridge that lives in a namespace of its own, `semh-switch`, so nothing is
added to the machine's own (root) namespace: no address, no route, no interface.
A process started "on a host" is `ip netns exec semh-<name> <command>`: it sees
only that host's network, as if it ran on another machine.

Everything made here is named semh-*; `remove_leftovers()` deletes what a crashed
run left behind (killing every process still inside), and `Network.close()` what
this run made, failure or not.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.test_faults import Processes

PREFIX = "semh-"
SWITCH = f"{PREFIX}switch"
SUBNET = "10.213.0"
BRIDGE = "br0"  # inside semh-switch only


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def cannot_create_namespaces() -> str | None:
    """Why this machine cannot run the multi-host test, or None when it can.

    Made and deleted at once: creating a namespace and a veth pair needs root (or
    CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2."""
    if shutil.which("ip") is None:
        return "the `ip` command (Debian's iproute2) is not installed"
    if os.geteuid() != 0:
        return "it must run as root (ip netns add needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    probe = f"{PREFIX}probe"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    try:
        pair = ["link", "add", "name", "a", "type", "veth", "peer", "name", "b"]
        veth = ip("-n", probe, *pair, check=False)
        if veth.returncode != 0:
            return f"cannot make a veth pair: {veth.stderr.strip().rstrip('.')}"
    finally:
        ip("netns", "del", probe, check=False)
    return None


def namespaces() -> list[str]:
    listed = ip("netns", "list", check=False).stdout.splitlines()
    return [line.split()[0] for line in listed if line.startswith(PREFIX)]


def remove_namespace(name: str) -> None:
    """Kill every process still inside, then delete the namespace (its veth ends and
    the bridge go with it; the peer of a deleted veth end is deleted too)."""
    for _ in range(50):
        pids = [int(p) for p in ip("netns", "pids", name, check=False).stdout.split()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    ip("netns", "del", name, check=False)


def remove_leftovers() -> list[str]:
    """Delete every semh-* namespace (a crashed or killed earlier run's)."""
    found = namespaces()
    for name in found:
        remove_namespace(name)
    return found


@dataclass
class Host:
    """One machine of the test: a namespace, an address, the processes it runs."""

    name: str  # without the prefix: "web1"
    address: str
    network: Network

    @property
    def namespace(self) -> str:
        return PREFIX + self.name

    def command(self, args: Sequence[str], user: str | None = None) -> list[str]:
        """`args` run on this host (as `user`: PostgreSQL refuses to run as root)."""
        as_user = []
        if user:
            as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
        return ["ip", "netns", "exec", self.namespace, *as_user, *args]

    def run(
        self,
        args: Sequence[str],
        user: str | None = None,
        env: dict | None = None,
        input: str | None = None,
        timeout: float = 60,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.command(args, user),
            capture_output=True,
            text=True,
            env=env,
            input=input,
            timeout=timeout,
            cwd=self.network.root,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"on {self.name}: {' '.join(args)} exited {result.returncode}\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result

    def cpu_seconds(self) -> float:
        """CPU time of the processes alive on this host now (the killed ones' is gone)."""
        total = 0
        for pid in ip("netns", "pids", self.namespace, check=False).stdout.split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (after the name)
        return total / os.sysconf("SC_CLK_TCK")

    def start(
        self, label: str, args: Sequence[str], env: dict | None = None, user: str | None = None
    ) -> subprocess.Popen:
        """A long-running process on this host, in a session of its own (so kill -9 of
        its group takes gunicorn's workers or PostgreSQL's backends with it); its
        output goes to <logs>/<host>-<label>.log."""
        return self.network.processes.start(
            f"{self.name}-{label}", self.command(args, user), env or dict(os.environ)
        )


@dataclass
class Network:
    """The switch and the hosts plugged into it; close() removes all of it."""

    logs: Path
    root: Path  # the repository: processes start there
    hosts: dict[str, Host] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.processes = Processes(self.logs)

    def add_switch(self) -> None:
        self._add_namespace(SWITCH)
        ip("-n", SWITCH, "link", "add", "name", BRIDGE, "type", "bridge")
        ip("-n", SWITCH, "link", "set", BRIDGE, "up")

    def add_host(self, name: str, last_octet: int) -> Host:
        host = Host(name, f"{SUBNET}.{last_octet}", self)
        self._add_namespace(host.namespace)
        # The pair is made inside the switch (port "p-<name>") with its other end
        # sent straight into the host as eth0: neither end ever exists in the root
        # namespace.
        port = f"p-{name}"
        pair = ["type", "veth", "peer", "name", "eth0", "netns", host.namespace]
        ip("-n", SWITCH, "link", "add", "name", port, *pair)
        ip("-n", SWITCH, "link", "set", port, "master", BRIDGE, "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        self.hosts[name] = host
        return host

    def _add_namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.made.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def close(self) -> None:
        """Every process killed (their logs' tails printed), every namespace deleted."""
        try:
            self.processes.close()
        finally:
            for name in reversed(self.made):
                remove_namespace(name)
            self.made.clear()
