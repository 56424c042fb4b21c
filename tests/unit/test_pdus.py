"""Rules on TCP data as Snort shows it to them: segments until a service inspector has the flow,
then PDUs cut by the service's splitter and flushed when the receiver acknowledges them; rules
naming a service gate on the flow's service."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from fathom.apps.splitter import (
    MAX_PDU,
    through_last_dcerpc_pdu,
    through_last_dns_message,
    through_last_line,
    through_last_netbios_message,
    through_last_sip_message,
    through_last_tls_record,
)
from tests.rules import detecting_engine
from tests.traffic import CLIENT, SERVER, TcpConversation, feed, udp


def alerts_for(tmp_path: Path, rules: str, conv: TcpConversation) -> list[tuple[int, int, str]]:
    engine, sink = detecting_engine(tmp_path, rules)
    feed(engine, conv.packets)
    engine.finish()
    alerts = [e for e in sink.events if e["event_type"] == "alert"]
    return [(e["alert"]["signature_id"], e["pcap_cnt"], e["src_ip"]) for e in alerts]


def test_http_request_is_inspected_raw_then_as_a_body_pdu(tmp_path: Path) -> None:
    """Snort inspects the first request segment raw (its service is not known yet) and then the
    request body as a PDU when the server acknowledges it: a packet-data rule alerts twice."""
    conv = TcpConversation().handshake()
    conv.client_sends(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 15\r\n\r\n#filename=*.idc")
    conv.server_acks()
    rules = 'alert tcp any any -> any 80 (msg:"idc"; flow:to_server; content:"#filename=*.idc"; sid:1;)\n'
    assert alerts_for(tmp_path, rules, conv) == [(1, 4, CLIENT), (1, 5, CLIENT)]


def test_http_headers_are_not_packet_data_once_http_is_known(tmp_path: Path) -> None:
    """A second request on the connection is inspected as sections only: its header section is not
    packet data, so a packet-data rule on a header misses it (as in Snort)."""
    conv = TcpConversation().handshake()
    conv.client_sends(b"GET /a HTTP/1.1\r\nX-Tag: marker\r\n\r\n").server_acks()
    conv.server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").client_acks()
    conv.client_sends(b"GET /b HTTP/1.1\r\nX-Tag: marker\r\n\r\n").server_acks()
    rules = 'alert tcp any any -> any 80 (msg:"tag"; content:"X-Tag: marker"; sid:1;)\n'
    assert alerts_for(tmp_path, rules, conv) == [(1, 4, CLIENT)]


# A Snort 2 rule on the URI (pcre flag U, http_uri as snort2lua converts it) and on packet data.
URI_AND_PACKET_DATA = (
    'alert tcp any any -> any 80 (msg:"both"; pcre:"/\\/two\\//U"; pcre:"/marker/"; sid:1;)\n'
)


def test_uri_and_packet_data_never_meet_in_a_request_without_body(tmp_path: Path) -> None:
    """The raw segment has packet data but no URI; the header section has the URI but no packet
    data, as Snort's ``HttpInspect::eval`` (http_inspect.cc) sets a detect limit of 0 on request
    line and header sections. Suricata matches both in one transaction (detect-pcre-03)."""
    conv = TcpConversation().handshake()
    conv.client_sends(b"GET /two/ HTTP/1.1\r\nX-Tag: marker\r\n\r\n").server_acks()
    assert alerts_for(tmp_path, URI_AND_PACKET_DATA, conv) == []


def test_uri_and_packet_data_meet_in_a_request_body(tmp_path: Path) -> None:
    """A body section is packet data, and its transaction's URI is there too."""
    conv = TcpConversation().handshake()
    conv.client_sends(b"POST /two/ HTTP/1.1\r\nContent-Length: 6\r\n\r\nmarker").server_acks()
    assert alerts_for(tmp_path, URI_AND_PACKET_DATA, conv) == [(1, 5, CLIENT)]


