"""QUIC's first packets as an on-path observer reads them, to find the TLS hellos they carry.

IETF QUIC: the long header (RFC 8999, RFC 9000 §17.2), Initial packet protection removed with the
keys every observer can derive from the client's first Destination Connection ID (RFC 9001 §5.2
and §5.4; RFC 9369 §3.3 for QUIC version 2; the draft-23 and draft-29 salts for the drafts), the
frames an Initial may hold (RFC 9000 §19, §17.2.2), and the CRYPTO stream reassembled by offset
into the first handshake message. AES-GCM, AES-ECB (header protection) and HKDF-Expand come from
the ``cryptography`` package.

Google QUIC: the client hello (CHLO) that versions up to Q046 send in plaintext, after the public
header (Q0xx) or their own long header (Q044 to Q046), with its tag-value pairs.

Nothing here raises on what packets hold: what does not parse is None.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from typing import TYPE_CHECKING

# cryptography is imported when a first Initial packet is read: a run without QUIC (and every
# start-up) does not pay the tenth of a second its import takes.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import CipherContext

VERSION_1 = 0x00000001
VERSION_2 = 0x6B3343CF
_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_SALT_DRAFT_29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")  # drafts 29 to 32
_SALT_DRAFT_23 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")  # drafts 23 to 28
_DRAFT = 0xFF000000
_MVFST_DRAFT_23 = 0xFACEB002  # Facebook's mvfst, on draft 23

# Packet types, in version 1's numbering; version 2 numbers them from Initial = 1 (RFC 9369 §3.2).
INITIAL, ZERO_RTT, HANDSHAKE, RETRY = range(4)
VERSION_NEGOTIATION = 4
# A long header of a version whose layout past the connection ids is not known here.
UNKNOWN = 5
_MAX_CID = 20
_SAMPLE = 16
_TAG = 16
_PN_MAX = 4

# Bytes of a direction's CRYPTO stream held until its first message is whole: ClientHellos are
# under 2 KiB, post-quantum key shares included; a longer first message is not read.
MAX_CRYPTO = 16384
# Separate byte ranges of a CRYPTO stream held: Chrome cuts its ClientHello into a few ranges
# and sends them out of order; adjacent ranges are merged.
MAX_CRYPTO_RANGES = 32
# Tags of a Google QUIC client hello read (Chrome's have about 25).
MAX_TAGS = 64


def _salt(version: int) -> bytes | None:
    """The Initial salt of ``version``; None for a version whose Initials are not read here."""
    if version == VERSION_1 or _DRAFT | 33 <= version <= _DRAFT | 34:
        return _SALT_V1
    if version == VERSION_2:
        return _SALT_V2
    if _DRAFT | 29 <= version <= _DRAFT | 32:
        return _SALT_DRAFT_29
    if _DRAFT | 23 <= version <= _DRAFT | 28 or version == _MVFST_DRAFT_23:
        return _SALT_DRAFT_23
    return None


def _expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """TLS 1.3's HKDF-Expand-Label with an empty context (RFC 8446 §7.1)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


class PacketKeys:
    """One direction's Initial keys: AEAD_AES_128_GCM for the payload, AES-128-ECB for the
    header protection mask (RFC 9001 §5.3, §5.4.3)."""

    __slots__ = ("_aead", "_hp", "_iv")

    def __init__(self, secret: bytes, version: int) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        prefix = b"quicv2 " if version == VERSION_2 else b"quic "
        self._aead = AESGCM(_expand_label(secret, prefix + b"key", 16))
        self._iv = int.from_bytes(_expand_label(secret, prefix + b"iv", 12), "big")
        hp_key = _expand_label(secret, prefix + b"hp", 16)
        self._hp: CipherContext = Cipher(algorithms.AES(hp_key), modes.ECB()).encryptor()

    def mask(self, sample: bytes) -> bytes:
        return self._hp.update(sample)

    def open(self, packet_number: int, header: bytes, payload: bytes) -> bytes | None:
        """The plaintext of ``payload`` (ciphertext and tag), or None if it fails authentication."""
        from cryptography.exceptions import InvalidTag

        nonce = (self._iv ^ packet_number).to_bytes(12, "big")
        try:
            return self._aead.decrypt(nonce, payload, header)
        except InvalidTag:
            return None


def initial_keys(version: int, dcid: bytes) -> tuple[PacketKeys, PacketKeys] | None:
    """The client's and the server's Initial keys of a connection whose client chose ``dcid``
    (RFC 9001 §5.2); None for a version without a known salt."""
    salt = _salt(version)
    if salt is None:
        return None
    initial_secret = hmac.new(salt, dcid, hashlib.sha256).digest()  # HKDF-Extract
    client = PacketKeys(_expand_label(initial_secret, b"client in", 32), version)
    server = PacketKeys(_expand_label(initial_secret, b"server in", 32), version)
    return client, server


