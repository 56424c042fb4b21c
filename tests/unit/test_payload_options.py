"""Payload options (content, pcre, byte_*, isdataat, bufferlen, base64, buffers) and the
payload evaluator, in Snort 3 and Snort 2 syntax."""

from __future__ import annotations

from collections import Counter

import pytest

from fathom.rules.errors import RuleError
from fathom.rules.evaluate import MAX_RETRIES, match_payload
from fathom.rules.loader import build_rule
from fathom.rules.options import buffers, byte, content, data, pcre
from fathom.rules.options.base import REGISTRY, MatchState, RuleBody
from fathom.rules.options.content import Content
from fathom.rules.parser import parse_rules
from tests.rules import options_of

# The modules register their keywords on import.
MODULES = (buffers, byte, content, data, pcre)


def build(options: str) -> RuleBody:
    body = RuleBody()
    for keyword, arg in options_of(options):
        REGISTRY[keyword](arg).attach(body)
    return body


def matches(options: str, payload: bytes | None = None, **named: bytes) -> bool:
    found: dict[str, bytes] = dict(named)
    if payload is not None:
        found["pkt_data"] = payload
    return match_payload(build(options).payload, found.get, MatchState())


def error(options: str) -> str:
    with pytest.raises(RuleError) as info:
        build(options)
    return str(info.value)


# -- content ------------------------------------------------------------------------------


def test_content_pattern_hex_and_escapes() -> None:
    first = build(r'content:"a|41 42|b\"\;\\|4|";').payload[0]
    assert isinstance(first, Content)
    assert first.pattern == b'aABb";\\\x04'
    assert error(r'content:"a\qb";') == "bad escape sequence at 2"
    assert error('content:"a|4G|";') == "invalid byte code at 4"
    assert error('content:"a|41";') == "unterminated hex block"


@pytest.mark.parametrize(
    ("options", "payload", "expected"),
    [
        ('content:"abc";', b"xxabcxx", True),
        ('content:"ABC";', b"xxabcxx", False),
        ('content:"ABC",nocase;', b"xxabcxx", True),
        ('content:"ABC"; nocase;', b"xxabcxx", True),
        ('content:!"abc";', b"xxabxx", True),
        ('content:!"abc";', b"xxabcxx", False),
        ('content:"abc",depth 5;', b"xxabcxx", True),
        ('content:"abc",depth 4;', b"xxabcxx", False),
        ('content:"abc",offset 3;', b"xxabcxx", False),
        ('content:"abc",offset 2,depth 3;', b"xxabcxx", True),
        ('content:"abc"; offset:2; depth:3;', b"xxabcxx", True),
        ('content:"abc",offset -1,depth 4;', b"abcx", True),
        ('content:"abc",offset -1,depth 3;', b"abcx", False),
    ],
)
def test_content_absolute(options: str, payload: bytes, expected: bool) -> None:
    assert matches(options, payload) is expected


@pytest.mark.parametrize(
    ("options", "payload", "expected"),
    [
        ('content:"a"; content:"b",distance 0;', b"ab", True),
        ('content:"a"; content:"b",distance 1;', b"ab", False),
        ('content:"a"; content:"b",within 1;', b"axb", False),
        ('content:"a"; content:"b",within 2;', b"axb", True),
        ('content:"a"; content:"b"; distance:0; within:1;', b"ab", True),
        # negative distance looks back before the cursor
        ('content:"cd"; content:"bc",distance -3,within 2;', b"abcd", True),
        # a retry of the first content lets the second one match (Snort's retries)
        ('content:"a"; content:"b",distance 0,within 1;', b"axxab", True),
        ('content:"a",depth 3; content:"b",distance 0,within 1;', b"axxab", False),
        # self-overlapping pattern: the retry shift is Snort's match_delta
        ('content:"aa"; content:"b",distance 0,within 1;', b"aaab", True),
    ],
)
def test_content_relative(options: str, payload: bytes, expected: bool) -> None:
    assert matches(options, payload) is expected


def test_negated_content_does_not_move_the_cursor() -> None:
    assert matches('content:"a"; content:!"z"; content:"b",distance 0,within 1;', b"ab")


