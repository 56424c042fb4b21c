"""Transport checksums (TCP, UDP, ICMP, ICMPv6), verified as Snort verifies them by default
(``checksum_eval = all``): a packet whose checksum is wrong is not inspected.

The ones' complement sum of 16-bit words is congruent to the words' sum modulo 0xFFFF, and so to
the big-endian integer the bytes make (2**16 is 1 modulo 0xFFFF): a checksum is right when
pseudo-header and segment together come to 0 modulo 0xFFFF.
"""

from __future__ import annotations

from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Packet

# Bytes before the payload that the decoder skipped: the fixed transport header.
_HEADER = {PROTO_UDP: 8, PROTO_ICMP: 4, PROTO_ICMPV6: 4}


def checksum_ok(pkt: Packet) -> bool:
    """Whether the transport checksum of ``pkt`` (decoded, whole) is right; protocols without one
    checked here pass."""
    proto = pkt.proto
    header = pkt.tcp_hlen if proto == PROTO_TCP else _HEADER.get(proto)
    if header is None:
        return True
    start = pkt.payload_off - header
    end = pkt.payload_off + pkt.payload_len
    segment = memoryview(pkt.buf)[start:end]
    if proto == PROTO_UDP and pkt.ip_version == 4 and segment[6] == segment[7] == 0:
        return True  # no checksum computed (IPv4 only)
    length = end - start
    total = int.from_bytes(segment, "big")
    if length & 1:
        total <<= 8  # the last byte is the high half of a word padded with zero
    if proto != PROTO_ICMP:
        # The pseudo-header: addresses, protocol and length (IPv6's 32-bit length and next
        # header come to the same sum).
        total += int.from_bytes(pkt.src + pkt.dst, "big") + proto + length
    return total % 0xFFFF == 0
