"""L2-L4 decoding into a reused :class:`Packet`.

``Decoder.decode`` returns True when the packet carries IP that the flow layer should see. Anything
else (non-IP frames, fragments still waiting for their siblings, malformed packets) returns False;
malformed packets are counted in :attr:`Decoder.errors` by reason and never raise.
"""

from __future__ import annotations

import struct
from collections import Counter

from fathom.decode.defrag import Defragmenter
from fathom.decode.packet import (
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_SCTP,
    PROTO_TCP,
    PROTO_UDP,
    Buffer,
    Packet,
)

# Link types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_OPENBSD = 12
LINKTYPE_RAW_14 = 14
LINKTYPE_C_HDLC = 104
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

SUPPORTED_LINKTYPES = {
    LINKTYPE_NULL: "BSD loopback",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_RAW_OPENBSD: "raw IP",
    LINKTYPE_RAW_14: "raw IP",
    LINKTYPE_C_HDLC: "Cisco HDLC",
    LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked (SLL2)",
}

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
ETH_PPPOE_SESSION = 0x8864
ETH_MPLS = 0x8847
ETH_TEB = 0x6558  # transparent Ethernet bridging, inside GRE
# PPP protocol numbers and IP version nibbles as the ethertype they stand for: one dispatch serves all.
_PPP_ETHERTYPE = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6}
_IP_VERSION_ETHERTYPE = tuple({4: ETH_IPV4, 6: ETH_IPV6}.get(version, -1) for version in range(16))
PROTO_IPIP = 4
PROTO_IPV6_IN_IP = 41
PROTO_GRE = 47
VXLAN_PORT = 4789
# Tunnels nested deeper than this are not followed: bounds work on crafted packets.
MAX_TUNNEL_DEPTH = 3
_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
# Tags one frame may carry, as in Suricata: a deeper stack ends decoding.
MAX_VLAN_LAYERS = 3
# Address families that BSD loopback headers use for IPv6 on different systems.
_AF_INET6 = frozenset((10, 24, 28, 30))

# IPv6 extension headers that are skipped by their length field.
_IP6_EXT_SKIP = frozenset((0, 43, 60, 135, 139, 140, 253, 254))
_IP6_FRAGMENT = 44
_IP6_AH = 51
_IP6_NO_NEXT = 59
_IP6_EXT_HEADERS = _IP6_EXT_SKIP | {_IP6_FRAGMENT, _IP6_AH}