def test_ftp_command_is_a_pdu_flushed_when_its_fin_is_acknowledged(tmp_path: Path) -> None:
    """The server's banner names FTP; the client's command has no line end, so the Telnet
    splitter holds it until the server acknowledges the client's FIN (packet 9), and the
    command's own segment is not inspected."""
    conv = TcpConversation(dport=21).handshake()
    conv.server_sends(b"220 (vsFTPd 3.0.3)\r\n").client_acks()
    conv.client_sends(b".forward").server_acks()
    conv.close()
    rules = (
        'alert tcp any any -> any 21 (msg:"fwd"; flow:to_server,established; content:".forward"; '
        "service:ftp; sid:1;)\n"
        'alert tcp any any -> any 21 (msg:"raw"; flow:to_server,no_stream; content:".forward"; sid:2;)\n'
    )
    assert alerts_for(tmp_path, rules, conv) == [(1, 9, CLIENT)]


def test_line_protocol_flushes_through_the_last_line_end(tmp_path: Path) -> None:
    conv = TcpConversation(dport=21).handshake()
    conv.server_sends(b"220 FTP ready\r\n").client_acks()
    conv.client_sends(b"USER a\r\nPASS ").server_acks()
    conv.client_sends(b"secret\r\n").server_acks()
    rules = (
        'alert tcp any any -> any 21 (msg:"user"; content:"USER a"; dsize:8; sid:1;)\n'
        'alert tcp any any -> any 21 (msg:"pass"; content:"PASS secret"; dsize:13; sid:2;)\n'
    )
    # Packet 7 acknowledges "USER a\r\nPASS ": the PDU ends at the line end; "PASS " waits for
    # the rest of its line, acknowledged by packet 9.
    assert alerts_for(tmp_path, rules, conv) == [(1, 7, CLIENT), (2, 9, CLIENT)]