def test_content_validation_reasons() -> None:
    assert error('content:"abc",depth 2;') == "'depth' must be in 3:65535, inclusive"
    assert error('content:"abc",within 2;') == "'within' must be in 3:65535, inclusive"
    assert error('content:"a",offset 1,distance 1;') == "distance can't be used with itself, offset, or depth"
    assert error('content:"a",depth 1,within 1;') == "within can't be used with itself, offset, or depth"
    assert (
        error('content:"a",distance 1,offset 1;') == "offset can't be used with itself, distance, or within"
    )
    assert error('content:"a",within 1,depth 1;') == "depth can't be used with itself, distance, or within"
    assert error('content:"a",depth x;') == "content depth uses an undefined rule option variable (x)"
    assert error('content:"a",offset 1x;') == "invalid 'offset' format."
    assert error("nocase;") == "needs a content before it"
    assert error('content:"a",bogus;') == "unknown content option (bogus)"
    assert error("content:abc;") == "pattern must be in double quotes"


def test_fast_pattern_forms() -> None:
    only = build('content:"abcd"; fast_pattern:only;').payload[0]
    part = build('content:"abcd"; fast_pattern:1,2;').payload[0]
    snort3 = build('content:"abcd",fast_pattern,fast_pattern_offset 1,fast_pattern_length 3;').payload[0]
    assert isinstance(only, Content) and only.fast_pattern_only
    assert isinstance(part, Content) and (part.fp_offset, part.fp_length) == (1, 2)
    assert isinstance(snort3, Content) and (snort3.fp_offset, snort3.fp_length) == (1, 3)
    assert error('content:"ab"; fast_pattern:1,2;') == (
        "fast_pattern_offset + fast_pattern_length must be less than or equal to "
        "the actual pattern length which is 2."
    )


def test_content_width() -> None:
    assert matches('content:"ab",width 16;', b"\x00a\x00b")
    assert matches('content:"ab",width 16,endian little;', b"a\x00b\x00")


def test_byte_extract_feeds_content_within() -> None:
    rule = 'byte_extract:1,0,len; content:"a",distance 0; content:"z",distance 0,within len;'
    assert matches(rule, b"\x03abcz")
    assert not matches(rule, b"\x02abcz")


# -- buffers ------------------------------------------------------------------------------


def buffers_of(options: str) -> list[tuple[bytes, str]]:
    return [(opt.pattern, opt.buffer) for opt in build(options).payload if isinstance(opt, Content)]


def test_snort3_sticky_buffers() -> None:
    assert buffers_of(
        'http_uri; content:"a"; content:"b"; http.header; content:"c"; file.data; content:"d";'
    ) == [
        (b"a", "http_uri"),
        (b"b", "http_uri"),
        (b"c", "http_header"),
        (b"d", "file_data"),
    ]
    assert matches('http_uri; content:"/x";', b"", http_uri=b"/x")
    assert not matches('http_uri; content:"/x";', b"/x")


def test_snort2_buffer_modifiers() -> None:
    assert buffers_of('content:"a"; http_uri; content:"b"; content:"c"; nocase; http_header; rawbytes;') == [
        (b"a", "http_uri"),
        (b"b", "pkt_data"),
        (b"c", "raw_data"),
    ]
    assert buffers_of('uricontent:"u"; content:"p";') == [(b"u", "http_uri"), (b"p", "pkt_data")]


def test_snort3_form_later_makes_earlier_modifier_sticky() -> None:
    assert buffers_of('content:"POST"; http_uri; content:"/a",nocase; content:"b";') == [
        (b"POST", "pkt_data"),
        (b"/a", "http_uri"),
        (b"b", "http_uri"),
    ]
    assert buffers_of('content:"P",nocase; http_uri; content:"/a";') == [
        (b"P", "pkt_data"),
        (b"/a", "http_uri"),
    ]


def test_a_named_pkt_data_stays_when_the_rule_shows_snort3_form() -> None:
    """sid 1019: ``pkt_data;`` switches back to packet data, and a later Snort 3 style content
    does not take the options after it for moved ones."""
    body = build(
        'http_uri; content:"a",nocase; pkt_data; pcre:"/x/i"; content:"y"; '
        'http_uri; content:"b",fast_pattern,nocase;'
    )
    assert [option.buffer for option in body.payload] == ["http_uri", "pkt_data", "pkt_data", "http_uri"]


