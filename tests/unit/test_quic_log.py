"""EVE quic events: Initial packets decrypted as RFC 9001 (and RFC 9369 for QUIC v2) says, their
CRYPTO frames put together in any order, the hellos' SNI, JA3 and JA4 as nDPI computes them, Google
QUIC's plaintext hello, and nothing raised on what a datagram holds."""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from fathom.apps.logs.quic import MAX_INITIALS, MAX_PACKETS, MAX_SERVER_SHORT, QuicLog
from fathom.apps.logs.registry import PARSERS
from fathom.apps.quic_initial import (
    MAX_CRYPTO,
    MAX_CRYPTO_RANGES,
    VERSION_1,
    VERSION_2,
    CryptoStream,
    crypto_frames,
    decode_packet_number,
    initial_keys,
    parse_long_header,
    unprotect,
)
from tests.corpus.helpers import app_events

APPID = Path(__file__).resolve().parent.parent / "data" / "corpus" / "appid"
DRAFT_29 = 0xFF00001D

# RFC 9001 Appendix A: the client's Destination Connection ID, and its Initial (A.2) as sent and as
# it reads once unprotected; the server's Initial (A.3).
RFC_DCID = bytes.fromhex("8394c8f03e515708")
RFC_CLIENT_PLAIN_HEADER = bytes.fromhex("c300000001088394c8f03e5157080000449e00000002")
RFC_CLIENT_HELLO = bytes.fromhex(
    "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c0000041301130201"
    "0000c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f"
    "1ce15d43e994ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c00"
    "024001003900320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8"
    "f03e51570806048000ffff"
)
RFC_CLIENT_PAYLOAD = bytes.fromhex("060040f1") + RFC_CLIENT_HELLO + bytes(917)
RFC_CLIENT_INITIAL = bytes.fromhex(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec"
    "356c0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cad"
    "b8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028c"
    "ea7f7fb5ff89eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021"
    "a6f0be17ddd0c2084dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a"
    "6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3d"
    "d60bc8e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b43"
    "78e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4"
    "faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d5411"
    "9c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663ac69890f4157015853d91e923"
    "037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b"
    "9c5927726632291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57"
    "a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd14de71e6c418559302f939b0e1abd576f279c4b2e0fe"
    "b85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198e3fc433f"
    "9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a0ab34f719595de37252d"
    "6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450efc60ac47683d7b8d0f811365565f"
    "d98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb"
    "5e72404790a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0"
    "f50fba3852e566d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef"
    "023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e8f2e6ff58001"
    "75f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8"
    "078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab760d"
    "58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905dd"
    "f3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd468"
    "40647e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e"
    "194cd934"
)
RFC_SERVER_INITIAL = bytes.fromhex(
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c6979755478"
    "0bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562b"
    "fb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc42158407dd074ee"
)
RFC_SERVER_PAYLOAD = bytes.fromhex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b9a045a"
    "1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da"
    "1a002b00020304"
)
# RFC 9369 Appendix A: QUIC v2's client Initial (A.2), whose protected form is known here by its
# SHA-256, and server Initial (A.3), for the same connection id and plaintexts.
RFC9369_CLIENT_PLAIN_HEADER = bytes.fromhex("d36b3343cf088394c8f03e5157080000449e00000002")
RFC9369_CLIENT_INITIAL_SHA256 = "b0b766fe7e762577072d3365cc4f9635809210cba301a67f8457f5e6fdac5c68"
RFC9369_SERVER_INITIAL = bytes.fromhex(
    "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698baeea26b91eb761d9b89237bbf87"
    "263017915358230035f7fd3945d88965cf17f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507"
    "698075b2c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca84bed8521e2e140"
)


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# Packets are protected here with the cryptography package's primitives alone, apart from the
# code under test; the RFC vectors check this side too.
_SALTS = {
    VERSION_1: "38762cf7f55934b34d179ae6a4c80cadccbb7f0a",
    VERSION_2: "0dede3def700a6db819381be6e269dcbf9bd2ed9",
    DRAFT_29: "afbfec289993d24c9e9786f19c6111e04390a899",
}


