"""Non-payload rule options: meta options, header tests, flowbits, filters and TLS options, with
Snort 3's semantics and Snort 2 / Suricata spellings."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from fathom.apps import tls_state
from fathom.decode.decoder import Decoder
from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Packet
from fathom.flow.flow import STATE_CLOSED, STATE_ESTABLISHED, STATE_NEW, Flow
from fathom.rules.errors import RuleError
from fathom.rules.options import filters, flowbits, header, meta, registry, tls
from fathom.rules.options.base import REGISTRY, Action, RuleBody, Test
from fathom.rules.options.filters import DetectionFilter, RateTracker, Threshold
from fathom.rules.options.flowbits import FlowBits, bind_flowbits, parse_flowbits
from fathom.rules.options.ranges import Range, parse_range

# Importing an option module registers its keywords.
OPTION_MODULES = (filters, flowbits, header, meta, tls)
KEYWORDS = {
    *("msg", "sid", "gid", "rev", "classtype", "priority", "reference", "metadata", "service"),
    *("flow", "dsize", "flags", "fragbits", "ttl", "tos", "id", "seq", "ack", "window", "ip_proto"),
    *("itype", "icode", "icmp_id", "icmp_seq", "flowbits", "detection_filter", "threshold"),
    *("event_filter", "ssl_state", "ssl_version"),
}


def make_packet(proto: int = PROTO_TCP, **fields: int) -> Packet:
    pkt = Packet()
    pkt.ip_version = 4
    pkt.proto = proto
    for name, value in fields.items():
        setattr(pkt, name, value)
    return pkt


def make_flow(state: int = STATE_ESTABLISHED, midstream: bool = False, serial: int = 1) -> Flow:
    flow = Flow(serial, b"\x0a\0\0\1", b"\x0a\0\0\2", 1234, 80, PROTO_TCP, 4, 0, 0, 0.0, 1, 0)
    flow.state = state
    flow.midstream = midstream
    return flow


def build(keyword: str, text: str | None) -> RuleBody:
    body = RuleBody()
    registry()[keyword](text).attach(body)
    return body


def only_test(keyword: str, text: str | None) -> Test:
    (test,) = build(keyword, text).tests
    return test


def check(keyword: str, text: str, pkt: Packet, to_server: bool = True, flow: Flow | None = None) -> bool:
    return only_test(keyword, text).test(pkt, flow or make_flow(), to_server)


def error(keyword: str, text: str | None) -> str:
    with pytest.raises(RuleError) as info:
        build(keyword, text)
    return str(info.value)


def decode(frame: bytes) -> Packet:
    pkt = Packet()
    assert Decoder().decode(frame, 0, len(frame), 1, pkt)
    return pkt


def test_registered_keywords() -> None:
    registered = {name for name in REGISTRY if name in KEYWORDS}
    assert registered == KEYWORDS
    assert len(OPTION_MODULES) == 5


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("text", "expected", "inside", "outside"),
    [
        ("5", Range("=", 0, 5), [5], [4, 6]),
        (" 5 ", Range("=", 0, 5), [5], [4]),
        ("=+0x5", Range("=", 0, 5), [5], [4, 6]),
        ("!5", Range("!", 0, 5), [4, 6], [5]),
        (" != 5 ", Range("!", 0, 5), [4, 6], [5]),
        ("<5", Range("<", 0, 5), [0, 4], [5, 6]),
        ("<=5", Range("<=", 0, 5), [5], [6]),
        (" > 5 ", Range(">", 5, 0), [6], [5]),
        (">=5", Range(">=", 5, 0), [5, 10], [4]),
        ("0<>5", Range("<>", 0, 5), [1, 4], [0, 5, 6]),
        (" 10 <> 50 ", Range("<>", 10, 50), [11], [10, 50]),
        ("0<=>5", Range("<=>", 0, 5), [0, 5], [6]),
        (" 0x10 <=> 0x50 ", Range("<=>", 16, 80), [16, 80], [15, 81]),
        ("010<=>0x12", Range("<=>", 8, 18), [8, 18], [7, 19]),
        ("300<>400", Range("<>", 300, 400), [301, 399], [300, 400]),
    ],
)
def test_range_syntax(text: str, expected: Range, inside: list[int], outside: list[int]) -> None:
    parsed = parse_range(text, 0, 1000)
    assert parsed == expected
    assert all(value in parsed for value in inside)
    assert not any(value in parsed for value in outside)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (" ! = 5 ", "bad range '! = 5'"),
        (" < = 5 ", "bad range '< = 5'"),
        (" 1 < > 5 ", "bad range '1 < > 5'"),
        ("5x", "'5x' is not a number"),
        ("5.0", "bad range '5.0'"),
        ("5-0", "bad range '5-0'"),
        ("*5", "bad range '*5'"),
        ("=5x", "'5x' is not a number"),
        ("<<0", "bad range '<<0'"),
        ("4<>2", "bad range '4<>2': 4 > 2"),
        ("24<=>16", "bad range '24<=>16': 24 > 16"),
        (" 5 = ", "bad range '5 ='"),
        (" 5 < ", "bad range '5 <'"),
        (" 1 <> ", "bad range '1 <>'"),
        (" <=> 5 ", "bad range '<=> 5'"),
        ("=", "bad range '='"),
        ("-1", "-1 is out of range 0:1000"),
        ("1001", "1001 is out of range 0:1000"),
        ("08", "'08' is not a number"),
    ],
)
def test_range_errors(text: str, reason: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_range(text, 0, 1000)
    assert str(info.value) == reason


def test_range_options_check_their_bounds() -> None:
    assert error("ttl", "256") == "256 is out of range 0:255"
    assert error("dsize", "1<>65536") == "65536 is out of range 0:65535"
    assert error("seq", "4294967296") == "4294967296 is out of range 0:4294967295"
    assert error("itype", None) == "needs a value or range"
    assert error("icmp_id", "") == "needs a value or range"


# --------------------------------------------------------------------------- numeric header tests


@pytest.mark.parametrize(
    ("keyword", "text", "field", "yes", "no"),
    [
        ("dsize", "10", "payload_len", 10, 9),
        ("dsize", "300<>400", "payload_len", 301, 400),
        ("dsize", ">2000", "payload_len", 2001, 2000),
        ("ttl", ">220", "ttl", 221, 220),
        ("ttl", "1", "ttl", 1, 2),
        ("tos", "!8", "ip_tos", 0, 8),
        ("id", "13170", "ip_id", 13170, 13171),
        ("seq", "1958810375", "seq", 1958810375, 0),
        ("ack", "0", "ack", 0, 1),
        ("window", "55808", "window", 55808, 1),
        ("window", "<=1024", "window", 1024, 1025),
    ],
)
def test_numeric_tests(keyword: str, text: str, field: str, yes: int, no: int) -> None:
    assert check(keyword, text, make_packet(**{field: yes}))
    assert not check(keyword, text, make_packet(**{field: no}))


def test_tcp_fields_need_tcp() -> None:
    for keyword in ("seq", "ack", "window"):
        assert not check(keyword, "0", make_packet(PROTO_UDP))


def test_icmp_type_and_code() -> None:
    assert check("itype", "8", make_packet(PROTO_ICMP, icmp_type=8))
    assert check("itype", "128", make_packet(PROTO_ICMPV6, icmp_type=128))
    assert not check("itype", "8", make_packet(PROTO_ICMP, icmp_type=0))
    # A TCP packet keeps whatever ICMP type an earlier packet left: it must not match.
    assert not check("itype", "8", make_packet(PROTO_TCP, icmp_type=8))
    assert check("icode", ">15", make_packet(PROTO_ICMP, icmp_code=16))
    assert not check("icode", ">15", make_packet(PROTO_ICMP, icmp_code=15))


def test_icmp_id_and_seq_from_decoded_echo() -> None:
    echo = decode(bytes(Ether() / IP(dst="10.0.0.2") / ICMP(type=8, id=6666, seq=7) / Raw(b"ab")))
    assert check("icmp_id", "6666", echo)
    assert not check("icmp_id", "6667", echo)
    assert check("icmp_seq", "7", echo)
    assert check("icmp_seq", "0<>10", echo)
    echo6 = decode(bytes(Ether() / IPv6(dst="::2", nh=58) / Raw(b"\x80\x00\x00\x00\x00\x7b\x00\x01")))
    assert echo6.proto == PROTO_ICMPV6
    assert check("icmp_id", "123", echo6)
    assert check("icmp_seq", "1", echo6)
    # Only echo request and reply carry an id and a sequence.
    unreachable = decode(bytes(Ether() / IP() / ICMP(type=3, code=1, unused=6666)))
    assert not check("icmp_id", "0", unreachable)
    tcp = decode(bytes(Ether() / IP() / TCP() / Raw(b"\0\0\0\0")))
    assert not check("icmp_id", "0", tcp)


def test_decoder_fills_tos_id_and_fragment_bits() -> None:
    fast = decode(bytes(Ether() / IP(tos=0x10, id=39426, flags="DF") / TCP()))
    assert (fast.ip_tos, fast.ip_id, fast.ip_frag) == (0x10, 39426, 0x4000)
    with_options = decode(bytes(Ether() / IP(tos=4, id=7, flags="evil", options=b"\x01\x01\x01\x01") / UDP()))
    assert (with_options.ip_tos, with_options.ip_id, with_options.ip_frag) == (4, 7, 0x8000)
    six = decode(bytes(Ether() / IPv6(tc=0xB8) / TCP()))
    assert (six.ip_tos, six.ip_id, six.ip_frag) == (0xB8, 0, 0)
    assert check("tos", "0xb8", six)
    assert check("id", "39426", fast)


def test_reassembled_fragments_are_only_frag() -> None:
    datagram = IP(dst="10.0.0.2", id=99) / UDP(sport=1, dport=2) / Raw(b"x" * 64)
    *head, last = (bytes(Ether() / frag) for frag in datagram.fragment(32))
    decoder = Decoder()
    pkt = Packet()
    for frame in head:
        assert not decoder.decode(frame, 0, len(frame), 1, pkt)
    assert decoder.decode(last, 0, len(last), 1, pkt)
    assert check("flow", "only_frag", pkt)
    assert not check("flow", "no_frag", pkt)
    # The fragment that completed the datagram is the last: an offset, and no MF.
    assert pkt.ip_frag & 0x1FFF
    assert check("fragbits", "!M", pkt)
    assert not check("flow", "only_frag", decode(bytes(Ether() / IP(dst="10.0.0.2") / UDP())))


# --------------------------------------------------------------------------- flags and fragbits


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [
        ("S", ["S"], ["SA", ""]),
        ("SF", ["FS"], ["S", "SFA"]),
        ("S,12", ["S", "SCE", "SE"], ["SA"]),
        ("AS,12", ["SA", "SAC"], ["S"]),
        ("12AP", ["APCE"], ["AP"]),
        ("A+", ["A", "AP", "AF"], ["S"]),
        ("U+", ["U", "UA"], ["A"]),
        ("FRS*", ["F", "RA"], ["A", "PU"]),
        ("!FS", ["A", "AP"], ["SA", "F"]),
        ("0", [""], ["A"]),
        ("*SF", ["S"], ["A"]),
        ("CE", ["CE"], ["C"]),
    ],
)
def test_flags(text: str, yes: list[str], no: list[str]) -> None:
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32, "E": 64, "C": 128}
    for flags, expected in [(f, True) for f in yes] + [(f, False) for f in no]:
        value = sum(bits[c] for c in flags)
        assert check("flags", text, make_packet(tcp_flags=value)) is expected, (text, flags)


def test_flags_need_tcp_and_valid_letters() -> None:
    assert not check("flags", "0", make_packet(PROTO_UDP, tcp_flags=0))
    assert error("flags", "SX") == "bad TCP flag 'X'; use FSRPAUCE12, 0, and the modifiers ! * +"
    assert error("flags", "S,1+") == "bad TCP flag '+'; use FSRPAUCE12, 0, and the modifiers ! * +"
    assert error("flags", "") == "flags missing"
    assert error("flags", None) == "flags missing"
    assert error("flags", "S,") == "mask flags missing"


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [
        ("D", [0x4000], [0, 0x6000]),
        ("M+", [0x2000, 0x6000], [0x4000]),
        ("*MD", [0x2000, 0x4000], [0x8000, 0]),
        ("!M", [0, 0x4000], [0x2000]),
        ("!DMR", [0, 0x0010], [0x8000]),
        ("R", [0x8000, 0x8123], [0xC000]),
    ],
)
def test_fragbits(text: str, yes: list[int], no: list[int]) -> None:
    for value in yes:
        assert check("fragbits", text, make_packet(ip_frag=value)), (text, value)
    for value in no:
        assert not check("fragbits", text, make_packet(ip_frag=value)), (text, value)


def test_fragbits_errors() -> None:
    assert error("fragbits", "DX") == "bad fragbit 'X'; use RDM and the modifiers ! * +"
    assert error("fragbits", " ") == "no fragment bits given"


# --------------------------------------------------------------------------- ip_proto


def test_ip_proto() -> None:
    assert check("ip_proto", "2", make_packet(2))
    assert check("ip_proto", "igmp", make_packet(2))
    assert check("ip_proto", "!tcp", make_packet(PROTO_UDP))
    assert not check("ip_proto", "!6", make_packet(PROTO_TCP))
    assert check("ip_proto", ">50", make_packet(88))
    assert check("ip_proto", "<17", make_packet(PROTO_TCP))
    assert not check("ip_proto", "<17", make_packet(PROTO_UDP))
    assert error("ip_proto", "nope") == "unknown protocol 'nope'"
    assert error("ip_proto", "256") == "256 is out of range 0:255"
    assert error("ip_proto", "!") == "needs a protocol"


# --------------------------------------------------------------------------- flow


def test_flow_direction_both_spellings() -> None:
    pkt = make_packet()
    for text in ("to_server", "from_client", "established,to_server", "to_server, established"):
        assert check("flow", text, pkt, to_server=True)
        assert not check("flow", text, pkt, to_server=False)
    for text in ("to_client", "from_server"):
        assert check("flow", text, pkt, to_server=False)
        assert not check("flow", text, pkt, to_server=True)


def test_flow_established() -> None:
    pkt = make_packet()
    assert check("flow", "established", pkt, flow=make_flow(STATE_ESTABLISHED))
    assert not check("flow", "established", pkt, flow=make_flow(STATE_NEW))
    assert not check("flow", "established", pkt, flow=make_flow(STATE_CLOSED))
    assert check("flow", "not_established", pkt, flow=make_flow(STATE_NEW))
    assert not check("flow", "not_established", pkt, flow=make_flow(STATE_ESTABLISHED))
    # Picked up mid-stream, once the other side answered: established without a handshake, as
    # with Snort's defaults (its community rules alert on such flows: the smbv1 and bittorrent
    # parity captures).
    midstream = make_flow(STATE_ESTABLISHED, midstream=True)
    assert check("flow", "established", pkt, flow=midstream)
    assert not check("flow", "not_established", pkt, flow=midstream)
    assert check("flow", "stateless", pkt, flow=make_flow(STATE_NEW))


def test_flow_streams_and_fragments() -> None:
    assert check("flow", "to_server,established,no_stream", make_packet())
    assert not check("flow", "to_server,established,only_stream", make_packet())
    assert build("flow", "to_client,established,only_stream").partial == []
    # A PDU of reassembled data: stream data, and established even once its FIN closed the flow.
    pdu = make_packet(rebuilt=1)
    assert check("flow", "to_server,established,only_stream", pdu)
    assert not check("flow", "no_stream", pdu)
    assert check("flow", "established", pdu, flow=make_flow(STATE_CLOSED))
    assert not check("flow", "established", make_packet(), flow=make_flow(STATE_CLOSED))
    assert not check("flow", "only_frag", make_packet(ip_frag=0x4000))
    assert check("flow", "no_frag", make_packet(ip_frag=0x4000))
    assert check("flow", "only_frag", make_packet(ip_frag=0x0010))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("to_server,from_server", "can't use both to_server and to_client"),
        ("no_stream,only_stream", "can't use no_stream and only_stream"),
        ("no_frag,only_frag", "can't use no_frag and only_frag"),
        ("stateless,to_client", "can't use stateless with a direction"),
        ("stateless,established", "can't use established and stateless"),
        ("not_established,stateless", "can't use not_established and stateless"),
        ("established,not_established", "can't use established and not_established"),
        ("to_sever", "unknown flow option 'to_sever'"),
        ("", "unknown flow option ''"),
        (None, "unknown flow option ''"),
    ],
)
def test_flow_errors(text: str | None, reason: str) -> None:
    assert error("flow", text) == reason


# --------------------------------------------------------------------------- meta


def test_meta_options_fill_the_body() -> None:
    body = RuleBody()
    options = [
        ("msg", r'"say \"hi\"\; back\\slash"'),
        ("sid", "2000"),
        ("gid", "3"),
        ("rev", "0x2"),
        ("classtype", "trojan-activity"),
        ("reference", "cve,2021-44228"),
        ("reference", "url, example.com/a,b"),
        ("metadata", "policy balanced-ips drop, service http"),
        ("service", "http,ssl"),
        ("metadata", "service smtp"),
    ]
    for keyword, text in options:
        registry()[keyword](text).attach(body)
    assert body.msg == 'say "hi"; back\\slash'
    assert (body.sid, body.gid, body.rev) == (2000, 3, 2)
    assert body.classtype == "trojan-activity"
    assert body.references == [("cve", "2021-44228"), ("url", "example.com/a,b")]
    assert body.metadata == ["policy balanced-ips drop", "service http", "service smtp"]
    assert body.services == ["http", "ssl", "smtp"]
    assert body.priority is None  # the classtype's priority is filled in by the loader


def test_priority_is_kept_whatever_the_order() -> None:
    for order in (["priority", "classtype"], ["classtype", "priority"]):
        body = RuleBody()
        for keyword in order:
            REGISTRY[keyword]("4" if keyword == "priority" else "misc-activity").attach(body)
        assert body.priority == 4


def test_classtypes_and_priorities() -> None:
    from fathom.rules.classification import CLASSTYPES

    assert len(CLASSTYPES) == 38
    assert CLASSTYPES["trojan-activity"].priority == 1
    assert CLASSTYPES["tcp-connection"].priority == 4
    assert CLASSTYPES["misc-activity"].text == "Misc activity"


@pytest.mark.parametrize(
    ("keyword", "text", "reason"),
    [
        ("msg", None, "needs an argument"),
        ("msg", '"open', "unbalanced quotes"),
        ("msg", r'"a\x"', "bad escape \\x in string"),
        ("sid", "0", "0 is out of range 1:4294967295"),
        ("sid", "abc", "'abc' is not a number"),
        ("sid", "", "needs an argument"),
        ("rev", "-1", "-1 is out of range 1:4294967295"),
        ("gid", "4294967296", "4294967296 is out of range 1:4294967295"),
        ("priority", "0", "0 is out of range 1:2147483647"),
        ("classtype", "nope", "unknown classtype 'nope'"),
        ("reference", "cve", "needs <system>,<id>"),
        ("reference", "cve,", "needs <system>,<id>"),
        ("metadata", "a b,,c d", "empty metadata entry"),
        ("metadata", "service ", "metadata service needs a name"),
        ("service", "http,", "empty service name"),
    ],
)
def test_meta_errors(keyword: str, text: str | None, reason: str) -> None:
    assert error(keyword, text) == reason


# --------------------------------------------------------------------------- flowbits


def run_rule(store: FlowBits, options: list[str], flow: Flow) -> bool:
    """Evaluate a rule made of flowbits options: tests, then actions when it matched; True when it
    alerts."""
    body = RuleBody()
    for text in options:
        parse_flowbits(text).attach(body)
    bind_flowbits(body, store)
    if not all(test.test(make_packet(), flow, True) for test in body.tests):
        return False
    for action in body.actions:
        action.apply(flow)
    return not body.noalert


def test_flowbits_signature_expectations() -> None:
    """The rules of the detect-flowbits signature test, run on one packet of one flow, in order."""
    store = FlowBits()
    flow = make_flow()
    rules = {
        1: ["set,fb1"],
        2: ["set,fb2"],
        3: ["isset,fb3|fb4"],
        5: ["isset,fb1|fb5"],
        6: ["isnotset, fb1|fb2 "],
        7: ["unset,fb1"],
        8: ["noalert", "isnotset,fb1", "set,fb1"],
        9: ["isset,fb1"],
        10: ["noalert"],
        11: ["isset,fbt"],
        12: ["isset,fb1", "isset,fb2"],
    }
    alerts = {sid for sid, options in rules.items() if run_rule(store, options, flow)}
    assert alerts == {1, 2, 5, 7, 9, 12}
    assert store.bits(flow) == {"fb1", "fb2"}
    assert store.bits(make_flow(serial=2)) == set()


def test_flowbits_all_any_and_groups() -> None:
    store = FlowBits()
    flow = make_flow()
    assert run_rule(store, ["set,a&b,grp"], flow)
    assert run_rule(store, ["isset,a&b"], flow)
    assert not run_rule(store, ["isset,a&c"], flow)
    assert run_rule(store, ["isset,c|b"], flow)
    assert run_rule(store, ["isset,all,grp"], flow)
    assert run_rule(store, ["isset,any,grp"], flow)
    assert run_rule(store, ["setx,c,grp"], flow)
    assert store.bits(flow) == {"c"}
    assert store.groups["grp"] == {"a", "b", "c"}
    assert not run_rule(store, ["isset,all,grp"], flow)
    assert run_rule(store, ["toggle,c&d"], flow)
    assert store.bits(flow) == {"d"}
    assert run_rule(store, ["toggle,all,grp"], flow)
    assert store.bits(flow) == {"a", "b", "c", "d"}
    assert run_rule(store, ["unset,all,grp"], flow)
    assert store.bits(flow) == {"d"}
    assert run_rule(store, ["isnotset,any,grp"], flow)
    assert run_rule(store, ["unset,d"], flow)
    assert store.bits(flow) == set()
    store.forget(flow)


def test_flowbits_kinds() -> None:
    assert isinstance(REGISTRY["flowbits"]("set,x"), Action)
    assert isinstance(REGISTRY["flowbits"]("isset,x"), Test)
    assert build("flowbits", "noalert").noalert


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "needs an operation"),
        ("sett,a", "unknown operation 'sett'"),
        ("noalert,a", "noalert takes no bit names"),
        ("set", "set needs bit names"),
        ("set,a,b,c", "too many arguments"),
        ("set,a|b", "set uses the syntax flowbits:set,bit[&bit][,group]"),
        ("setx,a", "setx uses the syntax flowbits:setx,bit[&bit],group"),
        ("unset,a,grp", "unset uses the syntax flowbits:unset,bit[&bit] or unset,all,group"),
        ("toggle,any,grp", "toggle uses the syntax flowbits:toggle,bit[&bit] or toggle,all,group"),
        (
            "isset,all",
            "isset uses the syntax flowbits:isset,bit[&bit], isset,bit[|bit], isset,all,group"
            " or isset,any,group",
        ),
        ("isset,a|b&c", "'|' and '&' used together"),
        ("isset,a b", "bad flowbit name 'a b': use letters, digits and .-_"),
        ("set,a,g/h", "bad flowbits group 'g/h': use letters, digits and .-_"),
    ],
)
def test_flowbits_errors(text: str | None, reason: str) -> None:
    assert error("flowbits", text) == reason


# --------------------------------------------------------------------------- filters


def test_filters_parse() -> None:
    body = build("detection_filter", "track by_src, count 3, seconds 60")
    assert body.filters == [body.filters[0]]
    detection = body.filters[0]
    assert isinstance(detection, DetectionFilter)
    assert (detection.track, detection.count, detection.seconds) == ("by_src", 3, 60)
    for keyword in ("threshold", "event_filter"):
        (threshold,) = build(keyword, "type limit, track by_dst, count 1, seconds 60").filters
        assert isinstance(threshold, Threshold)
        assert (threshold.type, threshold.track, threshold.count, threshold.seconds) == (
            "limit",
            "by_dst",
            1,
            60,
        )


@pytest.mark.parametrize(
    ("keyword", "text", "reason"),
    [
        ("detection_filter", "track by_src, count 3", "missing seconds"),
        ("detection_filter", None, "empty field"),
        (
            "detection_filter",
            "track by_rule, count 3, seconds 1",
            "track must be by_src or by_dst, not 'by_rule'",
        ),
        ("detection_filter", "track by_src, count 0, seconds 1", "0 is out of range 1:4294967295"),
        ("detection_filter", "track by_src, count 1, count 2, seconds 1", "count given twice"),
        ("detection_filter", "track by_src, count, seconds 1", "count needs a value"),
        (
            "threshold",
            "type rate, track by_src, count 1, seconds 1",
            "type must be limit or threshold or both, not 'rate'",
        ),
        ("threshold", "type limit, track by_src, count 1, seconds 1, x 1", "unknown field 'x'"),
        ("threshold", "track by_src, count 1", "missing type, seconds"),
    ],
)
def test_filter_errors(keyword: str, text: str | None, reason: str) -> None:
    assert error(keyword, text) == reason


def test_one_filter_of_each_kind() -> None:
    body = build("threshold", "type limit, track by_src, count 1, seconds 1")
    with pytest.raises(RuleError, match="only one threshold per rule"):
        Threshold.parse("type both, track by_src, count 1, seconds 1").attach(body)


SRC, DST, OTHER = b"\x0a\0\0\1", b"\x0a\0\0\2", b"\x0a\0\0\3"


def alerts(tracker: RateTracker, rule_filter: DetectionFilter | Threshold, times: list[float]) -> list[int]:
    return [i for i, ts in enumerate(times) if tracker.alerts(rule_filter, SRC, DST, ts)]


def test_detection_filter_counts() -> None:
    detection = DetectionFilter("by_src", 3, 10)
    # Alerts on every match after the third within 10 s of the window's first.
    assert alerts(RateTracker(), detection, [0, 1, 2, 3, 4, 9.9]) == [3, 4, 5]
    # A new window starts at 10 s; the previous one's excess carries over when it ended just now.
    tracker = RateTracker()
    assert alerts(tracker, detection, [0, 1, 2, 3, 4, 10]) == [3, 4, 5]
    assert alerts(RateTracker(), detection, [0, 1, 2, 3, 21, 22, 23, 24]) == [3, 7]
    # Tracked per address: another source starts its own count.
    tracker = RateTracker()
    alerts(tracker, detection, [0, 1, 2, 3])
    assert not tracker.alerts(detection, OTHER, DST, 4)
    assert tracker.alerts(detection, OTHER, SRC, 4) is False  # by_src: OTHER is the source
    by_dst = DetectionFilter("by_dst", 1, 10)
    assert not tracker.alerts(by_dst, SRC, DST, 0)
    assert tracker.alerts(by_dst, OTHER, DST, 1)


def test_threshold_types() -> None:
    limit = Threshold("limit", "by_src", 2, 60)
    assert alerts(RateTracker(), limit, [0, 1, 2, 3, 60, 61, 62]) == [0, 1, 4, 5]
    every = Threshold("threshold", "by_src", 3, 60)
    assert alerts(RateTracker(), every, [0, 1, 2, 3, 4, 5, 6, 70, 71]) == [2, 5]
    both = Threshold("both", "by_src", 3, 60)
    assert alerts(RateTracker(), both, [0, 1, 2, 3, 4, 60, 61, 62, 63]) == [2, 7]
    once = Threshold("both", "by_src", 1, 60)
    assert alerts(RateTracker(), once, [0, 1, 59, 60, 61, 120]) == [0]


def test_rate_tracker_is_bounded() -> None:
    tracker = RateTracker(capacity=1)
    detection = DetectionFilter("by_src", 1, 60)
    limit = Threshold("limit", "by_src", 1, 60)
    assert not tracker.alerts(detection, SRC, DST, 0)
    assert not tracker.alerts(detection, OTHER, DST, 0)
    assert tracker.alerts(limit, SRC, DST, 0)
    assert tracker.full == 2
    assert tracker.alerts(detection, SRC, DST, 1)


# --------------------------------------------------------------------------- TLS


def test_tls_options_test_the_flags_as_snort_does() -> None:
    """(flags & session) ^ negated: a named state present, or a negated one absent."""
    state = tls.SslState("client_hello|!server_keyx")
    assert (state.flags, state.negated) == (
        tls_state.CLIENT_HELLO | tls_state.SERVER_KEYX,
        tls_state.SERVER_KEYX,
    )

    def holds(option: tls.SslState | tls.SslVersion, flags: int) -> bool:
        return option.holds(flags.to_bytes(4, "big"))

    assert holds(state, tls_state.CLIENT_HELLO) and holds(state, 0)
    assert not holds(state, tls_state.SERVER_KEYX)
    version = tls.SslVersion("sslv3,tls1.0")
    assert holds(version, tls_state.TLS10 | tls_state.SERVER_HELLO)
    assert not holds(version, tls_state.TLS12)
    assert build("ssl_version", "!sslv2").partial == []


def test_options_waiting_for_an_inspector_hold_their_rule_back() -> None:
    for keyword, args in (("dce_iface", "uuid 338cd001-2244-31f1-aaaa-900038001003"), ("dce_opnum", '"24"')):
        (test,) = build(keyword, args).tests
        assert not test.test(make_packet(), make_flow(), True)
    # tag only asks for more packets to be logged: the rule still alerts.
    (tag,) = build("tag", "session,packets 10").tests
    assert tag.test(make_packet(), make_flow(), True)


def test_tls_errors() -> None:
    states = "client_hello, server_hello, client_keyx, server_keyx, unknown"
    assert error("ssl_state", "hello") == f"unknown ssl_state 'hello'; use {states}"
    assert error("ssl_state", None) == f"unknown ssl_state ''; use {states}"
    versions = "sslv2, sslv3, tls1.0, tls1.1, tls1.2"
    assert error("ssl_version", "tls1.4") == f"unknown ssl_version 'tls1.4'; use {versions}"


# --------------------------------------------------------------------------- community ruleset
