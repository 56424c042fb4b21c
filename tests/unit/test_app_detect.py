"""HTTP rules through the application layer: each message section's buffers reach detection, and
the alert names the packet that completed the section."""

from __future__ import annotations

import gzip
from pathlib import Path

from fathom.engine import Engine
from tests.rules import detecting_engine
from tests.traffic import ListSink, TcpConversation, feed

RULES = (
    'alert tcp any any -> any 8000 (msg:"uri"; flow:to_server,established; '
    'http_uri; content:"/admin.php",fast_pattern,nocase; sid:1;)\n'
    'alert tcp any any -> any 8000 (msg:"agent"; content:"Mozilla/4.0"; http_header; sid:2;)\n'
    'alert tcp any 8000 -> any any (msg:"body"; flow:to_client; file_data; content:"EICAR-TEST"; sid:3;)\n'
    'alert tcp any 8000 -> any any (msg:"status"; http_stat_code; content:"404"; sid:4;)\n'
    'alert tcp any any -> any 8000 (msg:"post"; http_client_body; content:"smk=1234"; sid:5;)\n'
)


def engine_with(tmp_path: Path) -> tuple[Engine, ListSink]:
    return detecting_engine(tmp_path, RULES)


def test_http_sections_reach_the_rules_that_read_them(tmp_path: Path) -> None:
    engine, sink = engine_with(tmp_path)
    body = gzip.compress(b"xx EICAR-TEST yy")
    conv = TcpConversation(dport=8000).handshake()
    conv.client_sends(b"POST /ADMIN.php?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/4.0\r\n")
    conv.client_sends(b"Content-Length: 8\r\n\r\nsmk=1234")
    conv.server_sends(
        b"HTTP/1.1 404 Not Found\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    conv.client_acks()
    feed(engine, conv.packets)
    engine.finish()
    alerts = [(e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"]
    # As Snort's reassembly flushes in IDS mode, a section is inspected when its receiver
    # acknowledges it: the request (complete in packet 5) with the response packet 6 that acks it,
    # the response with the client's ack, packet 7. Each section's alerts come in Snort's order:
    # longest fast pattern first ("Mozilla/4.0" before "/admin.php").
    assert alerts == [(2, 6), (1, 6), (5, 6), (4, 7), (3, 7)]
    (flow,) = [e for e in sink.events if e["event_type"] == "flow"]
    assert flow["app_proto"] == "http"
    assert flow["app"] == {"protocol": "HTTP", "application": None, "category": "Web"}


def test_sections_of_a_stream_picked_up_midstream_go_at_once(tmp_path: Path) -> None:
    """Without the handshake the stream's start is unknown, so acknowledgements cannot be placed:
    a section is inspected with the packet that completed it."""
    engine, sink = engine_with(tmp_path)
    conv = TcpConversation(dport=8000).handshake()
    conv.client_sends(b"GET /admin.php HTTP/1.1\r\nUser-Agent: Mozilla/4.0\r\n\r\n").server_acks()
    feed(engine, conv.packets[3:])
    engine.finish()
    alerts = [(e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"]
    # sid 1 asks for an established flow, which a mid-stream pick-up becomes only when the other
    # side answers (as in Snort): after the section went.
    assert alerts == [(2, 1)]


def test_file_data_with_header_buffers_reads_either_body(tmp_path: Path) -> None:
    """sid 56600's shape: header and URI of the request with file_data is the request's body
    (flow:to_server), and the same buffers on the response read the response's body."""
    engine, sink = detecting_engine(
        tmp_path,
        'alert tcp any any -> any 8000 (msg:"req"; flow:to_server; http_header; content:"Accept: */*"; '
        'http_uri; content:"/check"; file_data; content:"locale"; sid:1;)\n'
        'alert tcp any 8000 -> any any (msg:"resp"; flow:to_client; http_header; content:"Server: x"; '
        'file_data; content:"okay"; sid:2;)\n',
    )
    conv = TcpConversation(dport=8000).handshake()
    conv.client_sends(
        b"POST /check HTTP/1.1\r\nAccept: */*\r\nContent-Length: 8\r\n\r\n{locale}"
    ).server_acks()
    conv.server_sends(b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 4\r\n\r\nokay").client_acks()
    feed(engine, conv.packets)
    engine.finish()
    alerts = [(e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"]
    assert alerts == [(1, 5), (2, 7)]
