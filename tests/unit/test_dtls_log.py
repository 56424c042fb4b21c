"""DTLS: records and handshake fragments of datagrams, hellos put together from fragments in any
order, the ``tls`` event of a handshake with nDPI's fingerprints, and DTLS found on a STUN flow
by the first byte of its datagrams (RFC 7983), which renames the flow."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from fathom.apps.dtls import HANDSHAKE, HelloAssembly, fragments, records
from fathom.apps.layer import AppLayer
from fathom.apps.logs.dtls import MAX_DATAGRAMS, DtlsLog
from fathom.apps.logs.registry import PARSERS
from fathom.apps.tls_hello import MAX_HELLO
from fathom.config import AppConfig, EngineConfig, ProfileConfig
from fathom.engine import Engine
from tests.traffic import CLIENT, SERVER, ListSink, feed, udp

DTLS12, DTLS13 = 0xFEFD, 0xFEFC


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def client_hello_body(sni: bytes | None = b"peer.example", cookie: bytes = b"") -> bytes:
    extensions = b""
    if sni is not None:
        name = b"\x00" + struct.pack("!H", len(sni)) + sni
        extensions += _ext(0, struct.pack("!H", len(name)) + name)
    extensions += _ext(10, struct.pack("!HH", 2, 29)) + _ext(11, b"\x01\x00")
    extensions += _ext(14, bytes.fromhex("0002000100"))  # use_srtp
    body = struct.pack("!H", DTLS12) + bytes(32) + b"\x00" + bytes([len(cookie)]) + cookie
    body += struct.pack("!HHH", 4, 0xC02B, 0xC02F) + b"\x01\x00"
    return body + struct.pack("!H", len(extensions)) + extensions


def server_hello_body(version: int | None = None) -> bytes:
    extensions = _ext(0xFF01, b"\x00") + _ext(11, b"\x01\x00")
    if version is not None:
        extensions += _ext(43, struct.pack("!H", version))
    body = struct.pack("!H", DTLS12) + bytes(32) + b"\x00" + struct.pack("!HB", 0xC02B, 0)
    return body + struct.pack("!H", len(extensions)) + extensions


def fragment(kind: int, body: bytes, seq: int = 0, offset: int = 0, size: int | None = None) -> bytes:
    """A handshake fragment: the message header with its fragment's place, then its bytes."""
    size = len(body) - offset if size is None else size
    head = bytes([kind]) + len(body).to_bytes(3, "big") + struct.pack("!H", seq)
    return head + offset.to_bytes(3, "big") + size.to_bytes(3, "big") + body[offset : offset + size]


def record(payload: bytes, kind: int = HANDSHAKE, epoch: int = 0, number: int = 0) -> bytes:
    return struct.pack("!BHHIHH", kind, DTLS12, epoch, 0, number, len(payload)) + payload


def stun_binding() -> bytes:
    return struct.pack("!HHI", 0x0001, 0, 0x2112A442) + bytes(12)


CLIENT_HELLO = record(fragment(1, client_hello_body()))
SERVER_FLIGHT = record(fragment(2, server_hello_body())) + record(fragment(14, b""), number=1)
CHANGE_CIPHER_SPEC = record(b"\x01", kind=20, number=2)


def test_records_fill_the_datagram_or_none() -> None:
    found = records(SERVER_FLIGHT)
    assert found is not None and [(r.kind, r.epoch) for r in found] == [(22, 0), (22, 0)]
    assert records(SERVER_FLIGHT + b"\x00") is None  # bytes after the last record
    assert records(SERVER_FLIGHT[:-1]) is None  # the last record cut short
    assert records(b"\x16\x03\x03" + SERVER_FLIGHT[3:]) is None  # TLS's version, not DTLS's
    assert records(b"") is None
    assert records(CHANGE_CIPHER_SPEC * 17) is None  # past the bound


def test_fragments_stay_within_their_message() -> None:
    body = client_hello_body()
    datagram = record(fragment(1, body, offset=0, size=20) + fragment(1, body, offset=20, size=10))
    (whole,) = records(datagram) or []
    assert [(f.offset, len(f.data), f.length) for f in fragments(datagram, whole) or []] == [
        (0, 20, len(body)),
        (20, 10, len(body)),
    ]
    # A fragment that runs past its message, and one cut short by its record.
    past = fragment(1, body, offset=len(body) - 4, size=8) + bytes(4)
    for bad in (record(past), record(fragment(1, body)[:-1])):
        (one,) = records(bad) or []
        assert fragments(bad, one) is None


