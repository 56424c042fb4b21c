"""An upper layer defined only here plugs into the engine through the seam: it sees packets with
their headers, stream bytes and gaps, keeps per-flow state, emits events and bypasses flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fathom.decode.packet import TH_SYN, Buffer, Packet
from fathom.engine import Engine
from fathom.events.file_sink import EveFileSink
from fathom.events.schema import FlowScopedEvent
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.host import LayerHost
from tests.traffic import CLIENT, SERVER, ListSink, TcpConversation, feed, udp


class ProbeState:
    """Per-flow state of the probe layer."""

    def __init__(self) -> None:
        self.packets = 0
        self.syn_ttls: list[int] = []
        self.stream: dict[bool, bytearray] = {True: bytearray(), False: bytearray()}
        self.gaps: list[tuple[bool, int]] = []


class ProbeEvent(FlowScopedEvent):
    __slots__ = ("marker",)
    event_type = "probe"

    def __init__(self, flow: Flow, pkt: Packet, marker: str) -> None:
        super().__init__(flow, pkt.ts, pkt.pcap_cnt)
        self.marker = marker

    def body(self) -> dict[str, Any]:
        return {"probe": {"marker": self.marker}}


class ProbeLayer(Layer):
    """Emits a ``probe`` event when a client sends ``MARK``; bypasses a flow once it sent ``DONE``;
    needs no more of its stream bytes once it sent ``ENOUGH``."""

    def __init__(self, host: LayerHost) -> None:
        self.host = host
        self.slot = host.new_slot("probe", ProbeState)
        self.seen: list[tuple[int, int, int, int, int]] = []
        self.ended: list[tuple[int, int]] = []
        # Each ended flow's stream bytes: to the server, to the client.
        self.streams: list[tuple[bytes, bytes]] = []

    def _state(self, flow: Flow) -> ProbeState:
        state = self.slot.get(flow)
        if state is None:
            state = ProbeState()
            self.slot.set(flow, state)
        return state

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        state = self._state(flow)
        state.packets += 1
        # Headers are there: TTL, flags and the packet's own payload, before stream delivery.
        self.seen.append((pkt.pcap_cnt, pkt.ttl, pkt.tcp_flags, pkt.payload_len, flow.serial))
        if pkt.tcp_flags & TH_SYN:
            state.syn_ttls.append(pkt.ttl)
        payload = bytes(pkt.payload())
        if to_server and payload.startswith(b"MARK"):
            self.host.emit(ProbeEvent(flow, pkt, payload.decode()))
        if to_server and payload == b"DONE":
            self.host.bypass(flow)

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        self._state(flow).stream[to_server] += buf[off : off + length]
        if buf[off : off + length] == b"ENOUGH":
            self.host.release_data(flow)

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        self._state(flow).gaps.append((to_server, length))

    def on_flow_end(self, flow: Flow) -> None:
        state = self._state(flow)
        self.ended.append((flow.serial, state.packets))
        self.streams.append((bytes(state.stream[True]), bytes(state.stream[False])))


def probe_engine() -> tuple[Engine, list[ProbeLayer]]:
    made: list[ProbeLayer] = []

    def build(host: LayerHost) -> Layer:
        made.append(ProbeLayer(host))
        return made[-1]

    return Engine(layers=[build]), made


def test_layer_sees_headers_stream_bytes_and_gaps(tmp_path: Path) -> None:
    engine, (probe,) = probe_engine()
    conv = TcpConversation().handshake().client_sends(b"one ")
    conv.cseq += 5  # five bytes the capture never saw
    conv.client_sends(b"three").server_acks().server_sends(b"reply")
    feed(engine, conv.packets)
    flow = next(iter(engine.flows.flows.values()))
    state = probe.slot.get(flow)
    assert state is not None
    assert state.syn_ttls == [64, 64]
    assert [(cnt, flags, plen) for cnt, _, flags, plen, _ in probe.seen] == [
        (1, 0x02, 0),
        (2, 0x12, 0),
        (3, 0x10, 0),
        (4, 0x18, 4),
        (5, 0x18, 5),
        (6, 0x10, 0),
        (7, 0x18, 5),
    ]
    assert bytes(state.stream[True]) == b"one three"
    assert bytes(state.stream[False]) == b"reply"
    assert state.gaps == [(True, 5)]
    engine.finish()
    assert probe.ended == [(1, 7)]


def test_layer_event_reaches_the_eve_file(tmp_path: Path) -> None:
    engine, _ = probe_engine()
    eve = tmp_path / "eve.json"
    sink = EveFileSink(str(eve))
    engine.add_sink(sink)
    feed(
        engine, [udp(5.0, CLIENT, SERVER, 4000, 9999, b"MARK-1"), udp(5.5, SERVER, CLIENT, 9999, 4000, b"ok")]
    )
    engine.finish()
    sink.close()
    events = [orjson.loads(line) for line in eve.read_bytes().splitlines()]
    assert [e["event_type"] for e in events] == ["probe", "flow"]
    probe_event, flow_event = events
    assert probe_event["probe"] == {"marker": "MARK-1"}
    assert probe_event["pcap_cnt"] == 1
    assert (probe_event["src_ip"], probe_event["src_port"], probe_event["dest_port"]) == (CLIENT, 4000, 9999)
    assert probe_event["timestamp"] == "1970-01-01T00:00:05.000000+0000"
    # Both events name the same flow.
    assert probe_event["flow_id"] == flow_event["flow_id"]
    assert probe_event["community_id"] == flow_event["community_id"]
    assert sink.written == 2
    assert sink.error is None


def test_bypassed_flow_reaches_no_layer_and_keeps_counting() -> None:
    engine, (probe,) = probe_engine()
    conv = TcpConversation().handshake().client_sends(b"DONE").client_sends(b"after").server_sends(b"late")
    feed(engine, conv.packets)
    feed(engine, [udp(2000.0, CLIENT, SERVER, 1, 2, b"other flow")])
    engine.finish()
    tcp_packets = [cnt for cnt, _, _, _, serial in probe.seen if serial == 1]
    # The layer saw the handshake and the DONE packet; nothing after it, not even as stream data.
    assert tcp_packets == [1, 2, 3, 4]
    assert probe.ended == [(1, 4), (2, 1)]
    assert engine.flows.stats.bypassed == 1


def test_bypass_is_reported_in_the_flow_event() -> None:
    engine, _ = probe_engine()
    sink = ListSink()
    engine.add_sink(sink)
    conv = TcpConversation().handshake().client_sends(b"DONE").client_sends(b"after")
    feed(engine, conv.packets)
    engine.finish()
    (flow_event,) = sink.events
    assert flow_event["flow"]["state"] == "bypassed"
    # Counters keep running after the bypass.
    assert flow_event["flow"]["pkts_toserver"] == 4


def test_slots_are_closed_once_the_engine_is_built() -> None:
    _, (probe,) = probe_engine()
    with pytest.raises(RuntimeError, match="'late' requested after flows were created"):
        probe.host.new_slot("late", int)


class CountingLayer(Layer):
    """Counts packets and stream bytes; overrides nothing else."""

    def __init__(self) -> None:
        self.packets: list[int] = []
        self.stream_bytes = 0

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        self.packets.append(pkt.pcap_cnt)

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        self.stream_bytes += length


def test_chained_layers_run_in_order_and_a_bypass_stops_the_rest() -> None:
    counter = CountingLayer()
    made: list[ProbeLayer] = []

    def probe(host: LayerHost) -> Layer:
        made.append(ProbeLayer(host))
        return made[-1]

    engine = Engine(layers=[probe, lambda host: counter])
    conv = TcpConversation().handshake().client_sends(b"abc").client_sends(b"DONE").client_sends(b"x")
    feed(engine, conv.packets)
    engine.finish()
    # The probe bypassed the flow on packet 5: the counter after it never saw that packet or later.
    assert [cnt for cnt, *_ in made[0].seen] == [1, 2, 3, 4, 5]
    assert counter.packets == [1, 2, 3, 4]
    assert counter.stream_bytes == 3
    assert made[0].ended == [(1, 5)]


def test_a_released_flow_is_no_longer_reassembled_but_its_packets_still_come() -> None:
    engine, (probe,) = probe_engine()
    sink = ListSink()
    engine.add_sink(sink)
    conv = TcpConversation().handshake().client_sends(b"abc").client_sends(b"ENOUGH")
    conv = conv.client_sends(b"later").server_sends(b"reply").close()
    feed(engine, conv.packets)
    engine.finish()
    (flow_event,) = sink.events
    # Every packet reached the layer; stream bytes stopped after ENOUGH, in both directions.
    assert [cnt for cnt, *_ in probe.seen] == list(range(1, len(conv.packets) + 1))
    assert probe.streams == [(b"abcENOUGH", b"")]
    assert flow_event["flow"]["state"] == "closed"
    assert engine.flows.stats.bypassed == 0


def test_a_release_by_one_of_two_readers_keeps_the_stream_going() -> None:
    counter = CountingLayer()
    engine = Engine(layers=[ProbeLayer, lambda host: counter])
    conv = TcpConversation().handshake().client_sends(b"ENOUGH").client_sends(b"later")
    feed(engine, conv.packets)
    engine.finish()
    assert counter.stream_bytes == len(b"ENOUGHlater")


def test_a_release_once_both_directions_have_streams_is_no_bypass() -> None:
    engine, _ = probe_engine()
    sink = ListSink()
    engine.add_sink(sink)
    conv = TcpConversation().handshake().client_sends(b"abc").server_sends(b"ENOUGH").client_sends(b"x")
    feed(engine, conv.packets)
    engine.finish()
    (flow_event,) = sink.events
    assert flow_event["flow"]["state"] == "established"
    assert engine.flows.stats.bypassed == 0
