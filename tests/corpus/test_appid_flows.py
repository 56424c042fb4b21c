"""Every corpus capture decodes cleanly, and the TCP/UDP flows equal nDPI's, file by file."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fathom.apps.layer import AppLayer
from fathom.capture.pcapfile import open_capture
from fathom.engine import Engine
from tests.corpus.conftest import APPID_CAPTURES, SIG_CAPTURES
from tests.corpus.helpers import analyze
from tests.traffic import ListSink

# A flow line of ndpiReader's output: "\t1\tTCP 1.2.3.4:80 <-> 5.6.7.8:1234 [proto: ...". IPv6
# endpoints are written with or without brackets; the port is always after the last colon.
_NDPI_FLOW = re.compile(r"^\t\d+\t(TCP|UDP) (\S+):(\d+) <?-> (\S+):(\d+) ")

Endpoint = tuple[str, int]
FlowKey = tuple[str, frozenset[Endpoint]]


def _ip(text: str) -> str:
    text = text.strip("[]")
    if text.count("::") == 2:
        # ndpiReader compresses two zero runs ("2600:1900:4160:5999::19::"); the first is one group.
        text = text.replace("::", ":0:", 1)
    return str(ipaddress.ip_address(text))


def ndpi_flows(capture: Path) -> list[FlowKey]:
    expected = capture.with_name(re.sub(r"\.pcapn?g?$", "", capture.name) + ".expected.txt")
    flows = []
    for line in expected.read_text(errors="replace").splitlines():
        m = _NDPI_FLOW.match(line)
        if m:
            proto, a, ap, b, bp = m.groups()
            flows.append((proto, frozenset({(_ip(a), int(ap)), (_ip(b), int(bp))})))
    return flows


@pytest.mark.parametrize("capture", APPID_CAPTURES + SIG_CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_capture_reads_and_decodes_without_error(capture: Path) -> None:
    engine, _, _, error = analyze(capture)
    assert error is None
    assert engine.packets > 0
    errors = {k: v for k, v in engine.counters().items() if k.startswith("decoder.error.") and v}
    assert errors == {}
    assert engine.failures == 0


@pytest.mark.parametrize("capture", APPID_CAPTURES, ids=lambda p: p.name)
def test_tcp_udp_flows_equal_ndpi(capture: Path) -> None:
    _, _, sink, _ = analyze(capture)
    ours = [
        (e["proto"], frozenset({(e["src_ip"], e["src_port"]), (e["dest_ip"], e["dest_port"])}))
        for e in sink.events
        if e["event_type"] == "flow" and e["proto"] in ("TCP", "UDP")
    ]
    expected = ndpi_flows(capture)
    assert Counter(expected) - Counter(ours) == Counter()
    # nDPI never splits a conversation on idleness; we end UDP flows after 60 s without a packet,
    # as Suricata (30 s) and Zeek (60 s) do. Only this conversation has such a pause.
    split = {"syslog.pcap": [("UDP", frozenset({("192.168.121.10", 50080), ("192.168.120.10", 514)}))]}
    assert Counter(ours) - Counter(expected) == Counter(split.get(capture.name, []))


# nDPI's protocol names that Fathom spells otherwise (Suricata's app_proto or nDPI's own alias).
_SAME = {
    "smbv23": {"smb"}, "smbv1": {"smb"}, "mssqltds": {"tds", "mssql"}, "resp": {"redis", "resp"},
    "ftpcontrol": {"ftp"}, "netbios": {"netbios", "nbns", "nbss", "nbdgm"}, "dhcp": {"dhcp", "bootp"},
    "http": {"http", "http1", "http2"},
}  # fmt: skip
_NDPI_PROTO = re.compile(r"^\t\d+\t(TCP|UDP) (\S+):(\d+) <?-> (\S+):(\d+) .*?\[proto: [\d.]+/([^\]]+)\]")
# Flows whose protocol, per nDPI's master protocol, Fathom names otherwise or not at all, by
# nDPI's name: none now. (nDPI's own guesses that Fathom does not make would go here, with why.)
_DISAGREE: dict[str, int] = {}


def run_events(capture: Path) -> list[dict[str, Any]]:
    engine = Engine(layers=[AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(capture)) as reader:
        engine.run(reader)
    engine.finish()
    return sink.events


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def test_protocols_agree_with_ndpi_without_rules() -> None:
    """The app layer alone, as `fathom analyze` runs it without rules, names each flow's protocol as
    nDPI's expected output does, but for the known gaps. (The appid scorer counts one flow fewer:
    it cannot read the IPv6 address nDPI writes as "2600:1900:4160:5999::19::", see ``_ip``.)"""
    disagree: Counter[str] = Counter()
    agree = 0
    for capture in APPID_CAPTURES:
        ours: dict[FlowKey, set[str]] = {}
        for e in run_events(capture):
            if e["event_type"] == "flow" and e["proto"] in ("TCP", "UDP"):
                key = (e["proto"], frozenset({(e["src_ip"], e["src_port"]), (e["dest_ip"], e["dest_port"])}))
                app = e.get("app") or {}
                ours[key] = {_norm(app.get("protocol") or ""), _norm(e.get("app_proto") or "")}
        expected = capture.with_name(re.sub(r"\.pcapn?g?$", "", capture.name) + ".expected.txt")
        for line in expected.read_text(errors="replace").splitlines():
            m = _NDPI_PROTO.match(line)
            if m is None:
                continue
            proto, a, ap, b, bp, name = m.groups()
            master = name.split(".")[0]
            if master == "Unknown":
                continue
            key = (proto, frozenset({(_ip(a), int(ap)), (_ip(b), int(bp))}))
            if ours.get(key, set()) & _SAME.get(_norm(master), {_norm(master)}):
                agree += 1
            else:
                disagree[master] += 1
    assert dict(disagree) == _DISAGREE
    assert agree == 243


# The fingerprints of a flow line of ndpiReader's output, by the names of our events' fields (a weak
# JA3S is followed by " (WEAK)").
_NDPI_FINGERPRINTS = {
    "ja3": re.compile(r"\[JA3C: ([0-9a-f]{32})\]"),
    "ja4": re.compile(r"\[JA4: (\w+)\]"),
    "ja3s": re.compile(r"\[JA3S: ([0-9a-f]{32})[\] ]"),
}
Fingerprints = dict[FlowKey, dict[str, str]]


def ndpi_fingerprints(capture: Path) -> Fingerprints:
    """The JA3, JA4 and JA3S nDPI's expected output gives each flow of ``capture`` that has any."""
    found: Fingerprints = {}
    expected = capture.with_name(re.sub(r"\.pcapn?g?$", "", capture.name) + ".expected.txt")
    for line in expected.read_text(errors="replace").splitlines():
        m = _NDPI_FLOW.match(line)
        if m is None:
            continue
        proto, a, ap, b, bp = m.groups()
        hits = {name: pattern.search(line) for name, pattern in _NDPI_FINGERPRINTS.items()}
        values = {name: hit[1] for name, hit in hits.items() if hit is not None}
        if values:
            found[(proto, frozenset({(_ip(a), int(ap)), (_ip(b), int(bp))}))] = values
    return found


