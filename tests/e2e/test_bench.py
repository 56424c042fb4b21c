"""The benchmark works end to end: real traffic between namespaces, then the runner on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fathom.capture.pcapfile import open_capture
from fathom.engine import Engine
from tests.traffic import ListSink

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "tcpdump", "curl", "dig")),
    reason="needs root, iproute2, tcpdump, curl and dig",
)


def test_small_capture_generation_and_runner(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    subprocess.run(
        [sys.executable, "-m", "bench.generate", "--capture", "small", "--cache", str(cache)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    capture = cache / "small.pcap"
    manifest = json.loads((cache / "manifest.json").read_text())["captures"]["small"]

    # The small mix: 3 TCP connections (HTTP, keep-alive HTTP, TLS) and 8 DNS lookups.
    engine = Engine()
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(capture)) as reader:
        engine.run(reader)
        engine.finish()
        assert reader.error is None
    assert engine.packets == manifest["packets"]
    protos = sorted((e["proto"], e["dest_port"]) for e in sink.events)
    assert protos == [("TCP", 80), ("TCP", 443), ("TCP", 8080)] + [("UDP", 53)] * 8
    assert all(e["flow"]["pkts_toclient"] > 0 for e in sink.events)
    assert engine.flows.stream_stats.gaps == 0

    out = tmp_path / "bench.json"
    again = tmp_path / "again.pcap"
    again.write_bytes(capture.read_bytes())
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--pcap",
            str(capture),
            "--pcap",
            str(again),
            "--repeat",
            "2",
            "--no-peers",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "packets/s" in run.stdout
    # Runs go in rounds, every capture once per round, so drift in the machine's speed is shared.
    runs = [line.split()[1] for line in run.stderr.splitlines() if line.startswith("  fathom ")]
    assert runs == ["small.pcap:", "again.pcap:", "small.pcap:", "again.pcap:"]
    results = json.loads(out.read_text())
    rows = results["results"] if isinstance(results, dict) else results
    (row, _again) = [r for r in rows if r["tool"] == "fathom"]
    assert row["packets"] == manifest["packets"]
    assert row["packets_per_second"] > 0
