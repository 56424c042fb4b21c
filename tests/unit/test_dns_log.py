"""EVE dns and mdns events: one per DNS message, with Suricata 8's fields (its DNS log version 3
and its mDNS log), over UDP and over TCP, and never an exception on what a packet holds."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

from scapy.layers.dns import (
    DNS,
    DNSQR,
    DNSRR,
    DNSRRMX,
    DNSRROPT,
    DNSRRSOA,
    DNSRRSRV,
    EDNS0TLV,
    dns_compress,
)

from fathom.apps.logs.base import LogBody
from fathom.apps.logs.dns import (
    MAX_NAME_LEN,
    MAX_RDATA_ITEMS,
    MAX_SECTION_RECORDS,
    MAX_STREAM_HELD,
    DnsLog,
    MdnsLog,
    rcode_name,
    rrtype_name,
)
from fathom.apps.logs.registry import PARSERS
from tests.corpus.helpers import app_events

APPID = Path(__file__).resolve().parent.parent / "data" / "corpus" / "appid"
_HEADER = struct.Struct("!6H")
_QUESTION_A = b"\x00\x01\x00\x01"  # type A, class IN


def wire(message: Any) -> bytes:
    """A scapy DNS message's bytes, its names compressed as servers send them."""
    return bytes(dns_compress(message))


def header(flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return _HEADER.pack(0x4242, flags, qd, an, ns, ar)


def framed(*messages: bytes) -> bytes:
    """Messages as they go over TCP, each behind its two-byte length."""
    return b"".join(len(m).to_bytes(2, "big") + m for m in messages)


def udp_log(messages: list[tuple[bool, bytes]]) -> tuple[DnsLog, list[LogBody]]:
    """A UDP flow's parser fed ``(to_server, datagram)`` in order, and the bodies it returned."""
    parser = DnsLog()
    bodies: list[LogBody] = []
    for to_server, datagram in messages:
        bodies += parser.feed(to_server, datagram)
    return parser, bodies


def one(datagram: bytes, to_server: bool = True) -> tuple[DnsLog, list[LogBody]]:
    return udp_log([(to_server, datagram)])


def tcp_log() -> DnsLog:
    parser = DnsLog()
    parser.stream = True
    return parser


QUERY = wire(DNS(id=0x1A2B, rd=1, qd=DNSQR(qname="www.example.com", qtype="A"), ar=[DNSRROPT(rclass=1232)]))


def response(authorities: bool = True, additionals: bool = True) -> bytes:
    """A response with a record of each type Suricata decodes (and one it does not), an SOA
    authority and two additionals: EDNS with a cookie option, and a glue address."""
    answers = [
        DNSRR(rrname="www.example.com", type="CNAME", ttl=60, rdata="web.example.com"),
        DNSRR(rrname="web.example.com", type="A", ttl=300, rdata="192.0.2.1"),
        DNSRR(rrname="web.example.com", type="AAAA", ttl=300, rdata="2001:db8::1"),
        DNSRRMX(rrname="example.com", ttl=3600, preference=10, exchange="mail.example.com"),
        DNSRR(rrname="example.com", type="TXT", ttl=30, rdata=[b"v=spf1 -all", b"caf\xc3\xa9", b"\xff"]),
        DNSRRSRV(
            rrname="_sip._udp.example.com",
            ttl=86400,
            priority=10,
            weight=5,
            port=5060,
            target="sip.example.com",
        ),
        DNSRR(rrname="1.2.0.192.in-addr.arpa", type="PTR", ttl=1, rdata="web.example.com"),
        DNSRR(rrname="example.com", type="NS", ttl=172800, rdata="ns1.example.com"),
        DNSRR(rrname="example.com", type="HTTPS", ttl=5, rdata=b"\x00\x01\x00"),
        DNSRR(rrname="x.example.com", type="NULL", ttl=0, rdata=b"VACK"),
        DNSRR(rrname="example.com", type="SSHFP", ttl=7, rdata=b"\x02\x01\x12\x34\xab"),
    ]
    soa = DNSRRSOA(
        rrname="example.com",
        ttl=900,
        mname="ns1.example.com",
        rname="hostmaster.example.com",
        serial=2024010101,
        refresh=7200,
        retry=900,
        expire=1209600,
        minimum=86400,
    )
    extra = [
        DNSRROPT(rclass=1232, rdata=[EDNS0TLV(optcode=10, optdata=bytes(range(1, 9)))]),
        DNSRR(rrname="ns1.example.com", type="A", ttl=600, rdata="192.0.2.53"),
    ]
    message = DNS(id=0xBEEF, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname="example.com", qtype=255), an=answers)
    if authorities:
        message.ns = [soa]
    if additionals:
        message.ar = extra
    return wire(message)