def test_a_hello_is_put_together_from_fragments_in_any_order() -> None:
    body = client_hello_body()
    assembly = HelloAssembly(1)
    pieces = [(40, None), (0, 25), (20, 30)]  # the last overlaps both: a retransmission's cut
    results = [assembly.add(_only_fragment(fragment(1, body, offset=o, size=s))) for o, s in pieces]
    assert results[:2] == [None, None]
    assert results[2] == b"\x01" + len(body).to_bytes(3, "big") + body


def _only_fragment(data: bytes) -> Any:
    datagram = record(data)
    (whole,) = records(datagram) or []
    (found,) = fragments(datagram, whole) or []
    return found


def test_a_later_client_hello_starts_over_and_an_earlier_ones_fragments_are_left_out() -> None:
    """After a HelloVerifyRequest the client sends its hello again with the cookie, as message 1."""
    first, second = client_hello_body(), client_hello_body(cookie=b"\x07" * 20)
    assembly = HelloAssembly(1)
    assert assembly.add(_only_fragment(fragment(1, first, seq=0, size=30))) is None
    assert assembly.add(_only_fragment(fragment(1, second, seq=1, size=30))) is None
    assert assembly.add(_only_fragment(fragment(1, first, seq=0, offset=30))) is None
    message = assembly.add(_only_fragment(fragment(1, second, seq=1, offset=30)))
    assert message is not None and message[4:] == second


def test_a_hello_past_the_bound_is_not_held() -> None:
    assembly = HelloAssembly(1)
    big = client_hello_body() + bytes(MAX_HELLO)
    assert assembly.add(_only_fragment(fragment(1, big, size=100))) is None
    assert assembly.failure == "hello_too_long"
    assert assembly.stream.data == bytearray()


def dtls_log(*datagrams: tuple[bool, bytes]) -> tuple[DtlsLog, list[dict[str, Any]]]:
    parser = DtlsLog()
    events = [event for to_server, data in datagrams for event in parser.feed(to_server, data)]
    return parser, events


def test_both_hellos_give_the_tls_event_with_dtls_fingerprints() -> None:
    parser, events = dtls_log((True, CLIENT_HELLO), (False, SERVER_FLIGHT))
    ((tls,),) = [list(e.values()) for e in events]
    assert list(tls) == ["sni", "version", "ja3", "ja3s", "ja4"]
    assert (tls["sni"], tls["version"]) == ("peer.example", "DTLSv1.2")
    assert tls["ja3"]["string"] == "65277,49195-49199,0-10-11-14,29,0"
    assert tls["ja3s"]["string"] == "65277,49195,65281-11"
    assert tls["ja4"].startswith("dd2d0204")
    assert parser.done and parser.failure is None
    assert (parser.service, parser.server_name) == ("dtls", "peer.example")


def test_a_fragmented_client_hello_with_a_cookie() -> None:
    body = client_hello_body(cookie=b"\x01" * 32)
    pieces = [fragment(1, body, offset=50, size=50), fragment(1, body, size=50)]
    pieces.append(fragment(1, body, offset=100))
    parser, events = dtls_log(*((True, record(piece, number=i)) for i, piece in enumerate(pieces)))
    assert events == [] and not parser.done
    (event,) = parser.end()
    assert event["tls"]["sni"] == "peer.example" and "ja3s" not in event["tls"]


def test_a_server_going_on_encrypted_ends_the_wait_for_its_hello() -> None:
    parser, events = dtls_log((True, CLIENT_HELLO), (False, CHANGE_CIPHER_SPEC))
    (event,) = events
    assert "ja3s" not in event["tls"] and parser.done


def test_dtls13_is_named_by_the_servers_choice_and_ends_with_protected_records() -> None:
    server = record(fragment(2, server_hello_body(DTLS13)))
    _, events = dtls_log((True, CLIENT_HELLO), (False, server))
    assert events[0]["tls"]["version"] == "DTLSv1.3"
    # A protected record (unified header: 001, no connection id, 16-bit sequence, length).
    unified = bytes([0x2C, 0x00, 0x01, 0x00, 0x14]) + bytes(20)
    _, events = dtls_log((True, CLIENT_HELLO), (False, unified))
    assert [e["tls"].get("ja3s") for e in events] == [None]
    # Before any DTLS record it is not taken for DTLS.
    parser, events = dtls_log((False, unified), (True, CLIENT_HELLO))
    assert events == [] and not parser.done