def varint(data: bytes, off: int) -> tuple[int, int] | None:
    """The variable-length integer at ``off`` (RFC 9000 §16) and the offset after it."""
    if off >= len(data):
        return None
    size = 1 << (data[off] >> 6)
    if off + size > len(data):
        return None
    return int.from_bytes(data[off : off + size], "big") & ((1 << (8 * size - 2)) - 1), off + size


class LongHeader:
    """A long-header packet at ``start`` of a datagram, ending at ``end``; ``pn_offset`` is where
    the protected packet number starts (Initial, 0-RTT and Handshake packets)."""

    __slots__ = ("dcid", "end", "kind", "pn_offset", "scid", "start", "version")

    def __init__(self, start: int, version: int, kind: int, dcid: bytes, scid: bytes) -> None:
        self.start, self.version, self.kind, self.dcid, self.scid = start, version, kind, dcid, scid
        self.pn_offset = self.end = 0


def parse_long_header(data: bytes, start: int) -> LongHeader | None:
    """The long header at ``start`` (its first byte has the long form bit); None when it is cut
    short or its lengths do not fit the datagram."""
    if start + 7 > len(data):
        return None
    version = int.from_bytes(data[start + 1 : start + 5], "big")
    off = start + 5
    dcid_len = data[off]
    if off + 1 + dcid_len + 1 > len(data):
        return None
    dcid = data[off + 1 : off + 1 + dcid_len]
    off += 1 + dcid_len
    scid_len = data[off]
    if off + 1 + scid_len > len(data):
        return None
    scid = data[off + 1 : off + 1 + scid_len]
    off += 1 + scid_len
    if version == 0:
        header = LongHeader(start, version, VERSION_NEGOTIATION, dcid, scid)
    elif _salt(version) is None:
        header = LongHeader(start, version, UNKNOWN, dcid, scid)
    else:
        bits = (data[start] >> 4) & 3
        kind = (bits - 1) & 3 if version == VERSION_2 else bits
        if dcid_len > _MAX_CID or scid_len > _MAX_CID:
            return None
        header = LongHeader(start, version, kind, dcid, scid)
        if kind != RETRY:
            return _with_length(header, data, off)
    header.end = len(data)  # the rest of the datagram: nothing can follow these
    return header


def _with_length(header: LongHeader, data: bytes, off: int) -> LongHeader | None:
    """An Initial's token, then the length of a packet that has one, checked against the datagram."""
    if header.kind == INITIAL:
        token = varint(data, off)
        if token is None:
            return None
        off = token[1] + token[0]
    length = varint(data, off)
    if length is None or length[1] + length[0] > len(data):
        return None
    header.pn_offset = length[1]
    header.end = length[1] + length[0]
    return header


def decode_packet_number(largest: int, truncated: int, bits: int) -> int:
    """The full packet number from its ``bits`` low bits, near the largest one received so far
    (RFC 9000 §A.3; -1 when none was)."""
    expected = largest + 1
    window = 1 << bits
    half = window // 2
    candidate = (expected & ~(window - 1)) | truncated
    if candidate <= expected - half and candidate < (1 << 62) - window:
        return candidate + window
    if candidate > expected + half and candidate >= window:
        return candidate - window
    return candidate


def unprotect(keys: PacketKeys, data: bytes, header: LongHeader, largest: int) -> tuple[int, bytes] | None:
    """The packet number and plaintext payload of the protected packet ``header`` describes in
    ``data``; None when it is too short to hold a sample or fails authentication."""
    pn_offset = header.pn_offset
    if pn_offset + _PN_MAX + _SAMPLE > header.end:
        return None
    mask = keys.mask(data[pn_offset + _PN_MAX : pn_offset + _PN_MAX + _SAMPLE])
    first = data[header.start] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    protected = data[pn_offset : pn_offset + pn_len]
    pn_bytes = bytes(b ^ m for b, m in zip(protected, mask[1 : 1 + pn_len], strict=True))
    payload = data[pn_offset + pn_len : header.end]
    if len(payload) < _TAG:
        return None
    packet_number = decode_packet_number(largest, int.from_bytes(pn_bytes, "big"), 8 * pn_len)
    aad = bytes([first]) + data[header.start + 1 : pn_offset] + pn_bytes
    plaintext = keys.open(packet_number, aad, payload)
    return None if plaintext is None else (packet_number, plaintext)


