"""EVE http events: one per transaction, with Suricata's fields, when its response completes or,
for a request that got none, when the flow ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.rules import detecting_engine
from tests.traffic import CLIENT, SERVER, TcpConversation, feed


def http_events(tmp_path: Path, conv: TcpConversation) -> list[dict[str, Any]]:
    engine, sink = detecting_engine(tmp_path, 'alert udp any any -> any 9 (msg:"none"; sid:1;)\n')
    feed(engine, conv.packets)
    engine.finish()
    return [e for e in sink.events if e["event_type"] == "http"]


def test_a_transaction_is_logged_when_its_response_completes(tmp_path: Path) -> None:
    conv = TcpConversation(dport=8080).handshake()
    conv.client_sends(
        b"GET /a?b=1 HTTP/1.1\r\nHost: Example.ORG:8080\r\nUser-Agent: curl/8\r\nReferer: http://r/\r\n\r\n"
    ).server_acks()
    conv.server_sends(
        b"HTTP/1.1 302 Found\r\nLocation: /c\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
    )
    (event,) = http_events(tmp_path, conv)
    assert (event["src_ip"], event["dest_ip"], event["dest_port"], event["pcap_cnt"]) == (
        CLIENT,
        SERVER,
        8080,
        6,
    )
    assert (event["tx_id"], event["http"]) == (
        0,
        {
            "hostname": "example.org",
            "http_port": 8080,
            "url": "/a?b=1",
            "http_user_agent": "curl/8",
            "http_content_type": "text/plain",
            "http_refer": "http://r/",
            "http_method": "GET",
            "protocol": "HTTP/1.1",
            "status": 302,
            "redirect": "/c",
            "length": 3,
        },
    )


def test_a_request_without_response_is_logged_at_the_flow_end(tmp_path: Path) -> None:
    conv = TcpConversation().handshake()
    conv.client_sends(b"POST /up HTTP/1.0\r\nHost: h\xff\r\nContent-Length: 0\r\n\r\n").server_acks()
    (event,) = http_events(tmp_path, conv)
    assert event["pcap_cnt"] == 5
    assert event["http"] == {
        "hostname": "h\\xff",
        "url": "/up",
        "http_method": "POST",
        "protocol": "HTTP/1.0",
        "length": 0,
    }
