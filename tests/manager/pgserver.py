"""A throwaway PostgreSQL server from Debian's binaries (/usr/lib/postgresql/N/bin), for the
manager's tests and its ingestion benchmark.

The cluster lives in a fresh directory under /tmp and listens on a Unix socket there alone (no TCP
port). PostgreSQL refuses to run as root, so as root the cluster is made and run as ``nobody``;
clients connect as the cluster's superuser ``postgres`` with trust authentication, which a socket
in a private directory makes safe.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PORT = 5432  # names the socket file only
_START_TIMEOUT_S = 30.0


class PostgresUnavailable(Exception):
    """Why no server can be run here."""


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's bin directory. Raises PostgresUnavailable."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if not found:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt install postgresql)"
        )
    return Path(found[-1]).parent


class PostgresServer:
    """``with PostgresServer() as pg: pg.url("dbname")``. ``durable=False`` turns fsync off, for
    tests; the benchmark measures a durable server."""

    def __init__(self, durable: bool = False) -> None:
        self.bin = postgres_bin()
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="fathom-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root
        self._process: subprocess.Popen[bytes] | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root, and no runuser to start PostgreSQL as nobody")
            os.chown(self.root, 65534, 65534)
            self._as = [runuser, "-u", "nobody", "--"]

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def restart(self) -> None:
        self.stop(keep=True)
        self.start()

    def start(self) -> None:
        """Start the server, making the cluster first if there is none yet."""
        if not self.data.exists():
            subprocess.run(
                [
                    *self._as,
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
            )
        settings = ["-c", "max_connections=200"]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with open(self.root / "server.log", "wb") as log:
            self._process = subprocess.Popen(
                [
                    *self._as,
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-k",
                    str(self.sockets),
                    "-p",
                    str(PORT),
                    "-h",
                    "",
                    *settings,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    said = (self.root / "server.log").read_text(errors="replace")
                    self.stop()
                    raise PostgresUnavailable(f"PostgreSQL did not start: {said.strip()[-500:]}") from None
                time.sleep(0.1)

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@/{dbname}?host={self.sockets}&port={PORT}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # names made by the tests
        return self.url(name)

    def stop(self, keep: bool = False) -> None:
        """Stop the server; remove the cluster too unless ``keep`` (then :meth:`start` restarts it)."""
        if self._process is not None:
            # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for clients to leave). Sent to the
            # postmaster itself, whose pid it writes, since runuser may stand between.
            try:
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGINT)
            except (OSError, ValueError, IndexError):
                self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