def crypto_frames(payload: bytes) -> list[tuple[int, bytes]] | None:
    """The CRYPTO frames' (offset, data) of a decrypted Initial payload, in order, after PADDING,
    PING, ACK and CONNECTION_CLOSE frames; a frame of another type cannot be in an Initial
    (RFC 9000 §17.2.2) and its length is not known, so reading stops there. None when a frame is
    cut short."""
    frames: list[tuple[int, bytes]] = []
    off = 0
    while off < len(payload):
        kind = payload[off]
        off += 1
        if kind == 0x00:  # PADDING
            while off < len(payload) and payload[off] == 0:
                off += 1
            continue
        if kind == 0x01:  # PING
            continue
        if kind in (0x02, 0x03):
            end = _skip_ack(payload, off, kind == 0x03)
        elif kind == 0x06:
            end = _crypto(payload, off, frames)
        elif kind in (0x1C, 0x1D):
            end = _skip_close(payload, off, kind == 0x1C)
        else:
            break
        if end is None:
            return None
        off = end
    return frames


def _varints(data: bytes, off: int, count: int) -> int | None:
    """The offset after ``count`` variable-length integers from ``off``."""
    for _ in range(count):
        value = varint(data, off)
        if value is None:
            return None
        off = value[1]
    return off


def _skip_ack(payload: bytes, off: int, ecn: bool) -> int | None:
    after = _varints(payload, off, 2)  # largest acknowledged, ACK delay
    ranges = None if after is None else varint(payload, after)
    if ranges is None:
        return None
    # Each further range is two integers of a byte at least: a count past the payload is cut short.
    if 2 * ranges[0] > len(payload) - ranges[1]:
        return None
    end = _varints(payload, ranges[1], 1 + 2 * ranges[0])
    return end if end is None or not ecn else _varints(payload, end, 3)


def _crypto(payload: bytes, off: int, frames: list[tuple[int, bytes]]) -> int | None:
    offset = varint(payload, off)
    length = None if offset is None else varint(payload, offset[1])
    if offset is None or length is None or length[1] + length[0] > len(payload):
        return None
    frames.append((offset[0], payload[length[1] : length[1] + length[0]]))
    return length[1] + length[0]


def _skip_close(payload: bytes, off: int, transport: bool) -> int | None:
    after = _varints(payload, off, 2 if transport else 1)  # error code (and frame type)
    reason = None if after is None else varint(payload, after)
    if reason is None or reason[1] + reason[0] > len(payload):
        return None
    return reason[1] + reason[0]


class CryptoStream:
    """One direction's handshake bytes, put together by offset whatever the order they came in,
    up to :data:`MAX_CRYPTO` bytes: the CRYPTO stream of Initial packets, or a DTLS hello's
    fragments (:mod:`fathom.apps.dtls`)."""

    __slots__ = ("data", "ranges")

    def __init__(self) -> None:
        self.data = bytearray()
        # The byte ranges received, [start, end), sorted, apart and not touching.
        self.ranges: list[tuple[int, int]] = []

    def add(self, offset: int, chunk: bytes) -> bool:
        """Hold ``chunk`` at ``offset`` (bytes past the bound are left out); False when the
        stream would have more than :data:`MAX_CRYPTO_RANGES` separate ranges."""
        end = min(offset + len(chunk), MAX_CRYPTO)
        if end <= offset:
            return True
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[offset:end] = chunk[: end - offset]
        merged: list[tuple[int, int]] = []
        for start, stop in self.ranges:
            if stop < offset or start > end:
                merged.append((start, stop))
            else:
                offset, end = min(start, offset), max(stop, end)
        merged.append((offset, end))
        merged.sort()
        self.ranges = merged
        return len(merged) <= MAX_CRYPTO_RANGES

    def _whole(self) -> int:
        """How many bytes from offset 0 are held without a hole."""
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0

    def _first_size(self) -> int | None:
        """The size of the first handshake message, header included, once its header is held."""
        return 4 + int.from_bytes(self.data[1:4], "big") if self._whole() >= 4 else None

    def message(self) -> bytes | None:
        """The first handshake message, once all its bytes are held."""
        size = self._first_size()
        return bytes(self.data[:size]) if size is not None and self._whole() >= size else None

    def too_long(self) -> bool:
        """Whether the first handshake message cannot fit the stream's bound."""
        size = self._first_size()
        return size is not None and size > MAX_CRYPTO

    def clear(self) -> None:
        self.data = bytearray()
        self.ranges = []