RESPONSE = response()

RESPONSE_ANSWERS: list[dict[str, Any]] = [
    {"rrname": "www.example.com", "rrtype": "CNAME", "ttl": 60, "rdata": "web.example.com"},
    {"rrname": "web.example.com", "rrtype": "A", "ttl": 300, "rdata": "192.0.2.1"},
    {
        "rrname": "web.example.com",
        "rrtype": "AAAA",
        "ttl": 300,
        "rdata": "2001:0db8:0000:0000:0000:0000:0000:0001",
    },
    {"rrname": "example.com", "rrtype": "MX", "ttl": 3600, "rdata": "mail.example.com"},
    {"rrname": "example.com", "rrtype": "TXT", "ttl": 30, "rdata": "v=spf1 -all"},
    {"rrname": "example.com", "rrtype": "TXT", "ttl": 30, "rdata": "café"},
    {"rrname": "example.com", "rrtype": "TXT", "ttl": 30, "rdata": "\\xff"},
    {
        "rrname": "_sip._udp.example.com",
        "rrtype": "SRV",
        "ttl": 86400,
        "srv": {"priority": 10, "weight": 5, "port": 5060, "name": "sip.example.com"},
    },
    {"rrname": "1.2.0.192.in-addr.arpa", "rrtype": "PTR", "ttl": 1, "rdata": "web.example.com"},
    {"rrname": "example.com", "rrtype": "NS", "ttl": 172800, "rdata": "ns1.example.com"},
    {"rrname": "example.com", "rrtype": "HTTPS", "ttl": 5},
    {"rrname": "x.example.com", "rrtype": "NULL", "ttl": 0, "rdata": "VACK"},
    {
        "rrname": "example.com",
        "rrtype": "SSHFP",
        "ttl": 7,
        "sshfp": {"fingerprint": "12:34:ab", "algo": 2, "type": 1},
    },
]
RESPONSE_GROUPED: dict[str, list[Any]] = {
    "CNAME": ["web.example.com"],
    "A": ["192.0.2.1"],
    "AAAA": ["2001:0db8:0000:0000:0000:0000:0000:0001"],
    "MX": ["mail.example.com"],
    "TXT": ["v=spf1 -all", "café", "\\xff"],
    "SRV": [{"priority": 10, "weight": 5, "port": 5060, "name": "sip.example.com"}],
    "PTR": ["web.example.com"],
    "NS": ["ns1.example.com"],
    "NULL": ["VACK"],
    "SSHFP": [{"fingerprint": "12:34:ab", "algo": 2, "type": 1}],
}
RESPONSE_AUTHORITIES: list[dict[str, Any]] = [
    {
        "rrname": "example.com",
        "rrtype": "SOA",
        "ttl": 900,
        "soa": {
            "mname": "ns1.example.com",
            "rname": "hostmaster.example.com",
            "serial": 2024010101,
            "refresh": 7200,
            "retry": 900,
            "expire": 1209600,
            "minimum": 86400,
        },
    }
]
RESPONSE_ADDITIONALS: list[dict[str, Any]] = [
    # Scapy's EDNS record asks for DNSSEC (the DO bit, in the TTL's place).
    {"rrname": "", "rrtype": "OPT", "ttl": 0x8000, "opt": [{"code": 10, "data": "0102030405060708"}]},
    {"rrname": "ns1.example.com", "rrtype": "A", "ttl": 600, "rdata": "192.0.2.53"},
]


