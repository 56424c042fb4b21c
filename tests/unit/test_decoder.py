"""Decoder: exact fields for every link type, encapsulation and transport; malformed input by reason."""

from __future__ import annotations

import mmap
import random
import re
import socket
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scapy.all import (
    AH,
    ARP,
    GRE,
    ICMP,
    IP,
    SCTP,
    TCP,
    UDP,
    VXLAN,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    ICMPv6EchoRequest,
    IPOption_Router_Alert,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PPPoE,
    Raw,
    SCTPChunkData,
    fragment,
    fragment6,
)
from scapy.all import PPP as ScapyPPP
from scapy.contrib.mpls import MPLS

import fathom.decode.decoder as decoder_module
from fathom.decode.decoder import (
    MAX_TUNNEL_DEPTH,
    MAX_VLAN_LAYERS,
    SUPPORTED_LINKTYPES,
    Decoder,
    parse_tcp_options,
)
from fathom.decode.packet import TH_ACK, TH_PSH, TH_SYN, Packet, vlan_ids

A4, B4 = "192.0.2.1", "198.51.100.2"
O4, P4 = "203.0.113.1", "203.0.113.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
DATA = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def addr(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def eth(**kw: Any) -> Any:
    return Ether(**{"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02", **kw})


def dot1q(ids: list[int], inner: Any) -> Any:
    """``inner`` under one 802.1Q tag per id, outermost first."""
    for vid in reversed(ids):
        inner = Dot1Q(vlan=vid) / inner
    return inner


def tcp4(src: str = A4, dst: str = B4, data: bytes = DATA) -> Any:
    return IP(src=src, dst=dst, ttl=61) / TCP(sport=40000, dport=80, flags="PA", seq=1000, ack=2000) / data


def tcp6(src: str = A6, dst: str = B6, data: bytes = DATA) -> Any:
    return IPv6(src=src, dst=dst, hlim=62) / TCP(sport=40000, dport=80, flags="PA", seq=1000, ack=2000) / data


def udp4(src: str = A4, dst: str = B4, data: bytes = DATA) -> Any:
    return IP(src=src, dst=dst) / UDP(sport=5353, dport=53) / data


def udp6(src: str = A6, dst: str = B6, data: bytes = DATA) -> Any:
    return IPv6(src=src, dst=dst) / UDP(sport=5353, dport=53) / data


def run(
    frame: bytes,
    linktype: int = 1,
    decoder: Decoder | None = None,
    *,
    lead: int = 3,
    trail: bytes = b"\xee" * 5,
) -> tuple[bool, Packet, Decoder]:
    """Decode ``frame`` placed inside a larger buffer, as it sits inside a capture file's mmap."""
    d = decoder if decoder is not None else Decoder()
    pkt = Packet()
    pkt.ts = 10.0
    ok = d.decode(b"\xaa" * lead + frame + trail, lead, len(frame), linktype, pkt)
    return ok, pkt, d


def summary(pkt: Packet) -> dict[str, object]:
    return {
        "ip_version": pkt.ip_version,
        "src": pkt.src,
        "dst": pkt.dst,
        "proto": pkt.proto,
        "sport": pkt.sport,
        "dport": pkt.dport,
        "payload": bytes(pkt.payload()),
    }


def expect(
    version: int, src: str, dst: str, proto: int, sport: int, dport: int, payload: bytes
) -> dict[str, object]:
    return {
        "ip_version": version,
        "src": addr(src),
        "dst": addr(dst),
        "proto": proto,
        "sport": sport,
        "dport": dport,
        "payload": payload,
    }


TCP4 = expect(4, A4, B4, 6, 40000, 80, DATA)
TCP6 = expect(6, A6, B6, 6, 40000, 80, DATA)
UDP4 = expect(4, A4, B4, 17, 5353, 53, DATA)
UDP6 = expect(6, A6, B6, 17, 5353, 53, DATA)


def assert_clean(ok: bool, pkt: Packet, d: Decoder, expected: dict[str, object]) -> None:
    assert ok is True
    assert summary(pkt) == expected
    assert d.errors == Counter()
    assert d.non_ip == Counter()


def assert_tcp_header(pkt: Packet) -> None:
    assert (pkt.seq, pkt.ack, pkt.tcp_flags, pkt.window) == (1000, 2000, TH_PSH | TH_ACK, 8192)
    assert (pkt.tcp_opts_len, pkt.payload_len) == (0, len(DATA))


# --- link types ---------------------------------------------------------------------------------

V4, V6 = bytes(tcp4()), bytes(tcp6())

LINK_CASES = [
    ("ethernet-v4", 1, bytes(eth() / tcp4()), TCP4),
    ("ethernet-v6", 1, bytes(eth() / tcp6()), TCP6),
    ("null-le-v4", 0, struct.pack("<I", 2) + V4, TCP4),
    ("null-be-v4", 0, struct.pack(">I", 2) + V4, TCP4),
    *[(f"null-le-af{af}", 0, struct.pack("<I", af) + V6, TCP6) for af in (10, 24, 28, 30)],
    *[(f"null-be-af{af}", 0, struct.pack(">I", af) + V6, TCP6) for af in (10, 24, 28, 30)],
    ("loop-v4", 108, struct.pack(">I", 2) + V4, TCP4),
    ("loop-v6", 108, struct.pack(">I", 24) + V6, TCP6),
    *[(f"raw{lt}-v4", lt, V4, TCP4) for lt in (101, 12, 14, 228)],
    *[(f"raw{lt}-v6", lt, V6, TCP6) for lt in (101, 12, 14, 229)],
    ("sll-v4", 113, bytes(CookedLinux(pkttype=4) / tcp4()), TCP4),
    ("sll-v6", 113, bytes(CookedLinux(pkttype=0) / tcp6()), TCP6),
    ("sll-vlan", 113, bytes(CookedLinux() / Dot1Q(vlan=5) / tcp4()), TCP4),
    ("sll2-v4", 276, bytes(CookedLinuxV2(ifindex=3) / tcp4()), TCP4),
    ("sll2-v6", 276, bytes(CookedLinuxV2() / tcp6()), TCP6),
    ("sll2-qinq", 276, bytes(CookedLinuxV2(proto=0x88A8) / Dot1AD(vlan=1) / Dot1Q(vlan=2) / tcp6()), TCP6),
    ("chdlc-v4", 104, b"\x0f\x00\x08\x00" + V4, TCP4),
    ("chdlc-bcast-v6", 104, b"\x8f\x00\x86\xdd" + V6, TCP6),
]


@pytest.mark.parametrize(
    ("linktype", "frame", "expected"), [c[1:] for c in LINK_CASES], ids=[c[0] for c in LINK_CASES]
)
def test_link_types(linktype: int, frame: bytes, expected: dict[str, object]) -> None:
    ok, pkt, d = run(frame, linktype)
    assert_clean(ok, pkt, d, expected)
    assert_tcp_header(pkt)
    assert pkt.ttl == (61 if expected["ip_version"] == 4 else 62)
    assert pkt.payload_off == 3 + len(frame) - len(DATA)


def test_every_supported_linktype_is_covered() -> None:
    assert {c[1] for c in LINK_CASES} == set(SUPPORTED_LINKTYPES)


def test_decode_reads_only_its_slice() -> None:
    # The same bytes at offset 0 with nothing around them.
    frame = bytes(eth() / tcp4())
    d, pkt = Decoder(), Packet()
    assert d.decode(frame, 0, len(frame), 1, pkt) is True
    assert summary(pkt) == TCP4
    assert pkt.buf is frame
    assert pkt.payload_off == len(frame) - len(DATA)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "mmap"])
