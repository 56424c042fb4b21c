"""Just enough DNS (RFC 1035) to answer A queries for the benchmark zone; stdlib only."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

ZONE = "bench.fathom.test"
TYPE_A = 1
TYPE_AAAA = 28
TYPE_OPT = 41
CLASS_IN = 1
RCODE_FORMERR = 1
RCODE_NXDOMAIN = 3
TTL = 300
_HEADER = struct.Struct("!HHHHHH")


class DnsFormatError(ValueError):
    pass


def parse_question(packet: bytes) -> tuple[int, int, str, int, int, bool]:
    """Return (id, flags, qname, qtype, qclass, has_edns) of a one-question query."""
    if len(packet) < _HEADER.size:
        raise DnsFormatError("short header")
    qid, flags, qdcount, _an, _ns, arcount = _HEADER.unpack_from(packet)
    if qdcount != 1:
        raise DnsFormatError("expected one question")
    labels: list[str] = []
    pos = _HEADER.size
    while True:
        if pos >= len(packet):
            raise DnsFormatError("name runs past the packet")
        length = packet[pos]
        pos += 1
        if length == 0:
            break
        if length > 63:  # queries never use compression pointers in the question
            raise DnsFormatError("bad label length")
        labels.append(packet[pos : pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(packet):
        raise DnsFormatError("truncated question")
    qtype, qclass = struct.unpack_from("!HH", packet, pos)
    return qid, flags, ".".join(labels).lower(), qtype, qclass, arcount > 0


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.strip(".").split("."):
        raw = label.encode("ascii")
        out.append(len(raw))
        out += raw
    return bytes(out) + b"\x00"


def address_for(name: str, fixed: Mapping[str, str]) -> str:
    """Fixed hosts map to the real servers; every other zone name gets a stable made-up address."""
    if name in fixed:
        return fixed[name]
    h = zlib.crc32(name.encode())
    return f"10.199.{128 + (h >> 8) % 128}.{1 + h % 254}"


def answer(packet: bytes, fixed: Mapping[str, str]) -> bytes | None:
    """Build the response to one query, or None when it is too broken to answer."""
    try:
        qid, flags, qname, qtype, qclass, edns = parse_question(packet)
    except DnsFormatError:
        if len(packet) < 2:
            return None
        qid = struct.unpack_from("!H", packet)[0]
        return _HEADER.pack(qid, 0x8000 | RCODE_FORMERR, 0, 0, 0, 0)
    in_zone = qname == ZONE or qname.endswith("." + ZONE)
    rcode = 0 if in_zone else RCODE_NXDOMAIN
    # QR + AA, echo the RD bit, advertise RA like a real resolver would.
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    question = encode_name(qname) + struct.pack("!HH", qtype, qclass)
    answers = b""
    if in_zone and qtype == TYPE_A and qclass == CLASS_IN:
        addr = bytes(int(part) for part in address_for(qname, fixed).split("."))
        # 0xC00C points back at the question name at offset 12.
        answers = struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + addr
    opt = struct.pack("!BHHIH", 0, TYPE_OPT, 1232, 0, 0) if edns else b""
    header = _HEADER.pack(qid, rflags, 1, 1 if answers else 0, 0, 1 if edns else 0)
    return header + question + answers + opt