def test_service_replaces_the_port_check_of_rules_naming_it(tmp_path: Path) -> None:
    """HTTP on port 8081: a rule for port 80 on HTTP buffers alerts whatever the port; once the
    service is known, a rule naming service ftp no longer alerts on the flow, even on its port,
    and a rule naming no service keeps its ports."""
    conv = TcpConversation(dport=8081).handshake()
    conv.client_sends(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").server_acks()
    conv.server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").client_acks()
    conv.client_sends(b"POST /y HTTP/1.1\r\nContent-Length: 6\r\n\r\nftpcmd").server_acks()
    rules = (
        'alert tcp any any -> any 80 (msg:"svc"; http_uri; content:"/x"; sid:1;)\n'
        'alert tcp any any -> any 8081 (msg:"ftp"; content:"T /"; service:ftp; sid:2;)\n'
        'alert tcp any any -> any 8081 (msg:"ftp body"; content:"ftpcmd"; service:ftp; sid:3;)\n'
        'alert tcp any any -> any 80 (msg:"ports"; content:"ftpcmd"; sid:4;)\n'
        'alert tcp any any -> any 8081 (msg:"body"; content:"ftpcmd"; sid:5;)\n'
    )
    # Packet 4, the first segment, is inspected before the service is known: sid 2 is checked by
    # its ports then. Later segments are not inspected one by one; the body PDU (packet 9) is.
    assert alerts_for(tmp_path, rules, conv) == [(2, 4, CLIENT), (1, 5, CLIENT), (5, 9, CLIENT)]


def test_port_bound_dns_is_cut_by_message_length(tmp_path: Path) -> None:
    """TCP port 53 has Snort's DNS inspector from the start: no segment is inspected raw, and
    each length-prefixed message is one PDU."""
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03"
    message = struct.pack("!H", len(query)) + query
    conv = TcpConversation(dport=53).handshake()
    conv.client_sends(message + message[:5]).server_acks()
    conv.client_sends(message[5:]).server_acks()
    rules = 'alert tcp any any -> any 53 (msg:"bind"; content:"|07|version|04|bind"; sid:1;)\n'
    assert alerts_for(tmp_path, rules, conv) == [(1, 5, CLIENT), (1, 7, CLIENT)]


def test_a_port_bound_service_gates_rules_of_any_protocol(tmp_path: Path) -> None:
    """Snort's binder gives TCP port 53 the DNS inspector, whose service then selects the rules
    of the ``dns`` service group: a ``udp`` rule naming dns matches the TCP PDU (parity_p06,
    sid 1616), while a rule naming another service does not, even on its ports."""
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03"
    conv = TcpConversation(dport=53).handshake()
    conv.client_sends(struct.pack("!H", len(query)) + query).server_acks()
    rules = (
        'alert udp any any -> any 53 (msg:"dns"; content:"|07|version"; service:dns; sid:1;)\n'
        'alert tcp any any -> any 53 (msg:"sip"; content:"|07|version"; service:sip; sid:2;)\n'
    )
    assert alerts_for(tmp_path, rules, conv) == [(1, 5, CLIENT)]


def test_udp_port_53_is_dns_whatever_its_payload(tmp_path: Path) -> None:
    """The binder's DNS inspector on UDP port 53 leaves the wizard out: a SIP-looking datagram
    there is still DNS to the rules, and a dns rule matches it whatever its own ports."""
    engine, sink = detecting_engine(
        tmp_path,
        'alert udp any any -> any 53 (msg:"sip"; content:"INVITE"; service:sip; sid:1;)\n'
        'alert udp any any -> any 9999 (msg:"dns"; content:"INVITE"; service:dns; sid:2;)\n',
    )
    feed(engine, [udp(1.0, CLIENT, SERVER, 40000, 53, b"INVITE sip:a SIP/2.0\r\n\r\n")])
    engine.finish()
    assert [
        (e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"
    ] == [(2, 1)]


def test_server_data_pdu_goes_the_other_way(tmp_path: Path) -> None:
    conv = TcpConversation(dport=110).handshake()
    conv.server_sends(b"+OK POP3 ready\r\n").client_acks()
    rules = 'alert tcp any 110 -> any any (msg:"banner"; flow:to_client; content:"POP3 ready"; sid:1;)\n'
    # The banner's own segment (raw, before the wizard named POP3) and its PDU.
    assert alerts_for(tmp_path, rules, conv) == [(1, 4, SERVER), (1, 5, SERVER)]


def test_data_the_wizard_searched_has_no_last_flush(tmp_path: Path) -> None:
    """The server's TLS record names the service; the record is incomplete, and the direction the
    wizard searched gets no last flush when its FIN is acknowledged (Snort alerts once, on the
    segment, before the service is known)."""
    conv = TcpConversation(dport=443).handshake()
    conv.client_sends(b"HELLO\r\n").server_acks()
    conv.server_sends(b"\x16\x03\x02aa\x0bcertificate").client_acks()
    conv.close()
    rules = 'alert tcp any 443 -> any any (content:"|16 03 02|"; content:"|0B|",distance 2; sid:1;)\n'
    assert alerts_for(tmp_path, rules, conv) == [(1, 6, SERVER)]


def test_a_rule_alerts_once_per_packet_and_direction(tmp_path: Path) -> None:
    """A request picked up mid-stream is inspected as a segment and, at once, as a section: a
    rule matching both alerts once for the packet."""
    conv = TcpConversation()
    conv.client_sends(b"GET /one/ HTTP/1.1\r\nHost: a\r\n\r\n")
    rules = 'alert ip any any -> any any (msg:"any"; sid:1;)\n'
    assert alerts_for(tmp_path, rules, conv) == [(1, 1, CLIENT)]


@pytest.mark.parametrize(
    ("cutter", "data", "cut"),
    [
        (through_last_line, b"a\r\nb\nc", 5),
        (through_last_line, b"abc", 0),
        (through_last_tls_record, b"\x16\x03\x01\x00\x02ab\x17\x03\x03\x00\x05abc", 7),
        (through_last_tls_record, b"\x80\x03abc", 5),
        (through_last_tls_record, b"HELLO", 5),
        (through_last_dns_message, b"\x00\x01a\x00\x02b", 3),
        (through_last_netbios_message, b"\x00\x00\x00\x01a\x00\x01\x00\x00", 5),
        (through_last_dcerpc_pdu, b"\x05\x00\x00\x03\x10\x00\x00\x00\x0c\x00\x00\x00" + b"\x05", 12),
        (through_last_dcerpc_pdu, b"\x05\x00\x00\x03\x00\x00\x00\x00\x00\x0c\x00\x00", 12),
        # SIP: through the body Content-Length (or l) gives, after the blank line; none without.
        (through_last_sip_message, b"BYE a SIP/2.0\r\nVia: x\r\ncontent-length : 2\r\n\r\nokBYE", 47),
        (through_last_sip_message, b"ACK a SIP/2.0\nl:0\n\nACK a SIP/2.0\nl: 3\n\nab", 19),
        (through_last_sip_message, b"\nReferer: res:/C:\r\n", 0),
        (through_last_sip_message, b"INFO a SIP/2.0\r\nContent-Length: 1x\r\n\r\n", 0),
        (through_last_dcerpc_pdu, b"\x04\x00\x00\x00\x00\x00\x00\x00\x00\x0c", 10),
    ],
)
def test_cutters(cutter: object, data: bytes, cut: int) -> None:
    assert callable(cutter)
    assert cutter(data) == cut


def test_a_unit_longer_than_the_largest_pdu_is_flushed_in_pieces(tmp_path: Path) -> None:
    conv = TcpConversation(dport=21).handshake()
    conv.server_sends(b"220 FTP ready\r\n").client_acks()
    long_line = b"A" * (MAX_PDU + 10) + b"\r\n"
    for start in range(0, len(long_line), 1400):
        conv.client_sends(long_line[start : start + 1400])
    conv.server_acks()
    rules = 'alert tcp any any -> any 21 (msg:"big"; content:"AAAA"; dsize:>0; sid:1;)\n'
    found = alerts_for(tmp_path, rules, conv)
    assert [pcap for _, pcap, _ in found] == [len(conv.packets)] * 2


def test_the_packet_that_flushes_a_pdu_is_then_inspected_as_it_arrived(tmp_path: Path) -> None:
    """The client's ACK flushes the server's response body as a PDU (seen from the server), and
    is then itself inspected as the empty client packet it is. The server's ACK of the GET
    flushes no body section: a message without a body has none."""
    conv = TcpConversation().handshake()
    conv.client_sends(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").server_acks()
    conv.server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody").client_acks()
    rules = (
        'alert tcp any 80 -> any any (msg:"body"; flow:to_client; content:"body"; sid:1;)\n'
        'alert tcp any any -> any 80 (msg:"bare ack"; flow:to_server; flags:A; dsize:0; sid:2;)\n'
    )
    assert alerts_for(tmp_path, rules, conv) == [(2, 3, CLIENT), (1, 7, SERVER), (2, 7, CLIENT)]


def test_data_sent_with_the_syn_is_flushed_once_the_session_is_established(tmp_path: Path) -> None:
    """TCP Fast Open (suricata-verify tcp-fastopen-01, as Snort alerts on it): the SYN-ACK
    acknowledges the request sent with the SYN but flushes nothing; the server's first
    acknowledgement after the handshake does."""
    conv = TcpConversation().fast_open(b"GET /etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n")
    conv.server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    rules = (
        'alert tcp any any -> any 80 (msg:"passwd"; flow:to_server,established; http_uri; '
        'content:"/etc/passwd"; sid:1;)\n'
    )
    assert alerts_for(tmp_path, rules, conv) == [(1, 4, CLIENT)]
