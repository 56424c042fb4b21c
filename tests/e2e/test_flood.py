"""The synthetic flood capture: exact counts, well-formed packets, and one EVE flow event per flow.

The pcap is parsed here with struct alone, so the generator is checked independently of fathom's
reader; checksums are recomputed by scapy.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bench import checks, flood
from bench.generate import ensure_captures
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from fathom.config import FlowConfig

ROOT = Path(__file__).resolve().parents[2]
FLOWS = 2_000
TCP_PROTO = 6
UDP_PROTO = 17
SYN = 0x02
RST_ACK = 0x14
QR = 0x8000  # the DNS header flag of responses
CLIENTS = ipaddress.IPv4Network("10.64.0.0/10")

FiveTuple = tuple[str, int, str, int, int]


@dataclass(frozen=True)
class Packet:
    ts_us: int
    frame: bytes

    @property
    def ip(self) -> bytes:
        return self.frame[14:]

    @property
    def l4(self) -> bytes:
        return self.ip[20:]

    @property
    def proto(self) -> int:
        return self.ip[9]

    @property
    def src(self) -> str:
        return str(ipaddress.IPv4Address(self.ip[12:16]))

    @property
    def dst(self) -> str:
        return str(ipaddress.IPv4Address(self.ip[16:20]))

    @property
    def ports(self) -> tuple[int, int]:
        sport, dport = struct.unpack_from("!HH", self.l4)
        return sport, dport

    @property
    def to_server(self) -> bool:
        return ipaddress.IPv4Address(self.src) in CLIENTS

    def tuple(self) -> FiveTuple:
        """The 5-tuple seen from the client, whichever direction the packet goes."""
        sport, dport = self.ports
        if self.to_server:
            return self.src, sport, self.dst, dport, self.proto
        return self.dst, dport, self.src, sport, self.proto


def read_pcap(path: Path) -> list[Packet]:
    data = path.read_bytes()
    magic, major, minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)  # microseconds, Ethernet
    packets = []
    pos = 24
    while pos < len(data):
        sec, usec, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        assert caplen == wirelen and usec < 1_000_000
        packets.append(Packet(sec * 1_000_000 + usec, data[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    assert pos == len(data)
    return packets


@dataclass(frozen=True)
class Generated:
    cache: Path
    packets: list[Packet]
    entry: dict[str, Any]

    @property
    def pcap(self) -> Path:
        return self.cache / "flood.pcap"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    cache = tmp_path_factory.mktemp("cache")
    cmd = [
        sys.executable,
        "-m",
        "bench.generate",
        "--capture",
        "flood",
        "--flows",
        str(FLOWS),
        "--cache",
        str(cache),
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=120)
    entry = json.loads((cache / "manifest.json").read_text())["captures"]["flood"]
    return Generated(cache, read_pcap(cache / "flood.pcap"), entry)


def exchanges(packets: list[Packet]) -> Iterator[tuple[Packet, Packet]]:
    """(request, answer) of every flow, matched by 5-tuple."""
    requests = {p.tuple(): p for p in packets if p.to_server}
    answers = {p.tuple(): p for p in packets if not p.to_server}
    assert requests.keys() == answers.keys()
    for key, request in requests.items():
        yield request, answers[key]


def test_manifest_counts_are_exact(generated: Generated) -> None:
    entry, packets = generated.entry, generated.packets
    assert entry["flows"] == FLOWS
    assert entry["packets"] == len(packets) == 2 * FLOWS
    assert entry["bytes"] == sum(len(p.frame) for p in packets)
    assert entry["max_caplen"] == max(len(p.frame) for p in packets)
    assert entry["file_bytes"] == generated.pcap.stat().st_size
    assert entry["generator_version"] == flood.VERSION
    assert entry["tcp_flows"] + entry["dns_queries"] == FLOWS
    assert 0.4 * FLOWS < entry["tcp_flows"] < 0.6 * FLOWS


def test_every_flow_has_its_own_five_tuple(generated: Generated) -> None:
    requests = [p for p in generated.packets if p.to_server]
    assert len(requests) == FLOWS
    assert len({p.tuple() for p in generated.packets}) == FLOWS
    assert len({p.src for p in requests}) > 0.99 * FLOWS
    assert 100 < len({p.dst for p in requests}) <= flood.SERVERS


def test_headers_and_lengths(generated: Generated) -> None:
    for p in generated.packets:
        assert p.frame[12:14] == b"\x08\x00" and p.ip[0] == 0x45  # IPv4 without options
        total_length, flags_fragment, ttl = struct.unpack_from("!H2xHB", p.ip, 2)
        assert total_length == len(p.ip) and flags_fragment == 0x4000  # don't fragment
        assert ttl == 64 if not p.to_server else 40 <= ttl <= 253
        if p.proto == UDP_PROTO:
            assert struct.unpack_from("!H", p.l4, 4)[0] == len(p.l4)
        else:
            assert p.proto == TCP_PROTO and (p.l4[12] >> 4) * 4 == len(p.l4)


def test_each_syn_is_answered_by_an_rst_ack(generated: Generated) -> None:
    pairs = [(q, a) for q, a in exchanges(generated.packets) if q.proto == TCP_PROTO]
    assert len(pairs) == generated.entry["tcp_flows"]
    for syn, rst in pairs:
        seq, syn_ack, syn_flags, window = struct.unpack_from("!II xB H", syn.l4, 4)
        rst_seq, ack, rst_flags, rst_window = struct.unpack_from("!II xB H", rst.l4, 4)
        assert (syn_flags, syn_ack) == (SYN, 0) and window in flood.SYN_WINDOWS
        assert (rst_flags, rst_seq, rst_window) == (RST_ACK, 0, 0)
        assert ack == (seq + 1) % 2**32
        assert 50 <= rst.ts_us - syn.ts_us <= 200


def question_end(message: bytes) -> int:
    pos = 12
    while message[pos]:
        pos += 1 + message[pos]
    return pos + 5  # the root label, QTYPE and QCLASS


def test_dns_responses_match_their_queries(generated: Generated) -> None:
    pairs = [(q, a) for q, a in exchanges(generated.packets) if q.proto == UDP_PROTO]
    assert len(pairs) == generated.entry["dns_queries"]
    ids = set()
    for query, response in pairs:
        assert query.ports[1] == 53 and response.ports[0] == 53
        q, r = query.l4[8:], response.l4[8:]
        qid, qflags, qd, an, ns, ar = struct.unpack_from("!6H", q)
        rid, rflags, rqd, ran, rns, rar = struct.unpack_from("!6H", r)
        assert rid == qid and not qflags & QR and rflags & QR
        assert rflags & 0xF == 0  # no error
        assert (qd, an, ns, ar, rqd, ran, rns, rar) == (1, 0, 0, 0, 1, 1, 0, 0)
        end = question_end(q)
        assert end == len(q) and r[12:end] == q[12:end]  # the response repeats the question
        assert struct.unpack_from("!HHHIH", r, end) == (0xC00C, 1, 1, flood.ANSWER_TTL, 4)
        assert len(r) == end + 16
        ids.add(qid)
    assert len(ids) > 0.9 * len(pairs)  # random ids: few repeats


def test_checksums_are_valid(generated: Generated) -> None:
    """scapy recomputes each checksum from scratch; the rebuilt frame must equal the generated one."""
    sample = generated.packets[::10]
    assert {p.proto for p in sample} == {TCP_PROTO, UDP_PROTO}
    for p in sample:
        rebuilt = Ether(p.frame)
        del rebuilt[IP].chksum
        del rebuilt[TCP if p.proto == TCP_PROTO else UDP].chksum
        assert bytes(rebuilt) == p.frame


def test_timestamps_rise_steadily_over_the_span(generated: Generated) -> None:
    stamps = [p.ts_us for p in generated.packets]
    assert stamps == sorted(stamps)
    assert stamps[0] >= flood.START_US
    span = (stamps[-1] - stamps[0]) / 1e6
    expected = FLOWS / flood.FLOWS_PER_SECOND
    assert expected * 0.99 < span < expected * 1.01
    # No stretch of the capture is empty: the rate is steady, not bursty.
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) < 4 * 1_000_000 // flood.FLOWS_PER_SECOND


def test_generation_is_deterministic(generated: Generated, tmp_path: Path) -> None:
    again = tmp_path / "again.pcap"
    flood.write_flood(again, FLOWS)
    assert again.read_bytes() == generated.pcap.read_bytes()


def test_cache_is_kept_for_the_same_size_and_remade_for_another(tmp_path: Path) -> None:
    pcap = tmp_path / "flood.pcap"
    ensure_captures(["flood"], tmp_path, flows=10)
    first = pcap.stat().st_mtime_ns
    ensure_captures(["flood"], tmp_path, flows=10)
    assert pcap.stat().st_mtime_ns == first
    manifest = ensure_captures(["flood"], tmp_path, flows=20)
    assert manifest["captures"]["flood"]["packets"] == 40 == len(read_pcap(pcap))


def test_only_the_real_captures_need_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert ensure_captures(["flood"], tmp_path, flows=10)["captures"]["flood"]["flows"] == 10
    with pytest.raises(SystemExit, match="small needs root"):
        ensure_captures(["small"], tmp_path)


def test_count_flow_events_across_read_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "READ_SIZE", 7)  # every event straddles a block boundary
    eve = tmp_path / "eve.json"
    lines = [f'{{"event_type":"flow","n":{n}}}' for n in range(50)] + ['{"event_type":"alert"}']
    eve.write_text("\n".join(lines) + "\n")
    assert checks.count_flow_events(eve) == 50


def analyze(pcap: Path, eve: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "fathom.cli", "analyze", str(pcap), "--eve", str(eve), "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_fathom_writes_one_flow_event_per_flow(generated: Generated, tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    run = analyze(generated.pcap, eve)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in eve.read_text().splitlines()]
    flows = [e for e in events if e["event_type"] == "flow"]
    assert len(flows) == FLOWS
    keys = {(e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"], e["proto"]) for e in flows}
    assert len(keys) == FLOWS


def run_bench(cache: Path, out: Path, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.run", "--cache", str(cache), "--capture", "flood", "--repeat", "1",
           "--no-peers", "--json", str(out), *extra]  # fmt: skip
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "EVE flow events on flood" in run.stdout
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_runner_reports_the_flood_checks(generated: Generated, tmp_path: Path) -> None:
    report = run_bench(generated.cache, tmp_path / "bench.json")
    by_name = {c["name"]: c for c in report["checks"]}
    events = by_name["EVE flow events on flood (fathom)"]
    assert (events["value"], events["target"], events["ok"]) == (FLOWS, FLOWS, True)
    assert by_name["peak RSS on flood (fathom)"]["target"] == FlowConfig().memcap / 2**20 + 100
    assert "flood/flows packets/s (fathom)" not in by_name  # flows was not measured
    assert report["baseline"] is None


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_runner_measures_a_baseline_commit(generated: Generated, tmp_path: Path) -> None:
    report = run_bench(generated.cache, tmp_path / "bench.json", "--baseline", "HEAD")
    tool = report["baseline"]["tool"]
    assert tool.startswith("fathom@") and report["baseline"]["commit"].startswith(tool[7:])
    (row,) = [r for r in report["results"] if r["tool"] == tool]
    assert row["error"] is None and row["fathom_to_peer_pps"] > 0
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True)
    assert "fathom-baseline-" not in worktrees.stdout  # the temporary checkout is gone