_U16 = struct.Struct("!H")
_U32_LE = struct.Struct("<I")
_VLAN = struct.Struct("!HH")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_ETH_IP4 = struct.Struct("!12xHBBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_IP6_EXT = struct.Struct("!BB")
_IP6_FRAG = struct.Struct("!BBHI")
_TCP = struct.Struct("!HHIIBBH")
_UDP = struct.Struct("!HHH")
_ICMP = struct.Struct("!BB")


class Decoder:
    """Decodes link, network and transport headers; owns IP fragment reassembly."""

    __slots__ = ("defrag", "errors", "non_ip")

    def __init__(self, defrag: Defragmenter | None = None) -> None:
        self.defrag = defrag if defrag is not None else Defragmenter()
        # Malformed packets by reason, e.g. "ipv4.header_truncated".
        self.errors: Counter[str] = Counter()
        # Frames that are well-formed but not IP (ARP, LLDP, ...), by ethertype name.
        self.non_ip: Counter[str] = Counter()

    def decode(self, buf: Buffer, off: int, caplen: int, linktype: int, pkt: Packet) -> bool:
        pkt.buf = buf
        pkt.vlan = 0
        if linktype == LINKTYPE_ETHERNET:
            if caplen < 34:
                return self._ethernet(buf, off, off + caplen, pkt, 0)
            # Fast path for the common frame: untagged IPv4, no options, not a fragment, whole. It
            # sets what _ipv4 sets, inline: a call here would cost every packet.
            etype, vihl, tos, total, ident, frag, ttl, proto, _, src, dst = _ETH_IP4.unpack_from(buf, off)
            if etype == ETH_IPV4 and vihl == 0x45 and not frag & 0x3FFF and 20 <= total <= caplen - 14:
                pkt.ip_version = 4
                pkt.src = src
                pkt.dst = dst
                pkt.proto = proto
                pkt.ttl = ttl
                pkt.ip_tos = tos
                pkt.ip_id = ident
                pkt.ip_frag = frag
                return self._transport(buf, off + 34, off + 14 + total, proto, pkt, 0)
            # The Ethernet header is whole and its ethertype already read.
            return self._network(buf, off + 14, off + caplen, etype, pkt, 0)
        end = off + caplen
        off, etype = self._link_header(buf, off, end, linktype)
        if etype < 0:
            return False
        return self._network(buf, off, end, etype, pkt, 0)

    def _ethernet(self, buf: Buffer, off: int, end: int, pkt: Packet, level: int) -> bool:
        """An Ethernet frame: the capture's link layer, or inside a tunnel (VXLAN, GRE bridging)."""
        if off + 14 > end:
            self.errors["ethernet.truncated"] += 1
            return False
        return self._network(buf, off + 14, end, _U16.unpack_from(buf, off + 12)[0], pkt, level)

    def _network(self, buf: Buffer, off: int, end: int, etype: int, pkt: Packet, level: int) -> bool:
        """Decode a payload named by ethertype: 802.1Q tags first, then IPv4, IPv6 or the rarer types."""
        if etype in _VLAN_TYPES:
            off, etype, pkt.vlan = self._vlan_tags(buf, off, end, etype, pkt.vlan)
        if etype == ETH_IPV4:
            return self._ipv4(buf, off, end, pkt, level)
        if etype == ETH_IPV6:
            return self._ipv6(buf, off, end, pkt, level)
        if etype < 0:
            return False
        return self._other_ethertype(buf, off, end, etype, pkt, level)

    def _vlan_tags(self, buf: Buffer, off: int, end: int, etype: int, vlan: int) -> tuple[int, int, int]:
        """Walk one frame's 802.1Q/802.1ad tags, the first of them announced by ``etype`` at ``off``.

        Returns the offset past the tags, the ethertype they carry (-1 when the tags are malformed) and
        ``vlan`` with their ids appended, so tags inside a tunnel follow the outer frame's.
        """
        layers = 0
        while True:
            if off + 4 > end:
                self.errors["vlan.truncated"] += 1
                return off, -1, vlan
            tci, etype = _VLAN.unpack_from(buf, off)
            vlan = (vlan << 13) | 0x1000 | (tci & 0xFFF)
            off += 4
            if etype not in _VLAN_TYPES:
                return off, etype, vlan
            layers += 1
            if layers == MAX_VLAN_LAYERS:
                self.errors["vlan.too_many_layers"] += 1
                return off, -1, vlan

    def _other_ethertype(self, buf: Buffer, off: int, end: int, etype: int, pkt: Packet, level: int) -> bool:
        """PPPoE sessions and MPLS carry IP too; anything else is counted as non-IP."""
        if etype == ETH_PPPOE_SESSION:
            return self._pppoe(buf, off, end, pkt, level)
        if etype == ETH_MPLS:
            return self._mpls(buf, off, end, pkt, level)
        self.non_ip["arp" if etype == ETH_ARP else f"ethertype {etype:#06x}"] += 1
        return False

    def _pppoe(self, buf: Buffer, off: int, end: int, pkt: Packet, level: int) -> bool:
        if off + 8 > end:
            self.errors["pppoe.truncated"] += 1
            return False
        ppp = _U16.unpack_from(buf, off + 6)[0]
        etype = _PPP_ETHERTYPE.get(ppp, -1)
        if etype < 0:
            self.non_ip[f"ppp protocol {ppp:#06x}"] += 1
            return False
        return self._network(buf, off + 8, end, etype, pkt, level)

    def _mpls(self, buf: Buffer, off: int, end: int, pkt: Packet, level: int) -> bool:
        while True:
            if off + 4 > end:
                self.errors["mpls.truncated"] += 1
                return False
            bottom = buf[off + 2] & 1
            off += 4
            if bottom:
                break
        # No type field follows the label stack: IP is told apart by its version nibble.
        etype = _IP_VERSION_ETHERTYPE[buf[off] >> 4] if off < end else -1
        if etype < 0:
            self.non_ip["mpls payload"] += 1
            return False
        return self._network(buf, off, end, etype, pkt, level)

    def _gre(self, buf: Buffer, off: int, end: int, pkt: Packet, level: int) -> bool:
        if off + 4 > end:
            self.errors["gre.truncated"] += 1
            return False
        flags, etype = _VLAN.unpack_from(buf, off)
        if flags & 0x0007:
            # Version 1 is PPTP's enhanced GRE: not a plain tunnel. Track it as a GRE flow.
            return self._transport(buf, off, end, PROTO_GRE, pkt, MAX_TUNNEL_DEPTH)
        off += 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
        if etype == ETH_TEB:
            return self._ethernet(buf, off, end, pkt, level)
        # Only IP and bridged Ethernet are followed; other payloads are counted by type.
        if etype in (ETH_IPV4, ETH_IPV6):
            return self._network(buf, off, end, etype, pkt, level)
        self.non_ip[f"gre payload {etype:#06x}"] += 1
        return False

    def _link_header(self, buf: Buffer, off: int, end: int, linktype: int) -> tuple[int, int]:
        """Skip a non-Ethernet link header; return (network offset, ethertype) or (_, -1)."""
        if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_OPENBSD, LINKTYPE_RAW_14, LINKTYPE_IPV4, LINKTYPE_IPV6):
            if off >= end:
                self.errors["raw.empty"] += 1
                return off, -1
            etype = _IP_VERSION_ETHERTYPE[buf[off] >> 4]
            if etype < 0:
                self.errors["raw.bad_ip_version"] += 1
            return off, etype
        if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
            if off + 4 > end:
                self.errors["null.truncated"] += 1
                return off, -1
            family = _U32_LE.unpack_from(buf, off)[0]
            # The family is in the capturing host's byte order (NULL) or network order (LOOP).
            if linktype == LINKTYPE_LOOP or family > 0xFFFF:
                family = int.from_bytes(buf[off : off + 4], "big")
            if family == 2:
                return off + 4, ETH_IPV4
            if family in _AF_INET6:
                return off + 4, ETH_IPV6
            self.non_ip[f"loopback family {family}"] += 1
            return off, -1
        # Cooked captures may still carry 802.1Q tags in the payload: the ethertype dispatch walks them.
        if linktype == LINKTYPE_LINUX_SLL:
            if off + 16 > end:
                self.errors["sll.truncated"] += 1
                return off, -1
            return off + 16, _U16.unpack_from(buf, off + 14)[0]
        if linktype == LINKTYPE_LINUX_SLL2:
            if off + 20 > end:
                self.errors["sll2.truncated"] += 1
                return off, -1
            return off + 20, _U16.unpack_from(buf, off)[0]
        if linktype == LINKTYPE_C_HDLC:
            if off + 4 > end:
                self.errors["chdlc.truncated"] += 1
                return off, -1
            return off + 4, _U16.unpack_from(buf, off + 2)[0]
        self.errors[f"linktype.unsupported_{linktype}"] += 1
        return off, -1

    def _ipv4(self, buf: Buffer, off: int, end: int, pkt: Packet, level: int) -> bool:
        if off + 20 > end:
            self.errors["ipv4.header_truncated"] += 1
            return False
        vihl, tos, total, ident, frag, ttl, proto, _csum, src, dst = _IP4.unpack_from(buf, off)
        hlen = (vihl & 0x0F) << 2
        if vihl >> 4 != 4:
            self.errors["ipv4.bad_version"] += 1
            return False
        if hlen < 20:
            self.errors["ipv4.bad_header_length"] += 1
            return False
        if total < hlen:
            self.errors["ipv4.bad_total_length"] += 1
            return False
        ip_end = off + total
        if ip_end > end:
            if off + hlen > end:
                self.errors["ipv4.header_truncated"] += 1
                return False
            # Captured with a snap length: decode what is there.
            ip_end = end
        pkt.ip_version = 4
        pkt.src = src
        pkt.dst = dst
        pkt.proto = proto
        pkt.ttl = ttl
        pkt.ip_tos = tos
        pkt.ip_id = ident
        pkt.ip_frag = frag
        off += hlen
        if frag & 0x3FFF:
            data = self.defrag.add(
                (4, src, dst, ident, proto, pkt.vlan, pkt.iface),
                (frag & 0x1FFF) << 3,
                bool(frag & 0x2000),
                buf[off:ip_end],
                pkt.ts,
            )
            if data is None:
                return False
            pkt.buf = buf = data
            off = 0
            ip_end = len(data)
        return self._transport(buf, off, ip_end, proto, pkt, level)

    def _ipv6(self, buf: Buffer, off: int, end: int, pkt: Packet, level: int) -> bool:
        if off + 40 > end:
            self.errors["ipv6.header_truncated"] += 1
            return False
        vtcfl, plen, nxt, hlim, src, dst = _IP6.unpack_from(buf, off)
        if vtcfl >> 28 != 6:
            self.errors["ipv6.bad_version"] += 1
            return False
        off += 40
        ip_end = off + plen
        if ip_end > end:
            ip_end = end
        pkt.ip_version = 6
        pkt.src = src
        pkt.dst = dst
        pkt.ttl = hlim
        pkt.ip_tos = (vtcfl >> 20) & 0xFF
        pkt.ip_id = pkt.ip_frag = 0
        while nxt in _IP6_EXT_HEADERS:
            if off + 8 > ip_end:
                self.errors["ipv6.ext_header_truncated"] += 1
                return False
            if nxt == _IP6_FRAGMENT:
                nxt, _res, offflags, ident = _IP6_FRAG.unpack_from(buf, off)
                off += 8
                if offflags == 0:
                    # Atomic fragment (RFC 6946): a whole datagram.
                    continue
                pkt.ip_id = ident
                pkt.ip_frag = (offflags >> 3) | (offflags & 1) << 13
                data = self.defrag.add(
                    (6, src, dst, ident, nxt, pkt.vlan, pkt.iface),
                    offflags & 0xFFF8,
                    bool(offflags & 1),
                    buf[off:ip_end],
                    pkt.ts,
                )
                if data is None:
                    return False
                # Headers after the fragment header sit inside the reassembled data.
                pkt.buf = buf = data
                off = 0
                ip_end = len(data)
                continue
            header = nxt
            nxt, hlen = _IP6_EXT.unpack_from(buf, off)
            # AH counts its length in 4-byte units less 2; the others in 8-byte units less 1.
            off += (hlen + 2) << 2 if header == _IP6_AH else (hlen + 1) << 3
            if off > ip_end:
                self.errors["ipv6.ext_header_truncated"] += 1
                return False
        pkt.proto = nxt
        if nxt == _IP6_NO_NEXT:
            nxt = 0
        return self._transport(buf, off, ip_end, nxt, pkt, level)

    def _transport(self, buf: Buffer, off: int, end: int, proto: int, pkt: Packet, level: int) -> bool:
        if proto == PROTO_TCP:
            if off + 20 > end:
                self.errors["tcp.header_truncated"] += 1
                return False
            sport, dport, seq, ack, doff, flags, window = _TCP.unpack_from(buf, off)
            hlen = (doff >> 4) << 2
            if hlen < 20:
                self.errors["tcp.bad_header_length"] += 1
                return False
            if off + hlen > end:
                self.errors["tcp.header_truncated"] += 1
                return False
            pkt.sport = sport
            pkt.dport = dport
            pkt.seq = seq
            pkt.ack = ack
            pkt.tcp_flags = flags
            pkt.window = window
            pkt.tcp_hlen = hlen
            pkt.payload_off = off + hlen
            pkt.payload_len = end - off - hlen
            return True
        if proto == PROTO_UDP:
            if off + 8 > end:
                self.errors["udp.header_truncated"] += 1
                return False
            sport, dport, length = _UDP.unpack_from(buf, off)
            if length < 8:
                self.errors["udp.bad_length"] += 1
                return False
            if (
                dport == VXLAN_PORT
                and level < MAX_TUNNEL_DEPTH
                and length >= 16
                # The VXLAN header must be captured, not only announced by the UDP length.
                and off + 16 <= end
                and buf[off + 8] & 0x08
            ):
                return self._ethernet(buf, off + 16, end, pkt, level + 1)
            pkt.sport = sport
            pkt.dport = dport
            pkt.tcp_flags = 0
            pkt.payload_off = off + 8
            # Trust the UDP length over trailing link padding, but never read past the capture.
            udp_end = off + length
            pkt.payload_len = (udp_end if udp_end < end else end) - off - 8
            return True
        if proto in (PROTO_ICMP, PROTO_ICMPV6):
            if off + 4 > end:
                self.errors[
                    "icmp.header_truncated" if proto == PROTO_ICMP else "icmpv6.header_truncated"
                ] += 1
                return False
            pkt.icmp_type, pkt.icmp_code = _ICMP.unpack_from(buf, off)
            pkt.sport = pkt.dport = 0
            pkt.tcp_flags = 0
            pkt.payload_off = off + 4
            pkt.payload_len = end - off - 4
            return True
        if proto == PROTO_SCTP:
            if off + 12 > end:
                self.errors["sctp.header_truncated"] += 1
                return False
            pkt.sport, pkt.dport = _VLAN.unpack_from(buf, off)
            pkt.tcp_flags = 0
            pkt.payload_off = off + 12
            pkt.payload_len = end - off - 12
            return True
        if level < MAX_TUNNEL_DEPTH:
            if proto == PROTO_IPIP:
                return self._ipv4(buf, off, end, pkt, level + 1)
            if proto == PROTO_IPV6_IN_IP:
                return self._ipv6(buf, off, end, pkt, level + 1)
            if proto == PROTO_GRE:
                return self._gre(buf, off, end, pkt, level + 1)
        pkt.sport = pkt.dport = 0
        pkt.tcp_flags = 0
        pkt.payload_off = off
        pkt.payload_len = end - off if end > off else 0
        return True


def parse_tcp_options(buf: Buffer, off: int, length: int) -> dict[str, int] | None:
    """Decode the TCP options that matter to stream tracking. None when the option list is malformed."""
    opts: dict[str, int] = {}
    end = off + length
    while off < end:
        kind = buf[off]
        if kind == 0:
            break
        if kind == 1:
            off += 1
            continue
        if off + 2 > end:
            return None
        olen = buf[off + 1]
        if olen < 2 or off + olen > end:
            return None
        if kind == 2 and olen == 4:
            opts["mss"] = _U16.unpack_from(buf, off + 2)[0]
        elif kind == 3 and olen == 3:
            opts["wscale"] = min(buf[off + 2], 14)
        elif kind == 4 and olen == 2:
            opts["sack_permitted"] = 1
        elif kind == 8 and olen == 10:
            opts["tsval"] = int.from_bytes(buf[off + 2 : off + 6], "big")
        elif kind == 34:
            opts["tfo"] = 1
        off += olen
    return opts