def test_a_snort2_relative_option_reads_the_buffer_of_the_content_before_it() -> None:
    """UriTestSig26: after a uricontent (or a content a modifier moved), isdataat, byte_test and
    pcre with a relative cursor read on in that buffer; with a sticky buffer named, they do not."""
    body = build('uricontent:"fix"; isdataat:4,relative; byte_test:1,>,0,0,relative; pcre:"/x/R";')
    assert [option.buffer for option in body.payload] == ["http_uri"] * 4
    body = build('content:"a"; http_header; isdataat:1,relative; isdataat:1;')
    assert [option.buffer for option in body.payload] == ["http_header", "http_header", "pkt_data"]
    body = build('http_uri; content:"a"; pkt_data; isdataat:1,relative;')
    assert [option.buffer for option in body.payload] == ["http_uri", "pkt_data"]


def test_buffer_arguments() -> None:
    body = build(
        'http_header:field User-Agent; content:"x"; http_param:"Q"; content:"y"; http_uri:path; content:"z";'
    )
    assert [opt.buffer for opt in body.payload] == ["http_header:user-agent", "http_param:q", "http_uri:path"]
    assert error("http_uri:bogus;").startswith("unknown URI part (bogus)")
    assert error("pkt_data:x;") == "takes no argument"


def test_buffer_switch_starts_at_zero_and_absent_buffer_fails() -> None:
    rule = 'content:"ab"; http_uri; content:"a",distance 0,within 1;'
    assert matches(rule.replace(",distance 0,within 1", ",depth 1"), b"ab", http_uri=b"a")
    assert matches('content:"b"; http_uri; content:"a",distance 0;', b"ab", http_uri=b"a")
    assert not matches('http_uri; content:"a";', b"a")
    assert matches('http_uri; content:!"a";', b"", http_uri=b"b")
    assert not matches('http_uri; content:!"a";', b"b")


# -- pcre ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "payload", "expected"),
    [
        ('pcre:"/a.c/";', b"xabc", True),
        ('pcre:"/A.C/i";', b"xabc", True),
        ('pcre:"/a.c/";', b"a\nc", False),
        ('pcre:"/a.c/s";', b"a\nc", True),
        ('pcre:"/^b/m";', b"a\nb", True),
        ('pcre:"/^b/";', b"a\nb", False),
        ('pcre:"/a b/x";', b"ab", True),
        ('pcre:!"/zz/";', b"ab", True),
        ('pcre:!"/ab/";', b"ab", False),
        ('pcre:"m#a/b#";', b"a/b", True),
        ('content:"a"; pcre:"/^b/R";', b"ab", True),
        ('content:"a"; pcre:"/^c/R";', b"abc", False),
        ('content:"a"; pcre:"/b/AR";', b"axb", False),
        ('pcre:"/a$/E";', b"a\n", False),
        ('pcre:"/a$/";', b"a\n", True),
        ('pcre:"/\\x{41}[[:digit:]]\\h/";', b"A1 ", True),
        ('pcre:"/a(?i)b|c/";', b"aB", True),
        # retried pcre: the second match lets the relative content match
        ('pcre:"/a./"; content:"z",distance 0,within 1;', b"a1a2z", True),
    ],
)
def test_pcre(options: str, payload: bytes, expected: bool) -> None:
    assert matches(options, payload) is expected


def test_pcre_ungreedy_moves_cursor_less() -> None:
    assert matches('pcre:"/a.+/G"; content:"c",distance 0,within 1;', b"abc")
    assert not matches('pcre:"/a.+/"; content:"c",distance 0,within 1;', b"abc")


def test_pcre_snort2_buffer_flags() -> None:
    body = build('pcre:"/x/U"; pcre:"/x/H"; pcre:"/x/B"; pcre:"/x/P";')
    assert [opt.buffer for opt in body.payload] == ["http_uri", "http_header", "raw_data", "http_client_body"]


def test_pcre_reasons() -> None:
    assert error('pcre:"/a/q";') == "unknown/extra pcre option encountered"
    assert error('pcre:"/a/UH";') == "unknown/extra pcre option encountered"
    assert error('pcre:"a/";') == 'unable to parse pcre "a/"'
    assert error('pcre:"//";') == 'unable to parse pcre "//"'
    assert error('pcre:"/(?R)/";').startswith("cannot compile /(?R)/ for Python re: ")