def test_a_stun_flow_without_dtls_gives_nothing_within_its_bound() -> None:
    rtp = bytes([0x80, 0x6F]) + bytes(10)
    parser = DtlsLog()
    for i in range(MAX_DATAGRAMS - 1):
        assert parser.feed(i % 2 == 0, stun_binding() if i % 3 else rtp) == []
    assert not parser.done and parser.service is None
    assert parser.feed(True, stun_binding()) == [] and parser.done


def test_a_datagram_in_dtls_range_that_is_not_dtls_is_left_out() -> None:
    """nDPI's stun.pcapng has one: a hello whose record length was changed."""
    bad = CLIENT_HELLO[:11] + struct.pack("!H", 30) + CLIENT_HELLO[13:]
    datagrams = [(True, stun_binding()), (True, bad), (True, CLIENT_HELLO), (False, SERVER_FLIGHT)]
    parser, events = dtls_log(*datagrams)
    assert len(events) == 1 and parser.service == "dtls"


def test_a_malformed_hello_is_counted_and_the_other_side_still_logged() -> None:
    body = client_hello_body()
    broken = record(fragment(1, body[:36] + b"\xff" + body[37:]))  # cipher suites' length
    parser, events = dtls_log((True, broken), (False, SERVER_FLIGHT))
    (event,) = events
    assert "ja3" not in event["tls"] and "ja3s" in event["tls"]
    assert parser.failure == "malformed_hello"


def test_stun_over_tcp_is_not_read() -> None:
    parser = DtlsLog()
    parser.stream = True
    assert parser.feed(True, CLIENT_HELLO) == [] and parser.done


def test_mangled_datagrams_never_raise() -> None:
    rng = random.Random(11)
    base = [CLIENT_HELLO, SERVER_FLIGHT, record(fragment(1, client_hello_body(), size=60))]
    for _ in range(2000):
        data = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        parser = DtlsLog()
        parser.feed(rng.random() < 0.5, bytes(data[: rng.randrange(1, len(data) + 1)]))
        parser.end()


def test_stun_and_dtls_flows_are_read_by_the_dtls_log() -> None:
    assert PARSERS["stun"] is PARSERS["dtls"] is DtlsLog


WEBRTC = [
    udp(1.0, CLIENT, SERVER, 50000, 3478, stun_binding()),
    udp(1.1, SERVER, CLIENT, 3478, 50000, stun_binding()),
    udp(1.2, CLIENT, SERVER, 50000, 3478, CLIENT_HELLO),
    udp(1.3, SERVER, CLIENT, 3478, 50000, SERVER_FLIGHT),
]


def app_events(packets: list[tuple[float, Any]], config: EngineConfig | None = None) -> list[dict[str, Any]]:
    engine = Engine(config, layers=[AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    feed(engine, packets)
    engine.finish()
    return sink.events


def test_a_stun_flow_carrying_dtls_is_named_dtls_with_its_category() -> None:
    events = app_events(WEBRTC)
    (tls,) = [e for e in events if e["event_type"] == "tls"]
    assert (tls["src_ip"], tls["dest_port"], tls["tls"]["version"]) == (CLIENT, 3478, "DTLSv1.2")
    (flow,) = [e for e in events if e["event_type"] == "flow"]
    # The category stays STUN's, as nDPI keeps it.
    assert (flow["app_proto"], flow["app"]["protocol"]) == ("dtls", "DTLS")
    assert flow["app"]["category"] == "Network"


@pytest.mark.parametrize("dport", [3478, 40000])
def test_dtls_alone_is_logged_too(dport: int) -> None:
    events = app_events([udp(1.0, CLIENT, SERVER, 50000, dport, CLIENT_HELLO)])
    assert [e["tls"]["sni"] for e in events if e["event_type"] == "tls"] == ["peer.example"]
    assert [e["app_proto"] for e in events if e["event_type"] == "flow"] == ["dtls"]


@pytest.mark.parametrize(("logged", "events"), [(("dns",), 0), (("stun",), 0), (("dtls",), 1)])
def test_the_policy_chooses_the_event_but_not_the_name(logged: tuple[str, ...], events: int) -> None:
    """DTLS is found on the flow whatever the profiles log; its event is the DTLS flow's log."""
    config = EngineConfig(app=AppConfig(profiles=(ProfileConfig(name="p", applications=logged),)))
    found = app_events(WEBRTC, config)
    assert len([e for e in found if e["event_type"] == "tls"]) == events
    assert [e["app_proto"] for e in found if e["event_type"] == "flow"] == ["dtls"]