def response_dns(tx_id: int = 1, **sections: Any) -> dict[str, Any]:
    """The dns member of RESPONSE's event, with ``sections`` replacing (None: removing) some."""
    dns: dict[str, Any] = {
        "version": 3,
        "type": "response",
        "tx_id": tx_id,
        "id": 0xBEEF,
        "flags": "8580",
        "qr": True,
        "aa": True,
        "rd": True,
        "ra": True,
        "opcode": 0,
        "rcode": "NOERROR",
        "queries": [{"rrname": "example.com", "rrtype": "ANY"}],
        "answers": RESPONSE_ANSWERS,
        "grouped": RESPONSE_GROUPED,
        "authorities": RESPONSE_AUTHORITIES,
        "additionals": RESPONSE_ADDITIONALS,
    }
    for name, value in sections.items():
        if value is None:
            del dns[name]
        else:
            dns[name] = value
    return dns


QUERY_BODY = {
    "dns": {
        "version": 3,
        "type": "request",
        "tx_id": 0,
        "id": 0x1A2B,
        "flags": "100",
        "rd": True,
        "opcode": 0,
        "rcode": "NOERROR",
        "queries": [{"rrname": "www.example.com", "rrtype": "A"}],
    }
}


def test_the_registry_names_the_dns_and_mdns_parsers() -> None:
    assert (PARSERS["dns"], PARSERS["mdns"]) == (DnsLog, MdnsLog)
    assert (DnsLog.event_type, MdnsLog.event_type) == ("dns", "mdns")


def test_a_query_is_a_request_event_and_its_bare_edns_record_is_not_logged() -> None:
    parser, bodies = one(QUERY)
    assert bodies == [QUERY_BODY]
    assert (parser.done, parser.failure) == (False, None)


def test_a_response_logs_every_section_detailed_and_its_answers_grouped() -> None:
    parser, bodies = udp_log([(True, QUERY), (False, RESPONSE)])
    assert bodies == [QUERY_BODY, {"dns": response_dns()}]
    assert parser.failure is None


def test_names_read_the_same_compressed_or_not() -> None:
    message = DNS(
        id=7,
        qr=1,
        qd=DNSQR(qname="a.example.org"),
        an=[DNSRR(rrname="a.example.org", type="CNAME", rdata="b.example.org")],
    )
    assert one(bytes(message), False)[1] == one(wire(message), False)[1]
    assert b"\xc0" in wire(message)


def test_header_bits_opcode_and_codes_are_written_as_suricata_writes_them() -> None:
    # QR, opcode 5 (update), TC, Z and rcode 11 (unnamed); AD and CD are not members.
    flags = 0x8000 | 5 << 11 | 0x0200 | 0x0040 | 0x0020 | 0x0010 | 11
    message = header(flags=flags) + b"\x00" + b"\x00\x40\x00\x01"  # the root, type 64 (SVCB)
    (body,) = one(message, False)[1]
    assert body == {
        "dns": {
            "version": 3,
            "type": "response",
            "tx_id": 0,
            "id": 0x4242,
            "flags": "aa7b",
            "qr": True,
            "tc": True,
            "z": True,
            "opcode": 5,
            "rcode": "11",
            "queries": [{"rrname": "", "rrtype": "64"}],
        }
    }
    assert [rcode_name(code) for code in (0, 2, 3, 5, 10, 15)] == [
        "NOERROR",
        "SERVFAIL",
        "NXDOMAIN",
        "REFUSED",
        "NOTZONE",
        "15",
    ]
    assert [rrtype_name(t) for t in (1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 64, 65, 255, 256, 4242)] == [
        "A",
        "NS",
        "CNAME",
        "SOA",
        "PTR",
        "MX",
        "TXT",
        "AAAA",
        "SRV",
        "OPT",
        "64",  # SVCB: not one of Suricata's names
        "HTTPS",
        "ANY",
        "URI",
        "4242",
    ]