# -- byte options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "payload", "expected"),
    [
        ("byte_test:2,=,0x0102,0;", b"\x01\x02", True),
        ("byte_test:2,=,0x0201,0,little;", b"\x01\x02", True),
        ("byte_test:2,=,0x0201,0,dce;", b"\x01\x02", True),
        ("byte_test:1,<,5,0;", b"\x04", True),
        ("byte_test:1,<=,4,0;", b"\x04", True),
        ("byte_test:1,>,4,0;", b"\x04", False),
        ("byte_test:1,>=,4,0;", b"\x04", True),
        ("byte_test:1,&,4,0;", b"\x05", True),
        ("byte_test:1,^,5,0;", b"\x05", False),
        ("byte_test:1,!=,5,0;", b"\x05", False),
        ("byte_test:1,!,5,0;", b"\x06", True),
        ("byte_test:1,!<,5,0;", b"\x06", True),
        ("byte_test:3,=,123,0,string,dec;", b"123", True),
        ("byte_test:4,=,26,0,string,hex;", b"0x1a", True),
        ("byte_test:3,=,8,0,string,oct;", b"010", True),
        ("byte_test:3,=,12,0,string,dec;", b"12x", True),
        ("byte_test:3,=,1,0,string,dec;", b"-1x", False),
        ("byte_test:2,=,3,0,bitmask 0x0ff0;", b"\x00\x30", True),
        ("byte_test:1,=,1,2;", b"\x01", False),
        ('content:"a"; byte_test:1,=,2,0,relative;', b"a\x02", True),
        ('content:"a"; byte_test:1,=,2,-2,relative;', b"\x02a", True),
    ],
)
def test_byte_test(options: str, payload: bytes, expected: bool) -> None:
    assert matches(options, payload) is expected


@pytest.mark.parametrize(
    ("options", "payload", "expected"),
    [
        ('byte_jump:1,0; content:"z",distance 0,within 1;', b"\x02xxz", True),
        ('byte_jump:1,0; content:"z",distance 0,within 1;', b"\x02xz", False),
        ('byte_jump:1,0,multiplier 2; content:"z",distance 0,within 1;', b"\x01xxz", True),
        ('byte_jump:1,0,align; content:"z",distance 0,within 1;', b"\x01xxxxz", True),
        ('byte_jump:1,0,post_offset -1; content:"xz",distance 0,within 2;', b"\x02xxz", True),
        ('byte_jump:1,1,from_beginning; content:"z",distance 0,within 1;', b"x\x02xz", False),
        ('byte_jump:1,1,from_beginning; content:"z",distance 0,within 1;', b"x\x02z", True),
        ("byte_jump:0,0,from_end,post_offset -1; isdataat:!1,relative;", b"abc", True),
        ("byte_jump:1,0;", b"\x09", False),
        ("byte_jump:1,0,post_offset -5;", b"\x01", False),
        ('byte_jump:2,0,string,dec; content:"z",distance 0,within 1;', b"03xxxz", True),
        ('content:"a"; byte_jump:1,0,relative; content:"z",distance 0,within 1;', b"a\x01xz", True),
    ],
)
def test_byte_jump(options: str, payload: bytes, expected: bool) -> None:
    assert matches(options, payload) is expected


def test_byte_extract_and_math_variables() -> None:
    state = MatchState()
    body = build(
        "byte_extract:1,0,n,multiplier 3; byte_math:bytes 1,offset 0,oper +,rvalue n,result s,relative;"
        " byte_test:1,<,s,0,relative;"
    )
    assert match_payload(body.payload, {"pkt_data": b"\x02\x0a"}.get, state)
    assert state.variables == {"n": 6, "s": 16}
    assert matches("byte_extract:1,0,n,align 4; byte_test:1,=,n,1;", b"\x05\x08")
    assert matches("byte_extract:1,0,off; isdataat:off;", b"\x02ab")
    assert not matches("byte_extract:1,0,off; isdataat:off;", b"\x03ab")
    assert matches("byte_math:bytes 1,offset 0,oper -,rvalue 2,result r; byte_test:1,=,r,1;", b"\x05\x03")
    assert not matches("byte_math:bytes 1,offset 0,oper -,rvalue 6,result r;", b"\x05")
    assert matches("byte_math:bytes 1,offset 0,oper <<,rvalue 2,result r; byte_test:1,=,r,1;", b"\x01\x04")
    assert matches(
        "byte_math:bytes 1,offset 0,oper /,rvalue 2,result r,endian little; byte_test:1,=,r,1;", b"\x05\x02"
    )