def test_buffer_types(kind: str) -> None:
    frames = [bytes(eth() / f) for f in fragment(udp4(data=BIG), fragsize=400)]
    frames.append(struct.pack(">I", 2) + bytes(tcp4()))
    blob = b"".join(frames)
    mapped = mmap.mmap(-1, len(blob))
    mapped.write(blob)
    buf: Any = {"bytes": blob, "bytearray": bytearray(blob), "memoryview": memoryview(blob), "mmap": mapped}[
        kind
    ]
    d, pkt = Decoder(), Packet()
    off = 0
    results: list[object] = []
    for frame, linktype in zip(frames, [1, 1, 0], strict=True):
        results.append(d.decode(buf, off, len(frame), linktype, pkt))
        if results[-1]:
            results.append(summary(pkt))
        off += len(frame)
    assert results == [False, True, UDP4 | {"payload": BIG}, True, TCP4]
    mapped.close()


def test_packet_is_reused() -> None:
    d, pkt = Decoder(), Packet()
    first = bytes(eth() / tcp4())
    second = bytes(eth(type=0x86DD) / udp6())
    assert d.decode(first, 0, len(first), 1, pkt) is True
    assert d.decode(second, 0, len(second), 1, pkt) is True
    assert summary(pkt) == UDP6
    assert (pkt.tcp_flags, pkt.vlan) == (0, 0)


# --- Ethernet encapsulations --------------------------------------------------------------------


def test_vlan() -> None:
    ok, pkt, d = run(bytes(eth() / Dot1Q(vlan=100, prio=5) / tcp4()))
    assert_clean(ok, pkt, d, TCP4)
    assert vlan_ids(pkt.vlan) == [100]
    assert pkt.vlan == 0x1000 | 100


def test_vlan_priority_tag_is_id_zero() -> None:
    ok, pkt, d = run(bytes(eth() / Dot1Q(vlan=0) / tcp6()))
    assert_clean(ok, pkt, d, TCP6)
    assert vlan_ids(pkt.vlan) == [0]


@pytest.mark.parametrize("outer_type", [0x88A8, 0x9100, 0x8100])
def test_qinq(outer_type: int) -> None:
    ok, pkt, d = run(bytes(eth(type=outer_type) / Dot1Q(vlan=10) / Dot1Q(vlan=4095) / udp4()))
    assert_clean(ok, pkt, d, UDP4)
    assert vlan_ids(pkt.vlan) == [10, 4095]
    assert pkt.vlan == ((0x1000 | 10) << 13) | 0x1000 | 4095


def test_qinq_dot1ad() -> None:
    ok, pkt, d = run(bytes(eth() / Dot1AD(vlan=7) / Dot1Q(vlan=8) / Dot1Q(vlan=9) / tcp4()))
    assert_clean(ok, pkt, d, TCP4)
    assert vlan_ids(pkt.vlan) == [7, 8, 9]


def test_vlan_stack_up_to_the_limit() -> None:
    assert MAX_VLAN_LAYERS == 3
    ok, pkt, d = run(bytes(eth() / dot1q([1, 2, 3], tcp4())))
    assert_clean(ok, pkt, d, TCP4)
    assert vlan_ids(pkt.vlan) == [1, 2, 3]


def test_vlan_stack_deeper_than_the_limit_stops_decoding() -> None:
    ok, _, d = run(bytes(eth() / dot1q([1, 2, 3, 4], tcp4())))
    assert ok is False
    assert d.errors == Counter({"vlan.too_many_layers": 1})
    assert d.non_ip == Counter()


@pytest.mark.parametrize(
    ("linktype", "cooked"),
    [(113, CookedLinux), (276, CookedLinuxV2)],
    ids=["sll", "sll2"],
)
def test_cooked_capture_records_vlan_tags(linktype: int, cooked: Any) -> None:
    # The same conversation on two VLANs of one cooked capture must decode to two flow keys.
    keys = set()
    for vid in (10, 20):
        ok, pkt, d = run(bytes(cooked(proto=0x8100) / Dot1Q(vlan=vid) / tcp4()), linktype)
        assert_clean(ok, pkt, d, TCP4)
        assert vlan_ids(pkt.vlan) == [vid]
        keys.add(pkt.vlan)
    assert len(keys) == 2
    ok, pkt, d = run(bytes(cooked(proto=0x88A8) / Dot1AD(vlan=1) / Dot1Q(vlan=2) / udp6()), linktype)
    assert_clean(ok, pkt, d, UDP6)
    assert vlan_ids(pkt.vlan) == [1, 2]


def test_pppoe_session() -> None:
    ok, pkt, d = run(bytes(eth() / PPPoE(sessionid=0x1234) / ScapyPPP(proto=0x0021) / tcp4()))
    assert_clean(ok, pkt, d, TCP4)
    ok, pkt, d = run(bytes(eth() / Dot1Q(vlan=3) / PPPoE(sessionid=1) / ScapyPPP(proto=0x0057) / udp6()))
    assert_clean(ok, pkt, d, UDP6)
    assert vlan_ids(pkt.vlan) == [3]


def test_pppoe_control_protocol_is_not_ip() -> None:
    ok, _, d = run(bytes(eth() / PPPoE(sessionid=1) / ScapyPPP(proto=0xC021) / b"\x01\x01\x00\x04"))
    assert ok is False
    assert d.non_ip == Counter({"ppp protocol 0xc021": 1})
    assert d.errors == Counter()


def test_mpls() -> None:
    ok, pkt, d = run(bytes(eth() / MPLS(label=16, s=0) / MPLS(label=17, s=1) / tcp4()))
    assert_clean(ok, pkt, d, TCP4)
    ok, pkt, d = run(bytes(eth(type=0x8847) / MPLS(label=99, s=1) / udp6()))
    assert_clean(ok, pkt, d, UDP6)


