"""DTLS (RFC 6347, RFC 9147) as its datagrams show it before encryption (sans-IO): the records
of a datagram, the handshake fragments of a record, and a hello put together from its fragments
in TLS's framing, for :func:`fathom.apps.tls_hello.parse_hello`.

A datagram's first byte tells DTLS from the STUN, TURN channel and RTP packets it may share a
flow with (RFC 7983 §7): 20 to 63 is DTLS. Of that range, 20 to 23 are the content types of
records with the full header (epoch and 48-bit sequence number), the only ones in clear; 32 to
63 start DTLS 1.3's unified header (RFC 9147 §4), which only protected records use.

Nothing here raises on what a datagram holds: what does not parse is None.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from fathom.apps.quic_initial import CryptoStream
from fathom.apps.tls_hello import MAX_HELLO

Bytes = bytes | bytearray | memoryview

# Content type, version, epoch, sequence number (48 bits, as 32 and 16), length.
RECORD = struct.Struct("!BHHIHH")
# Handshake type, message length (24 bits, as 8 and 16), message_seq, fragment offset and
# fragment length (24 bits each).
_FRAGMENT = struct.Struct("!BBHHBHBH")
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
CONTENT_TYPES = frozenset({CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA})
# DTLS 1.0, 1.2 and 1.3 (whose records say 1.2).
VERSIONS = frozenset({0xFEFF, 0xFEFD, 0xFEFC})
# Records of one datagram, and handshake fragments of one record, read: a flight packs a few
# messages (ServerHello to ServerHelloDone is five) into a datagram.
MAX_RECORDS = 16
MAX_FRAGMENTS = 16


def is_dtls_range(first: int) -> bool:
    """Whether a datagram starting with ``first`` is DTLS, as RFC 7983 demultiplexes."""
    return 20 <= first <= 63


def is_unified_header(first: int) -> bool:
    """Whether a datagram starting with ``first`` is a protected DTLS 1.3 record."""
    return first & 0xE0 == 0x20


class Record(NamedTuple):
    """One record of a datagram: its body is ``datagram[start:end]``."""

    kind: int
    epoch: int
    start: int
    end: int


def records(datagram: Bytes) -> list[Record] | None:
    """The records filling ``datagram`` exactly, each of a TLS content type and a DTLS version;
    None when it holds anything else (or more than :data:`MAX_RECORDS` of them)."""
    found: list[Record] = []
    off = 0
    while off < len(datagram):
        if len(found) == MAX_RECORDS or off + RECORD.size > len(datagram):
            return None
        kind, version, epoch, _, _, size = RECORD.unpack_from(datagram, off)
        end = off + RECORD.size + size
        if kind not in CONTENT_TYPES or version not in VERSIONS or end > len(datagram):
            return None
        found.append(Record(kind, epoch, off + RECORD.size, end))
        off = end
    return found or None


class Fragment(NamedTuple):
    """A handshake fragment: ``data`` is the message's bytes from ``offset``, of ``length``."""

    kind: int
    length: int
    seq: int
    offset: int
    data: bytes


def fragments(datagram: bytes, record: Record) -> list[Fragment] | None:
    """The handshake fragments of a handshake ``record`` of ``datagram``, each within its
    message; None when one is cut short or runs past its message."""
    found: list[Fragment] = []
    off = record.start
    while off < record.end:
        if len(found) == MAX_FRAGMENTS or off + _FRAGMENT.size > record.end:
            return None
        kind, length_hi, length, seq, offset_hi, offset, size_hi, size = _FRAGMENT.unpack_from(datagram, off)
        length |= length_hi << 16
        offset |= offset_hi << 16
        size |= size_hi << 16
        start = off + _FRAGMENT.size
        if start + size > record.end or offset + size > length:
            return None
        found.append(Fragment(kind, length, seq, offset, datagram[start : start + size]))
        off = start + size
    return found


class HelloAssembly:
    """A direction's hello, ClientHello or ServerHello (handshake type ``kind``), put together
    from its fragments in any order, retransmitted ones included, as the TLS message
    :func:`~fathom.apps.tls_hello.parse_hello` reads: header and body.

    ``failure`` says why the hello cannot be had: longer than :data:`MAX_HELLO`
    (``hello_too_long``), or cut into too many pieces (``hello_fragments``)."""

    __slots__ = ("failure", "kind", "length", "seq", "stream")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        # The message_seq and length of the message being put together, once a fragment came.
        self.seq = -1
        self.length = 0
        self.stream = CryptoStream()
        self.failure: str | None = None

    def add(self, fragment: Fragment) -> bytes | None:
        """Hold a fragment of the hello; the whole message once it is complete. A later message
        of the kind (a ClientHello sent again with the server's cookie, RFC 6347 §4.2.1) starts
        over; fragments of an earlier one, or that disagree on its length, are left out."""
        if fragment.kind != self.kind or self.failure is not None or fragment.seq < self.seq:
            return None
        if fragment.seq > self.seq:
            if 4 + fragment.length > MAX_HELLO:
                self.failure = "hello_too_long"
                return None
            self.seq, self.length = fragment.seq, fragment.length
            self.stream.clear()
            self.stream.add(0, bytes([self.kind]) + fragment.length.to_bytes(3, "big"))
        if fragment.length != self.length:
            return None
        if not self.stream.add(4 + fragment.offset, fragment.data):
            self.failure = "hello_fragments"
            return None
        return self.stream.message()
