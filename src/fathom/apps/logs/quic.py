"""The EVE ``quic`` event, in the shape Suricata writes it (rust/src/quic/logger.rs): the client's
hello once, and the server's once, with what an observer can read of a connection's first packets.

IETF QUIC (versions 1 and 2, drafts 23 to 34): each direction's Initial packets are decrypted
(:mod:`fathom.apps.quic_initial`), their CRYPTO frames put together by offset, and the TLS hello
they carry is read by :mod:`fathom.apps.tls_hello`. The client's event has the version, ``sni``,
``ja3``, ``ja4`` (QUIC's, ``q…``) and the hello's extensions; the server's the version, ``ja3s``
and its extensions. Google QUIC (up to Q046): the client's plaintext hello gives ``sni``, ``ua``
and, for Q043 to Q046, ``cyu`` as Suricata makes it. A side whose hello never comes is logged
with its version alone, as Suricata logs every long-header packet with its version.

Where this differs from Suricata: Suricata writes an event per long-header packet until the
hellos, here each side has one; JA3 leaves out GREASE values as its specification and nDPI do
(Suricata's QUIC JA3 keeps them); Google QUIC before Q039 is read with its little-endian
integers (Suricata reads them big-endian and finds no hello there), and a hello's tags are all
kept in ``cyu`` (Suricata drops them all when one is not in its list).

An Initial that fails authentication or is cut short is dropped, as an endpoint drops it (RFC 9000
§12.2): a corrupt or truncated datagram, or one sent under keys this parser does not have, may be
followed by an Initial that does carry the hello (a retransmission, or the Initial after a
Retry). It ends the parser's work with ``undecryptable`` only once no later Initial can help:
when the client sends a Handshake or 1-RTT packet (it got the server's Initial, so its hello was
delivered and will not be sent again) or the flow ends, with the client's hello still unread.
"""

from __future__ import annotations

import hashlib

from fathom.apps.logs.base import LogBody, LogParser
from fathom.apps.quic_initial import (
    HANDSHAKE,
    INITIAL,
    RETRY,
    UNKNOWN,
    VERSION_NEGOTIATION,
    CryptoStream,
    LongHeader,
    PacketKeys,
    crypto_frames,
    gquic_hello,
    gquic_version,
    initial_keys,
    parse_long_header,
    unprotect,
)
from fathom.apps.tls_hello import Hello, ja3, ja3s, ja4, parse_hello

# Initial (or Google QUIC version) packets of a direction read before its hello: a client
# retransmits its first flight a few times, not dozens.
MAX_INITIALS = 32
# Packets read from one datagram (RFC 9000 §12.2 coalescing: Initial, 0-RTT, Handshake, 1-RTT).
MAX_PACKETS = 8
# A server's 1-RTT datagrams that may come before an Initial of its own: one may send 1-RTT data
# in its first flight and retransmit a lost Initial after it, but the anti-amplification limit
# (RFC 9000 §8.1) keeps that first flight to a few datagrams. Past this many its Initials are over.
MAX_SERVER_SHORT = 16

# Suricata's names of the versions; any other is written in hexadecimal.
_VERSION_NAMES = {
    0x51303339: "Q039", 0x51303433: "Q043", 0x51303434: "Q044", 0x51303435: "Q045",
    0x51303436: "Q046", 0x6B3343CF: "v2",
}  # fmt: skip
# The version numbers of Suricata's CYU (Q045 counted as 44, as Suricata does).
_CYU_VERSIONS = {b"Q043": "43", b"Q044": "44", b"Q045": "44", b"Q046": "46"}
# The extensions Suricata names in a quic event.
_EXTENSION_NAMES = {
    0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
    4: "truncated_hmac", 5: "status_request", 6: "user_mapping", 7: "client_authz",
    8: "server_authz", 9: "cert_type", 10: "supported_groups", 11: "ec_point_formats", 12: "srp",
    13: "signature_algorithms", 14: "use_srtp", 15: "heartbeat", 16: "alpn",
    17: "status_request_v2", 18: "signed_certificate_timestamp", 19: "client_certificate_type",
    20: "server_certificate_type", 21: "padding", 22: "encrypt_then_mac",
    23: "extended_master_secret", 24: "token_binding", 25: "cached_info", 26: "tls_lts",
    27: "compress_certificate", 28: "record_size_limit", 29: "pwd_protect", 30: "pwd_clear",
    31: "password_salt", 32: "ticket_pinning", 33: "tls_cert_with_extern_psk",
    34: "delegated_credentials", 35: "session_ticket", 36: "tlmsp", 37: "tlmsp_proxying",
    38: "tlmsp_delegate", 39: "supported_ekt_ciphers", 41: "pre_shared_key", 42: "early_data",
    43: "supported_versions", 44: "cookie", 45: "psk_key_exchange_modes",
    47: "certificate_authorities", 48: "oid_filters", 49: "post_handshake_auth",
    50: "signature_algorithms_cert", 51: "key_share", 52: "transparency_info",
    53: "connection_id_deprecated", 54: "connection_id", 55: "external_id_hash",
    56: "external_session_id", 57: "quic_transport_parameters", 58: "ticket_request",
    59: "dnssec_chain", 13172: "next_protocol_negotiation", 65281: "renegotiation_info",
}  # fmt: skip
_SNI, _SIGNATURES, _ALPN, _VERSIONS = 0, 13, 16, 43
# TLS versions in supported_versions, as Suricata's TLS parser names them.
_TLS_VERSION_NAMES = {
    0x0300: "Ssl30", 0x0301: "Tls10", 0x0302: "Tls11", 0x0303: "Tls12", 0x0304: "Tls13",
    **{0x7F00 | draft: f"Tls13Draft{draft}" for draft in range(18, 24)},
    0xFEFF: "DTls10", 0xFEFE: "DTls11", 0xFEFD: "DTls12",
}  # fmt: skip