def test_mpls_pseudowire_is_not_ip() -> None:
    # A pseudowire control word (first nibble 0) ahead of an Ethernet frame.
    ok, _, d = run(bytes(eth(type=0x8847) / MPLS(label=99, s=1)) + bytes(4) + bytes(eth() / tcp4()))
    assert ok is False
    assert d.non_ip == Counter({"mpls payload": 1})
    assert d.errors == Counter()


def test_arp_is_non_ip() -> None:
    ok, _, d = run(bytes(eth(dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=A4, pdst=B4)))
    assert ok is False
    assert d.non_ip == Counter({"arp": 1})
    assert d.errors == Counter()
    ok, _, d = run(bytes(eth() / Dot1Q(vlan=4) / ARP()), decoder=d)
    assert ok is False
    assert d.non_ip == Counter({"arp": 2})


@pytest.mark.parametrize(
    ("linktype", "frame", "reason"),
    [
        (1, bytes(eth(type=0x88CC)) + bytes(30), "ethertype 0x88cc"),
        (1, bytes(eth(type=0x26)) + bytes(38), "ethertype 0x0026"),
        (113, bytes(CookedLinux(proto=0x0806) / ARP()), "arp"),
        (276, bytes(CookedLinuxV2(proto=0x0004)) + bytes(20), "ethertype 0x0004"),
        (104, b"\x8f\x00\x80\x35" + bytes(20), "ethertype 0x8035"),
        (0, struct.pack("<I", 7) + V4, "loopback family 7"),
        (108, struct.pack(">I", 17) + V4, "loopback family 17"),
    ],
)
def test_other_frames_are_non_ip(linktype: int, frame: bytes, reason: str) -> None:
    ok, _, d = run(frame, linktype)
    assert ok is False
    assert d.non_ip == Counter({reason: 1})
    assert d.errors == Counter()


# --- IPv4 / IPv6 headers ------------------------------------------------------------------------


def test_ipv4_options() -> None:
    frame = bytes(
        eth() / IP(src=A4, dst=B4, options=IPOption_Router_Alert()) / TCP(sport=40000, dport=80) / DATA
    )
    assert frame[14] == 0x46
    ok, pkt, d = run(frame)
    assert_clean(ok, pkt, d, TCP4)
    assert pkt.payload_off == 3 + 14 + 24 + 20


def test_ipv4_max_options() -> None:
    ip = IP(src=A4, dst=B4, options=[IPOption_Router_Alert()] * 10) / UDP(sport=5353, dport=53) / DATA
    frame = bytes(eth() / ip)
    assert frame[14] == 0x4F
    assert_clean(*run(frame), UDP4)


def test_ipv4_dont_fragment_is_not_a_fragment() -> None:
    ok, pkt, d = run(bytes(eth() / IP(src=A4, dst=B4, flags="DF", id=7) / TCP(sport=40000, dport=80) / DATA))
    assert_clean(ok, pkt, d, TCP4)
    assert d.defrag.stats["reassembled"] == 0
    assert d.defrag.stats["fragments"] == 0


def test_ipv6_extension_headers() -> None:
    ip6 = (
        IPv6(src=A6, dst=B6)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting(addresses=["2001:db8::9"])
        / IPv6ExtHdrDestOpt()
        / AH(nh=6, payloadlen=4, spi=0x100, seq=1, icv=bytes(12))
        / TCP(sport=40000, dport=80, flags="PA", seq=1000, ack=2000)
        / DATA
    )
    frame = bytes(eth() / ip6)
    ok, pkt, d = run(frame)
    assert_clean(ok, pkt, d, TCP6)
    # 40 + hop-by-hop 8 + routing 24 + destination options 8 + AH 24.
    assert pkt.payload_off == 3 + 14 + 40 + 8 + 24 + 8 + 24 + 20
    assert_tcp_header(pkt)


@pytest.mark.parametrize("nh", [0, 43, 60, 135, 139, 140, 253, 254])
def test_ipv6_skipped_extension_header_kinds(nh: int) -> None:
    ext = bytes([17, 1]) + bytes(14)  # next header UDP, length 16 bytes
    frame = (
        bytes(IPv6(src=A6, dst=B6, nh=nh, plen=16 + 8 + len(DATA))) + ext + bytes(UDP(sport=5353, dport=53))
    )
    frame = frame[:-4] + struct.pack("!HH", 8 + len(DATA), 0) + DATA
    assert_clean(*run(frame, 101), UDP6)


def test_ipv6_no_next_header() -> None:
    ok, pkt, d = run(bytes(IPv6(src=A6, dst=B6, nh=59, plen=4)) + b"abcd", 229)
    assert_clean(ok, pkt, d, expect(6, A6, B6, 59, 0, 0, b"abcd"))


def test_ipv6_esp_is_an_opaque_flow() -> None:
    esp = struct.pack("!II", 0x1000, 1) + b"ciphertext"
    ok, pkt, d = run(bytes(IPv6(src=A6, dst=B6, nh=50, plen=len(esp))) + esp, 229)
    assert_clean(ok, pkt, d, expect(6, A6, B6, 50, 0, 0, esp))


# --- fragments ----------------------------------------------------------------------------------

BIG = bytes(range(256)) * 3


def decode_all(frames: list[bytes], linktype: int = 1) -> tuple[list[bool], Packet, Decoder]:
    d, pkt = Decoder(), Packet()
    results = []
    for i, frame in enumerate(frames):
        pkt.ts = 100.0 + i
        results.append(d.decode(frame, 0, len(frame), linktype, pkt))
    return results, pkt, d


@pytest.mark.parametrize("order", ["in-order", "reversed", "shuffled"])
def test_ipv4_fragments(order: str) -> None:
    datagram = IP(src=A4, dst=B4, id=0x4242) / UDP(sport=5353, dport=53) / BIG
    pieces = [bytes(eth() / f) for f in fragment(datagram, fragsize=200)]
    assert len(pieces) == 4
    if order == "reversed":
        pieces.reverse()
    elif order == "shuffled":
        pieces = [pieces[2], pieces[0], pieces[3], pieces[1]]
    results, pkt, d = decode_all(pieces)
    assert results == [False, False, False, True]
    assert summary(pkt) == expect(4, A4, B4, 17, 5353, 53, BIG)
    assert d.defrag.stats["reassembled"] == 1
    assert d.errors == Counter()
    assert len(d.defrag) == 0


def test_ipv4_fragmented_tcp() -> None:
    datagram = tcp4(data=BIG)
    pieces = [bytes(eth() / Dot1Q(vlan=12) / f) for f in fragment(datagram, fragsize=400)]
    results, pkt, d = decode_all(pieces[::-1])
    assert results == [False, True]
    assert summary(pkt) == expect(4, A4, B4, 6, 40000, 80, BIG)
    assert (pkt.seq, pkt.ack, pkt.tcp_flags) == (1000, 2000, TH_PSH | TH_ACK)
    assert vlan_ids(pkt.vlan) == [12]
    assert d.defrag.stats["reassembled"] == 1


