"""Transport checksums: verified as Snort verifies them, and a packet with a wrong one is not
shown to rules (its flow still counts it, and its data still reaches reassembly)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from fathom.config import EngineConfig
from fathom.decode.checksum import checksum_ok
from fathom.decode.decoder import Decoder
from fathom.decode.defrag import Defragmenter
from fathom.decode.packet import Packet
from fathom.engine import Engine
from fathom.rules.detect import detection
from fathom.rules.index import RuleIndex
from fathom.rules.loader import load_ruleset
from tests.traffic import ListSink


def decoded(frame: bytes) -> Packet:
    pkt = Packet()
    assert Decoder(Defragmenter(16, 60.0, 1 << 20)).decode(frame, 0, len(frame), 1, pkt)
    return pkt


V4 = IP(src="10.0.0.1", dst="10.0.0.2")
V6 = IPv6(src="fd00::1", dst="fd00::2")
# Each transport (odd and even lengths), with the offset of its checksum in the frame.
TRANSPORTS = {
    "tcp4": (V4 / TCP(sport=4000, dport=80, flags="PA") / b"odd", 14 + 20 + 16),
    "udp4": (V4 / UDP(sport=4000, dport=53) / b"even", 14 + 20 + 6),
    "icmp4": (V4 / ICMP() / b"ping!", 14 + 20 + 2),
    "tcp6": (V6 / TCP(sport=4000, dport=80) / (b"x" * 1001), 14 + 40 + 16),
    "udp6": (V6 / UDP(sport=4000, dport=53) / b"v6", 14 + 40 + 6),
    "icmp6": (V6 / ICMPv6EchoRequest(data=b"ping"), 14 + 40 + 2),
}


@pytest.mark.parametrize("name", TRANSPORTS)
def test_right_and_wrong_checksums(name: str) -> None:
    transport, at = TRANSPORTS[name]
    frame = bytearray(bytes(Ether() / transport))
    assert checksum_ok(decoded(bytes(frame)))
    frame[at] ^= 0x01
    assert not checksum_ok(decoded(bytes(frame)))


def test_an_ipv4_udp_checksum_of_zero_means_none() -> None:
    assert checksum_ok(decoded(bytes(Ether() / V4 / UDP(chksum=0) / b"abc")))
    assert not checksum_ok(decoded(bytes(Ether() / V6 / UDP(chksum=0) / b"abc")))


@pytest.mark.parametrize("verify", [True, False])
def test_rules_do_not_see_a_packet_with_a_wrong_checksum(tmp_path: Path, verify: bool) -> None:
    rules = tmp_path / "test.rules"
    rules.write_text('alert udp any any -> any 69 (msg:"tftp get"; content:"|00 01|",depth 2; sid:1;)\n')
    engine = Engine(EngineConfig(verify_checksums=verify), [detection(RuleIndex(load_ruleset([str(rules)])))])
    sink = ListSink()
    engine.add_sink(sink)
    for sport, checksum in ((1000, 0x1234), (1001, None)):
        frame = bytes(
            Ether()
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=sport, dport=69, chksum=checksum)
            / b"\x00\x01a"
        )
        engine.feed(frame, 0, len(frame), len(frame), 1.0, 1)
    engine.finish()
    alerts = [e["src_port"] for e in sink.events if e["event_type"] == "alert"]
    flows = sorted(e["src_port"] for e in sink.events if e["event_type"] == "flow")
    assert alerts == ([1001] if verify else [1000, 1001])
    assert flows == [1000, 1001]
    assert engine.counters().get("checksum.bad.udp", 0) == (1 if verify else 0)


def test_a_packet_captured_short_is_not_checked(tmp_path: Path) -> None:
    engine = Engine(EngineConfig())
    frame = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / (b"z" * 100))
    engine.feed(frame, 0, 60, len(frame), 1.0, 1)
    assert engine.counters().get("checksum.bad.udp", 0) == 0