def _label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def keys_of(version: int, dcid: bytes, client: bool) -> tuple[bytes, bytes, bytes]:
    """The key, IV and header protection key of one side's Initial packets."""
    extract = hmac.HMAC(bytes.fromhex(_SALTS[version]), hashes.SHA256())
    extract.update(dcid)
    secret = _label(extract.finalize(), "client in" if client else "server in", 32)
    prefix = "quicv2 " if version == VERSION_2 else "quic "
    return (
        _label(secret, prefix + "key", 16),
        _label(secret, prefix + "iv", 12),
        _label(secret, prefix + "hp", 16),
    )


def protect(
    header: bytes, pn_len: int, number: int, payload: bytes, keys: tuple[bytes, bytes, bytes]
) -> bytes:
    """The packet of a plaintext ``header`` (ending with its packet number) and ``payload``."""
    key, iv, hp = keys
    nonce = (int.from_bytes(iv, "big") ^ number).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sealed[4 - pn_len : 20 - pn_len])
    pn_offset = len(header) - pn_len
    first = bytes([header[0] ^ (mask[0] & 0x0F)])
    number_bytes = bytes(b ^ m for b, m in zip(header[pn_offset:], mask[1 : 1 + pn_len], strict=True))
    return first + header[1:pn_offset] + number_bytes + sealed


def varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return struct.pack("!H", 0x4000 | value)
    return struct.pack("!I", 0x80000000 | value)