@pytest.mark.parametrize("order", ["in-order", "reversed", "shuffled"])
def test_ipv6_fragments(order: str) -> None:
    datagram = IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(id=0x77) / UDP(sport=5353, dport=53) / BIG
    pieces = [bytes(eth() / f) for f in fragment6(datagram, 300)]
    assert len(pieces) == 4
    if order == "reversed":
        pieces.reverse()
    elif order == "shuffled":
        pieces = [pieces[1], pieces[3], pieces[0], pieces[2]]
    results, pkt, d = decode_all(pieces)
    assert results == [False, False, False, True]
    assert summary(pkt) == expect(6, A6, B6, 17, 5353, 53, BIG)
    assert d.defrag.stats["reassembled"] == 1
    assert d.errors == Counter()


def test_ipv6_fragments_with_headers_around_the_fragment_header() -> None:
    datagram = (
        IPv6(src=A6, dst=B6)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrFragment(id=0x99)
        / IPv6ExtHdrDestOpt()
        / TCP(sport=40000, dport=80, flags="PA", seq=1000, ack=2000)
        / BIG
    )
    pieces = [bytes(f) for f in fragment6(datagram, 400)]
    assert len(pieces) == 3
    results, pkt, d = decode_all(pieces[::-1], 229)
    assert results == [False, False, True]
    assert summary(pkt) == expect(6, A6, B6, 6, 40000, 80, BIG)
    assert d.defrag.stats["reassembled"] == 1


def test_ipv6_atomic_fragment() -> None:
    frame = bytes(
        IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(id=5, offset=0, m=0) / UDP(sport=5353, dport=53) / DATA
    )
    ok, pkt, d = run(frame, 229)
    assert_clean(ok, pkt, d, UDP6)
    assert d.defrag.stats["reassembled"] == 0
    assert d.defrag.stats["fragments"] == 0


def test_fragments_of_different_datagrams_do_not_mix() -> None:
    a = fragment(IP(src=A4, dst=B4, id=1) / UDP(sport=1, dport=2) / (b"a" * 300), fragsize=160)
    b = fragment(IP(src=A4, dst=B4, id=2) / UDP(sport=3, dport=4) / (b"b" * 300), fragsize=160)
    results, pkt, d = decode_all([bytes(f) for f in (a[0], b[1], b[0], a[1])], 228)
    assert results == [False, False, True, True]
    assert summary(pkt) == expect(4, A4, B4, 17, 1, 2, b"a" * 300)
    assert d.defrag.stats["reassembled"] == 2


def test_fragments_on_different_vlans_do_not_mix() -> None:
    """The same addresses and IP id on two VLANs are two datagrams, as Suricata keys them."""
    a = fragment(IP(src=A4, dst=B4, id=7) / UDP(sport=1, dport=2) / (b"a" * 300), fragsize=160)
    b = fragment(IP(src=A4, dst=B4, id=7) / UDP(sport=3, dport=4) / (b"b" * 300), fragsize=160)
    frames = [bytes(eth() / dot1q([vid], f)) for vid, f in ((10, a[0]), (20, b[0]), (20, b[1]), (10, a[1]))]
    results, pkt, d = decode_all(frames)
    assert results == [False, False, True, True]
    assert summary(pkt) == expect(4, A4, B4, 17, 1, 2, b"a" * 300)
    assert d.defrag.stats["reassembled"] == 2
    assert d.defrag.stats["overlaps"] == 0


# --- tunnels ------------------------------------------------------------------------------------


def test_ipv4_in_ipv4() -> None:
    ok, pkt, d = run(bytes(eth() / IP(src=O4, dst=P4) / tcp4()))
    assert_clean(ok, pkt, d, TCP4)
    assert pkt.ttl == 61
    assert_tcp_header(pkt)


def test_ipv6_in_ipv4() -> None:
    ok, pkt, d = run(bytes(eth() / IP(src=O4, dst=P4) / udp6()))
    assert_clean(ok, pkt, d, UDP6)


def test_ipv4_in_ipv6() -> None:
    ok, pkt, d = run(bytes(eth() / IPv6(src="2001:db8::a", dst="2001:db8::b") / tcp4()))
    assert_clean(ok, pkt, d, TCP4)


def test_gre_ipv4() -> None:
    ok, pkt, d = run(bytes(eth() / IP(src=O4, dst=P4) / GRE() / tcp4()))
    assert_clean(ok, pkt, d, TCP4)


def test_gre_with_checksum_key_and_sequence() -> None:
    gre = GRE(chksum_present=1, key_present=1, key=77, seqnum_present=1, sequence_number=5)
    frame = bytes(eth() / IP(src=O4, dst=P4) / gre / udp6())
    assert frame[34:36] == b"\xb0\x00"
    assert_clean(*run(frame), UDP6)


def test_gre_transparent_ethernet() -> None:
    inner = eth() / Dot1Q(vlan=30) / tcp4()
    ok, pkt, d = run(bytes(eth() / Dot1Q(vlan=20) / IP(src=O4, dst=P4) / GRE(proto=0x6558) / inner))
    assert_clean(ok, pkt, d, TCP4)
    # The bridged frame's tags follow the outer frame's.
    assert vlan_ids(pkt.vlan) == [20, 30]


def test_gre_pptp_is_a_gre_flow() -> None:
    gre = struct.pack("!HHHHI", 0x3001, 0x880B, 4, 9, 1) + b"\xff\x03\x00\x21"
    ok, pkt, d = run(bytes(eth() / IP(src=O4, dst=P4, proto=47) / gre))
    assert_clean(ok, pkt, d, expect(4, O4, P4, 47, 0, 0, gre))


def test_gre_unknown_payload_is_non_ip() -> None:
    ok, _, d = run(bytes(IP(src=O4, dst=P4) / GRE(proto=0x88BE) / b"erspan payload"), 101)
    assert ok is False
    assert d.non_ip == Counter({"gre payload 0x88be": 1})
    assert d.errors == Counter()


def vxlan(inner: Any, vni: int = 42, flags: int = 0x08) -> Any:
    return IP(src=O4, dst=P4) / UDP(sport=49152, dport=4789) / VXLAN(flags=flags, vni=vni) / inner


def test_vxlan() -> None:
    ok, pkt, d = run(bytes(eth() / Dot1Q(vlan=7) / vxlan(eth() / Dot1Q(vlan=9) / tcp4())))
    assert_clean(ok, pkt, d, TCP4)
    # Outer tags first, then the inner frame's.
    assert vlan_ids(pkt.vlan) == [7, 9]
    assert_tcp_header(pkt)
    ok, pkt, d = run(bytes(vxlan(eth() / udp6())), 101)
    assert_clean(ok, pkt, d, UDP6)
    assert pkt.vlan == 0


