"""The embedded store: one SQLite file in WAL mode.

WAL lets readers go on while the one writer writes; ``synchronous=NORMAL`` syncs at checkpoints
rather than at every commit, which in WAL mode can lose the last transactions on a power cut but
never corrupts the file (a killed process loses nothing). All writes go through one connection
under a lock, so writers queue here rather than fail with "database is locked"; readers take a
connection of their own from a pool.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fathom.manager.store import StoreError

# SQLITE_MAX_VARIABLE_NUMBER's default since SQLite 3.32.
_MAX_PARAMS = 32_766
# How long a connection waits for another process's lock (a second manager, a backup).
_BUSY_TIMEOUT_S = 10.0


class _Session:
    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()


class SqliteBackend:
    dialect: str = "sqlite"
    max_params: int = _MAX_PARAMS
    migration_lock: str | None = None  # BEGIN IMMEDIATE already excludes other writers

    def __init__(self, path: str, busy_timeout: float = _BUSY_TIMEOUT_S) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        parent = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{parent}: {exc.strerror}") from None
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._write_lock = threading.Lock()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all = [self._writer]
        self._all_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            # Autocommit at the driver: transactions are begun and ended here, explicitly.
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        return conn

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, begin: str) -> Iterator[_Session]:
        try:
            conn.execute(begin)
            try:
                yield _Session(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"{self.path}: {exc}") from None

    @contextmanager
    def writing(self) -> Iterator[_Session]:
        with self._write_lock, self._transaction(self._writer, "BEGIN IMMEDIATE") as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
        try:
            # One read transaction: the queries of one request see one snapshot.
            with self._transaction(conn, "BEGIN") as session:
                yield session
        finally:
            self._readers.put(conn)

    def size_bytes(self) -> int:
        total = 0
        for path in (self.path, self.path + "-wal"):
            with contextlib.suppress(OSError):  # no WAL file between checkpoints and closes
                total += os.path.getsize(path)
        return total

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
