"""Application identification without rules: the app layer alone names every flow it can, and a
flow whose first payload confirms what its port suggests costs it no per-flow state."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from fathom.apps.layer import AppLayer
from fathom.config import AppConfig, EngineConfig
from fathom.engine import Engine
from fathom.host import LayerHost
from tests.traffic import CLIENT, SERVER, ListSink, TcpConversation, feed, udp

DNS_QUERY = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\x00\x00\x01\x00\x01"
TLS_HELLO = bytes.fromhex("160301002d010000290303") + bytes(32) + bytes.fromhex("000002c02f0100")
SERVER_HELLO = bytes.fromhex("160303002a020000260303") + bytes(32) + bytes.fromhex("00c02f00")


def identifying_engine() -> tuple[Engine, AppLayer, ListSink]:
    made: list[AppLayer] = []

    def build(host: LayerHost) -> AppLayer:
        made.append(AppLayer(host))
        return made[-1]

    engine = Engine(layers=[build])
    sink = ListSink()
    engine.add_sink(sink)
    return engine, made[0], sink


def flows(sink: ListSink) -> dict[int, dict[str, Any]]:
    return {e["dest_port"]: e for e in sink.events if e["event_type"] == "flow"}


def test_flows_named_at_first_look_keep_no_state_and_are_no_longer_reassembled() -> None:
    engine, app, sink = identifying_engine()
    states = []

    tls = TcpConversation(dport=443).handshake().client_sends(TLS_HELLO)
    tls.server_sends(SERVER_HELLO).client_sends(b"\x17\x03\x03\x00\x01x")
    feed(engine, tls.packets[:4])
    (flow,) = engine.flows.flows.values()
    states.append(app.slot.get(flow))
    feed(engine, [*tls.packets[4:], udp(2000.0, CLIENT, SERVER, 40001, 53, DNS_QUERY)])
    engine.finish()

    assert states == [None]
    named = flows(sink)
    assert (named[443]["app_proto"], named[443]["app"]) == (
        "tls",
        {"protocol": "TLS", "application": None, "category": "Web"},
    )
    assert named[53]["app_proto"] == "dns"
    # Named by its first segment, the TLS flow was reassembled for its tls event until both hellos
    # were read and the client's next record showed no certificate was coming (a TLS 1.2 server
    # sends it before the client speaks again), and no further; it was not bypassed.
    assert engine.flows.stream_stats.delivered_bytes == len(TLS_HELLO) + len(SERVER_HELLO) + 6
    (tls_event,) = [e for e in sink.events if e["event_type"] == "tls"]
    assert tls_event["tls"]["version"] == "TLS 1.2"
    assert tls_event["tls"]["ja3"]["string"] == "771,49199,,,"
    assert tls_event["tls"]["ja3s"]["string"] == "771,49199,"
    assert named[443]["flow"]["state"] != "bypassed"
    assert app.wizard.stats.hits == {"ssl": 1, "dns": 1}


def test_http_named_at_first_look_is_still_parsed_for_its_log() -> None:
    engine, _, sink = identifying_engine()
    conv = TcpConversation(dport=80).handshake()
    conv.client_sends(b"GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n")
    conv.server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").client_acks()
    feed(engine, conv.packets)
    engine.finish()
    (http,) = [e["http"] for e in sink.events if e["event_type"] == "http"]
    assert http == {
        "hostname": "example.com",
        "url": "/a",
        "http_user_agent": "t/1",
        "http_method": "GET",
        "protocol": "HTTP/1.1",
        "status": 200,
        "length": 2,
    }
    assert flows(sink)[80]["app_proto"] == "http"


def test_a_port_the_payload_contradicts_is_searched_by_the_wizard() -> None:
    """Port 53 suggests DNS; an HTTP request there is named HTTP from the payload."""
    engine, app, sink = identifying_engine()
    conv = TcpConversation(dport=53).handshake().client_sends(b"GET / HTTP/1.1\r\n\r\n")
    feed(engine, conv.packets)
    engine.finish()
    assert flows(sink)[53]["app_proto"] == "http"
    assert app.wizard.stats.hits == {"http": 1}


def test_what_the_http_parsers_meet_is_counted_for_the_engine() -> None:
    engine, _, _ = identifying_engine()
    for sport in (40001, 40002):
        conv = TcpConversation(sport=sport, dport=8000).handshake()
        conv.client_sends(b"\x00\x01 binary, not a request line\r\n\r\n")
        conv.server_sends(b"HTTP/1.1 200 OK\r\n\r\n")
        feed(engine, conv.packets)
    engine.finish()
    counters = engine.counters()
    assert {k: v for k, v in counters.items() if k.startswith("app.http.")} == {
        "app.http.bad_start_line": 2,
        "app.http.response_without_request": 2,
    }


def test_flows_without_payload_are_named_by_protocol_or_port_at_their_end() -> None:
    """As nDPI guesses: ICMP by its protocol number, an unanswered SYN by its server port."""
    engine, app, sink = identifying_engine()
    ping = Ether() / IP(src=CLIENT, dst=SERVER) / ICMP(type=8) / b"abcd"
    scan = TcpConversation(dport=22).handshake()
    feed(engine, [(1000.0, ping), scan.packets[0]])  # the SYN alone
    engine.finish()
    named = {e["proto"]: (e.get("app_proto"), e["app"]["protocol"]) for e in sink.events}
    assert named == {"ICMP": ("icmp", "ICMP"), "TCP": ("ssh", "SSH")}
    assert app.wizard.stats.port_hints == {"icmp": 1, "ssh": 1}


def test_the_application_behind_http_and_tls_comes_from_host_and_sni(tmp_path: Path) -> None:
    domains = tmp_path / "domains.txt"
    domains.write_text("corp.example Intranet Business\n")
    config = EngineConfig(app=AppConfig(domains=(str(domains),)))
    engine = Engine(config, layers=[AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    web = TcpConversation(sport=40001, dport=80).handshake()
    web.client_sends(b"GET / HTTP/1.1\r\nHost: wiki.corp.example:8080\r\n\r\n")
    tls = TcpConversation(sport=40002, dport=443).handshake().client_sends(hello_for(b"api.github.com"))
    feed(engine, web.packets + tls.packets)
    engine.finish()
    assert [e["app"] for e in sink.events if e["event_type"] == "flow"] == [
        {"protocol": "HTTP", "application": "Intranet", "category": "Business"},
        {"protocol": "TLS", "application": "Github", "category": "Collaborative"},
    ]


def hello_for(sni: bytes) -> bytes:
    name = b"\x00" + struct.pack("!H", len(sni)) + sni
    extension = struct.pack("!HH", 0, len(name) + 2) + struct.pack("!H", len(name)) + name
    body = bytes.fromhex("0303") + bytes(32) + bytes.fromhex("000002c02f0100")
    body += struct.pack("!H", len(extension)) + extension
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(message)) + message


def test_tls_hellos_that_cannot_be_read_are_counted_and_log_nothing() -> None:
    engine, _, sink = identifying_engine()
    conv = TcpConversation(dport=443).handshake().client_sends(bytes.fromhex("1603010005ffffffffff"))
    conv.server_sends(b"\x17\x03\x03\x00\x02ok")
    feed(engine, conv.packets)
    engine.finish()
    assert engine.counters()["app.tls_hellos_unread"] == 2
    assert [e["event_type"] for e in sink.events] == ["flow"]