def version_name(version: int) -> str:
    return _VERSION_NAMES.get(version, f"{version:x}")


def _tls_version_name(version: int) -> str:
    return _TLS_VERSION_NAMES.get(version, f"TlsVersion({version} / 0x{version:x})")


def _extension_values(hello: Hello, kind: int) -> list[str]:
    """The values Suricata lists for an extension: host names, protocols, versions, signatures."""
    if kind == _SNI:
        return [hello.server_name] if hello.server_name else []
    if kind == _ALPN:
        return [name.decode("utf-8", "replace") for name in hello.alpn]
    if kind == _VERSIONS:
        return [_tls_version_name(version) for version in hello.versions]
    if kind == _SIGNATURES:
        return [str(signature) for signature in hello.signatures]
    return []


def extensions(hello: Hello) -> list[dict[str, object]]:
    """A hello's extensions in order, each with its name when Suricata has one, its type and the
    values Suricata lists for it."""
    out: list[dict[str, object]] = []
    for kind in hello.extensions:
        entry: dict[str, object] = {}
        if kind in _EXTENSION_NAMES:
            entry["name"] = _EXTENSION_NAMES[kind]
        entry["type"] = kind
        values = _extension_values(hello, kind)
        if values:
            entry["values"] = values
        out.append(entry)
    return out


class _Side:
    """What one direction's first packets told so far."""

    __slots__ = ("crypto", "failed", "largest", "over", "short", "tried", "version")

    def __init__(self) -> None:
        self.crypto = CryptoStream()
        # The version of the direction's first long header (or Google QUIC version).
        self.version: int | None = None
        # The largest Initial packet number decrypted, for decoding the next ones.
        self.largest = -1
        # Initial packets tried before the hello, and those that could not be decrypted.
        self.tried = 0
        self.failed = 0
        # Short-header datagrams seen.
        self.short = 0
        # Logged, or nothing more to learn from the direction.
        self.over = False


