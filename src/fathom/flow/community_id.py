"""Community ID v1 flow hashing (https://github.com/corelight/community-id-spec).

The hash input is, in network byte order: 2-byte seed, the two addresses, the IP protocol, one zero pad byte
and, for port-carrying protocols only, the two ports. Endpoints are ordered so that both directions of a
flow hash identically. ICMP and ICMPv6 use Zeek's type/code to port mapping so that a request and its reply
land on the same ID; message types without a counterpart are one-way and keep their original direction.
"""

from __future__ import annotations

import binascii
import hashlib
import struct

__all__ = ["community_id_ports", "community_id_v1"]

_PROTO_ICMP = 1
_PROTO_TCP = 6
_PROTO_UDP = 17
_PROTO_ICMPV6 = 58
_PROTO_SCTP = 132

_SEED = struct.Struct("!H")
_PORTS = struct.Struct("!HH")
# Protocol byte followed by the pad byte, for every protocol number.
_PROTO_PAD = tuple(bytes((proto, 0)) for proto in range(256))

# Request/reply counterparts from the spec's reference tables (pycommunityid icmp.py / icmp6.py, which mirror
# Zeek's ICMP4_counterpart/ICMP6_counterpart). Types missing here are one-way: the code becomes the "port".
_ICMP4_COUNTERPART = {
    8: 0,  # echo -> echo reply
    0: 8,
    13: 14,  # timestamp
    14: 13,
    15: 16,  # information
    16: 15,
    10: 9,  # router solicitation -> advertisement
    9: 10,
    17: 18,  # address mask
    18: 17,
}
_ICMP6_COUNTERPART = {
    128: 129,  # echo request -> reply
    129: 128,
    130: 131,  # MLD listener query -> report
    131: 130,
    133: 134,  # router solicitation -> advertisement
    134: 133,
    135: 136,  # neighbor solicitation -> advertisement
    136: 135,
    139: 140,  # node information (who-are-you) query -> reply
    140: 139,
    144: 145,  # home agent address discovery request -> reply
    145: 144,
}
_ICMP_COUNTERPARTS = {_PROTO_ICMP: _ICMP4_COUNTERPART, _PROTO_ICMPV6: _ICMP6_COUNTERPART}
_PORT_PROTOS = frozenset((_PROTO_TCP, _PROTO_UDP, _PROTO_SCTP))
_SEED_ZERO = b"\x00\x00"
_b64 = binascii.b2a_base64
_sha1 = hashlib.sha1


def _encode(data: bytes) -> str:
    """The ID of a hash input: version 1, base64 of its SHA-1."""
    return "1:" + _b64(_sha1(data, usedforsecurity=False).digest(), newline=False).decode("ascii")


def community_id_ports(src: bytes, dst: bytes, sport: int, dport: int, proto: int) -> str:
    """Community ID v1 (seed 0) of a TCP, UDP or SCTP flow whose addresses and ports came from a decoded
    packet, so they need no checking: the per-flow fast path of :func:`community_id_v1`."""
    if dst < src or (src == dst and dport < sport):
        src, dst, sport, dport = dst, src, dport, sport
    return _encode(b"".join((_SEED_ZERO, src, dst, _PROTO_PAD[proto], _PORTS.pack(sport, dport))))


def community_id_v1(src: bytes, dst: bytes, sport: int, dport: int, proto: int, seed: int = 0) -> str:
    """Return the Community ID v1 string of a flow.

    src/dst: packed addresses (4 bytes IPv4 or 16 bytes IPv6). For TCP/UDP/SCTP sport/dport are ports;
    for ICMP (proto 1) and ICMPv6 (proto 58) sport is the ICMP type and dport the ICMP code, and the
    function applies the spec's one-way/two-way type mapping. Other protocols: ports ignored (no port part).
    Returns '1:' + base64(sha1(...)).

    Raises ValueError for addresses of mismatched or unsupported length, or a protocol, port or seed out of
    range.
    """
    if len(src) != len(dst) or len(src) not in (4, 16):
        raise ValueError("community_id_v1: addresses must both be 4 (IPv4) or 16 (IPv6) bytes")
    if not 0 <= proto <= 255:
        raise ValueError(f"community_id_v1: protocol {proto} out of range")

    one_way = False
    counterparts = _ICMP_COUNTERPARTS.get(proto)
    if counterparts is not None:
        peer = counterparts.get(sport)
        if peer is None:
            # No reply type exists, so there is no reverse direction to fold into this flow.
            one_way = True
        else:
            # The code is dropped so a request and its reply map to mirrored "port" pairs.
            dport = peer
        has_ports = True
    else:
        has_ports = proto in _PORT_PROTOS

    # Ports only break ties between equal addresses; ICMP one-way messages are never flipped.
    if not one_way and (dst < src or (src == dst and has_ports and dport < sport)):
        src, dst, sport, dport = dst, src, dport, sport

    try:
        ports = _PORTS.pack(sport, dport) if has_ports else b""
        data = b"".join((_SEED.pack(seed), src, dst, _PROTO_PAD[proto], ports))
    except struct.error as exc:
        raise ValueError(f"community_id_v1: {exc}") from None
    return _encode(data)
