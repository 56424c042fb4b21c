"""The decoded view of one packet, reused for every packet so decoding allocates nothing."""

from __future__ import annotations

import mmap

Buffer = mmap.mmap | bytes | bytearray | memoryview

# IP protocol numbers used across layers.
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
PROTO_SCTP = 132

CHECKSUM_UNCHECKED = 0
CHECKSUM_OK = 1
CHECKSUM_BAD = 2

PROTO_NAMES = {
    PROTO_ICMP: "ICMP",
    2: "IGMP",
    PROTO_TCP: "TCP",
    PROTO_UDP: "UDP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    PROTO_ICMPV6: "IPv6-ICMP",
    89: "OSPF",
    103: "PIM",
    PROTO_SCTP: "SCTP",
}

# TCP flag bits.
TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_PSH = 0x08
TH_ACK = 0x10
TH_URG = 0x20
TH_ECE = 0x40
TH_CWR = 0x80


# Name of every protocol number: a tuple index is the cheapest lookup for per-flow output.
PROTO_TEXT = tuple(PROTO_NAMES.get(proto, str(proto)) for proto in range(256))


def proto_name(proto: int) -> str:
    return PROTO_TEXT[proto]


class Packet:
    """Fields of the packet being processed. Only valid until the next packet is decoded."""

    __slots__ = (
        "ack",
        "buf",
        "checksum",
        "dport",
        "dst",
        "icmp_code",
        "icmp_type",
        "iface",
        "ip_frag",
        "ip_id",
        "ip_tos",
        "ip_version",
        "payload_len",
        "payload_off",
        "pcap_cnt",
        "proto",
        "rebuilt",
        "seq",
        "sport",
        "src",
        "tcp_flags",
        "tcp_hlen",
        "ts",
        "ttl",
        "vlan",
        "window",
        "wirelen",
    )

    def __init__(self) -> None:
        self.buf: Buffer = b""
        self.ts = 0.0
        self.pcap_cnt = 0
        self.iface = 0
        self.wirelen = 0
        # 802.1Q ids, outermost first, packed 13 bits each (a presence bit and the id); 0 when untagged.
        # A tunnelled frame's tags follow the outer frame's, so the flow key tells tenants apart.
        self.vlan = 0
        self.ip_version = 0
        self.src = b""
        self.dst = b""
        self.proto = 0
        self.ttl = 0
        # IPv4 TOS and identification (IPv6: traffic class, and the fragment header's id or 0).
        self.ip_tos = 0
        self.ip_id = 0
        # IPv4 flags and fragment offset as on the wire (IPv6 fragments in the same layout: MF is
        # 0x2000); a non-zero offset or MF means the packet was reassembled from fragments.
        self.ip_frag = 0
        # Ports for TCP/UDP/SCTP; 0 for protocols without ports.
        self.sport = 0
        self.dport = 0
        self.icmp_type = 0
        self.icmp_code = 0
        self.tcp_flags = 0
        self.seq = 0
        self.ack = 0
        self.window = 0
        # TCP header length; the options are the bytes between the fixed header and the payload.
        self.tcp_hlen = 0
        # Transport payload, as an offset and length into ``buf``.
        self.payload_off = 0
        self.payload_len = 0
        # A PDU of reassembled stream data shown to rules, not a packet from the wire.
        self.rebuilt = False
        # Whether its TCP/UDP/ICMP checksum is right: CHECKSUM_OK, CHECKSUM_BAD, or CHECKSUM_UNCHECKED
        # until a layer asks the engine (which verifies it then, once).
        self.checksum = CHECKSUM_OK

    @property
    def tcp_opts_off(self) -> int:
        return self.payload_off - self.tcp_hlen + 20

    @property
    def tcp_opts_len(self) -> int:
        return self.tcp_hlen - 20

    def payload(self) -> memoryview:
        """The transport payload, without copying."""
        return memoryview(self.buf)[self.payload_off : self.payload_off + self.payload_len]


def vlan_ids(vlan: int) -> list[int]:
    """Unpack the packed VLAN field into ids, outermost first."""
    ids: list[int] = []
    while vlan:
        ids.append(vlan & 0xFFF)
        vlan >>= 13
    ids.reverse()
    return ids
