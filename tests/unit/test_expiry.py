"""Flow expiry and eviction: O(1) per packet whatever the table size, longest-idle first, and every
flow comes out as exactly one flow event."""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from fathom.config import EngineConfig, FlowConfig
from fathom.engine import Engine
from fathom.flow.table import FLOW_COST_BYTES
from tests.traffic import CLIENT, SERVER, ListSink, TcpConversation, feed, make_engine, udp

_TEMPLATE = bytes(Ether() / IP(src=CLIENT, dst=SERVER) / UDP(sport=1, dport=53) / b"q")
_UDP_PORTS = 34  # offset of the UDP source and destination ports in the frame


def udp_frame(sport: int, dport: int, reply: bool = False) -> bytes:
    """A UDP packet between CLIENT and SERVER, built by patching a template (fast enough for 10^4)."""
    frame = bytearray(_TEMPLATE)
    if reply:
        frame[26:30], frame[30:34] = frame[30:34], frame[26:30]
    struct.pack_into("!HH", frame, _UDP_PORTS, sport, dport)
    return bytes(frame)


def send(engine: Engine, ts: float, frame: bytes) -> None:
    engine.feed(frame, 0, len(frame), len(frame), ts, 1)


def test_expiry_work_follows_flows_not_time() -> None:
    """10,000 live flows and 200 s of traffic on one of them: a sweep of the table every second would
    look at 2,000,000 flows; the idle index looks at each flow a bounded number of times."""
    engine = Engine()
    for port in range(10000, 20000):
        send(engine, 1.0, udp_frame(port, 53))
        send(engine, 1.0, udp_frame(53, port, reply=True))
    for step in range(2000):
        send(engine, 2.0 + step * 0.1, udp_frame(9, 9))
    assert engine.flows.stats.timed_out == 0
    # One look per flow when its first timeout (60 s, new) came up: it was answered, so it waits
    # for the established timeout (300 s) now.
    assert 10000 <= engine.flows.idle.visits <= 10000 + 10
    send(engine, 302.5, udp_frame(9, 9))
    # The 10,000 plus the one-way flow on port 9, silent for 100 s: its 60 s are up too.
    assert engine.flows.stats.timed_out == 10001
    assert engine.flows.idle.visits <= 2 * 10000 + 10


def test_memcap_evicts_the_longest_idle_flow_first() -> None:
    config = EngineConfig(flow=FlowConfig(memcap=64 * FLOW_COST_BYTES))  # room for 64 flows
    engine, _, sink = make_engine(config)
    for i in range(64):
        feed(engine, [udp(1.0 + i * 0.5, CLIENT, SERVER, 10000 + i, 53)])
    # The oldest flow speaks again: now the second one is the longest idle.
    feed(engine, [udp(33.0, CLIENT, SERVER, 10000, 53)])
    feed(engine, [udp(33.5, CLIENT, SERVER, 20000, 53)])
    forced = [e["src_port"] for e in sink.events if e["flow"]["reason"] == "forced"]
    assert forced == [10001]
    feed(engine, [udp(34.0, CLIENT, SERVER, 20001, 53)])
    forced = [e["src_port"] for e in sink.events if e["flow"]["reason"] == "forced"]
    assert forced == [10001, 10002]


def test_every_flow_is_one_event_through_eviction_and_expiry() -> None:
    config = EngineConfig(flow=FlowConfig(memcap=100 * FLOW_COST_BYTES))
    engine = Engine(config)
    sink = ListSink()
    engine.add_sink(sink)
    for i in range(5000):
        # Half way, the traffic pauses for longer than any timeout.
        ts = 1.0 + i * 0.05 + (400.0 if i >= 2500 else 0.0)
        send(engine, ts, udp_frame(1024 + i, 53))
        if i % 3:
            send(engine, ts + 0.001, udp_frame(53, 1024 + i, reply=True))
        if i % 7 == 0:
            send(engine, ts + 0.002, udp_frame(1024 + i // 2, 53))  # an older flow speaks again
    engine.finish()
    stats = engine.flows.stats
    assert stats.evicted > 0 and stats.timed_out > 0
    assert len(sink.events) == stats.created == stats.ended
    assert len({e["flow_id"] for e in sink.events}) == stats.created
    assert sum(e["flow"]["pkts_toserver"] + e["flow"]["pkts_toclient"] for e in sink.events) == engine.packets


def test_tick_ends_flows_on_a_quiet_source() -> None:
    engine, _, sink = make_engine()
    feed(engine, [udp(1000.0, CLIENT, SERVER, 5000, 514)])
    engine.tick(1050.0)
    assert sink.events == []
    engine.tick(1062.0)
    assert [(e["src_port"], e["flow"]["reason"]) for e in sink.events] == [(5000, "timeout")]
    assert len(engine.flows) == 0


def test_closing_shortens_the_wait() -> None:
    """An established TCP flow (600 s) that closes expires 60 s after its last packet, not 600 s."""
    engine, _, sink = make_engine()
    feed(engine, TcpConversation(ts=10.0).handshake().client_sends(b"x").packets)
    feed(engine, [udp(20.0, "10.9.9.9", SERVER, 1, 2)])
    feed(engine, TcpConversation(ts=30.0).reset().packets)
    engine.tick(89.0)
    assert [e["proto"] for e in sink.events] == ["UDP"]
    engine.tick(92.0)
    assert [(e["proto"], e["flow"]["reason"]) for e in sink.events] == [
        ("UDP", "timeout"),
        ("TCP", "timeout"),
    ]
