"""The SIP inspector's view of a message, and the SIP rule options on it, as in Snort 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.apps.sip import SipMessage, parse_sip, sip_buffers
from fathom.rules.errors import RuleError
from fathom.rules.options.sip import SipMethod, SipStatCode
from tests.rules import detecting_engine
from tests.traffic import CLIENT, SERVER, TcpConversation, feed, udp

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\nContent-Length: 4\r\n\r\nv=0\nextra"
)


def test_request_gives_its_method_headers_and_body_as_long_as_content_length_says() -> None:
    head = INVITE[: INVITE.index(b"\r\n\r\n") + 4]
    assert parse_sip(INVITE) == SipMessage(b"INVITE", 0, head, b"v=0\n")


def test_response_gives_its_status_code_and_an_out_of_range_one_counts_as_1000() -> None:
    assert parse_sip(b"SIP/2.0 486 Busy Here\r\n\r\n") == SipMessage(
        None, 486, b"SIP/2.0 486 Busy Here\r\n\r\n", b""
    )
    assert parse_sip(b"SIP/2.0 99 Odd\r\n") == SipMessage(None, 1000, b"SIP/2.0 99 Odd\r\n", b"")
    assert parse_sip(b"SIP/2.0 x\r\n") == SipMessage(None, 1000, b"SIP/2.0 x\r\n", b"")


def test_a_bad_request_line_keeps_its_method_but_has_no_header() -> None:
    """Snort sets the method before it finds the rest of the start line wrong."""
    assert parse_sip(b"FROB sip:a SIP/2.0\r\n\r\n") == SipMessage(b"FROB", 0, b"", b"")
    assert parse_sip(b"INVITE sip:a HTTP/1.1\r\n\r\n") == SipMessage(b"INVITE", 0, b"", b"")


@pytest.mark.parametrize("data", [b"INVITE sip:a SIP/2.0", b"SIP/2\r\n", b"SIP/2.0200\r\n", b"NOSPACES\r\n"])
def test_no_start_line_no_message(data: bytes) -> None:
    assert parse_sip(data) is None


def test_lines_may_end_in_cr_or_lf_alone() -> None:
    message = parse_sip(b"BYE sip:a SIP/2.0\nl: 2\n\nokay")
    assert message == SipMessage(b"BYE", 0, b"BYE sip:a SIP/2.0\nl: 2\n\n", b"ok")


def test_buffers_leave_out_what_the_message_lacks() -> None:
    assert sip_buffers(b"SIP/2.0 200 OK\r\n\r\n") == {
        "sip_header": b"SIP/2.0 200 OK\r\n\r\n",
        "sip_stat_code": b"200",
    }
    assert sip_buffers(b"FROB a SIP/2.0\r\n") == {"sip_method": b"FROB"}
    assert sip_buffers(b"garbage") == {}


def test_sip_method_lists_and_negation() -> None:
    assert SipMethod("invite, Cancel").methods == {b"INVITE", b"CANCEL"}
    assert SipMethod("invite").holds(b"InViTe") and not SipMethod("invite").holds(b"BYE")
    assert SipMethod("!bye").holds(b"INVITE") and not SipMethod("!bye").holds(b"bye")
    with pytest.raises(RuleError, match="Only one method is allowed with !"):
        SipMethod("!bye,invite")
    with pytest.raises(RuleError, match="bad SIP method"):
        SipMethod("in vite")


def test_sip_stat_code_matches_a_code_or_its_class() -> None:
    option = SipStatCode("4, 180")
    assert [option.holds(code) for code in (b"404", b"180", b"181", b"200", b"1000")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(RuleError, match="not a single digit or a 3 digit number"):
        SipStatCode("40")
    with pytest.raises(RuleError, match="bad SIP status code"):
        SipStatCode("1000")


def test_sip_rules_alert_on_sip_flows(tmp_path: Path) -> None:
    engine, sink = detecting_engine(
        tmp_path,
        'alert udp any any -> any 5060 (msg:"invite"; content:"INVITE",nocase; sip_method:invite; '
        "service:sip; sid:1;)\n"
        'alert udp any 5060 -> any any (msg:"4xx"; sip_stat_code:4; content:"SIP/2.0"; sid:2;)\n'
        'alert udp any any -> any any (msg:"shellshock"; sip_header; content:"() {"; sid:3;)\n'
        'alert udp any any -> any any (msg:"not bye"; sip_method:!bye; sid:4;)\n',
    )
    feed(
        engine,
        [
            udp(1.0, CLIENT, SERVER, 5060, 5060, INVITE.replace(b"Via", b"X: () { :;}; x\r\nVia")),
            udp(1.1, SERVER, CLIENT, 5060, 5060, b"SIP/2.0 404 Not Found\r\n\r\n"),
            udp(1.2, SERVER, CLIENT, 5060, 5060, b"SIP/2.0 200 OK\r\n\r\n"),
            udp(1.3, CLIENT, SERVER, 5060, 5060, b"BYE sip:bob@example.com SIP/2.0\r\n\r\n"),
        ],
    )
    engine.finish()
    alerts = [(e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"]
    assert alerts == [(1, 1), (3, 1), (4, 1), (2, 2)]


def test_sip_over_tcp_is_inspected_in_pdus(tmp_path: Path) -> None:
    """Once the wizard names SIP, the request is a PDU flushed when the server acknowledges it:
    an ``only_stream`` rule sees it then, not on its segment."""
    engine, sink = detecting_engine(
        tmp_path,
        'alert tcp any any -> any 5060 (msg:"options"; flow:to_server,established,only_stream; '
        'sip_method:options; content:"SIP/2.0",fast_pattern,nocase; service:sip; sid:1;)\n',
    )
    conv = TcpConversation(dport=5060).handshake()
    conv.client_sends(b"OPTIONS sip:100@10.0.0.2 SIP/2.0\r\nContent-Length: 0\r\n\r\n").server_acks()
    feed(engine, conv.packets)
    engine.finish()
    assert [
        (e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"
    ] == [(1, 5)]
