"""TCP connection tracking: handshake, established, FIN/RST close, mid-stream pick-up.

Hands each packet to the layers, feeds each direction's payload to its :class:`StreamDirection`,
watches acknowledgements for data the capture missed, and bypasses a flow once both directions
reached their depth.
"""

from __future__ import annotations

from fathom.config import StreamConfig, TimeoutConfig
from fathom.decode.packet import TH_ACK, TH_FIN, TH_RST, TH_SYN, Packet
from fathom.flow.consumer import Layer, PacketHook
from fathom.flow.flow import (
    STATE_CLOSED,
    STATE_CLOSING,
    STATE_ESTABLISHED,
    STATE_NEW,
    TCP_CLOSED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT,
    TCP_NONE,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    Flow,
)
from fathom.flow.stream import StreamDirection, StreamStats

_CONTROL = TH_SYN | TH_FIN | TH_RST


def bypass(flow: Flow) -> None:
    """Nothing more is wanted from ``flow``: later packets only update counters and queued data is
    dropped. The flow's verdicts (``alerted``, ``app_proto``) stay."""
    flow.bypassed = True
    for stream in (flow.stream_ts, flow.stream_tc):
        if stream is not None:
            stream.stop()


class TcpTracker:
    """Per-engine TCP logic; the per-connection state lives on the :class:`Flow`."""

    __slots__ = (
        "depth",
        "layer",
        "max_queued",
        "on_packet",
        "policy",
        "stats",
        "streams_created",
        "timeouts",
    )

    def __init__(
        self,
        layer: Layer,
        on_packet: PacketHook | None,
        stats: StreamStats,
        stream: StreamConfig,
        timeouts: TimeoutConfig,
    ) -> None:
        self.layer = layer
        self.on_packet = on_packet
        self.stats = stats
        self.depth = stream.depth
        self.max_queued = stream.max_queued
        self.policy = stream.overlap_policy
        # (new, established, closed) idle timeouts in seconds.
        self.timeouts = (timeouts.new, timeouts.established, timeouts.closed)
        self.streams_created = 0

    def open(self, flow: Flow, pkt: Packet) -> None:
        """Set up a flow whose first packet is ``pkt`` (sent by the flow's client)."""
        if pkt.tcp_flags & (TH_SYN | TH_ACK) == TH_SYN:
            flow.tcp_state = TCP_SYN_SENT
            flow.timeout = self.timeouts[0]
        else:
            # Picked up mid-stream: reassembled from here on, and established once the other side
            # answers (Snort's mid-stream states).
            flow.midstream = True
            flow.tcp_state = TCP_ESTABLISHED
            flow.timeout = self.timeouts[1]

    def _new_stream(self, flow: Flow, to_server: bool) -> StreamDirection:
        """Reassembly state is made on a direction's first data, so handshakes that never carry
        any (scans, SYN floods) cost none."""
        stream = StreamDirection(
            flow, to_server, self.layer, self.stats, self.depth, self.max_queued, self.policy
        )
        first = flow.first_seq_ts if to_server else flow.first_seq_tc
        if first >= 0:
            stream.start(first)
        if to_server:
            flow.stream_ts = stream
        else:
            flow.stream_tc = stream
        self.streams_created += 1
        return stream

    def packet(self, flow: Flow, to_server: bool, pkt: Packet) -> None:
        flags = pkt.tcp_flags
        if to_server:
            flow.tcp_flags_ts |= flags
            stream = flow.stream_ts
            peer = flow.stream_tc
        else:
            flow.tcp_flags_tc |= flags
            stream = flow.stream_tc
            peer = flow.stream_ts
        if flags & _CONTROL or flow.tcp_state != TCP_ESTABLISHED or flow.state == STATE_NEW:
            self._control(flow, to_server, flags, pkt)
        if flow.bypassed:
            return
        if self.on_packet is not None:
            self.on_packet(pkt, flow, to_server)
            if flow.bypassed:
                return
        if peer is not None and flags & TH_ACK and peer.queue:
            peer.acked(pkt.ack)
            if peer.done:
                self._check_depth(flow)
        if pkt.payload_len and not flags & TH_RST and flow.reassemble:
            if stream is None:
                stream = self._new_stream(flow, to_server)
            elif stream.done:
                return
            if flags & TH_SYN:
                # Data on a SYN (TCP Fast Open) starts one past the ISN.
                stream.segment(pkt.seq + 1, pkt.buf, pkt.payload_off, pkt.payload_len)
            else:
                stream.segment(pkt.seq, pkt.buf, pkt.payload_off, pkt.payload_len)
            if stream.done:
                self._check_depth(flow)

    @staticmethod
    def _check_depth(flow: Flow) -> None:
        """Both directions at their depth: nothing more to reassemble, so bypass the flow (a flow
        whose streams were released is not: its layers still want its packets)."""
        ts, tc = flow.stream_ts, flow.stream_tc
        if flow.bypassed or not flow.reassemble:
            return
        if ts is not None and tc is not None and ts.done and tc.done:
            bypass(flow)

    def _control(self, flow: Flow, to_server: bool, flags: int, pkt: Packet) -> None:
        """Handshake and teardown: the slow path, taken only for SYN/FIN/RST or before establishment."""
        state = flow.tcp_state
        if flags & TH_RST:
            flow.tcp_state = TCP_CLOSED
            flow.state = STATE_CLOSED
            flow.timeout = self.timeouts[2]
            return
        if flow.midstream and flow.state == STATE_NEW and flow.pkts_ts and flow.pkts_tc:
            flow.state = STATE_ESTABLISHED
        if flags & TH_SYN:
            if flags & TH_ACK and not to_server and state in (TCP_SYN_SENT, TCP_NONE):
                flow.tcp_state = TCP_SYN_RECV
            self._set_isn(flow, to_server, pkt.seq)
            return
        if state in (TCP_SYN_SENT, TCP_SYN_RECV) and flags & TH_ACK and to_server:
            flow.tcp_state = TCP_ESTABLISHED
            flow.state = STATE_ESTABLISHED
            flow.timeout = self.timeouts[1]
        elif state == TCP_SYN_SENT and not to_server and flags & TH_ACK:
            # The server talks without a SYN-ACK in the capture: treat the session as up.
            flow.tcp_state = TCP_ESTABLISHED
            flow.state = STATE_ESTABLISHED
            flow.timeout = self.timeouts[1]
        if flags & TH_FIN:
            if flow.tcp_state in (TCP_ESTABLISHED, TCP_SYN_RECV, TCP_SYN_SENT, TCP_NONE):
                flow.tcp_state = TCP_FIN_WAIT
                flow.state = STATE_CLOSING
            elif (
                flow.tcp_state == TCP_FIN_WAIT
                and (flow.tcp_flags_tc if to_server else flow.tcp_flags_ts) & TH_FIN
            ):
                # Both sides have sent FIN.
                flow.tcp_state = TCP_CLOSED
                flow.state = STATE_CLOSED
                flow.timeout = self.timeouts[2]

    @staticmethod
    def _set_isn(flow: Flow, to_server: bool, seq: int) -> None:
        """A SYN fixes where its sender's byte stream starts (unless data already set it)."""
        first = (seq + 1) & 0xFFFFFFFF
        stream = flow.stream_ts if to_server else flow.stream_tc
        if stream is not None:
            if stream.next_offset == 0 and not stream.queue:
                stream.start(first)
            return
        if to_server:
            flow.first_seq_ts = first
        else:
            flow.first_seq_tc = first

    @staticmethod
    def release(flow: Flow) -> None:
        """No layer reads ``flow``'s stream bytes any more: reassembly stops in both directions and
        queued data is dropped. Unlike a bypass, packets still reach the layers and the flow keeps
        its state."""
        flow.reassemble = False
        for stream in (flow.stream_ts, flow.stream_tc):
            if stream is not None:
                stream.stop()

    def is_reuse(self, flow: Flow, pkt: Packet) -> bool:
        """A fresh SYN on a finished connection starts a new session on the same ports."""
        return (
            pkt.tcp_flags & (TH_SYN | TH_ACK | TH_RST) == TH_SYN
            and flow.tcp_state in (TCP_CLOSED, TCP_FIN_WAIT)
            and flow.state >= STATE_CLOSING
        )

    def close(self, flow: Flow) -> int:
        """The flow ends: flush both directions across any remaining holes, then drop them (which
        breaks the flow-stream reference cycle, so the flow is freed as soon as it is unused).
        Returns how many directions were dropped."""
        freed = 0
        for stream in (flow.stream_ts, flow.stream_tc):
            if stream is not None:
                freed += 1
                if stream.queue:
                    stream.flush()
        flow.stream_ts = flow.stream_tc = None
        return freed
