"""What only PostgreSQL has: ``fathom serve --db postgresql://``, a server restart under a running
store, migrations and ingestion racing from several connections, and the database's size."""

from __future__ import annotations

import threading

import httpx
import psycopg
import pytest

from fathom.manager.rows import event_id
from fathom.manager.schema import LATEST
from fathom.manager.serve import open_store
from fathom.manager.store import AlertFilter, Ingested, StoreError
from tests.manager import eve
from tests.manager.pgserver import PostgresServer
from tests.manager.server import ServeProcess, run_serve


def test_fathom_serve_on_postgresql(pg_url: str) -> None:
    serve = ServeProcess(["--listen", "127.0.0.1:0", "--db", pg_url])
    try:
        events = [eve.alert(1, 1), eve.alert(2, 2), eve.flow(3)]
        with httpx.Client(base_url=serve.url) as http:
            assert http.post("/api/v1/events", json=events).json() == {
                "accepted": 3,
                "duplicates": 0,
                "suppressed": 0,
                "rejected": 0,
            }
            items = http.get("/api/v1/alerts").json()["items"]
            assert [i["id"] for i in items] == [event_id(events[1]), event_id(events[0])]
            metrics = http.get("/metrics").text
            assert 'fathom_manager_store_rows{table="alerts"} 2.0' in metrics
    finally:
        serve.stop()
    assert serve.process.returncode == 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version, name FROM schema_version").fetchall() == [
            (1, "alerts, flows, protocol events, suppressions, sensors")
        ]


def test_fathom_serve_with_no_database_server(pg_server: PostgresServer) -> None:
    result = run_serve(["--listen", "127.0.0.1:0", "--db", pg_server.url("no_such_database")])
    assert result.returncode == 1
    assert result.stderr.startswith("fathom: error: serve: --db: PostgreSQL: ")
    assert result.stderr.count("\n") == 1
    assert "no_such_database" in result.stderr


def test_a_store_outlives_a_server_restart() -> None:
    with PostgresServer() as pg:
        store = open_store(pg.create_database("restart"))
        assert store.ingest([eve.alert(1)]).accepted == 1
        # Several idle connections, all of which the restart breaks.
        threads = [threading.Thread(target=store.alerts, args=(AlertFilter(), 10)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pg.restart()
        # The first session finds its connection dead and says so; the store then reconnects.
        with pytest.raises(StoreError, match="PostgreSQL"):
            store.ingest([eve.alert(2)])
        assert store.ingest([eve.alert(2)]).accepted == 1
        assert store.ingest([eve.alert(1), eve.alert(3)]).accepted == 1
        assert store.row_counts()["alerts"] == 3
        store.close()


def test_migrations_and_ingestion_race_safely(pg_url: str) -> None:
    stores = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(open_store(pg_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    openers = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in openers:
        thread.start()
    for thread in openers:
        thread.join()
    assert errors == [] and len(stores) == 4
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*), MAX(version) FROM schema_version").fetchone() == (1, LATEST)
    # The same batches from four managers at once: each event is stored once, counted once.
    batch = [eve.alert(n, n) for n in range(500)]
    results: list[Ingested] = []

    def send(store_index: int) -> None:
        results.append(stores[store_index].ingest(batch))  # list.append is atomic

    senders = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert sum(r.accepted for r in results) == 500
    assert sum(r.duplicates for r in results) == 1500
    assert stores[0].row_counts()["alerts"] == 500
    for store in stores:
        store.close()


def test_store_size_is_the_databases(pg_url: str) -> None:
    store = open_store(pg_url)
    with psycopg.connect(pg_url) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert size is not None and abs(store.size_bytes() - size[0]) < 1024 * 1024
    store.close()
