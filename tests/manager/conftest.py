"""Fixtures for the manager's tests: a real PostgreSQL server for the session (skipped, with the
reason, where Debian's binaries are missing), and a store on each backend."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from fathom.manager.serve import open_store
from fathom.manager.store import Store
from tests.manager.pgserver import PostgresServer, PostgresUnavailable

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A new, empty database on the session's server."""
    return pg_server.create_database(f"t{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's URL, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'manager.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    yield opened
    opened.close()
