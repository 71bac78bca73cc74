"""A private PostgreSQL primary and its streaming replica, from Debian's binaries.

For the tests of DATABASE_READ_URL (tests/test_replica.py), and for whoever else needs
a real replica (the multi-host test may start the same pair on its own addresses).

    pair = ReplicatedPostgres(root, primary_port=5440, replica_port=5441)
    pair.start()               # initdb, start the primary, pg_basebackup -R, start the replica
    pair.primary.url("db")     # postgresql+psycopg://postgres@127.0.0.1:5440/db
    pair.wait_replayed()       # the replica has replayed all the primary has written
    pair.pause_replay() / pair.resume_replay() / pair.replica.stop() / pair.replica.start()
    pair.close()               # stops both (immediate) and deletes `root`

Both clusters live under `root` (a fresh directory the `postgres` OS user can write:
initdb refuses to run as root, so as root every binary runs through
`runuser -u postgres --`). Authentication is `trust` for the given host's network
only: a throwaway pair for tests, never a deployment. Missing binaries raise
PostgresMissing with what to install: the tests fail, they never skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

BINARIES = ("initdb", "pg_ctl", "pg_basebackup")
OWNER = "postgres"  # the OS user the clusters run as when we are root
WAIT_SECONDS = 60  # a deadline against hanging, never a pass/fail timing


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL server binaries are not installed."""


def postgres_bin() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, pg_ctl and
    pg_basebackup (Debian's postgresql package)."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for folder in reversed(found):
        if all((folder / name).is_file() for name in BINARIES):
            return folder
    raise PostgresMissing(
        "no /usr/lib/postgresql/*/bin with initdb, pg_ctl and pg_basebackup: "
        "install Debian's postgresql package (apt-get install postgresql)"
    )


def _as_owner(args: list[str], netns: str | None = None) -> list[str]:
    owned = ["runuser", "-u", OWNER, "--", *args] if os.geteuid() == 0 else args
    return ["ip", "netns", "exec", netns, *owned] if netns else owned


def run(args: list[str], netns: str | None = None) -> str:
    """Run a PostgreSQL binary as the clusters' owner (in network namespace `netns`
    if given); its output, or an error with it."""
    done = subprocess.run(
        _as_owner(args, netns),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def owned_directory(prefix: str = "se-pg-replica-") -> Path:
    """A new directory under the system's temp folder that the owner can write."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, OWNER, OWNER)
    path.chmod(0o700)
    return path


@dataclass
class Server:
    """One cluster: its data directory, address and log."""

    bin: Path
    data: Path
    port: int
    host: str = "127.0.0.1"
    netns: str | None = None  # its binaries run in this network namespace

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.data.name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> None:
        """Start and wait until it takes connections (a standby: once consistent)."""
        pg_ctl = str(self.bin / "pg_ctl")
        run([pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "start"], self.netns)

    def stop(self, mode: str = "fast") -> None:
        run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], self.netns)

    def running(self) -> bool:
        done = subprocess.run(
            _as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "status"], self.netns),
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def query(self, sql: str, database: str = "postgres") -> object:
        """The first column of the first row of `sql` (None if it returns no rows), on a
        connection of its own, autocommitted."""
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                result = connection.execute(sa.text(sql))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()


class ReplicatedPostgres:
    """A primary on `primary_port` and a hot standby streaming from it on `replica_port`,
    both under `root` (made with owned_directory() when not given). On other hosts
    than loopback (the multi-host test): `replica_host` (default `host`), and each
    server's binaries run in a network namespace of its own (`primary_netns`,
    `replica_netns`); query() and the waits connect from the caller's namespace."""

    def __init__(
        self,
        root: Path | None = None,
        primary_port: int = 5440,
        replica_port: int = 5441,
        host: str = "127.0.0.1",
        replica_host: str | None = None,
        primary_netns: str | None = None,
        replica_netns: str | None = None,
    ) -> None:
        self.bin = postgres_bin()
        self.root = root or owned_directory()
        self.primary = Server(self.bin, self.root / "primary", primary_port, host, primary_netns)
        self.replica = Server(
            self.bin, self.root / "replica", replica_port, replica_host or host, replica_netns
        )

    def start(self) -> ReplicatedPostgres:
        """initdb the primary, start it, clone it with pg_basebackup -R (which writes
        primary_conninfo and standby.signal), start the clone as a hot standby."""
        primary, replica = self.primary, self.replica
        run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(primary.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        self._append(
            primary.data / "postgresql.conf",
            f"listen_addresses = '{primary.host}'",
            f"port = {primary.port}",
            f"unix_socket_directories = '{self.root}'",
            "wal_level = replica",
            "max_wal_senders = 5",
            "wal_keep_size = '256MB'",
            "hot_standby = on",
            # Long scans on the standby are not cancelled by the primary's vacuum.
            "hot_standby_feedback = on",
            "fsync = off",  # a throwaway pair: its durability is not under test
            "shared_buffers = '32MB'",
            "max_connections = 50",
        )
        self._append(
            primary.data / "pg_hba.conf",
            "host all all samenet trust",
            "host replication all samenet trust",
        )
        primary.start()
        run(
            [
                str(self.bin / "pg_basebackup"),
                "-h",
                primary.host,
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(replica.data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            replica.netns,
        )
        self._append(
            replica.data / "postgresql.conf",
            f"listen_addresses = '{replica.host}'",
            f"port = {replica.port}",
        )
        replica.start()
        self.wait_streaming()
        return self

    @staticmethod
    def _append(path: Path, *lines: str) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")

    def wait_streaming(self) -> None:
        """Until the primary sees the standby streaming."""
        self._wait(
            lambda: (
                self.primary.query(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                )
                == 1
            ),
            "the replica to stream from the primary",
        )

    def wait_replayed(self) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        self._wait_for_lsn("pg_last_wal_replay_lsn()", "replay")

    def wait_received(self) -> None:
        """Until the replica has received (not necessarily replayed) everything the
        primary has written so far: the primary's commit does not wait for it."""
        self._wait_for_lsn("pg_last_wal_receive_lsn()", "receive")

    def _wait_for_lsn(self, position: str, what: str) -> None:
        target = self.primary.query("SELECT pg_current_wal_lsn()::text")
        self._wait(
            lambda: self.replica.query(f"SELECT {position} >= '{target}'::pg_lsn"),
            f"the replica to {what} up to {target}",
        )

    def wait(self, check: Callable[[], object], what: str) -> None:
        """Until check() is true (a deadline of WAIT_SECONDS against hanging)."""
        self._wait(check, what)

    def pause_replay(self) -> None:
        """The replica keeps receiving WAL but applies none until resume_replay()."""
        self.replica.query("SELECT pg_wal_replay_pause()")
        self._wait(
            lambda: self.replica.query("SELECT pg_get_wal_replay_pause_state()") == "paused",
            "replay to pause",
        )

    def resume_replay(self) -> None:
        self.replica.query("SELECT pg_wal_replay_resume()")

    @staticmethod
    def _wait(check: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                if check():
                    return
            except sa.exc.OperationalError:
                pass  # still starting
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {WAIT_SECONDS} s for {what}")
            time.sleep(0.1)

    def close(self) -> None:
        """Stop both servers (whatever state they are in) and delete their files."""
        for server in (self.replica, self.primary):
            if server.data.exists() and server.running():
                try:
                    server.stop("immediate")
                except RuntimeError:
                    pass  # stopped meanwhile; the files go anyway
        shutil.rmtree(self.root, ignore_errors=True)