def test_vxlan_inner_tags_alone() -> None:
    ok, pkt, d = run(bytes(vxlan(eth() / Dot1AD(vlan=5) / Dot1Q(vlan=6) / tcp6())), 101)
    assert_clean(ok, pkt, d, TCP6)
    assert vlan_ids(pkt.vlan) == [5, 6]


def test_vlan_limit_is_per_frame() -> None:
    # As in Suricata, where a tunnelled frame is decoded as a packet of its own with its own tag count.
    ok, pkt, d = run(bytes(eth() / dot1q([1, 2, 3], vxlan(eth() / dot1q([4, 5, 6], tcp4())))))
    assert_clean(ok, pkt, d, TCP4)
    assert vlan_ids(pkt.vlan) == [1, 2, 3, 4, 5, 6]


def test_vxlan_without_vni_flag_is_plain_udp() -> None:
    frame = bytes(vxlan(eth() / tcp4(), flags=0))
    ok, pkt, d = run(frame, 228)
    assert_clean(ok, pkt, d, expect(4, O4, P4, 17, 49152, 4789, frame[28:]))


def test_vxlan_header_cut_off_is_plain_udp() -> None:
    # The UDP length announces a VXLAN header that the IP datagram does not hold.
    frame = bytes(IP(src=O4, dst=P4, len=28) / UDP(sport=49152, dport=4789, len=16))
    assert len(frame) == 28
    d, pkt = Decoder(), Packet()
    assert d.decode(frame, 0, len(frame), 228, pkt) is True
    assert summary(pkt) == expect(4, O4, P4, 17, 49152, 4789, b"")
    assert d.errors == Counter()


def test_vxlan_inner_arp() -> None:
    ok, _, d = run(bytes(eth() / vxlan(eth() / ARP())))
    assert ok is False
    assert d.non_ip == Counter({"arp": 1})


def nest(layers: int, kind: str) -> tuple[Any, list[Any]]:
    """``layers`` tunnels around tcp4(); returns the packet and every IP header's packet, outermost first."""
    pkt = tcp4()
    chain = [pkt]
    for n in range(layers):
        outer = IP(src=f"10.0.{n}.1", dst=f"10.0.{n}.2")
        if kind == "ipip":
            pkt = outer / pkt
        elif kind == "gre":
            pkt = outer / GRE() / pkt
        else:
            pkt = outer / UDP(sport=n + 1, dport=4789) / VXLAN(flags=0x08, vni=n) / eth() / pkt
        chain.insert(0, pkt)
    return pkt, chain


@pytest.mark.parametrize("kind", ["ipip", "gre", "vxlan"])
def test_tunnels_up_to_max_depth_are_followed(kind: str) -> None:
    pkt, _ = nest(MAX_TUNNEL_DEPTH, kind)
    assert_clean(*run(bytes(pkt), 101), TCP4)


@pytest.mark.parametrize("kind", ["ipip", "gre", "vxlan"])
def test_tunnels_deeper_than_max_depth_stop(kind: str) -> None:
    assert MAX_TUNNEL_DEPTH == 3
    pkt, chain = nest(MAX_TUNNEL_DEPTH + 1, kind)
    ok, decoded, d = run(bytes(pkt), 101)
    # The deepest header still followed is the last one decoded: its flow carries the rest as payload.
    last = chain[MAX_TUNNEL_DEPTH]
    rest = bytes(last[IP].payload)
    if kind == "ipip":
        expected = expect(4, "10.0.0.1", "10.0.0.2", 4, 0, 0, rest)
    elif kind == "gre":
        expected = expect(4, "10.0.0.1", "10.0.0.2", 47, 0, 0, rest)
    else:
        expected = expect(4, "10.0.0.1", "10.0.0.2", 17, 1, 4789, rest[8:])
    assert_clean(ok, decoded, d, expected)


@pytest.mark.parametrize("kind", ["ipip", "gre", "vxlan"])
def test_very_deep_nesting_does_not_raise(kind: str) -> None:
    pkt, _ = nest(60, kind)
    ok, decoded, d = run(bytes(pkt), 101)
    assert ok is True
    assert decoded.src == addr("10.0.56.1")
    assert d.errors == Counter()


# --- transport ----------------------------------------------------------------------------------


def test_tcp_options() -> None:
    opts = [("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""), ("Timestamp", (123456789, 42))]
    tcp = TCP(sport=40000, dport=443, flags="S", seq=0xFFFFFFFF, window=64240, options=opts)
    ok, pkt, d = run(bytes(eth() / IP(src=A4, dst=B4) / tcp))
    assert ok is True
    assert d.errors == Counter()
    assert (pkt.sport, pkt.dport, pkt.tcp_flags, pkt.seq, pkt.ack, pkt.window) == (
        40000,
        443,
        TH_SYN,
        2**32 - 1,
        0,
        64240,
    )
    assert pkt.tcp_opts_off == 3 + 14 + 20 + 20
    assert pkt.tcp_opts_len == 20
    assert pkt.payload_len == 0
    assert parse_tcp_options(pkt.buf, pkt.tcp_opts_off, pkt.tcp_opts_len) == {
        "mss": 1460,
        "wscale": 7,
        "sack_permitted": 1,
        "tsval": 123456789,
    }


def test_tcp_options_with_payload_over_ipv6() -> None:
    tcp = TCP(sport=1, dport=2, flags="PA", options=[("NOP", None), ("NOP", None), ("Timestamp", (7, 8))])
    ok, pkt, d = run(bytes(eth() / IPv6(src=A6, dst=B6) / tcp / DATA))
    assert_clean(ok, pkt, d, expect(6, A6, B6, 6, 1, 2, DATA))
    assert parse_tcp_options(pkt.buf, pkt.tcp_opts_off, pkt.tcp_opts_len) == {"tsval": 7}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"", {}),
        (b"\x01\x01\x01\x01", {}),
        (b"\x02\x04\xff\xff", {"mss": 65535}),
        (b"\x03\x03\x0e\x00", {"wscale": 14}),
        (b"\x03\x03\x0f\x00", {"wscale": 14}),  # RFC 7323: larger shifts are treated as 14
        (b"\x03\x03\xff\x00", {"wscale": 14}),
        (b"\x04\x02\x00\x00", {"sack_permitted": 1}),
        (b"\x08\x0a\xde\xad\xbe\xef\x00\x00\x00\x01", {"tsval": 0xDEADBEEF}),
        (b"\x22\x0a" + bytes(8), {"tfo": 1}),
        (b"\x22\x02", {"tfo": 1}),
        (b"\x05\x0a" + bytes(8) + b"\x02\x04\x05\xb4", {"mss": 1460}),  # SACK blocks are skipped
        (b"\x02\x04\x05\xb4\x00\x03\x03\x07", {"mss": 1460}),  # nothing after end-of-list
        (b"\x02\x05\x05\xb4\x00\x01\x01\x01", {}),  # wrong length for MSS: skipped, not used
        (b"\xfe\x04\xf9\x89", {}),  # experimental option
    ],
)
def test_parse_tcp_options(raw: bytes, parsed: dict[str, int]) -> None:
    assert parse_tcp_options(raw, 0, len(raw)) == parsed
    # The same list inside a larger buffer.
    assert parse_tcp_options(b"\x02\x04\x00\x01" + raw + b"\x03\x03\x05", 4, len(raw)) == parsed


