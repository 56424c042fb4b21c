"""EVE sip events: one per SIP message, with the fields Suricata writes, over UDP (a datagram per
message) and TCP (messages framed by Content-Length, cut anywhere)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from fathom.apps.layer import AppLayer
from fathom.apps.logs.registry import PARSERS
from fathom.apps.logs.sip import MAX_HEAD, SipLog
from fathom.apps.sip import SipMessage, content_length, parse_sip
from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
from tests.traffic import ListSink

APPID = Path(__file__).resolve().parents[1] / "data" / "corpus" / "appid"

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 23\r\n"
    b"\r\n"
    b"v=0\r\no=alice 1 1 IN IP4"
)
RINGING = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    b"l: 0\r\n"
    b"\r\n"
)
INVITE_FIELDS = {
    "method": "INVITE",
    "uri": "sip:bob@biloxi.example.com",
    "version": "SIP/2.0",
    "request_line": "INVITE sip:bob@biloxi.example.com SIP/2.0",
}
RINGING_FIELDS = {
    "version": "SIP/2.0",
    "code": "180",
    "reason": "Ringing",
    "response_line": "SIP/2.0 180 Ringing",
}


def datagram(to_server: bool, data: bytes) -> list[dict[str, Any]]:
    return [event["sip"] for event in SipLog().feed(to_server, data)]


def tcp_log() -> SipLog:
    log = SipLog()
    log.stream = True
    return log


def test_the_registry_names_the_sip_parser() -> None:
    assert PARSERS["sip"] is SipLog


def test_a_request_and_a_response_as_suricata_writes_them() -> None:
    assert datagram(True, INVITE) == [INVITE_FIELDS]
    assert datagram(False, RINGING) == [RINGING_FIELDS]


def test_the_start_line_is_logged_up_to_its_first_character_outside_a_reason_phrase() -> None:
    request = b"OPTIONS sip:carol@chicago.example.com#x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n"
    assert datagram(True, request) == [
        {
            "method": "OPTIONS",
            "uri": "sip:carol@chicago.example.com#x",
            "version": "SIP/2.0",
            "request_line": "OPTIONS sip:carol@chicago.example.com",
        }
    ]
    # A reason phrase may be empty; the code is any three characters.
    assert datagram(False, b"SIP/2.0 2x0 \r\n\r\n") == [
        {"version": "SIP/2.0", "code": "2x0", "reason": "", "response_line": "SIP/2.0 2x0 "}
    ]
    assert datagram(False, b"SIP/2.0 2\xc3\xa9 OK\r\n\r\n") == [
        {"version": "SIP/2.0", "code": "2\xe9", "reason": "OK", "response_line": "SIP/2.0 2"}
    ]


def test_header_values_may_continue_on_the_next_line_and_end_in_blanks() -> None:
    request = b"BYE sip:a@b SIP/2.0\r\nSubject: one\r\n two  \r\nVia:   x\r\nEmpty:\r\n\r\n"
    assert datagram(True, request)[0]["method"] == "BYE"


def test_a_message_the_other_way_or_not_a_message_gives_no_event_and_the_next_is_read() -> None:
    log = SipLog()
    assert log.feed(False, INVITE) == []  # a request from the server: Suricata reads responses there
    assert log.feed(True, RINGING) == []
    assert log.feed(True, b"     ") == []  # the keep-alive of sip.pcap
    assert log.feed(True, b"\r\n\r\n") == []
    assert [event["sip"] for event in log.feed(True, INVITE)] == [INVITE_FIELDS]
    assert not log.done


def test_what_suricatas_grammar_refuses_gives_no_event() -> None:
    refused = [
        b"INVITE sip:bob SIP/2.0\nVia: x\n\n",  # lines must end in CRLF
        b"INVITE <sip:bob> SIP/2.0\r\n\r\n",  # not a Request-URI character
        b"INVITE sip:bob HTTP/1.1\r\n\r\n",
        b"INVITE sip:bob SIP/\r\n\r\n",
        b'INVITE sip:bob SIP/2.0\r\nFrom: "Jos\xc3\xa9"\r\n\r\n',  # not a header value character
        b"INVITE sip:bob SIP/2.0\r\nVia x\r\n\r\n",
        b"INVITE sip:bob SIP/2.0\r\nVia: x\r\n",  # no blank line
    ]
    for data in refused:
        assert datagram(True, data) == [], data
    assert datagram(False, b"SIP/2.0 20\r\n\r\n") == []
    assert datagram(False, b"SIP/2.0 2\xc3 OK\r\n\r\n") == []  # a code must be UTF-8


def test_every_truncation_of_a_datagram_gives_no_event_without_raising() -> None:
    for data, to_server in ((INVITE, True), (RINGING, False)):
        head = data.index(b"\r\n\r\n") + 4
        for length in range(len(data)):
            assert len(datagram(to_server, data[:length])) == (1 if length >= head else 0)


def test_content_length_reads_the_last_field_and_its_compact_form() -> None:
    assert content_length(b"Via: x\r\nContent-Length: 12\r\n") == 12
    assert content_length(b"content-length:3\nl: 4\n") == 4
    assert content_length(b"Via: x\r\n") is None
    assert content_length(b"Content-Length: 5") is None  # a line needs its break


def test_a_content_length_of_thousands_of_digits_is_read_without_raising() -> None:
    huge = b"9" * 5000
    assert content_length(b"Content-Length: " + huge + b"\r\n") == 10**18
    assert content_length(b"Content-Length: " + b"0" * 5000 + b"7\r\n") == 7
    message = b"INVITE sip:bob SIP/2.0\r\nContent-Length: " + huge + b"\r\n\r\nv=0"
    assert parse_sip(message) == SipMessage(b"INVITE", 0, message[:-3], b"v=0")
    log = tcp_log()
    assert [event["sip"]["method"] for event in log.feed(True, message)] == ["INVITE"]
    assert log.feed(True, INVITE) == []  # still the body


def test_tcp_messages_follow_content_length_and_may_be_cut_anywhere() -> None:
    requests = INVITE + b"ACK sip:bob@biloxi.example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    expected = [
        INVITE_FIELDS,
        {**INVITE_FIELDS, "method": "ACK", "request_line": "ACK sip:bob@biloxi.example.com SIP/2.0"},
    ]
    for cut in range(len(requests) + 1):
        log = tcp_log()
        events = log.feed(True, requests[:cut]) + log.feed(True, requests[cut:])
        assert [event["sip"] for event in events] == expected, cut
        assert not log.done
    log = tcp_log()
    events = [
        event for byte in range(len(RINGING) * 2) for event in log.feed(False, (RINGING * 2)[byte : byte + 1])
    ]
    assert [event["sip"] for event in events] == [RINGING_FIELDS, RINGING_FIELDS]


def test_a_tcp_body_is_skipped_as_it_comes_even_when_it_looks_like_a_message() -> None:
    body = b"ACK sip:x SIP/2.0\r\n\r\n"
    message = b"MESSAGE sip:bob@b SIP/2.0\r\nContent-Length: %d\r\n\r\n" % len(body)
    log = tcp_log()
    assert len(log.feed(True, message)) == 1
    assert log.feed(True, body[:5]) == []
    assert log.feed(True, body[5:]) == []
    assert [event["sip"]["method"] for event in log.feed(True, INVITE)] == ["INVITE"]


def test_a_tcp_message_without_content_length_has_no_body() -> None:
    log = tcp_log()
    message = b"OPTIONS sip:b SIP/2.0\r\n\r\n"
    assert [event["sip"]["method"] for event in log.feed(True, message * 2)] == ["OPTIONS", "OPTIONS"]


def test_tcp_bytes_that_are_not_a_message_end_the_log_after_the_good_ones() -> None:
    log = tcp_log()
    events = log.feed(True, INVITE + b"\x16\x03\x01")
    assert [event["sip"] for event in events] == [INVITE_FIELDS]
    assert (log.done, log.failure) == (True, "malformed_message")
    # Cut before the bad byte: the same.
    log = tcp_log()
    assert log.feed(True, b"INVITE sip:bob SIP/2.0\r\nVia: x") == []
    assert log.feed(True, b"\x00\r\n\r\n") == []
    assert log.failure == "malformed_message"


def test_a_tcp_header_section_longer_than_the_bound_ends_the_log() -> None:
    log = tcp_log()
    head = b"INVITE sip:bob SIP/2.0\r\nSubject: " + b"a" * MAX_HEAD
    assert log.feed(True, head[: MAX_HEAD // 2]) == []
    assert not log.done
    assert log.feed(True, head[MAX_HEAD // 2 :]) == []
    assert (log.done, log.failure) == (True, "message_too_long")


def test_random_and_altered_bytes_never_raise() -> None:
    rng = random.Random(11)
    for stream in (False, True):
        log = SipLog()
        log.stream = stream
        for _ in range(1500):
            data = bytearray(INVITE if rng.random() < 0.5 else RINGING)
            for _ in range(rng.randrange(4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            log.feed(rng.random() < 0.5, bytes(data[: rng.randrange(len(data) + 1)]))
            if log.done:
                log = SipLog()
                log.stream = stream


def capture_events() -> list[dict[str, Any]]:
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(APPID / "sip.pcap")) as reader:
        engine.run(reader)
    engine.finish()
    return [event for event in sink.events if event["event_type"] == "sip"]


def test_the_sip_capture_logs_each_of_its_81_messages() -> None:
    events = capture_events()
    # tshark finds 81 SIP messages in the capture; the 21 datagrams of five spaces are keep-alives.
    assert len(events) == 81
    assert Counter(e["sip"].get("method") or e["sip"]["code"] for e in events) == {
        "REGISTER": 18,
        "INVITE": 11,
        "CANCEL": 11,
        "ACK": 7,
        "401": 14,
        "100": 7,
        "403": 3,
        "407": 3,
        "200": 3,
        "408": 2,
        "183": 1,
        "480": 1,
    }
    assert [e["pcap_cnt"] for e in events[:5]] == [1, 2, 3, 4, 5]
    assert events[0]["sip"] == {
        "method": "REGISTER",
        "uri": "sip:sip.cybercity.dk",
        "version": "SIP/2.0",
        "request_line": "REGISTER sip:sip.cybercity.dk SIP/2.0",
    }
    trying = next(e for e in events if e["pcap_cnt"] == 25)
    assert trying["sip"] == {
        "version": "SIP/2.0",
        "code": "100",
        "reason": "trying -- your call is important to us",
        "response_line": "SIP/2.0 100 trying -- your call is important to us",
    }
    invite = next(e for e in events if e["pcap_cnt"] == 22)
    assert invite["sip"]["uri"] == "sip:97239287044@voip.brujula.net"
    assert (invite["src_ip"], invite["dest_ip"]) == ("192.168.1.2", "200.68.120.81")