def test_transaction_ids_count_the_messages_of_both_directions() -> None:
    second = wire(DNS(id=2, rd=1, qd=DNSQR(qname="two.example", qtype="AAAA")))
    _, bodies = udp_log([(True, QUERY), (False, RESPONSE), (True, second)])
    assert [(b["dns"]["type"], b["dns"]["tx_id"], b["dns"]["id"]) for b in bodies] == [
        ("request", 0, 0x1A2B),
        ("response", 1, 0xBEEF),
        ("request", 2, 2),
    ]


def test_a_response_first_makes_its_direction_the_servers() -> None:
    # As Suricata's detection turns such a flow around: the later query is the request.
    _, bodies = udp_log([(True, RESPONSE), (False, QUERY), (True, RESPONSE)])
    assert [(b["dns"]["type"], b["dns"]["tx_id"]) for b in bodies] == [
        ("response", 0),
        ("request", 1),
        ("response", 2),
    ]


def test_a_response_from_the_client_ends_the_log() -> None:
    parser, bodies = udp_log([(True, QUERY), (True, RESPONSE), (True, QUERY)])
    assert bodies == [QUERY_BODY]
    assert (parser.done, parser.failure) == (True, "not_request")


def test_a_query_from_the_server_is_logged_as_a_response() -> None:
    # Suricata parses what the server sends as a response, whatever its QR bit says.
    _, bodies = udp_log([(True, QUERY), (False, QUERY)])
    assert [b["dns"]["type"] for b in bodies] == ["request", "response"]
    assert "qr" not in bodies[1]["dns"]


def test_headers_that_do_not_fit_their_message_are_malformed() -> None:
    cases = [
        b"",
        header()[:11],
        header(qd=0),  # a query without a question
        header(flags=0x8000, qd=0) + b"\x00",  # no records, yet more than a header
        header(qd=200) + b"\x00" * 100,  # records that cannot fit
    ]
    for message in cases:
        parser, bodies = one(message)
        assert (bodies, parser.failure) == ([], "malformed_header"), message
    # A response of a header alone (a server's format error) is a message.
    (body,) = one(header(flags=0x8001, qd=0), False)[1]
    assert (body["dns"]["rcode"], "queries" in body["dns"]) == ("FORMERR", False)


def test_a_bad_answer_section_drops_the_message_a_bad_later_section_only_itself() -> None:
    question = b"\x01a\x00" + _QUESTION_A
    answer = b"\xc0\x0c" + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([192, 0, 2, 9])
    short_soa = b"\xc0\x0c" + b"\x00\x06\x00\x01\x00\x00\x00\x3c\x00\x02" + b"\xc0\x0c"
    parser, bodies = one(header(flags=0x8180, an=1) + question + short_soa, False)
    assert (bodies, parser.failure) == ([], "malformed_answer")
    # An authority section that does not parse drops it and the additional one, as in Suricata.
    message = header(flags=0x8180, an=1, ns=1, ar=1) + question + answer + short_soa + answer
    (body,) = one(message, False)[1]
    assert (body["dns"]["answers"][0]["rdata"], "authorities" in body["dns"]) == ("192.0.2.9", False)
    assert "additionals" not in body["dns"]
    # An additional section that does not parse drops only itself.
    message = header(flags=0x8180, an=1, ns=1, ar=2) + question + answer + answer + answer
    (body,) = one(message, False)[1]
    assert (len(body["dns"]["authorities"]), "additionals" in body["dns"]) == (1, False)