@pytest.mark.parametrize(
    "raw",
    [
        b"\x02",  # kind without a length byte
        b"\x01\x01\x01\x02",
        b"\x02\x00\x05\xb4",  # length 0
        b"\x02\x01\x05\xb4",  # length 1
        b"\x02\x04\x05",  # length runs past the list
        b"\x08\x0a\x00\x00\x00\x01\x00\x00",
        b"\x02\x04\x05\xb4\x03\x04\x07",
    ],
)
def test_parse_tcp_options_malformed(raw: bytes) -> None:
    assert parse_tcp_options(raw, 0, len(raw)) is None
    # Bytes after the option list do not make it valid.
    assert parse_tcp_options(raw + b"\x00" * 12, 0, len(raw)) is None


def test_udp() -> None:
    ok, pkt, d = run(bytes(eth() / udp4()))
    assert_clean(ok, pkt, d, UDP4)
    assert pkt.tcp_flags == 0
    assert pkt.payload_off == 3 + 14 + 20 + 8


def test_udp_length_shorter_than_ip_payload() -> None:
    frame = bytes(IP(src=A4, dst=B4) / UDP(sport=5353, dport=53, len=8 + 4) / DATA)
    assert_clean(*run(frame, 101), expect(4, A4, B4, 17, 5353, 53, DATA[:4]))


def test_udp_length_longer_than_capture() -> None:
    frame = bytes(IPv6(src=A6, dst=B6) / UDP(sport=5353, dport=53, len=1000) / DATA)
    assert_clean(*run(frame, 101), UDP6)


def test_icmp() -> None:
    ok, pkt, d = run(bytes(eth() / IP(src=A4, dst=B4) / ICMP(type=8, code=0, id=0x1234, seq=7) / b"ping"))
    assert_clean(ok, pkt, d, expect(4, A4, B4, 1, 0, 0, b"\x12\x34\x00\x07ping"))
    assert (pkt.icmp_type, pkt.icmp_code) == (8, 0)


def test_icmp_error_quoting_a_datagram() -> None:
    quoted = bytes(udp4())[:28]
    ok, pkt, d = run(bytes(IP(src=P4, dst=A4) / ICMP(type=3, code=3) / quoted), 228)
    assert_clean(ok, pkt, d, expect(4, P4, A4, 1, 0, 0, bytes(4) + quoted))
    assert (pkt.icmp_type, pkt.icmp_code) == (3, 3)


def test_icmpv6() -> None:
    ok, pkt, d = run(bytes(eth() / IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=1, seq=2, data=b"ping")))
    assert_clean(ok, pkt, d, expect(6, A6, B6, 58, 0, 0, b"\x00\x01\x00\x02ping"))
    assert (pkt.icmp_type, pkt.icmp_code) == (128, 0)


def test_sctp() -> None:
    chunk = SCTPChunkData(tsn=1, stream_id=0, data=b"diameter")
    ok, pkt, d = run(bytes(eth() / IP(src=A4, dst=B4) / SCTP(sport=3868, dport=3869, tag=5) / chunk))
    assert_clean(ok, pkt, d, expect(4, A4, B4, 132, 3868, 3869, bytes(chunk)))
    ok, pkt, d = run(bytes(IPv6(src=A6, dst=B6) / SCTP(sport=36412, dport=36412)), 229)
    assert_clean(ok, pkt, d, expect(6, A6, B6, 132, 36412, 36412, b""))


def test_other_ip_protocol_is_portless() -> None:
    igmp = b"\x11\x64\xee\x9b\x00\x00\x00\x00"
    ok, pkt, d = run(bytes(eth() / IP(src=A4, dst="224.0.0.1", proto=2) / igmp))
    assert_clean(ok, pkt, d, expect(4, A4, "224.0.0.1", 2, 0, 0, igmp))


# --- padding and truncation ---------------------------------------------------------------------


def pad(frame: bytes, size: int = 60) -> bytes:
    assert len(frame) < size
    return frame + b"\x5a" * (size - len(frame))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (eth() / IP(src=A4, dst=B4) / TCP(sport=40000, dport=80), expect(4, A4, B4, 6, 40000, 80, b"")),
        (
            eth() / IP(src=A4, dst=B4) / TCP(sport=40000, dport=80) / b"x",
            expect(4, A4, B4, 6, 40000, 80, b"x"),
        ),
        (
            eth() / IP(src=A4, dst=B4) / UDP(sport=5353, dport=53) / b"yz",
            expect(4, A4, B4, 17, 5353, 53, b"yz"),
        ),
        (eth() / IP(src=A4, dst=B4) / ICMP(type=0), expect(4, A4, B4, 1, 0, 0, bytes(4))),
        (
            eth() / Dot1Q(vlan=1) / IP(src=A4, dst=B4) / UDP(sport=5353, dport=53),
            expect(4, A4, B4, 17, 5353, 53, b""),
        ),
    ],
    ids=["tcp", "tcp-1-byte", "udp", "icmp", "vlan-udp"],
)
def test_ethernet_padding_is_not_payload(frame: Any, expected: dict[str, object]) -> None:
    assert_clean(*run(pad(bytes(frame))), expected)


def test_trailer_after_ipv6_is_not_payload() -> None:
    assert_clean(*run(bytes(eth() / tcp6()) + b"\x5a" * 4), TCP6)


@pytest.mark.parametrize("cut", [0, 1, 20, len(DATA) - 1])
@pytest.mark.parametrize("build", [tcp4, tcp6, udp4, udp6])
def test_snaplen_truncated_packets_keep_the_captured_payload(build: Any, cut: int) -> None:
    full = bytes(eth() / build())
    frame = full[: len(full) - len(DATA) + cut]
    ok, pkt, d = run(frame)
    assert ok is True
    assert bytes(pkt.payload()) == DATA[:cut]
    assert (pkt.sport, pkt.dport) in ((40000, 80), (5353, 53))
    assert d.errors == Counter()


# --- malformed packets --------------------------------------------------------------------------

IP4_TCP = bytes(IP(src=A4, dst=B4) / TCP(sport=1, dport=2))
IP6_HDR = bytes(IPv6(src=A6, dst=B6, nh=59, plen=0))


def ip6(nh: int, body: bytes, plen: int | None = None) -> bytes:
    return bytes(IPv6(src=A6, dst=B6, nh=nh, plen=len(body) if plen is None else plen)) + body


