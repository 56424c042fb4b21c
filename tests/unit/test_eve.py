"""EVE flow records: exact fields, as Suricata writes them."""

from __future__ import annotations

import orjson
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from fathom.events.schema import FlowEvent
from fathom.events.timefmt import eve_timestamp
from fathom.flow.community_id import community_id_v1
from fathom.flow.flow import AppName, Flow
from tests.traffic import CLIENT, SERVER, TcpConversation, feed, make_engine, udp


def test_timestamp_format() -> None:
    assert eve_timestamp(0.0) == "1970-01-01T00:00:00.000000+0000"
    assert eve_timestamp(1552590234.8922961) == "2019-03-14T19:03:54.892296+0000"
    assert eve_timestamp(1552590234.9999996) == "2019-03-14T19:03:55.000000+0000"


def test_tcp_flow_event_fields() -> None:
    engine, _, sink = make_engine()
    conv = TcpConversation(ts=1552590234.0).handshake().client_sends(b"hello").server_acks().close()
    feed(engine, conv.packets)
    engine.finish()
    (event,) = sink.events
    flow_id = event.pop("flow_id")
    assert isinstance(flow_id, int) and 0 < flow_id < 2**53
    assert event == {
        "timestamp": "2019-03-14T19:03:54.008000+0000",
        "event_type": "flow",
        "src_ip": CLIENT,
        "src_port": 40000,
        "dest_ip": SERVER,
        "dest_port": 80,
        "proto": "TCP",
        "community_id": community_id_v1(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 40000, 80, 6),
        "pcap_cnt": 8,
        "flow": {
            "pkts_toserver": 5,
            "pkts_toclient": 3,
            "bytes_toserver": 54 * 4 + 59,
            "bytes_toclient": 54 * 3,
            "start": "2019-03-14T19:03:54.001000+0000",
            "end": "2019-03-14T19:03:54.008000+0000",
            "age": 0,
            "state": "closed",
            "reason": "shutdown",
            "alerted": False,
        },
        "tcp": {
            "tcp_flags": "1b",
            "tcp_flags_ts": "1b",
            "tcp_flags_tc": "13",
            "fin": True,
            "syn": True,
            "psh": True,
            "ack": True,
            "state": "closed",
        },
    }


def test_flow_ids_differ_between_flows_and_are_stable_across_runs() -> None:
    def run() -> list[int]:
        engine, _, sink = make_engine()
        feed(engine, [udp(1.0, CLIENT, SERVER, 1, 53), udp(1.0, CLIENT, SERVER, 2, 53)])
        engine.finish()
        return [e["flow_id"] for e in sink.events]

    first = run()
    assert len(set(first)) == 2
    assert run() == first


def test_icmp_flow_has_type_code_and_no_ports() -> None:
    engine, _, sink = make_engine()
    feed(
        engine,
        [
            (1.0, Ether() / IP(src=CLIENT, dst=SERVER) / ICMP(type=8, code=0, id=1, seq=1)),
            (1.1, Ether() / IP(src=SERVER, dst=CLIENT) / ICMP(type=0, code=0, id=1, seq=1)),
        ],
    )
    engine.finish()
    (event,) = sink.events
    assert "src_port" not in event and "dest_port" not in event
    assert (event["proto"], event["icmp_type"], event["icmp_code"]) == ("ICMP", 8, 0)
    assert event["community_id"] == community_id_v1(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 8, 0, 1)
    assert (event["flow"]["pkts_toserver"], event["flow"]["pkts_toclient"]) == (1, 1)


def test_ipv6_addresses_are_written_compressed() -> None:
    engine, _, sink = make_engine()
    feed(engine, [(1.0, Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMP())])
    engine.finish()
    assert (sink.events[0]["src_ip"], sink.events[0]["dest_ip"]) == ("2001:db8::1", "2001:db8::2")


def test_text_from_outside_is_escaped() -> None:
    """Interface names (from a pcapng file) and application names reach the JSON escaped."""
    engine, _, _ = make_engine()
    raw = bytes(Ether() / Dot1Q(vlan=7) / IP(src=CLIENT, dst=SERVER) / ICMP(type=8))
    engine.feed(raw, 0, len(raw), len(raw), 5.0, 1)
    flow: Flow = next(iter(engine.flows.flows.values()))
    flow.app = AppName('x"y\\z\n\u00e9', "P\u00e9</script>", 'c"at')
    event = FlowEvent(flow, flow.last, 1)
    event.in_iface = 'eth0"}, "event_type": "alert'
    decoded = orjson.loads(event.json())
    assert decoded["in_iface"] == 'eth0"}, "event_type": "alert'
    assert decoded["event_type"] == "flow"
    assert decoded["app_proto"] == 'x"y\\z\n\u00e9'
    assert decoded["app"] == {"protocol": "P\u00e9</script>", "application": None, "category": 'c"at'}
    assert decoded["vlan"] == [7]
    assert (decoded["icmp_type"], decoded["icmp_code"]) == (8, 0)
    assert "src_port" not in decoded
    assert event.json() is event.json()