def test_tcp_messages_follow_their_length_and_may_be_cut_anywhere() -> None:
    second = wire(DNS(id=2, rd=1, qd=DNSQR(qname="two.example", qtype="MX")))
    client = framed(QUERY, second)
    server = framed(RESPONSE)
    reference = tcp_log()
    expected = reference.feed(True, client) + reference.feed(False, server)
    assert [(b["dns"]["type"], b["dns"]["id"]) for b in expected] == [
        ("request", 0x1A2B),
        ("request", 2),
        ("response", 0xBEEF),
    ]
    assert expected[2] == {"dns": response_dns(tx_id=2)}
    for cut in range(len(client) + 1):
        parser = tcp_log()
        bodies = (
            parser.feed(True, client[:cut]) + parser.feed(True, client[cut:]) + parser.feed(False, server)
        )
        assert bodies == expected, cut
        assert (parser.end(), parser.failure) == ([], None)
    parser = tcp_log()
    bodies = [body for byte in client for body in parser.feed(True, bytes([byte]))]
    assert bodies == expected[:2]


def test_a_tcp_length_of_zero_is_skipped() -> None:
    parser = tcp_log()
    assert parser.feed(True, b"\x00\x00" + framed(QUERY)) == [QUERY_BODY]


def test_a_tcp_message_of_the_largest_length_is_read_through_the_bound() -> None:
    # Bytes after a message's records are ignored, as in Suricata: pad a query to 65535 bytes.
    big = QUERY + b"\x00" * (0xFFFF - len(QUERY))
    stream = framed(big, QUERY)
    assert len(stream) > MAX_STREAM_HELD
    parser = tcp_log()
    bodies = parser.feed(True, stream)
    assert [(b["dns"]["tx_id"], b["dns"]["queries"]) for b in bodies] == [
        (0, QUERY_BODY["dns"]["queries"]),
        (1, QUERY_BODY["dns"]["queries"]),
    ]


def test_a_tcp_stream_ending_inside_a_message_is_counted() -> None:
    stream = framed(QUERY)
    for cut in range(1, len(stream)):
        parser = tcp_log()
        assert parser.feed(True, stream[:cut]) == []
        assert (parser.end(), parser.failure) == ([], "truncated_message"), cut


def test_a_tcp_gap_ends_the_log() -> None:
    parser = tcp_log()
    parser.feed(True, framed(QUERY)[:5])
    assert (parser.gap(True, 100), parser.failure, parser.done) == ([], "gap", True)
    assert parser.feed(True, framed(QUERY)) == []


def test_a_malformed_tcp_message_ends_the_log_after_the_good_ones() -> None:
    parser = tcp_log()
    bodies = parser.feed(True, framed(QUERY, header()[:8], QUERY))
    assert (bodies, parser.failure) == ([QUERY_BODY], "malformed_header")


def test_a_pointer_to_itself_is_malformed_until_a_pointer_was_followed() -> None:
    parser, bodies = one(header() + b"\xc0\x0c" + _QUESTION_A)
    assert (bodies, parser.failure) == ([], "malformed_question")
    # The name at 12 points at 18, which points at itself: the name ends (empty) there.
    (body,) = one(header() + b"\xc0\x12" + _QUESTION_A + b"\xc0\x12")[1]
    assert body["dns"]["queries"] == [{"rrname": "", "rrtype": "A"}]


def test_a_compression_loop_ends_after_the_bounded_steps_with_a_truncated_name() -> None:
    # 18: the label "a", then a pointer back to 18: the name repeats until 255 labels and pointers.
    (body,) = one(header() + b"\xc0\x12" + _QUESTION_A + b"\x01a\xc0\x12")[1]
    (query,) = body["dns"]["queries"]
    assert query == {"rrname": ".".join(["a"] * 128), "rrtype": "A", "rrname_truncated": True}


def test_a_name_pointing_at_itself_in_record_data_ends_there() -> None:
    # The CNAME's data, at 31, is a pointer to 31; another record follows.
    question = b"\x01a\x00" + _QUESTION_A
    cname = b"\xc0\x0c" + b"\x00\x05\x00\x01\x00\x00\x00\x01\x00\x02" + b"\xc0\x1f"
    address = b"\xc0\x0c" + b"\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04" + bytes(4)
    message = header(flags=0x8180, an=2) + question + cname + address
    assert message[31:33] == b"\xc0\x1f"
    (body,) = one(message, False)[1]
    assert [a.get("rdata") for a in body["dns"]["answers"]] == ["", "0.0.0.0"]


