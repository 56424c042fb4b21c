"""The PostgreSQL store, through psycopg 3: a small pool of connections, one transaction per session.

The store's SQL uses ``?`` placeholders; psycopg's are ``%s``, and a literal ``%`` (the modulo in
the histogram) must be doubled for it. A connection that broke (the server restarted) is dropped
from the pool, and the next session opens a new one, so the manager outlives a database restart.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from fathom.manager.store import StoreError

# PostgreSQL's protocol counts parameters in 16 bits.
_MAX_PARAMS = 65_535
_POOL_SIZE = 8
_CONNECT_TIMEOUT_S = 10
# Any constant will do: it names the lock migrations take, for this application alone.
_MIGRATION_LOCK_KEY = 0x66_61_74_68  # "fath"


@functools.lru_cache(maxsize=256)
def _psycopg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Session:
    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(_psycopg_sql(sql), params)
        return cursor.fetchall() if cursor.description is not None else []


class PostgresBackend:
    dialect: str = "postgresql"
    max_params: int = _MAX_PARAMS
    migration_lock: str | None = f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})"

    def __init__(self, url: str, pool_size: int = _POOL_SIZE) -> None:
        self.url = url
        self._idle: queue.LifoQueue[psycopg.Connection[tuple[Any, ...]]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._idle.put(self._connect())  # fail now, at start, on a wrong URL

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {_first_line(exc)}") from None

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                with conn.transaction():
                    yield _Session(conn)
            except psycopg.OperationalError as exc:
                # The server went away (a restart): the idle connections are as dead as this one.
                self.close()
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from None
            finally:
                if conn.closed or conn.broken:
                    conn.close()
                else:
                    self._idle.put(conn)

    # PostgreSQL needs no single writer: concurrent batches are serialized by the rows they touch.
    writing = reading

    def size_bytes(self) -> int:
        with self.reading() as s:
            return int(s.execute("SELECT pg_database_size(current_database())")[0][0])

    def close(self) -> None:
        """Close the idle connections (those in use close as their sessions end, if broken)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
