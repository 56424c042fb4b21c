"""Rule text to headers and raw options: the community rulesets, Snort's tokenizing, variables,
address and port sets, and one ``FILE:LINE: reason`` per bad rule with the rest still loading."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from fathom.rules.errors import RuleError
from fathom.rules.loader import BUNDLED_RULES
from fathom.rules.parser import RuleText, load_rules, parse_rules
from fathom.rules.variables import DEFAULT_VARIABLES, Variables
from tests.corpus.conftest import CORPUS

GOOD = "alert tcp any any -> any any (sid:9;)"
SNORT3 = BUNDLED_RULES
SNORT2 = CORPUS / "rules" / "snort2.9-community.rules"


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def one(text: str, variables: dict[str, str] | None = None) -> RuleText:
    rules, errors = parse_rules(text, "t.rules", variables)
    assert errors == []
    assert len(rules) == 1
    return rules[0]


# --- the community rulesets ------------------------------------------------------------------


def test_snort3_community_rules_all_parse() -> None:
    rules, errors = load_rules([str(SNORT3)])
    assert errors == []
    assert len(rules) == 4022


def test_snort2_community_rules_disabled_rules_are_comments() -> None:
    rules, errors = load_rules([str(SNORT2)])
    assert errors == []
    assert len(rules) == 545


def test_suricata_verify_rules_parse() -> None:
    rules, errors = load_rules([str(CORPUS / "sigs")])
    assert errors == []
    assert len(rules) == 106


def test_real_rule_headers() -> None:
    rules, _ = load_rules([str(SNORT3)])
    by_line = {rule.line: rule for rule in rules}
    first = by_line[1]
    assert (first.action, first.protocol, first.bidirectional) == ("alert", "tcp", False)
    assert first.source.is_any and first.destination.is_any
    assert first.source_ports.contains(2589) and not first.source_ports.contains(2590)
    assert first.destination_ports.is_any
    assert first.options[2] == ("content", '"2|00 00 00 06 00 00 00|Drives|24 00|",depth 16')
    assert first.options[-2:] == (("sid", "105"), ("rev", "14"))
    assert first.text.startswith("alert tcp $HOME_NET 2589 -> ") and first.text.endswith("rev:14; )")

    echo = by_line[76]
    assert echo.bidirectional and echo.source_ports.contains(19) and echo.destination_ports.contains(7)
    assert echo.options[2] == ("metadata", "policy max-detect-ips drop,ruleset community")

    service = by_line[3489]
    assert service.protocol == "http"
    assert service.source.is_any and service.source_ports.is_any and service.destination_ports.is_any
    assert ("http_header", "field user-agent") in service.options

    oracle = by_line[1102]
    assert oracle.destination_ports.contains(1024) and oracle.destination_ports.contains(65535)
    assert not oracle.destination_ports.contains(1023)


def test_real_snort2_rule() -> None:
    rules, _ = load_rules([str(SNORT2)])
    (realplayer,) = [rule for rule in rules if rule.line == 1774]
    assert realplayer.destination_ports.contains(8080) and not realplayer.destination_ports.contains(8081)
    assert ("pcre", r'"/\x2eram?([\?\x5c\x2f]|$)/smiU"') in realplayer.options
    assert ("flowbits", "noalert") in realplayer.options
    assert ("fast_pattern", "only") in realplayer.options


# --- option tokenizing -----------------------------------------------------------------------


def test_options_in_order_with_and_without_args() -> None:
    rule = one('alert tcp any any -> any any (msg: "hi" ; nocase; content:"a",depth 4;sid:1;)')
    assert rule.options == (("msg", '"hi"'), ("nocase", None), ("content", '"a",depth 4'), ("sid", "1"))


def test_quoted_semicolons_escapes_and_hex() -> None:
    rule = one(r'alert tcp any any -> any any (msg:"a;b \"c\" d\\"; content:"x\;y|3B|"; sid:1;)')
    assert rule.options == (
        ("msg", r'"a;b \"c\" d\\"'),
        ("content", r'"x\;y|3B|"'),
        ("sid", "1"),
    )


def test_escaped_semicolon_outside_quotes() -> None:
    rule = one(r"alert ip any any -> any any (reference:url,example.com/kb\;EN-US\;q1; sid:1;)")
    assert rule.options[0] == ("reference", r"url,example.com/kb\;EN-US\;q1")


def test_pcre_args_run_to_the_first_unescaped_semicolon() -> None:
    rule = one(r'alert tcp any any -> any any (pcre:"/a\;b(c)\//Ri"; pcre:/x"y/; sid:1;)')
    assert rule.options[:2] == (("pcre", r'"/a\;b(c)\//Ri"'), ("pcre", '/x"y/'))


def test_last_option_may_omit_its_semicolon() -> None:
    assert one('alert tcp any any -> any any (msg:"x"; sid:7)').options[-1] == ("sid", "7")


def test_backslash_continuation_and_comments() -> None:
    text = (
        "# a comment\n"
        "\n"
        "alert tcp any any -> any 80 \\\n"
        '    (msg:"multi"; \\\n'
        "    sid:1;)  # trailing comment\n"
        'alert udp any any -> any 53 (msg:"next"; sid:2;)\n'
    )
    rules, errors = parse_rules(text, "t.rules")
    assert errors == []
    assert [(rule.line, rule.options[-1]) for rule in rules] == [(3, ("sid", "1")), (6, ("sid", "2"))]
    assert rules[0].text == text[text.index("alert") : text.index(")") + 1]


def test_snort3_multiline_rule_without_backslashes() -> None:
    text = (
        "alert tcp any any -> any any\n"
        "(\n"
        '    msg:"x";  # why\n'
        "\n"
        "    sid:3;\n"
        ")\n"
        "alert ip any any -> any any (sid:4;)\n"
    )
    rules, errors = parse_rules(text, "t.rules")
    assert errors == []
    assert [(rule.line, rule.options) for rule in rules] == [
        (1, (("msg", '"x"'), ("sid", "3"))),
        (7, (("sid", "4"),)),
    ]


def test_two_rules_on_one_line() -> None:
    rules, errors = parse_rules(f"{GOOD}{GOOD.replace('9', '8')}", "t.rules")
    assert errors == [] and [rule.options for rule in rules] == [(("sid", "9"),), (("sid", "8"),)]


# --- headers ---------------------------------------------------------------------------------


def test_service_and_file_headers_mean_any() -> None:
    for text in ('alert http (msg:"x"; sid:1;)', "alert FILE (sid:1;)"):
        rule = one(text)
        assert rule.protocol in ("http", "file")
        assert rule.source.is_any and rule.destination.is_any
        assert rule.source_ports.is_any and rule.destination_ports.is_any
        assert not rule.bidirectional


def test_ports_may_be_left_out() -> None:
    rule = one("drop tcp 10.0.0.1 -> 10.0.0.2 (sid:1;)")
    assert rule.action == "drop" and rule.source_ports.is_any and rule.destination_ports.is_any
    assert rule.source.contains(ip("10.0.0.1")) and not rule.source.contains(ip("10.0.0.2"))


def test_list_with_spaces_in_header() -> None:
    rule = one("alert tcp [10.0.0.1, [10.0.0.2, 10.0.0.3]] any -> any [80, 443] (sid:1;)")
    assert rule.source.contains(ip("10.0.0.3")) and not rule.source.contains(ip("10.0.0.4"))
    assert rule.destination_ports.contains(443) and not rule.destination_ports.contains(8080)


# --- variables, addresses and ports ----------------------------------------------------------


def test_defaults() -> None:
    variables = Variables()
    assert variables.addresses("$HOME_NET").is_any and variables.addresses("$SMTP_SERVERS").is_any
    shellcode = variables.ports("$SHELLCODE_PORTS")
    assert not shellcode.contains(80) and shellcode.contains(81) and shellcode.contains(0)
    file_data = variables.ports("$FILE_DATA_PORTS")
    assert all(file_data.contains(port) for port in (80, 8080, 110, 143, 55555))
    assert not file_data.contains(25)
    assert variables.ports("$SSH_PORTS") == variables.ports("22")
    assert variables.ports("$GTP_PORTS") == variables.ports("[2123,2152,3386]")
    assert DEFAULT_VARIABLES["FTP_PORTS"] == "[21,2100,3535]"


def test_overrides_flow_through_nested_variables() -> None:
    rule = one(
        "alert tcp $EXTERNAL_NET any -> $HTTP_SERVERS $HTTP_PORTS (sid:1;)",
        {
            "HOME_NET": "[192.168.0.0/16,!192.168.9.0/24]",
            "EXTERNAL_NET": "!$HOME_NET",
            "HTTP_PORTS": "80 8080",
        },
    )
    assert rule.destination.contains(ip("192.168.1.1")) and not rule.destination.contains(ip("192.168.9.9"))
    assert rule.source.contains(ip("192.168.9.9")) and rule.source.contains(ip("8.8.8.8"))
    assert not rule.source.contains(ip("192.168.1.1"))
    assert rule.source.contains(ip("::1"))
    assert rule.destination_ports.contains(8080) and not rule.destination_ports.contains(81)


def test_address_membership_ipv6_negation_nesting() -> None:
    addresses = Variables().addresses("[2001:db8::/32, 10.0.0.0/8, ![10.1.0.0/16, !10.1.2.0/24]]")
    assert addresses.contains(ip("2001:db8::1")) and not addresses.contains(ip("2001:db9::1"))
    assert addresses.contains(ip("10.2.3.4")) and not addresses.contains(ip("10.1.3.4"))
    assert addresses.contains(ip("10.1.2.3")) and not addresses.contains(ip("11.0.0.1"))
    negated = Variables().addresses("![1.2.3.4,::1]")
    assert not negated.contains(ip("1.2.3.4")) and not negated.contains(ip("::1"))
    assert negated.contains(ip("1.2.3.5")) and negated.contains(ip("::2")) and not negated.is_any
    assert Variables().addresses("[1.2.3.4/24]").contains(ip("1.2.3.200"))


def test_port_forms() -> None:
    ports = Variables().ports("[:10,100:200,60000:,![150:160]]")
    probes = (0, 10, 11, 99, 100, 149, 150, 160, 161, 200, 201, 59999, 60000, 65535)
    assert [port for port in probes if ports.contains(port)] == [0, 10, 100, 149, 161, 200, 60000, 65535]
    assert Variables().ports("[1:65535,0]").is_any


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        ("$FOO", "addresses", "unknown variable $FOO"),
        ("70000", "ports", "bad port range 70000"),
        ("80:70000", "ports", "bad port range 80:70000"),
        ("90:80", "ports", "bad port range 90:80"),
        ("!any", "ports", "!any is not allowed"),
        ("[1.2.3.4,!any]", "addresses", "!any is not allowed"),
        ("1.2.3.400", "addresses", "bad address '1.2.3.400'"),
        ("[80,!80]", "ports", "port set '[80,!80]' is empty"),
        ("[1.2.3.4", "addresses", "unbalanced '[' in '[1.2.3.4'"),
        ("[]", "ports", "empty port list"),
    ],
)
def test_bad_values(text: str, kind: str, reason: str) -> None:
    variables = Variables()
    with pytest.raises(RuleError) as caught:
        variables.addresses(text) if kind == "addresses" else variables.ports(text)
    assert str(caught.value) == reason


def test_variable_cycle() -> None:
    variables = Variables({"A": "[1.2.3.4,$B]", "B": "$C", "C": "$A"})
    with pytest.raises(RuleError, match=r"^variable cycle \$A -> \$B -> \$C -> \$A$"):
        variables.addresses("$A")


def test_var_lines_define_variables_for_later_rules() -> None:
    text = (
        "alert tcp $MINE any -> any any (sid:1;)\n"
        "ipvar MINE [10.0.0.0/8]\n"
        "portvar WEB [80,8080]\n"
        "var PLAIN 1.2.3.4\n"
        "alert tcp $MINE $WEB -> $PLAIN any (sid:2;)\n"
        "portvar BAD 99999\n"
    )
    rules, errors = parse_rules(text, "t.rules")
    assert [str(error) for error in errors] == [
        "t.rules:1: source addresses $MINE: unknown variable $MINE",
        "t.rules:6: portvar BAD: bad port range 99999",
    ]
    (rule,) = rules
    assert rule.source.contains(ip("10.9.9.9")) and rule.source_ports.contains(8080)
    assert rule.destination.contains(ip("1.2.3.4")) and not rule.destination.contains(ip("1.2.3.5"))


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("alrt tcp any any -> any any (sid:1;)", "unknown rule action 'alrt'"),
        ("alert (sid:1;)", "rule has no protocol"),
        ("alert t*p any any -> any any (sid:1;)", "bad protocol: t*p"),
        ("alert tcp any any <- any any (sid:1;)", "illegal direction specifier: <-"),
        ("alert tcp any any any any (sid:1;)", "rule header has no direction: any any any any"),
        ("alert tcp any any any -> any any (sid:1;)", "bad rule header: any any any -> any any"),
        ("alert tcp any 70000 -> any any (sid:1;)", "source ports 70000: bad port range 70000"),
        ("alert tcp any any -> $FOO any (sid:1;)", "destination addresses $FOO: unknown variable $FOO"),
        ('alert tcp any any -> any any (msg:"x"; sid:1;', "rule has no closing ')'"),
        ('alert tcp any any -> any any (msg:"x; sid:1;)', "option 'msg' has an unterminated string"),
        ("alert tcp any any -> any any (msg sid:1;)", "option 'msg' must be followed by ':' or ';'"),
        ("alert tcp any any -> any any (sid:1)x", "option 'sid' has no terminating ';'"),
        ("alert tcp any any -> any any (sid:1;;)", "expected a rule option, found ';'"),
        ("alert tcp [1.2.3.4 any -> any any (sid:1;)", "unbalanced '[' in rule header"),
        ("include $RULE_PATH/other.rules", "include is not supported in a rules file"),
        ("ipvar X", "ipvar needs a name and a value"),
    ],
)
def test_one_error_per_bad_rule_and_the_rest_load(bad: str, reason: str) -> None:
    rules, errors = parse_rules(f"{GOOD}\n# note\n{bad}\n{GOOD}\n", "t.rules")
    assert [str(error) for error in errors] == [f"t.rules:3: {reason}"]
    assert errors[0].text == bad
    assert [rule.line for rule in rules] == [1, 4]


def test_a_broken_multiline_rule_is_skipped_whole() -> None:
    text = 'alert tcp any any -> any any (\n  msg:"x;\n  sid:1;\n)\nalert ip any any -> any any (sid:2;)\n'
    rules, errors = parse_rules(text, "t.rules")
    assert [str(error) for error in errors] == ["t.rules:1: option 'msg' has an unterminated string"]
    assert [rule.line for rule in rules] == [5]


# --- files and directories -------------------------------------------------------------------


def test_load_rules_from_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.rules").write_text("alert ip any any -> any any (sid:3;)\n")
    (tmp_path / "a.rules").write_bytes(b'alert ip any any -> any any (msg:"\xff"; sid:1;)\n')
    (tmp_path / "notes.txt").write_text("not rules\n")
    single = tmp_path / "single.txt"
    single.write_text("alert ip any any -> any any (sid:2;)\n")
    missing = tmp_path / "missing.rules"
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}

    rules, errors = load_rules([str(tmp_path / "b"), str(missing), str(tmp_path)], {"HOME_NET": "10.0.0.0/8"})

    assert [str(error) for error in errors] == [f"{missing}: cannot read: No such file or directory"]
    assert [(Path(rule.file).name, rule.options[-1][1]) for rule in rules] == [
        ("z.rules", "3"),
        ("a.rules", "1"),
        ("z.rules", "3"),
    ]
    assert rules[1].options[0] == ("msg", '"\ufffd"')
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before
    assert load_rules([str(single)])[0][0].options == (("sid", "2"),)