# Google QUIC.
_GQUIC_VERSION = re.compile(rb"Q0[0-9]{2}")
# Versions with a long header of their own, and the (mask, value) of an Initial's first byte:
# Q044 and Q045 have a type byte, Q046 numbers the packet types as the IETF drafts did.
_GQUIC_LONG_INITIAL = {b"Q044": (0x7F, 0x7F), b"Q045": (0x7F, 0x7F), b"Q046": (0x30, 0x00)}
_PUBLIC_VERSION, _PUBLIC_CID = 0x01, 0x08
_PUBLIC_PN_SIZES = (1, 2, 4, 6)
_AUTH_HASH = 12  # the FNV-1a hash of an unencrypted packet
_CHLO = b"CHLO"
_TAG_ENTRY = struct.Struct("<4sI")
_CRYPTO_STREAM = 1
_U16 = {True: struct.Struct(">H"), False: struct.Struct("<H")}


def gquic_version(data: bytes) -> bytes | None:
    """The version (``Q0xx``) of a Google QUIC packet that carries one: a public header with the
    version flag, or a Q044 to Q046 long header; None for another packet."""
    if not data:
        return None
    if data[0] & 0x80:
        version = data[1:5]
        return version if version in _GQUIC_LONG_INITIAL else None
    if data[0] & 0x40 or not data[0] & _PUBLIC_VERSION:
        return None
    off = 9 if data[0] & _PUBLIC_CID else 1
    version = data[off : off + 4]
    return version if _GQUIC_VERSION.fullmatch(version) else None


def gquic_hello(data: bytes, version: bytes) -> list[tuple[bytes, bytes]] | None:
    """The tags and values of the client hello in a Google QUIC packet of ``version`` (as
    :func:`gquic_version` found it); None when the packet holds none."""
    frames = _gquic_frames_offset(data, version)
    if frames is None:
        return None
    number = int(version[1:])
    # Before Q039 the frames' integers were little-endian.
    stream = _gquic_stream(data, frames, big_endian=number >= 39)
    return None if stream is None else parse_chlo(stream)


def _gquic_frames_offset(data: bytes, version: bytes) -> int | None:
    """Where an unencrypted client packet's frames start, past its header and hash."""
    if data[0] & 0x80:
        mask, initial = _GQUIC_LONG_INITIAL[version]
        if data[0] & mask != initial or len(data) < 6:
            return None  # not the Initial packet that carries the hello
        lengths = data[5]
        dcid, scid = lengths >> 4, lengths & 0x0F
        off = 6 + (dcid + 3 if dcid else 0) + (scid + 3 if scid else 0) + (data[0] & 0x03) + 1
    else:
        off = (9 if data[0] & _PUBLIC_CID else 1) + 4 + _PUBLIC_PN_SIZES[(data[0] >> 4) & 3]
    off += _AUTH_HASH
    if int(version[1:]) < 34 and not data[0] & 0x80:
        off += 1  # the private flags, dropped in Q034
    return off if off <= len(data) else None


def _gquic_stream(data: bytes, off: int, big_endian: bool) -> bytes | None:
    """The data of the crypto stream's frame, the first STREAM frame after PADDING or PING."""
    while off < len(data):
        kind = data[off]
        off += 1
        if kind == 0x07:  # PING
            continue
        if not kind & 0x80:
            return None  # PADDING ends the frames; any other frame is not the hello
        id_size = (kind & 0x03) + 1
        offset_size = (kind >> 2) & 0x07
        offset_size += 1 if offset_size else 0
        stream = int.from_bytes(data[off : off + id_size], "big" if big_endian else "little")
        off += id_size + offset_size
        if off > len(data):
            return None
        if kind & 0x20:  # a data length
            if off + 2 > len(data):
                return None
            (size,) = _U16[big_endian].unpack_from(data, off)
            off += 2
        else:
            size = len(data) - off
        if off + size > len(data):
            return None
        if stream == _CRYPTO_STREAM:
            return data[off : off + size]
        off += size
    return None


def parse_chlo(message: bytes) -> list[tuple[bytes, bytes]] | None:
    """The tags (NULs stripped) and values of a CHLO handshake message; None when ``message`` is
    another or cut short."""
    if len(message) < 8 or message[:4] != _CHLO:
        return None
    count = int.from_bytes(message[4:6], "little")
    values = 8 + count * _TAG_ENTRY.size
    if count > MAX_TAGS or values > len(message):
        return None
    tags: list[tuple[bytes, bytes]] = []
    previous = 0
    for index in range(count):
        tag, end = _TAG_ENTRY.unpack_from(message, 8 + index * _TAG_ENTRY.size)
        if end < previous or values + end > len(message):
            return None
        tags.append((tag.rstrip(b"\x00"), message[values + previous : values + end]))
        previous = end
    return tags