class QuicLog(LogParser):
    """One QUIC flow's ``quic`` events: the client's hello and the server's, each once.

    ``server_name`` is the client's SNI once its hello was read, to name the application."""

    __slots__ = ("_client", "_key_dcid", "_keys", "_retried", "_server")
    event_type = "quic"

    def __init__(self) -> None:
        super().__init__()
        self._client, self._server = _Side(), _Side()
        # The Destination Connection ID the Initial keys come from: the client's first one, or
        # the Source Connection ID of the server's Retry (RFC 9001 §5.2).
        self._key_dcid: bytes | None = None
        # The client's and server's Initial keys by version: a server may answer in another
        # compatible version (RFC 9368), with keys from the same connection id. At most one
        # entry per version with a known salt.
        self._keys: dict[int, tuple[PacketKeys, PacketKeys]] = {}
        self._retried = False

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        side = self._client if to_server else self._server
        if self.done or side.over or not data:
            return []
        version = gquic_version(data)
        if version is not None:
            return self._gquic(to_server, side, data, version)
        if data[0] & 0x80:
            return self._datagram(to_server, side, data)
        # A short header: a client sends one once it has the server's Initial, so its hello was
        # delivered and will not be sent again; a server may still retransmit a lost Initial.
        side.short += 1
        return self._finish(to_server) if to_server or side.short > MAX_SERVER_SHORT else []

    def end(self) -> list[LogBody]:
        if self.done:
            return []
        events = self._finish(True)
        return events if self.done else events + self._finish(False)

    def _datagram(self, to_server: bool, side: _Side, data: bytes) -> list[LogBody]:
        """The long-header packets coalesced in one datagram (RFC 9000 §12.2), in order."""
        events: list[LogBody] = []
        start = 0
        for _ in range(MAX_PACKETS):
            if start >= len(data) or not data[start] & 0x80 or self.done or side.over:
                break
            header = parse_long_header(data, start)
            if header is None:
                side.failed += 1  # cut short or corrupt: dropped, as an endpoint drops it
                break
            events += self._packet(to_server, side, data, header)
            start = header.end
        return events

    def _packet(self, to_server: bool, side: _Side, data: bytes, header: LongHeader) -> list[LogBody]:
        if side.version is None:
            side.version = header.version
        kind = header.kind
        if kind == INITIAL:
            return self._initial(to_server, side, data, header)
        if kind == RETRY and not to_server:
            self._retry(header)
        elif kind in (VERSION_NEGOTIATION, UNKNOWN) or (kind == HANDSHAKE and to_server):
            return self._finish(to_server)
        return []

    def _retry(self, header: LongHeader) -> None:
        """A server's Retry: the client's next Initials are protected with keys from the Retry's
        connection id, its hello sent again from offset 0. Only the first counts (RFC 9000
        §17.2.5.2)."""
        if self._retried:
            return
        self._retried = True
        self._key_dcid = header.scid
        self._keys.clear()
        for side in (self._client, self._server):
            if not side.over:
                side.crypto.clear()

    def _initial(self, to_server: bool, side: _Side, data: bytes, header: LongHeader) -> list[LogBody]:
        if to_server and self._key_dcid is None:
            self._key_dcid = header.dcid
        keys = self._initial_keys(header.version)
        if keys is None:
            return []  # a server's Initial before any client's: its keys are not known
        side.tried += 1
        if side.tried > MAX_INITIALS:
            return self._stop("too_many_initials")
        opened = unprotect(keys[0] if to_server else keys[1], data, header, side.largest)
        if opened is None:
            side.failed += 1
            return []
        number, payload = opened
        side.largest = max(side.largest, number)
        frames = crypto_frames(payload)
        if frames is None:
            return self._stop("malformed_frame")
        for offset, chunk in frames:
            if not side.crypto.add(offset, chunk):
                return self._stop("crypto_fragments")
        if side.crypto.too_long():
            return self._stop("hello_too_long")
        message = side.crypto.message()
        return [] if message is None else self._hello(to_server, side, header.version, message)

    def _initial_keys(self, version: int) -> tuple[PacketKeys, PacketKeys] | None:
        if self._key_dcid is None:
            return None
        keys = self._keys.get(version)
        if keys is None:
            keys = initial_keys(version, self._key_dcid)
            if keys is not None:
                self._keys[version] = keys
        return keys

    def _hello(self, to_server: bool, side: _Side, version: int, message: bytes) -> list[LogBody]:
        hello = parse_hello(message, client=to_server)
        if hello is None:
            return self._stop("malformed_hello")
        side.over = True
        side.crypto.clear()
        quic: LogBody = {"version": version_name(version)}
        if to_server:
            self.server_name = hello.server_name
            if hello.server_name:
                quic["sni"] = hello.server_name
            text, digest = ja3(hello)
            quic["ja3"] = {"hash": digest, "string": text}
            quic["ja4"] = ja4(hello, "q")
        else:
            text, digest = ja3s(hello)
            quic["ja3s"] = {"hash": digest, "string": text}
        if hello.extensions:
            quic["extensions"] = extensions(hello)
        self._check_done()
        return [{"quic": quic}]

    def _gquic(self, to_server: bool, side: _Side, data: bytes, version: bytes) -> list[LogBody]:
        """A Google QUIC packet with its version: the client's may hold its plaintext hello."""
        if side.version is None:
            side.version = int.from_bytes(version, "big")
        if not to_server:
            return self._finish(False)  # a server's version negotiation: its version is all
        side.tried += 1
        if side.tried > MAX_INITIALS:
            return self._stop("too_many_initials")
        tags = gquic_hello(data, version)
        if tags is None:
            return []
        side.over = True
        values = {tag: value for tag, value in reversed(tags)}  # the first of a repeated tag
        quic: LogBody = {"version": version_name(side.version)}
        sni = values.get(b"SNI")
        if sni is not None:
            self.server_name = sni.decode("utf-8", "replace")
            quic["sni"] = self.server_name
        ua = values.get(b"UAID")
        if ua is not None:
            quic["ua"] = ua.decode("utf-8", "replace")
        cyu = _CYU_VERSIONS.get(version)
        if cyu is not None:
            text = cyu + "," + "-".join(tag.decode("ascii", "replace") for tag, _ in tags)
            digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
            quic["cyu"] = [{"hash": digest, "string": text}]
        self._check_done()
        return [{"quic": quic}]

    def _finish(self, to_server: bool) -> list[LogBody]:
        """The direction can bring no hello any more: its version alone is logged, if it had one.
        A client whose Initials could not all be read and whose hello never came ends the work
        with ``undecryptable``."""
        side = self._client if to_server else self._server
        if side.over:
            return []
        if to_server and side.failed:
            return self._stop("undecryptable")
        events = self._version_only(side)
        self._check_done()
        return events

    def _stop(self, reason: str) -> list[LogBody]:
        """End the work with ``reason``, after the version-only events of the open sides."""
        events = self._version_only(self._client) + self._version_only(self._server)
        self.fail(reason)
        return events

    @staticmethod
    def _version_only(side: _Side) -> list[LogBody]:
        if side.over:
            return []
        side.over = True
        side.crypto.clear()
        return [] if side.version is None else [{"quic": {"version": version_name(side.version)}}]

    def _check_done(self) -> None:
        if self._client.over and self._server.over:
            self.done = True
