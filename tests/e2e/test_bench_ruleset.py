"""The runner with a ruleset, end to end on a capture of a few packets and a one-rule ruleset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.paths import fathom_binary
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from tests.pcapbuild import pcap

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(fathom_binary() is None, reason="needs .venv/bin/fathom or fathom on PATH")
def test_runner_measures_start_ups_and_checks_a_ruleset(tmp_path: Path) -> None:
    capture = tmp_path / "dns.pcap"
    query = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53) / b"query"
    capture.write_bytes(pcap([(1_700_000_000, n, bytes(query)) for n in range(3)]))
    rules = tmp_path / "one.rules"
    rules.write_text('alert udp any any -> any 53 (msg:"dns"; sid:1;)\n')
    out = tmp_path / "bench.json"
    argv = ["--pcap", str(capture), "--rules", str(rules), "--repeat", "1", "--no-peers", "--json", str(out)]
    # The runner keeps the rule caches in its own temporary directory, never the user's.
    user_cache = tmp_path / "xdg"
    env = {k: v for k, v in os.environ.items() if k != "FATHOM_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(user_cache)
    cmd = [sys.executable, "-m", "bench.run", *argv]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "steady packets/s" in run.stdout
    assert not user_cache.exists()
    document = json.loads(out.read_text())
    (startup,) = document["ruleset"]["startups"]
    assert startup["tool"] == "fathom" and startup["error"] is None
    assert startup["cold"]["seconds"] > 0 and startup["warm"]["seconds"] > 0
    assert document["ruleset"]["rules"] == str(rules)
    assert [c["name"] for c in document["checks"]] == [
        "dns.pcap packets/s with start-up (fathom)",
        "dns.pcap steady packets/s (fathom)",
        "dns.pcap peak RSS (fathom)",
    ]
