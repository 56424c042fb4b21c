"""Flow tracking through the real decoder: direction, TCP state, timeouts, reuse, eviction."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Dot1Q, Ether

from fathom.config import EngineConfig, FlowConfig
from fathom.flow.table import FLOW_COST_BYTES, STREAM_COST_BYTES
from tests.traffic import CLIENT, SERVER, TcpConversation, feed, make_engine, udp


def test_tcp_session_counts_state_and_stream() -> None:
    engine, consumer, sink = make_engine()
    conv = TcpConversation().handshake().client_sends(b"GET / HTTP/1.0\r\n\r\n").server_acks()
    conv.server_sends(b"HTTP/1.0 200 OK\r\n\r\nhi").client_acks().close()
    feed(engine, conv.packets)
    assert len(engine.flows) == 1
    engine.finish()
    (event,) = sink.events
    assert (event["src_ip"], event["src_port"], event["dest_ip"], event["dest_port"]) == (
        CLIENT,
        40000,
        SERVER,
        80,
    )
    flow = event["flow"]
    assert (flow["pkts_toserver"], flow["pkts_toclient"]) == (6, 4)
    assert flow["state"] == "closed"
    assert flow["reason"] == "shutdown"
    assert event["tcp"]["state"] == "closed"
    assert event["tcp"]["tcp_flags_ts"] == "1b"
    assert event["tcp"]["tcp_flags_tc"] == "1b"
    assert consumer.stream(1, True) == b"GET / HTTP/1.0\r\n\r\n"
    assert consumer.stream(1, False) == b"HTTP/1.0 200 OK\r\n\r\nhi"
    assert consumer.ended == [1]


def test_bytes_count_wire_length_per_direction() -> None:
    engine, _, sink = make_engine()
    feed(
        engine, [udp(1.0, CLIENT, SERVER, 5000, 53, b"q" * 10), udp(1.1, SERVER, CLIENT, 53, 5000, b"r" * 30)]
    )
    engine.finish()
    flow = sink.events[0]["flow"]
    # Ethernet 14 + IPv4 20 + UDP 8 + payload.
    assert (flow["bytes_toserver"], flow["bytes_toclient"]) == (52, 72)
    assert flow["state"] == "established"


def test_rst_closes_connection() -> None:
    engine, _, sink = make_engine()
    feed(engine, TcpConversation().handshake().reset(from_client=False).packets)
    engine.finish()
    assert sink.events[0]["flow"]["state"] == "closed"
    assert sink.events[0]["tcp"]["rst"] is True


def test_handshake_only_is_established_and_syn_only_is_new() -> None:
    engine, _, sink = make_engine()
    feed(engine, TcpConversation(sport=1).handshake().packets)
    feed(engine, [(5.0, Ether() / IP(src=CLIENT, dst=SERVER) / TCP(sport=2, dport=80, flags="S"))])
    engine.finish()
    states = {e["src_port"]: (e["flow"]["state"], e["tcp"]["state"]) for e in sink.events}
    assert states == {1: ("established", "established"), 2: ("new", "syn_sent")}


@pytest.mark.parametrize("server_first", [False, True])
def test_midstream_pickup_puts_the_client_on_the_higher_port(server_first: bool) -> None:
    """Without a handshake, Snort takes the side on the higher port for the client, whichever
    spoke first; the flow is established once the other side answers."""
    engine, consumer, sink = make_engine()
    conv = TcpConversation().handshake().client_sends(b"abc").server_sends(b"xyz")
    packets = conv.packets[3:]  # no handshake in the capture
    feed(engine, packets[::-1] if server_first else packets)
    engine.finish()
    (event,) = sink.events
    assert (event["src_port"], event["dest_port"]) == (40000, 80)
    assert event["tcp"]["midstream"] is True
    assert event["flow"]["state"] == "established"
    assert consumer.stream(1, True) == b"abc"
    assert consumer.stream(1, False) == b"xyz"


def test_a_midstream_flow_the_other_side_never_answers_is_not_established() -> None:
    engine, _, sink = make_engine()
    feed(engine, TcpConversation().handshake().client_sends(b"abc").packets[3:])
    engine.finish()
    (event,) = sink.events
    assert (event["flow"]["state"], event["tcp"]["midstream"]) == ("new", True)


def test_syn_ack_first_makes_its_sender_the_server() -> None:
    engine, _, sink = make_engine()
    conv = TcpConversation().handshake()
    feed(engine, conv.packets[1:])
    engine.finish()
    (event,) = sink.events
    assert (event["src_ip"], event["src_port"], event["dest_port"]) == (CLIENT, 40000, 80)


def test_idle_timeout_ends_flow_and_next_packet_starts_a_new_one() -> None:
    engine, _, sink = make_engine()
    feed(engine, [udp(100.0, CLIENT, SERVER, 5000, 514), udp(161.0, CLIENT, SERVER, 5000, 514)])
    assert [e["flow"]["reason"] for e in sink.events] == ["timeout"]
    engine.finish()
    assert [e["flow"]["reason"] for e in sink.events] == ["timeout", "shutdown"]
    assert engine.flows.stats.timed_out == 1


def test_udp_within_timeout_stays_one_flow() -> None:
    engine, _, sink = make_engine()
    feed(engine, [udp(100.0, CLIENT, SERVER, 5000, 514), udp(159.0, CLIENT, SERVER, 5000, 514)])
    engine.finish()
    assert len(sink.events) == 1
    assert sink.events[0]["flow"]["pkts_toserver"] == 2


def test_sweep_expires_idle_flows_by_state_timeout() -> None:
    engine, _, sink = make_engine()
    conv = TcpConversation(ts=10.0).handshake().close()
    feed(engine, conv.packets)
    # Closed TCP flows expire 60 s after their last packet; an unrelated packet drives the clock.
    feed(engine, [udp(60.0, "10.9.9.9", SERVER, 1, 2)])
    assert sink.events == []
    feed(engine, [udp(71.0, "10.9.9.9", SERVER, 1, 2)])
    assert [(e["proto"], e["flow"]["reason"]) for e in sink.events] == [("TCP", "timeout")]


def test_tcp_port_reuse_starts_new_flow() -> None:
    engine, consumer, sink = make_engine()
    first = TcpConversation(ts=1.0).handshake().client_sends(b"one").close()
    second = TcpConversation(ts=2.0)
    second.cseq = 9000
    second.handshake().client_sends(b"two")
    feed(engine, first.packets + second.packets)
    engine.finish()
    assert [e["flow"]["reason"] for e in sink.events] == ["tcp_reuse", "shutdown"]
    assert consumer.stream(1, True) == b"one"
    assert consumer.stream(2, True) == b"two"


def test_vlan_and_interface_separate_flows() -> None:
    engine, _, sink = make_engine()
    base = IP(src=CLIENT, dst=SERVER) / TCP(sport=1, dport=2, flags="S")
    for vlan in (10, 20):
        raw = bytes(Ether() / Dot1Q(vlan=vlan) / base)
        engine.feed(raw, 0, len(raw), len(raw), 1.0, 1)
    raw = bytes(Ether() / base)
    engine.feed(raw, 0, len(raw), len(raw), 1.0, 1, iface=0)
    engine.feed(raw, 0, len(raw), len(raw), 1.0, 1, iface=1)
    engine.finish()
    assert len(sink.events) == 4
    assert sorted(str(e.get("vlan")) for e in sink.events) == ["None", "None", "[10]", "[20]"]


def test_memcap_evicts_oldest_flows_and_counts() -> None:
    config = EngineConfig(flow=FlowConfig(memcap=64 * FLOW_COST_BYTES))  # room for 64 flows
    engine, _, sink = make_engine(config)
    for i in range(100):
        feed(engine, [udp(1.0 + i * 0.001, CLIENT, SERVER, 10000 + i, 53)])
        assert engine.flows.memuse <= 64 * FLOW_COST_BYTES
    forced = [e for e in sink.events if e["flow"]["reason"] == "forced"]
    # Full at 64 flows: each time, the oldest are ended until 1/64 of the cap (one flow) is free.
    assert len(engine.flows) == 64
    assert len(forced) == engine.flows.stats.evicted == 36
    assert [e["src_port"] for e in forced] == list(range(10000, 10036))
    engine.finish()
    assert len(sink.events) == 100


def test_memcap_counts_stream_state() -> None:
    engine, _, _ = make_engine()
    feed(engine, TcpConversation(sport=1).handshake().packets)
    assert engine.flows.memuse == FLOW_COST_BYTES  # a handshake alone holds no reassembly state
    feed(engine, TcpConversation(sport=2).handshake().client_sends(b"a").server_sends(b"b").packets)
    assert engine.flows.memuse == 2 * FLOW_COST_BYTES + 2 * STREAM_COST_BYTES
    engine.finish()
    assert engine.flows.memuse == 0


def test_ack_for_missed_segment_reports_gap_and_continues() -> None:
    engine, consumer, _ = make_engine()
    conv = TcpConversation().handshake().client_sends(b"one ")
    conv.cseq += 5  # "lost " never reaches the capture
    conv.client_sends(b"three")
    conv.server_acks()
    feed(engine, conv.packets)
    assert consumer.events[(1, True)] == [("data", b"one "), ("gap", 5), ("data", b"three")]


def test_tcp_fast_open_data_on_syn_is_delivered() -> None:
    engine, consumer, _ = make_engine()
    syn = Ether() / IP(src=CLIENT, dst=SERVER) / TCP(sport=1, dport=80, flags="S", seq=41) / b"early"
    synack = Ether() / IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=1, flags="SA", seq=900, ack=47)
    ack = Ether() / IP(src=CLIENT, dst=SERVER) / TCP(sport=1, dport=80, flags="PA", seq=47, ack=901) / b"late"
    feed(engine, [(1.0, syn), (1.1, synack), (1.2, ack)])
    assert consumer.stream(1, True) == b"earlylate"


@pytest.mark.parametrize(
    ("first", "second", "to_server"),
    [
        # One address and port talking to itself: one key, every packet to the server.
        ((CLIENT, CLIENT, 5000, 5000), (CLIENT, CLIENT, 5000, 5000), (2, 0)),
        # One address, two ports, and two addresses on one port: the packet's source decides.
        ((CLIENT, CLIENT, 5000, 6000), (CLIENT, CLIENT, 6000, 5000), (1, 1)),
        ((CLIENT, SERVER, 5000, 5000), (SERVER, CLIENT, 5000, 5000), (1, 1)),
    ],
)
def test_direction_of_flows_whose_ends_share_an_address_or_port(
    first: tuple[str, str, int, int], second: tuple[str, str, int, int], to_server: tuple[int, int]
) -> None:
    engine, _, sink = make_engine()
    feed(engine, [udp(1.0, *first), udp(1.1, *second)])
    assert (len(engine.flows), engine.flows.memuse) == (1, FLOW_COST_BYTES)
    engine.finish()
    (event,) = sink.events
    assert (event["flow"]["pkts_toserver"], event["flow"]["pkts_toclient"]) == to_server