def our_fingerprints(events: list[dict[str, Any]]) -> Fingerprints:
    """The JA3, JA4 and JA3S of each flow's tls event (TLS, DTLS) or quic events (one a side)."""
    found: Fingerprints = {}
    for e in events:
        body = e.get(e["event_type"]) if e["event_type"] in ("tls", "quic") else None
        if body is None:
            continue
        key = (e["proto"], frozenset({(e["src_ip"], e["src_port"]), (e["dest_ip"], e["dest_port"])}))
        values = found.setdefault(key, {})
        for name in ("ja3", "ja3s"):
            if name in body:
                values[name] = body[name]["hash"]
        if "ja4" in body:
            values["ja4"] = body["ja4"]
    return found


_WITH_FINGERPRINTS = [capture for capture in APPID_CAPTURES if ndpi_fingerprints(capture)]


def test_every_flow_ndpi_fingerprints_is_checked() -> None:
    """TLS over TCP, QUIC and DTLS (after STUN) flows: 16 fingerprints of 6 flows."""
    flows = [values for capture in APPID_CAPTURES for values in ndpi_fingerprints(capture).values()]
    assert (len(flows), sum(map(len, flows))) == (6, 16)
    assert [c.name for c in _WITH_FINGERPRINTS] == [
        "443-curl.pcap", "443-git.pcap", "quic-29.pcap", "stun.pcapng", "tls-rdn-extract.pcap",
    ]  # fmt: skip


@pytest.mark.parametrize("capture", _WITH_FINGERPRINTS, ids=lambda p: p.name)
def test_tls_quic_and_dtls_fingerprints_equal_ndpis(capture: Path) -> None:
    """Every JA3, JA4 and JA3S nDPI's expected output gives a flow is the one our tls or quic
    event of that flow has. We may have more: nDPI reads no QUIC ServerHello, so a QUIC flow's
    ja3s has nothing to be compared with."""
    wanted = ndpi_fingerprints(capture)
    ours = our_fingerprints(run_events(capture))
    got = {key: {name: ours.get(key, {}).get(name) for name in values} for key, values in wanted.items()}
    assert got == wanted


@pytest.mark.parametrize("name", ["443-curl.pcap", "443-git.pcap", "tls-rdn-extract.pcap"])
def test_the_application_behind_tls_is_ndpis(name: str) -> None:
    capture = next(c for c in APPID_CAPTURES if c.name == name)
    expected = capture.with_name(re.sub(r"\.pcapn?g?$", "", capture.name) + ".expected.txt").read_text()
    wanted = re.findall(r"\[proto: [\d.]+/TLS\.(\w+)\]", expected)
    got = [e["app"]["application"] for e in run_events(capture) if e["event_type"] == "flow"]
    assert got == wanted != []