def crypto(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


_PACKET_TYPES = {VERSION_1: {"initial": 0, "handshake": 2}, VERSION_2: {"initial": 1, "handshake": 3}}


def long_packet(
    frames: bytes,
    *,
    version: int = VERSION_1,
    dcid: bytes = RFC_DCID,
    scid: bytes = b"",
    client: bool = True,
    key_dcid: bytes | None = None,
    number: int = 0,
    token: bytes = b"",
    kind: str = "initial",
) -> bytes:
    """A protected Initial (or Handshake) packet of ``frames``, a client's padded to 1200 bytes,
    under the Initial keys of ``key_dcid`` (by default its own ``dcid``)."""
    pn_len = 2
    bits = _PACKET_TYPES.get(version, _PACKET_TYPES[VERSION_1])[kind]
    head = bytes([0xC0 | bits << 4 | (pn_len - 1)]) + struct.pack("!I", version)
    head += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    if kind == "initial":
        head += varint(len(token)) + token
    # PADDING: a client's Initial fills 1200 bytes, any packet has a header protection sample.
    size = 1200 - len(head) - 2 - pn_len - 16 if client else 4 - pn_len
    frames += bytes(max(0, size - len(frames)))
    head += struct.pack("!H", 0x4000 | (pn_len + len(frames) + 16))  # the length, in two bytes
    head += number.to_bytes(pn_len, "big")
    return protect(head, pn_len, number, frames, keys_of(version, key_dcid or dcid, client))


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def client_hello(padding: int = 0) -> bytes:
    """A QUIC ClientHello handshake message for example.com: three TLS 1.3 suites, ALPN h3,
    transport parameters, and ``padding`` bytes of a padding extension."""
    name = b"\x00\x00\x0bexample.com"
    extensions = _ext(0, struct.pack("!H", len(name)) + name)
    extensions += _ext(10, struct.pack("!HHH", 4, 0x001D, 0x0017))
    extensions += _ext(16, b"\x00\x03\x02h3")
    extensions += _ext(13, struct.pack("!HHH", 4, 0x0403, 0x0804))
    extensions += _ext(43, b"\x02\x03\x04")
    extensions += _ext(51, struct.pack("!HHH", 36, 0x001D, 32) + bytes(32))
    extensions += _ext(57, bytes.fromhex("010480007530"))
    if padding:
        extensions += _ext(21, bytes(padding))
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!HHHH", 6, 0x1301, 0x1302, 0x1303)
    body += b"\x01\x00" + struct.pack("!H", len(extensions)) + extensions
    return b"\x01" + len(body).to_bytes(3, "big") + body


def server_hello() -> bytes:
    extensions = _ext(51, struct.pack("!HH", 0x001D, 32) + bytes(32)) + _ext(43, b"\x03\x04")
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!H", 0x1301) + b"\x00"
    body += struct.pack("!H", len(extensions)) + extensions
    return b"\x02" + len(body).to_bytes(3, "big") + body


CLIENT_EVENT = {
    "quic": {
        "version": "1",
        "sni": "example.com",
        "ja3": {
            "hash": _md5("771,4865-4866-4867,0-10-16-13-43-51-57,29-23,"),
            "string": "771,4865-4866-4867,0-10-16-13-43-51-57,29-23,",
        },
        # h3 alone is "h0" to nDPI: the first two characters of the list less its last one.
        "ja4": f"q13d0307h0_{_sha12('1301,1302,1303')}_{_sha12('000a,000d,002b,0033,0039_0403,0804')}",
        "extensions": [
            {"name": "server_name", "type": 0, "values": ["example.com"]},
            {"name": "supported_groups", "type": 10},
            {"name": "alpn", "type": 16, "values": ["h3"]},
            {"name": "signature_algorithms", "type": 13, "values": ["1027", "2052"]},
            {"name": "supported_versions", "type": 43, "values": ["Tls13"]},
            {"name": "key_share", "type": 51},
            {"name": "quic_transport_parameters", "type": 57},
        ],
    }
}
SERVER_EVENT = {
    "quic": {
        "version": "1",
        "ja3s": {"hash": _md5("771,4865,51-43"), "string": "771,4865,51-43"},
        "extensions": [
            {"name": "key_share", "type": 51},
            {"name": "supported_versions", "type": 43, "values": ["Tls13"]},
        ],
    }
}
SHORT_HEADER = bytes.fromhex("41") + RFC_DCID + bytes(30)
VERSION_ONLY = [{"quic": {"version": "1"}}]


def test_the_rfc9001_client_initial_decrypts_to_its_plaintext() -> None:
    header = parse_long_header(RFC_CLIENT_INITIAL, 0)
    keys = initial_keys(VERSION_1, RFC_DCID)
    assert header is not None and keys is not None
    assert (header.dcid, header.scid, header.pn_offset, header.end) == (RFC_DCID, b"", 18, 1200)
    assert unprotect(keys[0], RFC_CLIENT_INITIAL, header, -1) == (2, RFC_CLIENT_PAYLOAD)
    assert crypto_frames(RFC_CLIENT_PAYLOAD) == [(0, RFC_CLIENT_HELLO)]
    # The server's keys do not open it.
    assert unprotect(keys[1], RFC_CLIENT_INITIAL, header, -1) is None


def test_the_packet_protection_of_these_tests_makes_the_rfc_packets() -> None:
    assert keys_of(VERSION_1, RFC_DCID, client=True) == (
        bytes.fromhex("1f369613dd76d5467730efcbe3b1a22d"),
        bytes.fromhex("fa044b2f42a3fd3b46fb255c"),
        bytes.fromhex("9f50449e04a0e810283a1e9933adedd2"),
    )
    v1 = protect(RFC_CLIENT_PLAIN_HEADER, 4, 2, RFC_CLIENT_PAYLOAD, keys_of(VERSION_1, RFC_DCID, True))
    assert v1 == RFC_CLIENT_INITIAL
    v2 = protect(RFC9369_CLIENT_PLAIN_HEADER, 4, 2, RFC_CLIENT_PAYLOAD, keys_of(VERSION_2, RFC_DCID, True))
    assert hashlib.sha256(v2).hexdigest() == RFC9369_CLIENT_INITIAL_SHA256


def test_the_rfc9001_client_initial_is_logged() -> None:
    parser = QuicLog()
    hello_ext = "0005,000a,000d,001c,002b,002d,0033,0039,ff01_0403,0503,0603,0203,0804,0805,0806"
    ja3 = "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24,"
    assert parser.feed(True, RFC_CLIENT_INITIAL) == [
        {
            "quic": {
                "version": "1",
                "sni": "example.com",
                "ja3": {"hash": _md5(ja3), "string": ja3},
                "ja4": f"q13d0211al_{_sha12('1301,1302')}_{_sha12(hello_ext)}",
                "extensions": [
                    {"name": "server_name", "type": 0, "values": ["example.com"]},
                    {"name": "renegotiation_info", "type": 65281},
                    {"name": "supported_groups", "type": 10},
                    {"name": "alpn", "type": 16, "values": ["alpn"]},
                    {"name": "status_request", "type": 5},
                    {"name": "key_share", "type": 51},
                    {"name": "supported_versions", "type": 43, "values": ["Tls13"]},
                    {
                        "name": "signature_algorithms",
                        "type": 13,
                        "values": ["1027", "1283", "1539", "515", "2052", "2053", "2054"],
                    },
                    {"name": "psk_key_exchange_modes", "type": 45},
                    {"name": "record_size_limit", "type": 28},
                    {"name": "quic_transport_parameters", "type": 57},
                ],
            }
        }
    ]
    assert (parser.server_name, parser.done, parser.failure) == ("example.com", False, None)
    # The client's hello is logged once: its retransmission adds nothing.
    assert parser.feed(True, RFC_CLIENT_INITIAL) == []


def test_the_rfc9001_server_initial_is_logged() -> None:
    parser = QuicLog()
    parser.feed(True, RFC_CLIENT_INITIAL)
    assert parser.feed(False, RFC_SERVER_INITIAL) == [SERVER_EVENT]
    assert (parser.done, parser.failure) == (True, None)
    header = parse_long_header(RFC_SERVER_INITIAL, 0)
    keys = initial_keys(VERSION_1, RFC_DCID)
    assert header is not None and keys is not None
    assert unprotect(keys[1], RFC_SERVER_INITIAL, header, -1) == (1, RFC_SERVER_PAYLOAD)


def test_quic_v2_initials_as_rfc9369_protects_them() -> None:
    header = parse_long_header(RFC9369_SERVER_INITIAL, 0)
    keys = initial_keys(VERSION_2, RFC_DCID)
    assert header is not None and keys is not None
    assert unprotect(keys[1], RFC9369_SERVER_INITIAL, header, -1) == (1, RFC_SERVER_PAYLOAD)
    parser = QuicLog()
    client = protect(
        RFC9369_CLIENT_PLAIN_HEADER, 4, 2, RFC_CLIENT_PAYLOAD, keys_of(VERSION_2, RFC_DCID, True)
    )
    [client_event] = parser.feed(True, client)
    assert (client_event["quic"]["version"], client_event["quic"]["sni"]) == ("v2", "example.com")
    [server_event] = parser.feed(False, RFC9369_SERVER_INITIAL)
    assert server_event["quic"]["version"] == "v2"
    assert server_event["quic"]["ja3s"]["string"] == "771,4865,51-43"


def test_a_draft_29_initial() -> None:
    parser = QuicLog()
    events = parser.feed(True, long_packet(crypto(0, client_hello()), version=DRAFT_29))
    assert events == [{"quic": {**CLIENT_EVENT["quic"], "version": "ff00001d"}}]


def test_the_draft_29_capture_gives_ndpis_fingerprints() -> None:
    # The client's hello, a Retry, the hello again under the Retry's keys, the server's hello.
    events = [e for e in app_events(APPID / "quic-29.pcap") if e["event_type"] == "quic"]
    assert [(e["pcap_cnt"], e["src_port"]) for e in events] == [(1, 36588), (4, 443)]
    ja3 = "771,4865-4866-4867-4868-255,0-11-10-35-16-22-23-13-43-45-51-65445,23-29-24-25,0-1-2"
    signatures = ["1027", "1283", "1539", "2055", "2056", "2057", "2058", "2059", "2052", "2053", "2054"]
    assert events[0]["quic"] == {
        "version": "ff00001d",
        "sni": "localhost",
        # nDPI's JA3C and JA4 of this flow.
        "ja3": {"hash": "b3e43d74f4b790abca2f5fe7dd06e7cf", "string": ja3},
        "ja4": "q13d0512h3_d55e91d5c3b2_cd318bf3b157",
        "extensions": [
            {"name": "server_name", "type": 0, "values": ["localhost"]},
            {"name": "ec_point_formats", "type": 11},
            {"name": "supported_groups", "type": 10},
            {"name": "session_ticket", "type": 35},
            {"name": "alpn", "type": 16, "values": ["h3-29"]},
            {"name": "encrypt_then_mac", "type": 22},
            {"name": "extended_master_secret", "type": 23},
            {"name": "signature_algorithms", "type": 13, "values": [*signatures, "1025", "1281", "1537"]},
            {"name": "supported_versions", "type": 43, "values": ["Tls13"]},
            {"name": "psk_key_exchange_modes", "type": 45},
            {"name": "key_share", "type": 51},
            {"type": 65445},
        ],
    }
    assert events[1]["quic"] == {
        "version": "ff00001d",
        "ja3s": {"hash": _md5("771,4867,43-51"), "string": "771,4867,43-51"},
        "extensions": [
            {"name": "supported_versions", "type": 43, "values": ["Tls13"]},
            {"name": "key_share", "type": 51},
        ],
    }


def test_the_google_quic_capture_gives_ndpis_host_names() -> None:
    events = app_events(APPID / "quic.pcap")
    quic = [e for e in events if e["event_type"] == "quic"]
    chrome49 = "Chrome/49.0.2623.87 Linux x86_64"
    assert [(e["pcap_cnt"], e["src_port"], e["quic"]) for e in quic] == [
        (1, 57833, {"version": "51303234", "sni": "mail.google.com", "ua": "beta Chrome/43.0.2357.45"}),
        # nDPI finds no SNI in this one (a hello without one, to port 6121).
        (414, 40134, {"version": "51303333"}),
        (420, 45669, {"version": "51303235", "sni": "www.google.com", "ua": chrome49}),
        (422, 34438, {"version": "51303235", "sni": "www.youtube.com", "ua": chrome49}),
        (423, 48445, {"version": "51303235", "sni": "i.ytimg.com", "ua": chrome49}),
        (424, 40030, {"version": "51303235", "sni": "fonts.gstatic.com", "ua": chrome49}),
        (427, 55934, {"version": "51303235", "sni": "s.ytimg.com", "ua": chrome49}),
        (429, 53817, {"version": "51303235", "sni": "yt3.ggpht.com", "ua": chrome49}),
        (
            450,
            35236,
            {"version": "51303330", "sni": "www.youtube.com", "ua": "Chrome/50.0.2661.102 Linux x86_64"},
        ),
    ]
    # The SNI names the application.
    flows = {e["src_port"]: e for e in events if e["event_type"] == "flow"}
    assert flows[34438]["app"]["application"] == flows[35236]["app"]["application"] == "YouTube"


def test_crypto_frames_split_over_packets_and_out_of_order() -> None:
    hello = client_hello(padding=1500)
    parser = QuicLog()
    first = long_packet(crypto(1000, hello[1000:]) + crypto(0, hello[:10]), number=0)
    # A retransmitted range overlapping what came, and one more range.
    second = long_packet(crypto(500, hello[500:1000]) + crypto(600, hello[600:1100]), number=1)
    last = long_packet(b"\x01" + crypto(10, hello[10:500]), number=2)
    assert parser.feed(True, first) == parser.feed(True, second) == []
    ja3 = "771,4865-4866-4867,0-10-16-13-43-51-57-21,29-23,"
    extensions = "000a,000d,0015,002b,0033,0039_0403,0804"
    assert parser.feed(True, last) == [
        {
            "quic": {
                **CLIENT_EVENT["quic"],
                "ja3": {"hash": _md5(ja3), "string": ja3},
                "ja4": f"q13d0308h0_{_sha12('1301,1302,1303')}_{_sha12(extensions)}",
                "extensions": [*CLIENT_EVENT["quic"]["extensions"], {"name": "padding", "type": 21}],
            }
        }
    ]


def test_the_crypto_stream_puts_ranges_together() -> None:
    stream = CryptoStream()
    message = b"\x01\x00\x00\x06abcdef"
    assert stream.add(6, message[6:]) and stream.message() is None
    assert stream.add(0, message[:3]) and stream.message() is None
    assert stream.add(2, message[2:7]) and stream.message() == message
    assert stream.ranges == [(0, 10)]


def test_a_retry_changes_the_initial_keys() -> None:
    parser = QuicLog()
    hello = client_hello()
    client_scid, retry_scid = bytes.fromhex("c1c2c3c4"), bytes.fromhex("5e5e5e5e5e5e5e5e")
    assert parser.feed(True, long_packet(crypto(0, hello[:100]), scid=client_scid)) == []
    retry = bytes([0xF0]) + struct.pack("!I", VERSION_1) + b"\x04" + client_scid + b"\x08" + retry_scid
    assert parser.feed(False, retry + b"token" + bytes(16)) == []
    # The hello again, to the Retry's connection id: the bytes before the Retry are not kept.
    again = long_packet(crypto(100, hello[100:]), dcid=retry_scid, scid=client_scid, number=1, token=b"token")
    assert parser.feed(True, again) == []
    whole = long_packet(crypto(0, hello), dcid=retry_scid, scid=client_scid, number=2, token=b"token")
    assert parser.feed(True, whole) == [CLIENT_EVENT]
    # A second Retry is ignored (RFC 9000 §17.2.5.2): the server's Initial is under the first's keys.
    assert parser.feed(False, retry[:-8] + bytes(8) + bytes(16)) == []
    server = long_packet(
        crypto(0, server_hello()), dcid=client_scid, scid=b"\x01", client=False, key_dcid=retry_scid
    )
    assert parser.feed(False, server) == [SERVER_EVENT]
    assert (parser.done, parser.failure) == (True, None)


def test_every_truncation_of_an_initial_is_dropped() -> None:
    datagram = long_packet(crypto(0, client_hello()))
    parser = QuicLog()
    for cut in range(len(datagram)):
        assert QuicLog().feed(True, datagram[:cut]) == []
        assert parser.feed(True, datagram[:cut]) == []
    assert parser.failure is None
    # The whole datagram, after all of them, still gives the hello.
    assert parser.feed(True, datagram) == [CLIENT_EVENT]


def test_a_corrupt_initial_waits_for_a_later_one() -> None:
    datagram = bytearray(long_packet(crypto(0, client_hello())))
    datagram[600] ^= 0x01  # fails authentication
    parser = QuicLog()
    assert parser.feed(True, bytes(datagram)) == []
    assert (parser.failure, parser.done) == (None, False)
    assert parser.feed(True, long_packet(crypto(0, client_hello()), number=1)) == [CLIENT_EVENT]
    assert parser.failure is None


def test_undecryptable_once_the_client_moves_on() -> None:
    datagram = bytearray(long_packet(crypto(0, client_hello())))
    datagram[-1] ^= 0x80
    parser = QuicLog()
    assert parser.feed(True, bytes(datagram)) == []
    # A Handshake packet: the client has the server's Initial, its hello will not come again.
    assert parser.feed(True, long_packet(b"\x01", kind="handshake")) == VERSION_ONLY
    assert (parser.failure, parser.done) == ("undecryptable", True)


def test_undecryptable_at_the_flow_end() -> None:
    datagram = bytearray(long_packet(crypto(0, client_hello())))
    datagram[30] ^= 0x04
    parser = QuicLog()
    assert parser.feed(True, bytes(datagram)) == []
    assert parser.end() == VERSION_ONLY
    assert parser.failure == "undecryptable"


def test_a_hello_that_never_came_is_logged_with_its_version() -> None:
    parser = QuicLog()
    assert parser.feed(True, long_packet(crypto(0, client_hello()[:50]))) == []
    assert parser.feed(True, SHORT_HEADER) == VERSION_ONLY
    assert parser.failure is None
    assert parser.end() == []


def test_the_server_may_send_an_initial_after_1rtt_packets() -> None:
    parser = QuicLog()
    parser.feed(True, long_packet(crypto(0, client_hello())))
    server = long_packet(crypto(0, server_hello()), dcid=b"", scid=b"\x01", client=False, key_dcid=RFC_DCID)
    for _ in range(MAX_SERVER_SHORT):
        assert parser.feed(False, SHORT_HEADER) == []
    assert parser.feed(False, server) == [SERVER_EVENT]
    other = QuicLog()
    other.feed(True, long_packet(crypto(0, client_hello())))
    # The server's Initial holds no hello: its version alone is logged once its Initials are over.
    assert other.feed(False, long_packet(b"\x01", dcid=b"", client=False, key_dcid=RFC_DCID)) == []
    for _ in range(MAX_SERVER_SHORT):
        other.feed(False, SHORT_HEADER)
    assert other.feed(False, SHORT_HEADER) == VERSION_ONLY
    assert (other.done, other.failure) == (True, None)


def test_a_malformed_frame_in_an_authenticated_initial() -> None:
    parser = QuicLog()
    cut = b"\x06\x00\x7f\xff" + client_hello()  # CRYPTO of 16383 bytes, in an Initial of 1200
    # The work ends; what is open is logged with its version, as Suricata logs an unreadable packet.
    assert parser.feed(True, long_packet(cut)) == VERSION_ONLY
    assert parser.failure == "malformed_frame"


def test_a_crypto_stream_that_is_no_client_hello() -> None:
    parser = QuicLog()
    assert parser.feed(True, long_packet(crypto(0, server_hello()))) == VERSION_ONLY
    assert parser.failure == "malformed_hello"


def test_the_frames_an_initial_may_hold() -> None:
    payload = (
        b"\x01"  # PING
        + b"\x02\x05\x00\x01\x00\x01\x01"  # ACK: two ranges
        + b"\x03\x05\x00\x00\x00\x07\x08\x09"  # ACK with ECN counts
        + crypto(3, b"abc")
        + b"\x1c\x0a\x06\x02ok"  # CONNECTION_CLOSE, transport
        + b"\x1d\x0a\x00"  # CONNECTION_CLOSE, application
        + bytes(5)  # PADDING
        + crypto(0, b"xyz")
        + b"\x18"  # NEW_CONNECTION_ID, not allowed in an Initial: reading stops
        + crypto(6, b"never")
    )
    assert crypto_frames(payload) == [(3, b"abc"), (0, b"xyz")]
    for cut in (b"\x02\x05", b"\x02\x05\x00\x3f\x00", b"\x06\x00\x05ab", b"\x1c\x0a\x06\x09x"):
        assert crypto_frames(cut) is None


def test_a_hello_longer_than_the_bound() -> None:
    parser = QuicLog()
    header = b"\x01" + (MAX_CRYPTO).to_bytes(3, "big")
    assert parser.feed(True, long_packet(crypto(0, header + bytes(100)))) == VERSION_ONLY
    assert parser.failure == "hello_too_long"
    stream = CryptoStream()
    assert stream.add(MAX_CRYPTO - 1, b"ab") and stream.add(MAX_CRYPTO + 5, b"c")
    assert (len(stream.data), stream.ranges) == (MAX_CRYPTO, [(MAX_CRYPTO - 1, MAX_CRYPTO)])


def test_too_many_crypto_ranges() -> None:
    hello = client_hello()
    frames = b"".join(
        crypto(2 * index + 1, hello[2 * index + 1 : 2 * index + 2]) for index in range(MAX_CRYPTO_RANGES)
    )
    parser = QuicLog()
    assert parser.feed(True, long_packet(frames)) == []
    assert parser.failure is None
    assert parser.feed(True, long_packet(crypto(100, hello[100:101]), number=1)) == VERSION_ONLY
    assert parser.failure == "crypto_fragments"


def test_too_many_initials_without_a_hello() -> None:
    parser = QuicLog()
    for number in range(MAX_INITIALS):
        assert parser.feed(True, long_packet(b"\x01", number=number)) == []
    assert parser.feed(True, long_packet(b"\x01", number=MAX_INITIALS)) == VERSION_ONLY
    assert (parser.failure, parser.done) == ("too_many_initials", True)


def test_packets_coalesced_in_a_datagram() -> None:
    zero_rtt = bytes([0xD0]) + struct.pack("!I", VERSION_1) + b"\x08" + RFC_DCID + b"\x00" + b"\x01\x00"
    hello = long_packet(crypto(0, client_hello()))
    assert QuicLog().feed(True, zero_rtt + hello) == [CLIENT_EVENT]
    # Reading a datagram stops after MAX_PACKETS packets.
    assert QuicLog().feed(True, zero_rtt * MAX_PACKETS + hello) == []


def test_a_version_without_known_initial_keys() -> None:
    parser = QuicLog()
    packet = bytes([0xC0]) + bytes.fromhex("1a2a3a4a") + b"\x08" + RFC_DCID + b"\x00" + bytes(1180)
    assert parser.feed(True, packet) == [{"quic": {"version": "1a2a3a4a"}}]
    assert parser.failure is None


def test_a_version_negotiation() -> None:
    parser = QuicLog()
    parser.feed(True, long_packet(crypto(0, client_hello())))
    negotiation = bytes([0x80]) + bytes(4) + b"\x00\x08" + RFC_DCID + struct.pack("!II", VERSION_2, VERSION_1)
    assert parser.feed(False, negotiation) == [{"quic": {"version": "0"}}]
    assert parser.done


def test_a_server_initial_before_any_client_one_is_not_read() -> None:
    parser = QuicLog()
    assert parser.feed(False, RFC_SERVER_INITIAL) == []
    assert parser.failure is None
    assert parser.end() == [{"quic": {"version": "1"}}]


def gquic_q046(tags: list[tuple[bytes, bytes]]) -> bytes:
    """A Google QUIC Q046 client Initial: long header, an 8-byte connection id, a 4-byte packet
    number, the message hash, then a STREAM frame of the crypto stream holding a CHLO."""
    values = b"".join(value for _, value in tags)
    entries, end = b"", 0
    for tag, value in tags:
        end += len(value)
        entries += tag.ljust(4, b"\x00") + struct.pack("<I", end)
    chlo = b"CHLO" + struct.pack("<HH", len(tags), 0) + entries + values
    frame = b"\xa0\x01" + struct.pack(">H", len(chlo)) + chlo
    return b"\xc3Q046\x50" + RFC_DCID + b"\x00\x00\x00\x01" + bytes(12) + frame


def test_a_google_quic_hello_with_its_cyu() -> None:
    parser = QuicLog()
    packet = gquic_q046(
        [(b"PAD", bytes(10)), (b"SNI", b"www.youtube.com"), (b"VER", b"Q046"), (b"UAID", b"Chrome/79")]
    )
    event = {
        "quic": {
            "version": "Q046",
            "sni": "www.youtube.com",
            "ua": "Chrome/79",
            "cyu": [{"hash": _md5("46,PAD-SNI-VER-UAID"), "string": "46,PAD-SNI-VER-UAID"}],
        }
    }
    assert parser.feed(True, packet + bytes(1350 - len(packet))) == [event]
    assert parser.server_name == "www.youtube.com"
    for cut in range(len(packet)):
        assert QuicLog().feed(True, packet[:cut]) == []
    # The server's packets have its version alone.
    assert parser.feed(False, b"\xc3Q046\x05" + RFC_DCID + bytes(100)) == [{"quic": {"version": "Q046"}}]
    assert parser.done


def test_decoding_a_packet_number() -> None:
    # RFC 9000 §A.3's example.
    assert decode_packet_number(0xA82F30EA, 0x9B32, 16) == 0xA82F9B32
    assert decode_packet_number(-1, 0, 8) == 0


@pytest.mark.parametrize("seed", range(4))
def test_random_datagrams_raise_nothing(seed: int) -> None:
    rng = random.Random(seed)
    base = long_packet(crypto(0, client_hello()))
    for _ in range(300):
        parser = QuicLog()
        datagram = bytearray(base if rng.random() < 0.5 else rng.randbytes(rng.randrange(1, 1400)))
        for _ in range(rng.randrange(1, 8)):
            datagram[rng.randrange(len(datagram))] = rng.randrange(256)
        parser.feed(rng.random() < 0.5, bytes(datagram))
        parser.end()


def test_quic_has_a_log() -> None:
    assert PARSERS["quic"] is QuicLog
    assert QuicLog.event_type == "quic"
