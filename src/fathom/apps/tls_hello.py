"""TLS ClientHello and ServerHello, from the first bytes of a stream (sans-IO), and the
fingerprints made of them: JA3 and JA3S (Salesforce), JA4 (FoxIO), as nDPI computes them.

The hello may span several handshake records; the records' payloads are joined up to a bound
before the message is read. A DTLS hello (:mod:`fathom.apps.dtls` puts it together from its
fragments) is read by the same code: its ClientHello has a cookie after the session id. GREASE
values (RFC 8701) are left out of the fingerprints, as the specifications say. Nothing here raises
on bad input: a hello that does not parse is None.

Where JA4 follows nDPI rather than FoxIO's text (fingerprints are compared with nDPI's): the
SNI character is ``i`` only for a server name that is an IP address (a hello without one is
``d``); the ALPN characters are the first two of the offered list as nDPI holds it; the
signature algorithms are hashed with their GREASE values.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from ipaddress import ip_address

# Bytes of a direction held while its hello is incomplete; a longer hello is not read. Real ones
# are under 2 KiB (post-quantum key shares included), and this is held per TLS flow.
MAX_HELLO = 8192
_RECORD = struct.Struct("!BHH")
_HANDSHAKE = 22
_CLIENT_HELLO, _SERVER_HELLO = 1, 2
_SNI, _GROUPS, _POINT_FORMATS, _SIGNATURES, _ALPN, _VERSIONS = 0, 10, 11, 13, 16, 43
# Protocol versions as JA4 writes them.
_JA4_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}  # fmt: skip
_NO_HASH = "000000000000"


def is_grease(value: int) -> bool:
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


@dataclass
class Hello:
    """What a ClientHello or ServerHello says; a ServerHello has one cipher."""

    version: int
    ciphers: list[int] = field(default_factory=list)
    extensions: list[int] = field(default_factory=list)
    server_name: str | None = None
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    signatures: list[int] = field(default_factory=list)
    alpn: list[bytes] = field(default_factory=list)
    # The supported_versions extension's values (a client's list, a server's choice).
    versions: list[int] = field(default_factory=list)


def handshake_bytes(stream: bytes) -> bytes | None:
    """The handshake messages carried by the leading handshake records of ``stream``; None when it
    does not start with a handshake record."""
    out = bytearray()
    off = 0
    while off + _RECORD.size <= len(stream) and len(out) < MAX_HELLO:
        kind, _, length = _RECORD.unpack_from(stream, off)
        if kind != _HANDSHAKE:
            break
        out += stream[off + _RECORD.size : off + _RECORD.size + length]
        off += _RECORD.size + length
    return bytes(out) if off else None


def parse_hello(handshake: bytes, client: bool, dtls: bool = False) -> Hello | None:
    """The ClientHello (``client``) or ServerHello at the start of ``handshake``, in TLS's framing
    (``dtls``: a DTLS hello's body, whose ClientHello has a cookie); None when the message is
    another, cut short or malformed."""
    if len(handshake) < 4 or handshake[0] != (_CLIENT_HELLO if client else _SERVER_HELLO):
        return None
    end = 4 + int.from_bytes(handshake[1:4], "big")
    if end > len(handshake):
        return None
    reader = _Reader(handshake, 4, end)
    try:
        hello = Hello(reader.u16())
        reader.skip(32)  # random
        reader.skip(reader.u8())  # session id
        if client and dtls:
            reader.skip(reader.u8())  # cookie (RFC 6347 4.2.1)
        if client:
            hello.ciphers = reader.u16_list(reader.u16())
            reader.skip(reader.u8())  # compression methods
        else:
            hello.ciphers = [reader.u16()]
            reader.skip(1)  # compression method
        if reader.at_end():
            return hello
        extensions = _Reader(handshake, reader.off + 2, reader.off + 2 + reader.u16())
        while not extensions.at_end():
            kind = extensions.u16()
            body = _Reader(handshake, extensions.off + 2, extensions.off + 2 + extensions.u16())
            extensions.off = body.end
            hello.extensions.append(kind)
            _extension(hello, kind, body, client)
    except ValueError:
        return None
    return hello


def _extension(hello: Hello, kind: int, body: _Reader, client: bool) -> None:
    if kind == _SNI and client and body.end - body.off >= 5:
        body.skip(2)  # list length
        if body.u8() == 0:  # host_name
            hello.server_name = body.take(body.u16()).decode("ascii", "backslashreplace")
    elif kind == _GROUPS:
        hello.groups = body.u16_list(body.u16())
    elif kind == _POINT_FORMATS:
        hello.point_formats = list(body.take(body.u8()))
    elif kind == _SIGNATURES:
        hello.signatures = body.u16_list(body.u16())
    elif kind == _ALPN and body.end - body.off >= 2:
        names = _Reader(body.data, body.off + 2, body.off + 2 + body.u16())
        while not names.at_end():
            hello.alpn.append(names.take(names.u8()))
    elif kind == _VERSIONS:
        hello.versions = body.u16_list(body.u8()) if client else [body.u16()]


class _Reader:
    """Reads big-endian fields of ``data`` between ``off`` and ``end``; ValueError past the end."""

    __slots__ = ("data", "end", "off")

    def __init__(self, data: bytes, off: int, end: int) -> None:
        if end > len(data):
            raise ValueError("length past the message")
        self.data, self.off, self.end = data, off, end

    def at_end(self) -> bool:
        return self.off >= self.end

    def take(self, size: int) -> bytes:
        if self.off + size > self.end:
            raise ValueError("field past its end")
        self.off += size
        return self.data[self.off - size : self.off]

    def skip(self, size: int) -> None:
        self.take(size)

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u16_list(self, size: int) -> list[int]:
        raw = self.take(size - size % 2)
        return list(struct.unpack(f"!{len(raw) // 2}H", raw))


def _decimal(values: list[int]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3(hello: Hello) -> tuple[str, str]:
    """A ClientHello's JA3 string and its MD5."""
    text = ",".join(
        (
            str(hello.version),
            _decimal(hello.ciphers),
            _decimal(hello.extensions),
            _decimal(hello.groups),
            _decimal(hello.point_formats),
        )
    )
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ja3s(hello: Hello) -> tuple[str, str]:
    """A ServerHello's JA3S string and its MD5."""
    text = ",".join((str(hello.version), _decimal(hello.ciphers), _decimal(hello.extensions)))
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _hash12(values: list[str]) -> str:
    if not values:
        return _NO_HASH
    return hashlib.sha256(",".join(values).encode()).hexdigest()[:12]


def _alpn_chars(alpn: list[bytes]) -> str:
    """JA4's two ALPN characters as nDPI writes them: the first two of the offered names joined
    with ``-``, less the list's last character (``ht`` for http/1.1, ``h0`` for h3 alone; FoxIO's
    text says the first value's first and last, ``h1`` and ``h3``). A byte that is not printable
    is written as FoxIO writes it, by a hex digit."""
    offered = b"-".join(alpn)[:-1]
    return "".join(_alpn_char(offered[i]) if i < len(offered) else "0" for i in (0, 1))


def _alpn_char(value: int) -> str:
    return chr(value) if 0x21 <= value < 0x7F else f"{value:02x}"[0]


def _sni_char(server_name: str | None) -> str:
    """``i`` for a server name that is an IP address, else ``d``, with or without a name: nDPI's
    rule (FoxIO's text has ``i`` for no SNI as well)."""
    try:
        ip_address(server_name or "")
    except ValueError:
        return "d"
    return "i"


def ja4(hello: Hello, transport: str = "t") -> str:
    """A ClientHello's JA4: ``transport`` is ``t`` (TCP), ``q`` (QUIC) or ``d`` (DTLS)."""
    # The highest of the legacy version and those offered, by number as nDPI takes it: for DTLS,
    # whose numbers go down, that is the legacy version.
    version = _JA4_VERSIONS.get(max([hello.version, *(v for v in hello.versions if not is_grease(v))]), "00")
    ciphers = [c for c in hello.ciphers if not is_grease(c)]
    extensions = [e for e in hello.extensions if not is_grease(e)]
    head = (
        f"{transport}{version}{_sni_char(hello.server_name)}"
        f"{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_alpn_chars(hello.alpn)}"
    )
    sorted_ciphers = sorted(f"{c:04x}" for c in ciphers)
    sorted_extensions = sorted(f"{e:04x}" for e in extensions if e not in (_SNI, _ALPN))
    signatures = [f"{s:04x}" for s in hello.signatures]
    extension_text = ",".join(sorted_extensions)
    if signatures:
        extension_text += "_" + ",".join(signatures)
    extension_hash = _NO_HASH
    if sorted_extensions:
        extension_hash = hashlib.sha256(extension_text.encode()).hexdigest()[:12]
    return f"{head}_{_hash12(sorted_ciphers)}_{extension_hash}"
