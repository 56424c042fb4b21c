"""Sustained ingestion rate of the manager: alert events through the HTTP API into SQLite and into
PostgreSQL.

    .venv/bin/python bench/manager_ingest.py [--seconds 10] [--batch 500] [--clients 1]
                                             [--backend sqlite|postgresql|all]

For each backend, ``fathom serve`` runs as a process of its own on a fresh store (SQLite: a file in
a temporary directory; PostgreSQL: a durable throwaway server from Debian's binaries, fsync on, as
in production). Each client posts batches of distinct alert events, shaped as a sensor writes them
(endpoints, an http object), one batch after another on a keep-alive connection: a warm-up second,
then ``--seconds`` of measured time. The rate is the events the manager accepted in that time; the
run checks that every event sent was accepted once and that the store holds them all.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and `tests` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import orjson
from tests.manager.pgserver import PostgresServer, PostgresUnavailable
from tests.manager.server import ServeProcess

from fathom.events.timefmt import eve_timestamp

WARMUP_S = 1.0


def _event(n: int, now: float) -> dict[str, Any]:
    pod = f"web-{n % 50}"
    workload = {
        "namespace": "shop",
        "pod": pod,
        "labels": {"app": "web"},
        "node": "node1",
        "interface": "cali1",
    }
    return {
        "timestamp": eve_timestamp(now),
        "flow_id": n,
        "event_type": "alert",
        "src_ip": f"10.0.{n % 250}.{n % 200}",
        "src_port": 30000 + n % 30000,
        "dest_ip": "10.1.0.2",
        "dest_port": 80,
        "proto": "TCP",
        "in_iface": "cali1",
        "community_id": f"1:{n:028d}=",
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": 21562 + n % 20,
            "rev": 6,
            "signature": "MALWARE-CNC Win.Trojan.Bredolab variant outbound connection",
            "category": "A Network Trojan was detected",
            "severity": 1 + n % 4,
        },
        "app_proto": "http",
        "http": {"hostname": "shop.test", "url": f"/index.php?id={n}", "http_user_agent": "Mozilla/4.0"},
        "endpoint": workload,
        "dest_endpoint": workload,
    }


@dataclass
class _Client:
    """One sender: its counts, and the time each measured batch took."""

    url: str
    numbers: itertools.count[int]  # batch numbers, shared by the clients
    batch: int
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)

    def run(self, start: float, stop: float, lock: threading.Lock) -> None:
        # One batch of events, made once; each request gives its events new flow ids (so new
        # content, so new ids) and the time: the sender's cost stays small beside the manager's.
        events = [_event(n, time.time()) for n in range(self.batch)]
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while (now := time.monotonic()) < stop:
                with lock:
                    first = next(self.numbers) * self.batch
                stamp = eve_timestamp(time.time())
                for offset, event in enumerate(events):
                    event["flow_id"] = first + offset
                    event["timestamp"] = stamp
                body = orjson.dumps(events)
                began = time.perf_counter()
                response = http.post(
                    "/api/v1/events", content=body, headers={"Content-Type": "application/json"}
                )
                took = time.perf_counter() - began
                response.raise_for_status()
                if now >= start:
                    result = response.json()
                    self.sent += self.batch
                    self.accepted += result["accepted"]
                    self.duplicates += result["duplicates"]
                    self.latencies.append(took)


@dataclass(frozen=True)
class Result:
    backend: str
    events: int
    seconds: float
    p50_ms: float
    p99_ms: float
    stored: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def measure(backend: str, db: str, seconds: float, batch: int, clients: int) -> Result:
    serve = ServeProcess(["--listen", "127.0.0.1:0", "--db", db, "--retention", "0"])
    try:
        numbers = itertools.count()
        lock = threading.Lock()
        senders = [_Client(serve.url, numbers, batch) for _ in range(clients)]
        start = time.monotonic() + WARMUP_S
        stop = start + seconds
        threads = [threading.Thread(target=s.run, args=(start, stop, lock)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        with httpx.Client(base_url=serve.url) as http:
            metrics = http.get("/metrics").text
        stored = int(
            float(
                next(line for line in metrics.splitlines() if 'store_rows{table="alerts"}' in line).split()[
                    -1
                ]
            )
        )
    finally:
        serve.stop()
    sent = sum(s.sent for s in senders)
    accepted = sum(s.accepted for s in senders)
    if accepted != sent or any(s.duplicates for s in senders):
        raise SystemExit(f"{backend}: {sent} events sent, {accepted} accepted")
    latencies = sorted(t for s in senders for t in s.latencies)
    return Result(
        backend,
        accepted,
        elapsed,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
        stored,
    )


def _row(result: Result) -> str:
    return (
        f"{result.backend:<11} {result.events:>10,} events in {result.seconds:5.1f} s  "
        f"{result.rate:>9,.0f} events/s  batch p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
        f"(store holds {result.stored:,})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per backend (default 10)")
    parser.add_argument("--batch", type=int, default=500, help="events per request (default 500)")
    parser.add_argument("--clients", type=int, default=1, help="concurrent senders (default 1)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args()
    print(
        f"manager ingestion: batches of {args.batch} alert events over HTTP, {args.clients} client(s), "
        f"{args.seconds:g} s per backend after {WARMUP_S:g} s of warm-up"
    )
    if args.backend in ("sqlite", "all"):
        with tempfile.TemporaryDirectory(prefix="fathom-bench-") as tmp:
            print(
                _row(measure("sqlite", f"sqlite://{tmp}/manager.db", args.seconds, args.batch, args.clients))
            )
    if args.backend in ("postgresql", "all"):
        try:
            with PostgresServer(durable=True) as pg:
                url = pg.create_database("bench")
                print(_row(measure("postgresql", url, args.seconds, args.batch, args.clients)))
        except PostgresUnavailable as exc:
            print(f"postgresql: skipped: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
