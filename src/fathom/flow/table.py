"""The flow table: bidirectional lookup, per-state timeouts and a hard cap with eviction.

Each flow is filed under one key, its endpoints in a fixed order (the lower address, or port when
the addresses are equal, first): a packet costs one comparison and one dict lookup, and which side
of the key it came from says which way it travels. Keys are (src, dst, sport, dport, proto, vlan,
interface).
Expiry and eviction go through an :class:`IdleIndex`: O(1) per packet whatever the table size, and
the memory cap ends the longest-idle flows first.
"""

from __future__ import annotations

from collections.abc import Callable

from fathom.config import FlowConfig, StreamConfig
from fathom.decode.packet import (
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    TH_ACK,
    TH_FIN,
    TH_RST,
    TH_SYN,
    Packet,
)
from fathom.flow.consumer import Layer, data_readers, end_hook, packet_hook
from fathom.flow.expiry import IdleIndex
from fathom.flow.flow import (
    END_FORCED,
    END_SHUTDOWN,
    END_TCP_REUSE,
    END_TIMEOUT,
    STATE_ESTABLISHED,
    Flow,
    FlowKey,
)
from fathom.flow.stream import StreamStats
from fathom.flow.tcp import TcpTracker, bypass

FlowEndHandler = Callable[[Flow], None]

# Memory one flow holds (the Flow, its table entry and key tuple, its expiry entry: about
# 640 bytes measured with tracemalloc on CPython 3.11, plus allocator overhead that RSS shows) and
# one TCP stream direction (217 bytes), rounded up. Queued out-of-order data is bounded separately
# by the stream memcap.
FLOW_COST_BYTES = 1000
STREAM_COST_BYTES = 232
# Seconds of capture time between expiry passes.
EXPIRY_INTERVAL = 1.0


