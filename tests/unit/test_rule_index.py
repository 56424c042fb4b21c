"""Rule groups: which rules a packet's data makes candidates, before any rule is evaluated."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP
from fathom.rules import index as index_module
from fathom.rules.index import RuleIndex, fast_pattern, http_sections
from fathom.rules.loader import Rule, load_ruleset

IGMP = 2


def index_of(tmp_path: Path, rules: str) -> RuleIndex:
    path = tmp_path / "test.rules"
    path.write_text(rules)
    ruleset = load_ruleset([str(path)])
    assert ruleset.rejected == []
    return RuleIndex(ruleset)


def sids(rules: list[Rule]) -> list[int]:
    return [rule.body.sid for rule in rules]


def test_ip_rules_with_ip_proto_are_filed_under_that_protocol_only(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        "alert ip any any -> any any (ip_proto:2; sid:1;)\n"
        "alert ip any any -> any any (ip_proto:tcp; sid:2;)\n"
        "alert ip any any -> any any (ip_proto:!6; sid:3;)\n"
        "alert ip any any -> any any (sid:4;)\n",
    )
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"", 0x10, None)) == [2, 3, 4]
    assert sids(index.candidates(PROTO_UDP, 1, 2, b"", -1, None)) == [3, 4]
    assert sids(index.candidates(PROTO_ICMP, 0, 0, b"", -1, None)) == [3, 4]
    assert sids(index.candidates(PROTO_ICMPV6, 0, 0, b"", -1, None)) == [3, 4]
    assert sids(index.candidates(IGMP, 0, 0, b"", -1, None)) == [1, 3, 4]


def test_empty_data_makes_candidates_only_of_rules_that_pass_on_it(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        "alert udp any any -> any any (sid:1;)\n"
        "alert udp any any -> any any (isdataat:!1; sid:2;)\n"
        'alert udp any any -> any any (content:!"x"; sid:3;)\n'
        "alert udp any any -> any any (byte_test:1,>,1,0; sid:4;)\n"
        "alert udp any any -> any any (dsize:0; sid:5;)\n"
        'alert udp any any -> any any (content:"abc"; sid:6;)\n',
    )
    assert sids(index.candidates(PROTO_UDP, 1, 2, b"", -1, None)) == [1, 2, 3, 5]
    assert sids(index.candidates(PROTO_UDP, 1, 2, b"zabc", -1, None)) == [1, 2, 3, 4, 5, 6]


def test_tcp_flags_leave_out_header_rules_they_fail(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        "alert tcp any any -> any any (flags:S; sid:1;)\n"
        "alert tcp any any -> any any (flags:SA; sid:2;)\n"
        "alert tcp any any -> any any (flags:R+; sid:3;)\n"
        "alert tcp any any -> any any (flags:!A; sid:4;)\n"
        "alert tcp any any -> any any (flags:S,12; sid:5;)\n"
        "alert tcp any any -> any any (flow:established; sid:6;)\n",
    )
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"", 0x02, None)) == [1, 4, 5, 6]
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"", 0x12, None)) == [2, 6]
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"", 0xC2, None)) == [4, 5, 6]
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"x", 0x14, None)) == [3, 6]
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"x", 0x04, None)) == [3, 4, 6]


def test_base64_data_is_never_the_fast_pattern(tmp_path: Path) -> None:
    """base64_data exists only once base64_decode made it: the rule is found by its other
    buffer's content, in that buffer's HTTP section."""
    index = index_of(
        tmp_path,
        'alert http any any -> any any (http_uri; content:"arg"; base64_decode:relative; '
        'base64_data; content:"thisisatest"; sid:1;)\n',
    )
    (rule,) = index.ruleset.rules
    content = fast_pattern(rule, None)
    assert content is not None and (content.pattern, content.buffer) == (b"arg", "http_uri")
    assert list(index.sections["request_headers"].groups) == ["http_uri"]


def test_packet_data_with_http_buffers_is_read_in_the_bodies(tmp_path: Path) -> None:
    """Snort files pkt_data in the body section, and a rule in the latest section its options
    read: with header buffers, the body of either message; with a buffer of one message, that
    message's body. raw_data with HTTP buffers is not evaluated yet."""
    index = index_of(
        tmp_path,
        'alert tcp any any -> any any (http_uri; content:"/a"; pkt_data; content:"x"; sid:1;)\n'
        'alert tcp any any -> any any (http_client_body; content:"y"; pkt_data; content:"x"; sid:2;)\n'
        'alert tcp any any -> any any (http_stat_code; content:"200"; pkt_data; content:"x"; sid:3;)\n'
        'alert tcp any any -> any any (http_header; content:"a"; raw_data; content:"x"; sid:4;)\n',
    )
    assert {rule.body.sid: http_sections(rule) for rule in index.ruleset.rules} == {
        1: ("request_body", "response_body"),
        2: ("request_body",),
        3: ("response_body",),
        4: (),
    }
    assert index.left_out == {"raw_data with HTTP buffers": 1}


def test_a_known_service_adds_its_rules_whatever_their_protocol_and_ports(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        "alert udp any any -> any 53 (service:dns; sid:1;)\n"
        "alert tcp any any -> any any (service:dns; sid:2;)\n",
    )
    assert sids(index.candidates(PROTO_UDP, 1000, 5353, b"", -1, "dns")) == [1, 2]
    assert sids(index.candidates(PROTO_UDP, 1000, 5353, b"", -1, None)) == []
    # Empty data's candidates are worked out once per combination.
    first = index.candidates(PROTO_TCP, 1000, 53, b"", 0x10, "dns")
    assert index.candidates(PROTO_TCP, 2000, 53, b"", 0x10, "dns") is first


def test_rules_left_out_are_counted_by_reason(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        'alert tcp any any -> any 80 (http_uri; content:"/a"; raw_data; content:"b"; sid:1;)\n'
        'alert tcp any any -> any 445 (dce_stub_data; content:"c"; sid:2;)\n'
        'pass tcp any any -> any any (content:"d"; sid:3;)\n',
    )
    assert index.left_out == {"raw_data with HTTP buffers": 1, "dce_stub_data buffer": 1, "action pass": 1}


def test_remembered_empty_candidates_are_bounded_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_MAX_ON_EMPTY", 2)
    index = index_of(tmp_path, "alert tcp any any -> any any (flags:S; sid:1;)\n")
    for flags in (0x02, 0x10, 0x12):
        index.candidates(PROTO_TCP, 1, 2, b"", flags, None)
    assert index.on_empty_resets == 1
    assert sids(index.candidates(PROTO_TCP, 1, 2, b"", 0x02, None)) == [1]
