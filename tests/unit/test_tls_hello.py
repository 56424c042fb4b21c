"""TLS hellos and their fingerprints: JA3 and JA4 as their specifications (and nDPI) make them,
GREASE left out, and nothing raised on bad input."""

from __future__ import annotations

import hashlib
import random
import struct

import pytest

from fathom.apps.tls_hello import handshake_bytes, is_grease, ja3, ja4, parse_hello
from fathom.apps.tls_log import TlsHellos


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def client_hello(sni: bytes | None = b"example.com", alpn: bytes | None = b"http/1.1") -> bytes:
    ciphers = [0x0A0A, 0x1301, 0xC02F, 0x002F]
    extensions = _ext(0x0A0A, b"")
    if sni is not None:
        name = b"\x00" + struct.pack("!H", len(sni)) + sni
        extensions += _ext(0, struct.pack("!H", len(name)) + name)
    extensions += _ext(10, struct.pack("!HHH", 4, 0x1A1A, 29))
    extensions += _ext(11, b"\x01\x00")
    extensions += _ext(13, struct.pack("!HHH", 4, 0x0403, 0x0804))
    if alpn is not None:
        names = bytes([len(alpn)]) + alpn
        extensions += _ext(16, struct.pack("!H", len(names)) + names)
    extensions += _ext(43, b"\x04\x03\x04\x03\x03")
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00"
    body += struct.pack("!H", 2 * len(ciphers)) + b"".join(struct.pack("!H", c) for c in ciphers)
    body += b"\x01\x00" + struct.pack("!H", len(extensions)) + extensions
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(message)) + message


def test_a_client_hello_and_its_fingerprints() -> None:
    hello = parse_hello(handshake_bytes(client_hello()) or b"", client=True)
    assert hello is not None
    assert (hello.server_name, hello.alpn, hello.versions) == ("example.com", [b"http/1.1"], [0x0304, 0x0303])
    text, digest = ja3(hello)
    # GREASE cipher, extension and group are left out.
    assert text == "771,4865-49199-47,0-10-11-13-16-43,29,0"
    assert digest == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    ciphers = hashlib.sha256(b"002f,1301,c02f").hexdigest()[:12]
    extensions = hashlib.sha256(b"000a,000b,000d,002b_0403,0804").hexdigest()[:12]
    assert ja4(hello) == f"t13d0306ht_{ciphers}_{extensions}"


def test_ja4_without_sni_or_alpn() -> None:
    """nDPI writes ``d`` for a hello without SNI too (FoxIO's text says ``i``)."""
    hello = parse_hello(handshake_bytes(client_hello(sni=None, alpn=None)) or b"", client=True)
    assert hello is not None
    assert ja4(hello, "q").startswith("q13d030400_")


@pytest.mark.parametrize(
    ("sni", "head"),
    [(b"192.0.2.1", "t13i"), (b"2001:db8::1", "t13i"), (b"example.com", "t13d"), (b"1.2.3", "t13d")],
)
def test_ja4s_sni_character_is_i_for_an_ip_address(sni: bytes, head: str) -> None:
    hello = parse_hello(handshake_bytes(client_hello(sni=sni)) or b"", client=True)
    assert hello is not None and ja4(hello).startswith(head)


@pytest.mark.parametrize(
    ("alpn", "chars"),
    [
        ([b"h2", b"http/1.1"], "h2"),
        ([b"http/1.1"], "ht"),
        ([b"h3"], "h0"),  # nDPI's list less its last character: "h"
        ([b"h"], "00"),
        ([b"h", b"h2"], "h-"),
        ([b"\x01\xffx"], "0f"),  # not printable: FoxIO's hex digits
        ([], "00"),
    ],
)
def test_ja4s_alpn_characters_are_ndpis(alpn: list[bytes], chars: str) -> None:
    hello = parse_hello(handshake_bytes(client_hello()) or b"", client=True)
    assert hello is not None
    hello.alpn = alpn
    assert ja4(hello)[8:10] == chars


def test_ja4s_version_is_the_highest_number_offered_or_legacy() -> None:
    """As nDPI compares them: a DTLS 1.2 hello offering DTLS 1.3 is ``d2`` (DTLS numbers go down)."""
    hello = parse_hello(handshake_bytes(client_hello()) or b"", client=True)
    assert hello is not None
    hello.version, hello.versions = 0xFEFD, [0xFEFC, 0xFEFD]
    assert ja4(hello, "d").startswith("dd2d")
    hello.version, hello.versions = 0x0303, [0x0A0A, 0x0302]
    assert ja4(hello).startswith("t12d")


def test_a_dtls_client_hello_has_a_cookie_after_its_session_id() -> None:
    message = client_hello()[5:]
    # The body: version, random, session id (empty), then the cookie DTLS adds.
    body = message[4:39] + b"\x04abcd" + message[39:]
    dtls = message[:1] + len(body).to_bytes(3, "big") + body
    hello = parse_hello(dtls, client=True, dtls=True)
    assert hello is not None and hello.server_name == "example.com" and hello.ciphers[1] == 0x1301
    assert parse_hello(dtls, client=True) is None


def test_a_hello_split_over_two_records_is_read_whole() -> None:
    record = client_hello()
    message = record[5:]
    split = b"".join(
        struct.pack("!BHH", 22, 0x0301, len(part)) + part for part in (message[:40], message[40:])
    )
    hello = parse_hello(handshake_bytes(split) or b"", client=True)
    assert hello is not None and hello.server_name == "example.com"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x16\x03\x01", b"\x17\x03\x03\x00\x05hello", client_hello()[:60], client_hello()[:-3]],
    ids=["empty", "short-record", "not-handshake", "cut-in-ciphers", "cut-in-extensions"],
)
def test_bad_or_partial_hellos_are_none(data: bytes) -> None:
    handshake = handshake_bytes(data)
    assert handshake is None or parse_hello(handshake, client=True) is None


def test_grease_values() -> None:
    assert all(is_grease(v) for v in (0x0A0A, 0x1A1A, 0xFAFA))
    assert not any(is_grease(v) for v in (0x0A1A, 0x1301, 0x000A))


def test_hellos_of_a_flow_finish_when_a_side_cannot_bring_one() -> None:
    hellos = TlsHellos()
    hellos.feed(True, client_hello())
    assert hellos.client is not None and not hellos.finished
    hellos.feed(False, b"\x17\x03\x03\x00\x02ok")  # application data: no server hello will come
    assert hellos.finished and hellos.server is None


def test_mangled_hellos_never_raise() -> None:
    rng = random.Random(7)
    base = client_hello()
    parsed = 0
    for _ in range(2000):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        handshake = handshake_bytes(bytes(data))
        hello = None if handshake is None else parse_hello(handshake, client=True)
        if hello is not None:
            parsed += 1
            ja3(hello)
            ja4(hello)
        hellos = TlsHellos()
        hellos.feed(True, bytes(data))
        assert hellos.unread in (0, 1)
    # Most single-byte changes land in the random or the values, and the hello still reads.
    assert 0 < parsed < 2000
