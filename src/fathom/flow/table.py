"""The flow table: bidirectional lookup, per-state timeouts and a hard cap with eviction.

Each flow is filed under both of its directional keys, so a packet costs one dict lookup and the
entry says which way it travels. Keys are (src, dst, sport, dport, proto, vlan, interface).
"""

from __future__ import annotations

from collections.abc import Callable

from fathom.config import FlowConfig, StreamConfig
from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, TH_ACK, TH_SYN, Packet
from fathom.flow.flow import (
    END_FORCED,
    END_SHUTDOWN,
    END_TCP_REUSE,
    END_TIMEOUT,
    STATE_ESTABLISHED,
    Flow,
    FlowKey,
)
from fathom.flow.stream import StreamConsumer, StreamStats
from fathom.flow.tcp import TcpTracker

FlowEndHandler = Callable[[Flow], None]

# Memory one flow holds (the Flow, its two table entries and key tuples: 966 bytes measured with
# tracemalloc on CPython 3.11) and one TCP stream direction (217 bytes), rounded up. Queued
# out-of-order data is bounded separately by the stream memcap.
FLOW_COST_BYTES = 1000
STREAM_COST_BYTES = 232


class FlowTableStats:
    __slots__ = ("created", "ended", "evicted", "reused", "streams_freed", "sweeps", "timed_out")

    def __init__(self) -> None:
        self.created = 0
        self.ended = 0
        # Flows ended early because the table hit its memory cap.
        self.evicted = 0
        self.timed_out = 0
        self.reused = 0
        self.sweeps = 0
        self.streams_freed = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class FlowTable:
    __slots__ = (
        "consumer",
        "flows",
        "memcap",
        "next_sweep",
        "on_end",
        "other_timeouts",
        "serial",
        "stats",
        "sweep_interval",
        "tcp",
        "udp_timeouts",
    )

    def __init__(
        self,
        consumer: StreamConsumer,
        on_end: FlowEndHandler,
        flow: FlowConfig | None = None,
        stream: StreamConfig | None = None,
        sweep_interval: float = 1.0,
    ) -> None:
        flow = flow or FlowConfig()
        stream = stream or StreamConfig()
        self.consumer = consumer
        self.on_end = on_end
        self.flows: dict[FlowKey, tuple[Flow, bool]] = {}
        self.memcap = flow.memcap
        self.udp_timeouts = flow.udp
        self.other_timeouts = flow.other
        self.stats = FlowTableStats()
        self.tcp = TcpTracker(consumer, StreamStats(stream.memcap), stream, flow.tcp)
        self.serial = 0
        self.sweep_interval = sweep_interval
        self.next_sweep = 0.0

    def __len__(self) -> int:
        return len(self.flows) >> 1

    @property
    def stream_stats(self) -> StreamStats:
        return self.tcp.stats

    @property
    def memuse(self) -> int:
        """Bytes held by live flows and their stream directions."""
        streams = self.tcp.streams_created - self.stats.streams_freed
        return len(self) * FLOW_COST_BYTES + streams * STREAM_COST_BYTES

    def process(self, pkt: Packet) -> Flow:
        """Account one decoded packet to its flow, creating the flow if needed."""
        ts = pkt.ts
        entry = self.flows.get((pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, pkt.vlan, pkt.iface))
        if entry is None:
            flow, to_server = self._create(pkt)
        else:
            flow, to_server = entry
            if ts - flow.last > flow.timeout:
                self._end(flow, END_TIMEOUT)
                flow, to_server = self._create(pkt)
            elif pkt.tcp_flags & TH_SYN and pkt.proto == PROTO_TCP and self.tcp.is_reuse(flow, pkt):
                self._end(flow, END_TCP_REUSE)
                flow, to_server = self._create(pkt)
        flow.last = ts
        flow.last_pcap_cnt = pkt.pcap_cnt
        if to_server:
            flow.pkts_ts += 1
            flow.bytes_ts += pkt.wirelen
        else:
            flow.pkts_tc += 1
            flow.bytes_tc += pkt.wirelen
        if pkt.proto == PROTO_TCP:
            self.tcp.packet(flow, to_server, pkt)
        else:
            if not to_server and flow.state < STATE_ESTABLISHED:
                flow.state = STATE_ESTABLISHED
                flow.timeout = (
                    self.udp_timeouts.established
                    if pkt.proto == PROTO_UDP
                    else self.other_timeouts.established
                )
            if pkt.payload_len and not flow.bypassed:
                self.consumer.on_datagram(flow, to_server, pkt.buf, pkt.payload_off, pkt.payload_len)
        if ts >= self.next_sweep:
            self.sweep(ts)
        return flow

    def _create(self, pkt: Packet) -> tuple[Flow, bool]:
        """Start a flow with ``pkt``; return it and whether ``pkt`` travels to the server."""
        if self.memuse + FLOW_COST_BYTES > self.memcap:
            self._make_room(pkt.ts)
        src, dst, sport, dport = pkt.src, pkt.dst, pkt.sport, pkt.dport
        # A SYN-ACK comes from the server: the flow's client is its destination.
        from_server = pkt.proto == PROTO_TCP and pkt.tcp_flags & (TH_SYN | TH_ACK) == TH_SYN | TH_ACK
        if from_server:
            src, dst, sport, dport = dst, src, dport, sport
        self.serial += 1
        flow = Flow(
            self.serial,
            src,
            dst,
            sport,
            dport,
            pkt.proto,
            pkt.ip_version,
            pkt.vlan,
            pkt.iface,
            pkt.ts,
            pkt.pcap_cnt,
        )
        fwd = (src, dst, sport, dport, pkt.proto, pkt.vlan, pkt.iface)
        rev = (dst, src, dport, sport, pkt.proto, pkt.vlan, pkt.iface)
        flow.keys = (fwd, rev)
        # A flow between one address and port and itself has one key; it must read as to-server.
        self.flows[rev] = (flow, False)
        self.flows[fwd] = (flow, True)
        self.stats.created += 1
        if pkt.proto == PROTO_TCP:
            self.tcp.open(flow, pkt)
        else:
            flow.timeout = self.udp_timeouts.new if pkt.proto == PROTO_UDP else self.other_timeouts.new
            if pkt.proto in (PROTO_ICMP, PROTO_ICMPV6):
                flow.icmp_type = pkt.icmp_type
                flow.icmp_code = pkt.icmp_code
        return flow, not from_server

    def _end(self, flow: Flow, reason: str) -> None:
        keys = flow.keys
        if keys is None:
            return
        flow.keys = None
        self.flows.pop(keys[0], None)
        self.flows.pop(keys[1], None)
        flow.end_reason = reason
        if flow.proto == PROTO_TCP:
            self.tcp.close(flow)
            self.stats.streams_freed += (flow.stream_ts is not None) + (flow.stream_tc is not None)
        self.stats.ended += 1
        if reason == END_TIMEOUT:
            self.stats.timed_out += 1
        elif reason == END_FORCED:
            self.stats.evicted += 1
        elif reason == END_TCP_REUSE:
            self.stats.reused += 1
        self.consumer.on_flow_end(flow)
        self.on_end(flow)

    def sweep(self, now: float) -> None:
        """End every flow idle for longer than its state's timeout."""
        self.next_sweep = now + self.sweep_interval
        self.stats.sweeps += 1
        expired = [
            flow for flow, to_server in self.flows.values() if to_server and now - flow.last > flow.timeout
        ]
        for flow in expired:
            self._end(flow, END_TIMEOUT)

    def _make_room(self, now: float) -> None:
        """The table is full: expire idle flows, then end the oldest until 1/64 of the cap is free."""
        self.sweep(now)
        target = self.memcap - max(FLOW_COST_BYTES, self.memcap >> 6)
        if self.memuse <= target:
            return
        victims: list[Flow] = []
        freed = 0
        excess = self.memuse - target
        for flow, to_server in self.flows.values():
            if to_server:
                victims.append(flow)
                freed += FLOW_COST_BYTES + STREAM_COST_BYTES * (
                    (flow.stream_ts is not None) + (flow.stream_tc is not None)
                )
                if freed >= excess:
                    break
        for flow in victims:
            self._end(flow, END_FORCED)

    def flush(self) -> None:
        """The capture ended: end every remaining flow."""
        for flow in [flow for flow, to_server in self.flows.values() if to_server]:
            self._end(flow, END_SHUTDOWN)