def test_bad_pointers_and_label_types_are_malformed() -> None:
    for name in (b"\xc0\xff", b"\x41" + b"a" * 10 + b"\x00", b"\x81\x00", b"\x05ab", b"\xc0"):
        parser, bodies = one(header() + name + _QUESTION_A)
        assert (bodies, parser.failure) == ([], "malformed_question"), name


def test_a_long_name_is_cut_at_suricatas_length_and_flagged() -> None:
    name = (b"\x3f" + b"a" * 63) * 17 + b"\x00"
    (body,) = one(header() + name + _QUESTION_A)[1]
    (query,) = body["dns"]["queries"]
    assert (len(query["rrname"]), query["rrname_truncated"]) == (MAX_NAME_LEN, True)
    assert query["rrname"] == ".".join(["a" * 63] * 17)[:MAX_NAME_LEN]


def test_too_many_labels_without_a_pointer_are_malformed() -> None:
    parser, _ = one(header() + b"\x01a" * 256 + b"\x00" + _QUESTION_A)
    assert parser.failure == "malformed_question"
    (body,) = one(header() + b"\x01a" * 255 + b"\x00" + _QUESTION_A)[1]
    assert len(body["dns"]["queries"][0]["rrname"]) == 2 * 255 - 1


def test_every_prefix_of_a_response_is_logged_or_fails_without_raising() -> None:
    answers_only, with_authority = response(False, False), response(True, False)
    # Names point back only: the shorter messages are RESPONSE's first bytes, but for the counts.
    assert RESPONSE[12 : len(with_authority)] == with_authority[12:]
    answers_end, authorities_end = len(answers_only), len(with_authority)
    for cut in range(len(RESPONSE)):
        parser, bodies = one(RESPONSE[:cut], False)
        if cut < answers_end:
            assert bodies == [], cut
            assert parser.failure in ("malformed_header", "malformed_question", "malformed_answer"), cut
        elif cut < authorities_end:
            assert bodies == [{"dns": response_dns(0, authorities=None, additionals=None)}], cut
        else:
            assert bodies == [{"dns": response_dns(0, additionals=None)}], cut
    assert one(RESPONSE, False)[1] == [{"dns": response_dns(0)}]


def test_altered_and_random_bytes_never_raise() -> None:
    for position in range(len(RESPONSE)):
        for value in (0x00, 0x01, 0x3F, 0x40, 0xC0, 0xFF):
            message = RESPONSE[:position] + bytes([value]) + RESPONSE[position + 1 :]
            for parser in (DnsLog(), MdnsLog()):
                bodies = parser.feed(False, message)
                assert len(bodies) == 1 or parser.failure is not None
    rng = random.Random(5353)
    for _ in range(2000):
        message = header(flags=rng.choice((0x0100, 0x8180)), an=rng.randrange(4)) + rng.randbytes(
            rng.randrange(40)
        )
        for parser in (DnsLog(), MdnsLog(), tcp_log()):
            parser.feed(True, message)
            parser.end()


def test_sections_log_a_bounded_number_of_records_and_count_the_rest() -> None:
    addresses = [DNSRR(rrname="many.example", type="A", ttl=1, rdata=f"192.0.2.{i}") for i in range(100)]
    message = wire(DNS(id=1, qr=1, qd=DNSQR(qname="many.example"), an=addresses))
    (body,) = one(message, False)[1]
    dns = body["dns"]
    assert (len(dns["answers"]), len(dns["grouped"]["A"]), dns["answers_cut"]) == (64, 64, 36)
    assert dns["answers"][-1]["rdata"] == f"192.0.2.{MAX_SECTION_RECORDS - 1}"
    questions = [DNSQR(qname=f"q{i}.example") for i in range(70)]
    (body,) = one(wire(DNS(id=1, qd=questions)))[1]
    assert (len(body["dns"]["queries"]), body["dns"]["queries_cut"]) == (64, 6)
    assert "queries_cut" not in QUERY_BODY["dns"] and "answers_cut" not in response_dns()


