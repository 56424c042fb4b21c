"""The ``fathom analyze`` command: outputs, exit status and one-line errors."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fathom.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo.pcap"


def read_eve(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_analyze_writes_flow_events_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    eve = tmp_path / "eve.json"
    assert main(["analyze", str(DEMO), "--eve", str(eve)]) == 0
    events = read_eve(eve)
    flows = [e for e in events if e["event_type"] == "flow"]
    assert sorted(e["proto"] for e in flows) == ["TCP"] * 3 + ["UDP"] * 8
    # The four HTTP transactions (three on one connection, one on another) are logged too.
    http = [e for e in events if e["event_type"] == "http"]
    assert [(e["tx_id"], e["http"]["url"], e["http"]["status"]) for e in http] == [
        (0, "/index.html", 200),
        (1, "/s/p-000.html", 200),
        (2, "/s/p-001.html", 200),
        (0, "/s/p-002.html", 200),
    ]
    # And the TLS flow's handshake.
    (tls,) = [e["tls"] for e in events if e["event_type"] == "tls"]
    assert (tls["sni"], tls["version"], tls["ja3s"]["string"]) == (
        "secure.bench.fathom.test",
        "TLS 1.3",
        "771,4866,43-51",
    )
    assert tls["ja4"] == "t13d3112ht_e8f1e7e78f70_b26ce05bbdd6"
    # And each of the eight DNS lookups: its query, then its answer.
    dns = [e["dns"]["type"] for e in events if e["event_type"] == "dns"]
    assert dns == ["request", "response"] * 8
    assert len(events) == 11 + 4 + 1 + 16
    err = capsys.readouterr().err
    assert "77 packets" in err
    assert "11 flows" in err
    assert "Capture starts 2026-11-21T20:48:49.679997+0000 and spans 0.1 s" in err
    assert "Top talkers" in err
    assert "Decode errors: none" in err
    # Flows and bytes per application and per category, most bytes first.
    rows = [line.split() for line in err.splitlines() if "│" in line]
    assert [row for row in rows if row[0] in ("HTTP", "TLS", "DNS")] == [
        ["HTTP", "│", "Web", "│", "2", "│", "9,291"],
        ["TLS", "│", "Web", "│", "1", "│", "7,225"],
        ["DNS", "│", "Network", "│", "8", "│", "1,714"],
    ]
    assert [row for row in rows if row[0] in ("Web", "Network")] == [
        ["Web", "│", "3", "│", "16,516"],
        ["Network", "│", "8", "│", "1,714"],
    ]


def test_eve_to_stdout_keeps_stdout_pure_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fathom.cli", "analyze", str(DEMO), "--eve", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    types = [json.loads(line)["event_type"] for line in proc.stdout.splitlines()]
    assert (types.count("flow"), types.count("http"), types.count("dns"), len(types)) == (11, 4, 16, 32)
    assert "77 packets" in proc.stderr


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(DEMO), "--eve", str(tmp_path / "e.json"), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_truncated_capture_keeps_packets_before_damage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = DEMO.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 100])
    eve = tmp_path / "eve.json"
    assert main(["analyze", str(cut), "--eve", str(eve), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    # Cutting 100 bytes drops the last record (82 bytes) and 18 of the 66 data bytes of the one
    # before it, which starts at byte 19490.
    assert err[0] == f"fathom: error: {cut}: truncated packet data (48 of 66 bytes) at byte offset 19490"
    flows = [e for e in read_eve(eve) if e["event_type"] == "flow"]
    # The 75 whole packets before the damage: 4 ARP and 71 IP, all accounted to flows.
    assert sum(e["flow"]["pkts_toserver"] + e["flow"]["pkts_toclient"] for e in flows) == 71


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        (b"", "not a capture file (0 bytes)"),
        (b"hello world, not a pcap", "not a pcap or pcapng file (magic 0x6c6c6568)"),
    ],
)
def test_unreadable_capture_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    assert main(["analyze", str(path)]) == 1
    assert capsys.readouterr().err == f"fathom: error: {path}: {message}\n"


def test_bad_config_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "fathom.yaml"
    config.write_text("engine:\n  stream:\n    overlap_policy: newest\n")
    assert main(["analyze", str(DEMO), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"fathom: error: {config}: engine.stream.overlap_policy: Input should be 'first' or 'last'"
    )
    assert err.count("\n") == 1


def test_config_changes_engine_settings(tmp_path: Path) -> None:
    config = tmp_path / "fathom.yaml"
    config.write_text("engine:\n  udp_ignored: 1\n")
    assert main(["analyze", str(DEMO), "--config", str(config), "--quiet"]) == 1
    config.write_text("engine:\n  flow:\n    udp: {new: 0.000001, established: 300, closed: 30}\n")
    eve = tmp_path / "eve.json"
    assert main(["analyze", str(DEMO), "--config", str(config), "--eve", str(eve), "--quiet"]) == 0
    # Each DNS answer comes more than a microsecond after its query: all 8 UDP flows split in two.
    reasons = sorted((e["proto"], e["flow"]["reason"]) for e in read_eve(eve) if e["event_type"] == "flow")
    assert reasons == [("TCP", "shutdown")] * 3 + [("UDP", "shutdown")] * 8 + [("UDP", "timeout")] * 8


def test_invalid_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "fathom.yaml"
    config.write_text("engine:\n  flow: [\n")
    assert main(["analyze", str(DEMO), "--config", str(config)]) == 1
    assert capsys.readouterr().err.startswith(f"fathom: error: {config}: line 3 invalid YAML")


def test_missing_rules_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.rules"
    assert main(["analyze", str(DEMO), "--rules", str(missing)]) == 1
    assert capsys.readouterr().err == f"fathom: error: {missing}: rules file not found\n"


def test_rules_load_from_the_cache_on_a_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path / "cache"))
    rules = tmp_path / "local.rules"
    rules.write_text('alert udp any any -> any 53 (msg:"dns"; sid:1;)\n')
    analyze = ["analyze", str(DEMO), "--rules", str(rules)]

    def loaded(extra: list[str]) -> str:
        assert main(analyze + extra) == 0
        return next(line for line in capsys.readouterr().err.splitlines() if line.startswith("Rules:"))

    assert loaded(["--no-rule-cache"]).endswith("parsed and compiled")
    assert not (tmp_path / "cache").exists()
    assert loaded([]).endswith("parsed and compiled")
    assert loaded([]).endswith("from the rule cache")
    assert loaded(["--no-rule-cache"]).endswith("parsed and compiled")
    assert len(list((tmp_path / "cache" / "rules").iterdir())) == 1


def test_ipfix_sends_every_flow_to_the_collector(capsys: pytest.CaptureFixture[str]) -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(5)
    port = collector.getsockname()[1]
    assert main(["analyze", str(DEMO), "--ipfix", f"127.0.0.1:{port}", "-q"]) == 0
    message = collector.recv(65535)
    collector.close()
    version, length, _, sequence, domain = struct.unpack_from("!HHIII", message)
    assert (version, length, sequence, domain) == (10, len(message), 0, 1)
    assert main(["analyze", str(DEMO), "--ipfix", "collector", "-q"]) == 1
    assert capsys.readouterr().err == "fathom: error: --ipfix collector: want HOST:PORT\n"
