"""The detect layer on packets: exact alerts, fields and counts."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from fathom.engine import Engine
from tests.rules import detecting_engine
from tests.traffic import CLIENT, SERVER, ListSink, TcpConversation, feed, udp


def engine_with(tmp_path: Path, rules: str) -> tuple[Engine, ListSink]:
    return detecting_engine(tmp_path, rules)


def alerts(sink: ListSink) -> list[tuple[int, int, str, int | None, str]]:
    return [
        (e["alert"]["signature_id"], e["pcap_cnt"], e["src_ip"], e.get("src_port"), e["alert"]["signature"])
        for e in sink.events
        if e["event_type"] == "alert"
    ]


def test_content_alert_names_the_packet_and_its_direction(tmp_path: Path) -> None:
    engine, sink = engine_with(
        tmp_path,
        'alert tcp any any -> any 80 (msg:"req"; flow:to_server,established; content:"HELLO /x"; '
        "classtype:web-application-attack; sid:1; rev:3;)\n"
        'alert tcp any 80 -> any any (msg:"resp"; flow:to_client; content:"secret",nocase; sid:2;)\n',
    )
    # A service the wizard does not know: its segments are inspected one by one.
    conv = TcpConversation().handshake().client_sends(b"HELLO /x\r\n\r\n").server_sends(b"SECRET")
    feed(engine, conv.packets)
    engine.finish()
    assert alerts(sink) == [(1, 4, CLIENT, 40000, "req"), (2, 5, SERVER, 80, "resp")]
    first = next(e for e in sink.events if e["event_type"] == "alert")
    assert first["alert"] == {
        "action": "allowed",
        "gid": 1,
        "signature_id": 1,
        "rev": 3,
        "signature": "req",
        "category": "Web Application Attack",
        "severity": 1,
    }
    (flow,) = [e for e in sink.events if e["event_type"] == "flow"]
    assert flow["flow"]["alerted"] is True
    assert first["flow_id"] == flow["flow_id"] and first["community_id"] == flow["community_id"]


def test_header_ports_direction_and_bidirectional(tmp_path: Path) -> None:
    engine, sink = engine_with(
        tmp_path,
        'alert udp any any -> any 53 (msg:"to dns"; sid:1;)\n'
        'alert udp any 53 <> any any (msg:"either way"; sid:2;)\n'
        'alert icmp any any -> any any (msg:"ping"; itype:8; sid:3;)\n',
    )
    feed(engine, [udp(1.0, CLIENT, SERVER, 5000, 53), udp(1.1, SERVER, CLIENT, 53, 5000)])
    raw = bytes(Ether() / IP(src=CLIENT, dst=SERVER) / ICMP(type=8))
    engine.feed(raw, 0, len(raw), len(raw), 2.0, 1)
    engine.finish()
    assert sorted((sid, cnt) for sid, cnt, *_ in alerts(sink)) == [(1, 1), (2, 1), (2, 2), (3, 3)]


def test_flowbits_carry_state_between_packets(tmp_path: Path) -> None:
    engine, sink = engine_with(
        tmp_path,
        'alert udp any any -> any any (msg:"u"; content:"USER"; flowbits:set,u; flowbits:noalert; sid:1;)\n'
        'alert udp any any -> any any (msg:"pass after user"; content:"PASS"; flowbits:isset,u; sid:2;)\n',
    )
    feed(engine, [udp(1.0, CLIENT, SERVER, 5000, 21, b"PASS x")])
    feed(
        engine, [udp(1.1, CLIENT, SERVER, 5000, 21, b"USER a"), udp(1.2, CLIENT, SERVER, 5000, 21, b"PASS b")]
    )
    engine.finish()
    assert [(sid, cnt) for sid, cnt, *_ in alerts(sink)] == [(2, 3)]


def test_detection_filter_counts_per_source(tmp_path: Path) -> None:
    engine, sink = engine_with(
        tmp_path,
        'alert udp any any -> any 53 (msg:"burst"; '
        "detection_filter:track by_src, count 2, seconds 10; sid:1;)\n",
    )
    feed(engine, [udp(1.0 + i * 0.1, CLIENT, SERVER, 6000 + i, 53) for i in range(4)])
    engine.finish()
    # The first two matches from the source are under the threshold; the 3rd and 4th alert.
    assert [cnt for _, cnt, *_ in alerts(sink)] == [3, 4]


def test_port_groups_keep_every_rule_reachable(tmp_path: Path) -> None:
    """Rules filed by destination port, by source port, by a wide range (any-port group) and both
    ways all fire where their headers say, in ruleset order."""
    engine, sink = engine_with(
        tmp_path,
        'alert udp any any -> any 53 (msg:"dst"; content:"q"; sid:1;)\n'
        'alert udp any 53 -> any any (msg:"src"; content:"r"; sid:2;)\n'
        'alert udp any any -> any 1024: (msg:"wide"; content:"q"; sid:3;)\n'
        'alert udp any any <> any 53 (msg:"both"; sid:4;)\n'
        'alert udp any any -> any 8080 (msg:"other port"; sid:5;)\n',
    )
    feed(engine, [udp(1.0, CLIENT, SERVER, 5000, 53, b"q"), udp(1.1, SERVER, CLIENT, 53, 5000, b"r")])
    feed(engine, [udp(2.0, CLIENT, SERVER, 5001, 4000, b"q")])
    engine.finish()
    assert [(sid, cnt) for sid, cnt, *_ in alerts(sink)] == [(1, 1), (4, 1), (2, 2), (4, 2), (3, 3)]


def test_one_inspection_logs_three_events_in_snorts_order(tmp_path: Path) -> None:
    """Snort's event queue: the first five rules that match one packet are kept, ordered by the
    length of their fast pattern (then the higher sid first), and three of them are logged; the
    rest are counted."""
    contents = ["abcdef", "abc", "abcdefgh", "bcde", "abcd", "abcde", "a"]
    engine, sink = engine_with(
        tmp_path,
        "".join(
            f'alert udp any any -> any any (msg:"{text}"; content:"{text}"; sid:{sid};)\n'
            for sid, text in enumerate(contents, start=1)
        ),
    )
    feed(engine, [udp(1.0, CLIENT, SERVER, 40000, 9999, b"abcdefgh")])
    engine.finish()
    assert [sid for sid, *_ in alerts(sink)] == [3, 1, 5]
    counted = engine.counters()
    assert [counted[f"detect.{name}"] for name in ("queue_limit", "log_limit", "alerts")] == [2, 2, 3]