def test_a_record_logs_a_bounded_number_of_strings() -> None:
    strings = [f"s{i}".encode() for i in range(70)]
    message = wire(
        DNS(id=1, qr=1, qd=DNSQR(qname="t.example", qtype="TXT"), an=[DNSRR(type="TXT", rdata=strings)])
    )
    (body,) = one(message, False)[1]
    dns = body["dns"]
    assert [a["rdata"] for a in dns["answers"]] == [f"s{i}" for i in range(MAX_RDATA_ITEMS)]
    assert (dns["grouped"]["TXT"][-1], dns["answers_cut"]) == ("s63", 6)


def test_an_empty_txt_record_has_no_entry_but_a_group() -> None:
    question = b"\x01t\x00" + b"\x00\x10\x00\x01"
    empty_txt = b"\xc0\x0c" + b"\x00\x10\x00\x01\x00\x00\x00\x05\x00\x00"
    (body,) = one(header(flags=0x8180, an=1) + question + empty_txt, False)[1]
    assert (body["dns"]["answers"], body["dns"]["grouped"]) == ([], {"TXT": []})


def mdns_announcement() -> bytes:
    return wire(
        DNS(
            id=0,
            qr=1,
            aa=1,
            rd=0,
            qd=[],
            an=[
                DNSRR(
                    rrname="_airplay._tcp.local",
                    type="PTR",
                    ttl=4500,
                    rdata="Living Room._airplay._tcp.local",
                ),
                DNSRRSRV(
                    rrname="Living Room._airplay._tcp.local",
                    cacheflush=1,
                    ttl=120,
                    priority=0,
                    weight=0,
                    port=7000,
                    target="lr.local",
                ),
                DNSRR(
                    rrname="Living Room._airplay._tcp.local",
                    type="TXT",
                    cacheflush=1,
                    ttl=4500,
                    rdata=[b"model=AppleTV5,3", b"srcvers=220.68"],
                ),
                DNSRR(rrname="lr.local", type="A", cacheflush=1, ttl=120, rdata="192.168.1.20"),
                DNSRR(rrname="lr.local", type="AAAA", cacheflush=1, ttl=120, rdata="fe80::1"),
            ],
            ar=[DNSRR(rrname="lr.local", type="SVCB", ttl=120, rdata=b"ab")],
        )
    )


def test_an_mdns_announcement_names_each_records_data_by_its_type() -> None:
    parser = MdnsLog()
    assert parser.feed(True, mdns_announcement()) == [
        {
            "mdns": {
                "type": "response",
                "id": 0,
                "flags": ["aa"],
                "opcode": 0,
                "rcode": 0,
                "answers": [
                    {"rrname": "_airplay._tcp.local", "ptr": "Living Room._airplay._tcp.local"},
                    {
                        "rrname": "Living Room._airplay._tcp.local",
                        "srv": {"priority": 0, "weight": 0, "port": 7000, "name": "lr.local"},
                    },
                    {
                        "rrname": "Living Room._airplay._tcp.local",
                        "txt": ["model=AppleTV5,3", "srcvers=220.68"],
                    },
                    {"rrname": "lr.local", "a": "192.168.1.20"},
                    {"rrname": "lr.local", "aaaa": "fe80:0000:0000:0000:0000:0000:0000:0001"},
                ],
                "additionals": [{"rrname": "lr.local", "64": "ab"}],
            }
        }
    ]


def test_an_mdns_query_is_a_request_whichever_way_it_goes() -> None:
    query = wire(
        DNS(
            id=0,
            rd=0,
            qd=[
                DNSQR(qname="_raop._tcp.local", qtype="PTR", unicastresponse=1),
                DNSQR(qname="_airplay._tcp.local", qtype="PTR"),
            ],
        )
    )
    parser = MdnsLog()
    bodies = parser.feed(True, query) + parser.feed(False, query)
    assert bodies == 2 * [
        {
            "mdns": {
                "type": "request",
                "id": 0,
                "opcode": 0,
                "rcode": 0,
                "queries": [
                    {"rrname": "_raop._tcp.local", "rrtype": "ptr"},
                    {"rrname": "_airplay._tcp.local", "rrtype": "ptr"},
                ],
            }
        }
    ]


