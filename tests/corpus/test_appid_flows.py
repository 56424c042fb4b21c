"""Every corpus capture decodes cleanly, and the TCP/UDP flows equal nDPI's, file by file."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.corpus.conftest import APPID_CAPTURES, SIG_CAPTURES
from tests.corpus.helpers import analyze

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