def test_byte_reasons() -> None:
    assert error("byte_test:1,~,1,0;") == "byte_test unknown operator (~)"
    assert (
        error("byte_test:5,=,1,0;") == "byte_test rule option cannot extract more than 4 bytes without string"
    )
    assert error("byte_test:1,=,1,0,bitmask 0x100;") == (
        'Number of bytes in "bitmask" value is greater than bytes to extract.'
    )
    assert error("byte_test:1,=,1,0,big,little;") == "byte_test: endianness already set"
    assert error("byte_test:1,=,v,0;") == "byte_test uses an undefined rule option variable (v)"
    assert (
        error("byte_jump:1,0,from_beginning,from_end;")
        == "from_beginning and from_end options together in a rule"
    )
    assert error("byte_extract:1,-1,v;") == (
        "byte_extract rule option has a negative offset, but does not use the 'relative' option."
    )
    assert error("byte_extract:1,0,1v;").startswith(
        "byte_extract rule option has a name which starts with a digit"
    )
    assert error("byte_extract:1,0,v,align 3;").startswith("byte_extract rule option has an invalid argument")
    assert error("byte_extract:1,0,v,hex;").startswith(
        "byte_extract rule option has a string conversion type"
    )
    assert error("byte_math:bytes 1,offset 0,oper +,rvalue 0,result r;") == "rvalue must be in 1:4294967295"
    assert error("byte_math:bytes 1,offset 0,oper +,rvalue 1;") == "result variable missing"
    assert error("byte_math:bytes 5,offset 0,oper <<,rvalue 1,result r,string dec;") == (
        "for operators << and  >> valid bytes_to_extract input range is 1 to 4 bytes"
    )


# -- isdataat, bufferlen, base64 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "payload", "expected"),
    [
        ("isdataat:2;", b"abc", True),
        ("isdataat:3;", b"abc", False),
        ("isdataat:!3;", b"abc", True),
        ('content:"a"; isdataat:1,relative;', b"abc", True),
        ('content:"a"; isdataat:1,relative;', b"ab", False),
        ('content:"b"; isdataat:!1,relative;', b"ab", True),
        ("bufferlen:3;", b"abc", True),
        ("bufferlen:<3;", b"abc", False),
        ("bufferlen:<=3;", b"abc", True),
        ("bufferlen:>2;", b"abc", True),
        ("bufferlen:!3;", b"abc", False),
        ("bufferlen:1<>3;", b"abc", False),
        ("bufferlen:1<=>3;", b"abc", True),
        ('content:"a"; bufferlen:2,relative;', b"abc", True),
    ],
)
def test_data_options(options: str, payload: bytes, expected: bool) -> None:
    assert matches(options, payload) is expected


def test_base64() -> None:
    assert matches('base64_decode; base64_data; content:"hello";', b"aGVsbG8=")
    assert matches('content:"x="; base64_decode:relative; base64_data; content:"hi",depth 2;', b"x=aGk=")
    assert matches('base64_decode:bytes 4,offset 1; base64_data; content:"hel";', b" aGVsbG8=")
    assert not matches('base64_decode:bytes 4; base64_data; content:"hello";', b"aGVsbG8=")
    assert not matches('base64_decode; base64_data; content:"a";', b"=abc")
    assert error("base64_data;") == "needs a base64_decode before it"
    assert error("isdataat:70000;") == "isdataat offset greater than max IPV4 packet size"
    assert error("bufferlen:5<>3;") == "bad range '5<>3': 5 > 3"


# -- evaluator ----------------------------------------------------------------------------


def test_retries_are_bounded() -> None:
    rule = 'content:"a"; content:"a",distance 0; content:"a",distance 0; content:"b",distance 0;'
    calls = Counter[str]()
    body = build(rule)

    def lookup(name: str) -> bytes:
        calls[name] += 1
        return b"a" * 300

    assert not match_payload(body.payload, lookup, MatchState())
    assert calls["pkt_data"] <= MAX_RETRIES + len(body.payload)


def test_empty_payload_matches() -> None:
    nothing: dict[str, bytes] = {}
    assert match_payload([], nothing.get, MatchState())


def test_urilen_measures_the_uri_and_keeps_the_buffer() -> None:
    (text,), errors = parse_rules(
        'alert tcp any any -> any any (urilen:5<>10; content:"GET"; urilen:4,raw; sid:1;)\n', "t.rules"
    )
    assert errors == []
    body = build_rule(text).body
    assert [o.buffer for o in body.payload] == ["http_uri", "pkt_data", "http_raw_uri"]
    buffers = {"http_uri": b"/abcdef", "pkt_data": b"GET /x", "http_raw_uri": b"/a%2"}
    assert match_payload(body.payload, buffers.get, MatchState())
    buffers["http_uri"] = b"/abcdefghij"
    assert not match_payload(body.payload, buffers.get, MatchState())