def test_a_malformed_mdns_message_ends_the_log() -> None:
    parser = MdnsLog()
    assert parser.feed(True, mdns_announcement()[:40]) == []
    assert (parser.failure, parser.feed(True, mdns_announcement())) == ("malformed_answer", [])


def capture_events(name: str, event_type: str = "dns") -> list[dict[str, Any]]:
    return [event for event in app_events(APPID / name) if event["event_type"] == event_type]


def test_a_capture_of_ten_lookups_gives_ten_requests_and_ten_responses() -> None:
    events = capture_events("dns_ambiguous_names.pcap")
    assert [(e["pcap_cnt"], e["dns"]["type"], e["dns"]["tx_id"]) for e in events] == [
        (n, "request" if n % 2 else "response", 0 if n % 2 else 1) for n in range(1, 21)
    ]
    # The names as tshark reads them.
    assert [e["dns"]["queries"][0]["rrname"] for e in events[::2]] == [
        "41-courier.push.apple.com",
        "teams.skype.com",
        "api.teams.skype.com",
        "alt2-mtalk.google.com",
        "android.clients.google.com",
        "*.teams.microsoft.com",
        "wide-youtube.l.google.com",
        "guzzoni.apple.com",
        "short.weixin.qq.com",
        "instagram.faae1-1.fna.fbcdn.net",
    ]
    first = events[0]
    assert (first["src_ip"], first["dest_ip"], first["dest_port"]) == ("10.200.2.11", "8.8.8.8", 53)
    assert first["dns"] == {
        "version": 3,
        "type": "request",
        "tx_id": 0,
        "id": 0x6631,
        "flags": "120",
        "rd": True,
        "opcode": 0,
        "rcode": "NOERROR",
        "queries": [{"rrname": "41-courier.push.apple.com", "rrtype": "A"}],
    }
    android = events[9]["dns"]
    assert android["answers"][0] == {
        "rrname": "android.clients.google.com",
        "rrtype": "CNAME",
        "ttl": 258,
        "rdata": "android.l.google.com",
    }
    assert (len(android["answers"]), len(android["grouped"]["A"])) == (17, 16)
    assert android["grouped"]["A"][:2] == ["108.177.14.101", "108.177.14.113"]
    nxdomain = events[11]
    assert (nxdomain["src_ip"], nxdomain["dns"]["rcode"], "answers" in nxdomain["dns"]) == (
        "8.8.8.8",
        "NXDOMAIN",
        False,
    )
    assert nxdomain["dns"]["authorities"] == [
        {
            "rrname": "microsoft.com",
            "rrtype": "SOA",
            "ttl": 299,
            "soa": {
                "mname": "ns1-205.azure-dns.com",
                "rname": "azuredns-hostmaster.microsoft.com",
                "serial": 1,
                "refresh": 3600,
                "retry": 300,
                "expire": 2419200,
                "minimum": 300,
            },
        }
    ]


def test_a_capture_opening_with_a_response_logs_it_as_one() -> None:
    events = capture_events("dns.pcapng")
    assert [(e["pcap_cnt"], e["src_port"], e["dns"]["type"], e["dns"]["id"]) for e in events] == [
        (1, 53, "response", 0xDCA2),
        (2, 32795, "request", 0xBC1F),
        (3, 53, "response", 0xBC1F),
        (4, 47255, "request", 0x7843),
        (5, 53, "response", 0x7843),
    ]
    assert events[4]["dns"]["grouped"]["A"] == [
        "169.45.219.235",
        "169.47.40.142",
        "169.45.248.121",
        "108.168.176.234",
        "169.45.248.189",
        "169.45.248.180",
        "169.53.81.79",
        "169.45.219.232",
    ]