class FlowTableStats:
    __slots__ = ("bypassed", "created", "ended", "evicted", "reused", "streams_freed", "timed_out")

    def __init__(self) -> None:
        self.created = 0
        self.ended = 0
        # Flows ended early because the table hit its memory cap.
        self.evicted = 0
        self.timed_out = 0
        self.reused = 0
        # Flows that ended bypassed: by a layer's verdict or with both directions at stream depth.
        self.bypassed = 0
        self.streams_freed = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class FlowTable:
    __slots__ = (
        "data_readers",
        "flows",
        "idle",
        "live",
        "memcap",
        "next_expiry",
        "on_end",
        "on_flow_end",
        "on_packet",
        "other_timeouts",
        "serial",
        "slot_count",
        "stats",
        "tcp",
        "udp_timeouts",
    )

    def __init__(
        self,
        layer: Layer,
        on_end: FlowEndHandler,
        flow: FlowConfig | None = None,
        stream: StreamConfig | None = None,
        slot_count: int = 0,
    ) -> None:
        flow = flow or FlowConfig()
        stream = stream or StreamConfig()
        self.on_packet = packet_hook(layer)
        self.on_flow_end = end_hook(layer)
        self.on_end = on_end
        self.data_readers = data_readers(layer)
        self.flows: dict[FlowKey, Flow] = {}
        self.live = 0
        self.idle = IdleIndex()
        self.memcap = flow.memcap
        self.udp_timeouts = flow.udp
        self.other_timeouts = flow.other
        self.stats = FlowTableStats()
        self.tcp = TcpTracker(layer, self.on_packet, StreamStats(stream.memcap), stream, flow.tcp)
        self.serial = 0
        self.slot_count = slot_count
        self.next_expiry = 0.0

    def __len__(self) -> int:
        return self.live

    @property
    def stream_stats(self) -> StreamStats:
        return self.tcp.stats

    @property
    def memuse(self) -> int:
        """Bytes held by live flows and their stream directions."""
        streams = self.tcp.streams_created - self.stats.streams_freed
        return self.live * FLOW_COST_BYTES + streams * STREAM_COST_BYTES

    def process(self, pkt: Packet) -> None:
        """Account one decoded packet to its flow (creating it if needed) and pass it up."""
        ts = pkt.ts
        src, dst, sport, dport = pkt.src, pkt.dst, pkt.sport, pkt.dport
        low = src < dst or (src == dst and sport <= dport)
        if low:
            key = (src, dst, sport, dport, pkt.proto, pkt.vlan, pkt.iface)
        else:
            key = (dst, src, dport, sport, pkt.proto, pkt.vlan, pkt.iface)
        flow = self.flows.get(key)
        if flow is None:
            flow, to_server = self._create(pkt, key, low)
        else:
            to_server = low == flow.client_low
            if ts - flow.last > flow.timeout:
                self._end(flow, END_TIMEOUT)
                flow, to_server = self._create(pkt, key, low)
            elif pkt.tcp_flags & TH_SYN and pkt.proto == PROTO_TCP and self.tcp.is_reuse(flow, pkt):
                self._end(flow, END_TCP_REUSE)
                flow, to_server = self._create(pkt, key, low)
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
            if pkt.tcp_flags & (TH_FIN | TH_RST) and flow.timeout < flow.idle_class:
                # Closing shortens the timeout: refile so the flow expires on time.
                self.idle.file(flow)
        else:
            if not to_server and flow.state < STATE_ESTABLISHED:
                flow.state = STATE_ESTABLISHED
                flow.timeout = (
                    self.udp_timeouts.established
                    if pkt.proto == PROTO_UDP
                    else self.other_timeouts.established
                )
            if self.on_packet is not None and not flow.bypassed:
                self.on_packet(pkt, flow, to_server)
        if ts >= self.next_expiry:
            self.expire(ts)

    def _create(self, pkt: Packet, key: FlowKey, low: bool) -> tuple[Flow, bool]:
        """Start a flow with ``pkt``, filed under ``key`` (``low``: ``pkt`` comes from its first
        endpoint); return it and whether ``pkt`` travels to the server."""
        # self.memuse, inlined: this runs for every flow.
        streams = self.tcp.streams_created - self.stats.streams_freed
        if (self.live + 1) * FLOW_COST_BYTES + streams * STREAM_COST_BYTES > self.memcap:
            self._make_room(pkt.ts)
        src, dst, sport, dport = pkt.src, pkt.dst, pkt.sport, pkt.dport
        proto = pkt.proto
        from_server = proto == PROTO_TCP and _from_tcp_server(pkt.tcp_flags, sport, dport)
        if from_server:
            src, dst, sport, dport = dst, src, dport, sport
        self.serial += 1
        flow = Flow(
            self.serial,
            src,
            dst,
            sport,
            dport,
            proto,
            pkt.ip_version,
            pkt.vlan,
            pkt.iface,
            pkt.ts,
            pkt.pcap_cnt,
            self.slot_count,
        )
        # A flow between one address and port and itself reads as to-server throughout.
        flow.client_low = low != from_server or (src == dst and sport == dport)
        flow.key = key
        self.flows[key] = flow
        self.live += 1
        self.stats.created += 1
        if proto == PROTO_TCP:
            self.tcp.open(flow, pkt)
        else:
            flow.timeout = self.udp_timeouts.new if proto == PROTO_UDP else self.other_timeouts.new
            if proto in (PROTO_ICMP, PROTO_ICMPV6):
                flow.icmp_type = pkt.icmp_type
                flow.icmp_code = pkt.icmp_code
        self.idle.file(flow)
        return flow, not from_server

    def _end(self, flow: Flow, reason: str) -> None:
        key = flow.key
        if key is None:
            return
        flow.key = None
        self.live -= 1
        del self.flows[key]
        flow.end_reason = reason
        stats = self.stats
        if flow.stream_ts is not None or flow.stream_tc is not None:
            stats.streams_freed += self.tcp.close(flow)
        stats.ended += 1
        if flow.bypassed:
            stats.bypassed += 1
        if reason == END_TIMEOUT:
            stats.timed_out += 1
        elif reason == END_FORCED:
            stats.evicted += 1
        elif reason == END_TCP_REUSE:
            stats.reused += 1
        if self.on_flow_end is not None:
            self.on_flow_end(flow)
        self.on_end(flow)

    def expire(self, now: float) -> None:
        """End every flow idle for longer than its state's timeout at ``now`` (capture or wall time)."""
        self.next_expiry = now + EXPIRY_INTERVAL
        self.idle.expire(now, self._end)

    def bypass(self, flow: Flow) -> None:
        """A layer is done with ``flow``: later packets only update its counters."""
        bypass(flow)

    def release_data(self, flow: Flow) -> None:
        """A layer needs no more of ``flow``'s stream bytes. Reassembly stops when that layer is
        the only one reading them; with several readers it goes on to the stream depth."""
        if self.data_readers == 1:
            self.tcp.release(flow)

    def _make_room(self, now: float) -> None:
        """The table is full: expire idle flows, then end the longest-idle ones until 1/64 of the cap
        is free (so a full table does not pay for an eviction on every new flow)."""
        self.expire(now)
        target = self.memcap - max(FLOW_COST_BYTES, self.memcap >> 6)
        excess = self.memuse - target
        if excess > 0:
            # Stream state makes some flows dearer: end at least enough flows, then check again.
            while excess > 0 and self.idle.evict(-(-excess // FLOW_COST_BYTES), self._end):
                excess = self.memuse - target

    def flush(self) -> None:
        """The capture ended: end every remaining flow."""
        for flow in list(self.flows.values()):
            self._end(flow, END_SHUTDOWN)


def _from_tcp_server(flags: int, sport: int, dport: int) -> bool:
    """Whether a flow's first TCP packet comes from its server, as Snort decides it: a SYN comes
    from the client and a SYN-ACK from the server; a stream picked up mid-way has its client on
    the higher port."""
    handshake = flags & (TH_SYN | TH_ACK)
    if handshake == TH_SYN:
        return False
    return handshake == TH_SYN | TH_ACK or sport <= dport