def ip4(proto: int, body: bytes, **kw: Any) -> bytes:
    return bytes(IP(src=A4, dst=B4, proto=proto, **kw) / Raw(body))


def with_byte(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + bytes([value]) + data[at + 1 :]


ETH_V4 = bytes(eth(type=0x0800))
ETH_V6 = bytes(eth(type=0x86DD))

MALFORMED = [
    ("ethernet.truncated", 1, bytes(eth())[:13]),
    ("ethernet.truncated", 1, b""),
    ("ethernet.truncated", 101, bytes(vxlan(Raw(bytes(10))))),
    ("ethernet.truncated", 1, ETH_V4 + bytes(IP(src=O4, dst=P4) / GRE(proto=0x6558) / bytes(eth())[:13])),
    ("vlan.truncated", 1, bytes(eth(type=0x8100)) + b"\x00\x64\x08"),
    ("vlan.truncated", 1, bytes(eth() / Dot1Q(vlan=3, type=0x8100)) + b"\x00\x04"),
    ("vlan.truncated", 113, bytes(CookedLinux(proto=0x8100)) + b"\x00\x05"),
    ("vlan.truncated", 101, bytes(vxlan(bytes(eth(type=0x8100)) + b"\x00"))),
    ("vlan.truncated", 276, bytes(CookedLinuxV2(proto=0x88A8) / Dot1AD(vlan=1, type=0x8100)) + b"\x00"),
    ("vlan.truncated", 1, bytes(eth() / Dot1Q(vlan=1) / vxlan(bytes(eth() / Dot1Q(vlan=2, type=0x8100))))),
    ("vlan.too_many_layers", 1, bytes(eth() / dot1q([1, 2, 3, 4], tcp4()))),
    ("vlan.too_many_layers", 1, bytes(eth() / Dot1AD(vlan=1, type=0x9100) / dot1q([2, 3, 4], tcp6()))),
    # The limit is checked before the fourth tag's length, as Suricata does.
    ("vlan.too_many_layers", 1, bytes(eth() / dot1q([1, 2], Dot1Q(vlan=3, type=0x8100))) + b"\x00"),
    ("vlan.too_many_layers", 113, bytes(CookedLinux(proto=0x8100) / dot1q([1, 2, 3, 4], tcp4()))),
    ("vlan.too_many_layers", 101, bytes(vxlan(eth() / dot1q([1, 2, 3, 4], udp6())))),
    ("pppoe.truncated", 1, bytes(eth(type=0x8864)) + b"\x11\x00\x00\x07\x00\x02\x00"),
    ("mpls.truncated", 1, bytes(eth(type=0x8847) / MPLS(label=16, s=0))),
    ("mpls.truncated", 1, bytes(eth(type=0x8847)) + b"\x00\x01\x01"),
    ("gre.truncated", 101, ip4(47, b"\x00\x00\x08")),
    ("raw.empty", 101, b""),
    ("raw.bad_ip_version", 101, with_byte(IP4_TCP, 0, 0x55)),
    ("raw.bad_ip_version", 229, b"\x00" * 40),
    ("null.truncated", 0, b"\x02\x00\x00"),
    ("null.truncated", 108, b""),
    ("sll.truncated", 113, bytes(CookedLinux())[:15]),
    ("sll2.truncated", 276, bytes(CookedLinuxV2())[:19]),
    ("chdlc.truncated", 104, b"\x0f\x00\x08"),
    ("linktype.unsupported_147", 147, bytes(eth() / tcp4())),
    ("linktype.unsupported_105", 105, b""),
    ("ipv4.header_truncated", 1, ETH_V4 + IP4_TCP[:19]),
    ("ipv4.header_truncated", 1, ETH_V4),
    ("ipv4.header_truncated", 101, bytes(IP(src=A4, dst=B4, options=IPOption_Router_Alert()))[:22]),
    ("ipv4.bad_version", 1, ETH_V4 + with_byte(IP4_TCP, 0, 0x65)),
    ("ipv4.bad_version", 0, struct.pack("<I", 2) + bytes(IPv6() / TCP())),
    ("ipv4.bad_header_length", 1, ETH_V4 + with_byte(IP4_TCP, 0, 0x44)),
    ("ipv4.bad_header_length", 101, with_byte(IP4_TCP, 0, 0x40)),
    ("ipv4.bad_total_length", 1, ETH_V4 + bytes(IP(src=A4, dst=B4, len=19) / TCP())),
    ("ipv4.bad_total_length", 101, bytes(IP(src=A4, dst=B4, len=20, options=IPOption_Router_Alert()))),
    ("ipv6.header_truncated", 1, ETH_V6 + IP6_HDR[:39]),
    ("ipv6.header_truncated", 101, bytes(IP(src=O4, dst=P4, proto=41) / IP6_HDR[:30])),
    ("ipv6.bad_version", 1, ETH_V6 + with_byte(IP6_HDR, 0, 0x40)),
    ("ipv6.bad_version", 0, struct.pack("<I", 24) + bytes(IP() / UDP() / bytes(20))),
    ("ipv6.ext_header_truncated", 229, ip6(0, b"\x11\x00\x00\x00")),
    ("ipv6.ext_header_truncated", 229, ip6(0, b"\x11\x00" + bytes(6), plen=4)),
    ("ipv6.ext_header_truncated", 229, ip6(60, b"\x11\x01" + bytes(6))),
    ("ipv6.ext_header_truncated", 229, ip6(43, b"\x11\x00" + bytes(6))[:-2]),
    ("ipv6.ext_header_truncated", 229, ip6(51, b"\x06\x04\x00\x00\x00\x00\x01\x00" + bytes(8))),
    ("ipv6.ext_header_truncated", 229, ip6(51, b"\x06\x00\x00")),
    ("ipv6.ext_header_truncated", 229, ip6(44, b"\x11\x00\x00\x01")),
    ("ipv6.ext_header_truncated", 229, ip6(0, b"\x2c\x00" + bytes(6) + b"\x11\x00\x00\x01")),
    ("tcp.header_truncated", 1, ETH_V4 + IP4_TCP[:39]),
    ("tcp.header_truncated", 101, bytes(IP(src=A4, dst=B4, len=30) / TCP())),
    ("tcp.header_truncated", 229, bytes(IPv6(src=A6, dst=B6) / TCP(dataofs=6))[:-4]),
    ("tcp.header_truncated", 229, bytes(IPv6(src=A6, dst=B6) / TCP(dataofs=15))),
    ("tcp.bad_header_length", 1, ETH_V4 + bytes(IP(src=A4, dst=B4) / TCP(dataofs=4))),
    ("tcp.bad_header_length", 229, bytes(IPv6(src=A6, dst=B6) / TCP(dataofs=0) / DATA)),
    ("udp.header_truncated", 1, ETH_V4 + bytes(IP(src=A4, dst=B4) / UDP())[:27]),
    ("udp.header_truncated", 229, ip6(17, b"\x00\x35\x00\x35")),
    ("udp.bad_length", 1, ETH_V4 + bytes(IP(src=A4, dst=B4) / UDP(len=7) / DATA)),
    ("udp.bad_length", 229, bytes(IPv6(src=A6, dst=B6) / UDP(len=0))),
    ("icmp.header_truncated", 101, ip4(1, b"\x08\x00\x00")),
    ("icmpv6.header_truncated", 101, ip6(58, b"\x80\x00\x00")),
    ("sctp.header_truncated", 101, ip4(132, bytes(11))),
    ("sctp.header_truncated", 101, ip6(132, b"")),
]


@pytest.mark.parametrize(
    ("reason", "linktype", "frame"),
    MALFORMED,
    ids=[f"{reason}-{i}" for i, (reason, _, _) in enumerate(MALFORMED)],
)
def test_malformed(reason: str, linktype: int, frame: bytes) -> None:
    ok, _, d = run(frame, linktype)
    assert ok is False
    assert d.errors == Counter({reason: 1})
    assert d.non_ip == Counter()
    assert d.defrag.stats["reassembled"] == 0
    # Nothing past the packet is read: the same result with the packet alone in its buffer.
    ok, _, d = run(frame, linktype, lead=0, trail=b"")
    assert ok is False
    assert d.errors == Counter({reason: 1})


def test_every_error_reason_is_exercised() -> None:
    source = Path(decoder_module.__file__).read_text()
    reasons = set(re.findall(r'"([a-z0-9]+\.[a-z0-9_]+)"', source))
    assert "ipv4.header_truncated" in reasons and "icmpv6.header_truncated" in reasons
    assert reasons <= {reason for reason, _, _ in MALFORMED}
    assert 'f"linktype.unsupported_{linktype}"' in source


def test_malformed_fragment_is_counted_once() -> None:
    # A fragment whose reassembled datagram is malformed: the error comes with the last piece.
    datagram = bytes(IP(src=A4, dst=B4, id=9) / UDP(sport=1, dport=2, len=4) / BIG)
    pieces = [bytes(f) for f in fragment(IP(datagram), fragsize=400)]
    results, _, d = decode_all(pieces, 101)
    assert results == [False, False]
    assert d.errors == Counter({"udp.bad_length": 1})
    assert d.defrag.stats["reassembled"] == 1


# --- robustness ---------------------------------------------------------------------------------


def _seed_frames() -> dict[int, list[bytes]]:
    v4 = [
        bytes(tcp4()),
        bytes(udp4()),
        bytes(IP(src=A4, dst=B4) / ICMP() / b"x"),
        bytes(IP(src=O4, dst=P4) / GRE() / udp4()),
        bytes(IP(src=O4, dst=P4) / GRE(proto=0x6558, key_present=1, key=1) / eth() / Dot1Q() / tcp4()),
        bytes(vxlan(eth() / tcp6())),
        bytes(IP(src=O4, dst=P4) / tcp6()),
        bytes(IP(src=O4, dst=P4) / tcp4()),
        bytes(IP(src=A4, dst=B4) / SCTP()),
        bytes(IP(src=A4, dst=B4, options=IPOption_Router_Alert()) / TCP(options=[("MSS", 1), ("WScale", 2)])),
        *[bytes(f) for f in fragment(IP(src=A4, dst=B4, id=3) / UDP() / BIG, fragsize=300)],
    ]
    v6 = [
        bytes(tcp6()),
        bytes(udp6()),
        bytes(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest()),
        bytes(
            IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / UDP()
        ),
        bytes(IPv6(src=A6, dst=B6) / AH(nh=17, payloadlen=4, icv=bytes(12)) / UDP()),
        bytes(IPv6(src=A6, dst=B6) / tcp4()),
        *[bytes(f) for f in fragment6(IPv6() / IPv6ExtHdrFragment(id=4) / UDP() / BIG, 400)],
    ]
    ether = [bytes(eth() / p) for p in v4 + v6] + [
        bytes(eth() / Dot1AD(vlan=1) / Dot1Q(vlan=2) / tcp4()),
        bytes(eth() / PPPoE() / ScapyPPP(proto=0x21) / tcp4()),
        bytes(eth() / PPPoE() / ScapyPPP(proto=0x57) / udp6()),
        bytes(eth() / MPLS(s=0) / MPLS(s=1) / udp4()),
        bytes(eth() / ARP()),
    ]
    null = [struct.pack("<I", 2) + p for p in v4] + [struct.pack(">I", 30) + p for p in v6]
    return {
        0: null,
        1: ether,
        12: v4 + v6,
        14: v4 + v6,
        101: v4 + v6,
        104: [b"\x0f\x00\x08\x00" + p for p in v4] + [b"\x0f\x00\x86\xdd" + p for p in v6],
        108: [struct.pack(">I", 2) + p for p in v4] + [struct.pack(">I", 24) + p for p in v6],
        113: [bytes(CookedLinux() / IP(p)) for p in v4]
        + [bytes(CookedLinux() / Dot1Q() / IPv6(p)) for p in v6],
        228: v4,
        229: v6,
        276: [bytes(CookedLinuxV2() / IP(p)) for p in v4] + [bytes(CookedLinuxV2() / IPv6(p)) for p in v6],
        147: v4[:2],
    }


def test_fuzz_never_raises() -> None:
    seeds = _seed_frames()
    assert set(SUPPORTED_LINKTYPES) < set(seeds)
    rng = random.Random(1234)
    d, pkt = Decoder(), Packet()
    linktypes = sorted(seeds)
    decoded = 0
    for i in range(20_000):
        linktype = linktypes[i % len(linktypes)]
        mode = rng.random()
        if mode < 0.15:
            frame = rng.randbytes(rng.randrange(0, 120))
        else:
            data = bytearray(rng.choice(seeds[linktype]))
            if mode < 0.85:
                for _ in range(rng.randrange(1, 5)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
            if mode > 0.6:
                del data[rng.randrange(len(data) + 1) :]
            frame = bytes(data)
        pkt.ts = i * 0.001
        if d.decode(frame, 0, len(frame), linktype, pkt):
            decoded += 1
            assert pkt.ip_version in (4, 6)
            assert len(pkt.src) == len(pkt.dst) == (4 if pkt.ip_version == 4 else 16)
            assert pkt.payload_len >= 0
            assert pkt.payload_off + pkt.payload_len <= len(pkt.buf)
    # The inputs mix decodable and broken packets, and reach deep into the decoder.
    assert 4_000 < decoded < 16_000
    assert sum(d.errors.values()) > 2_000
    assert len(d.errors) >= 20
    assert d.defrag.stats["reassembled"] > 0
