"""TCP connection tracking: handshake, established, FIN/RST close, mid-stream pick-up.

Feeds each direction's payload to its :class:`StreamDirection` and watches acknowledgements for
data the capture missed.
"""

from __future__ import annotations

from fathom.decode.packet import TH_ACK, TH_FIN, TH_RST, TH_SYN, Packet
from fathom.flow.flow import (
    STATE_CLOSED,
    STATE_CLOSING,
    STATE_ESTABLISHED,
    TCP_CLOSED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT,
    TCP_NONE,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    Flow,
)
from fathom.flow.stream import StreamConsumer, StreamDirection, StreamStats

_CONTROL = TH_SYN | TH_FIN | TH_RST


class TcpTracker:
    """Per-engine TCP logic; the per-connection state lives on the :class:`Flow`."""

    __slots__ = ("consumer", "depth", "max_queued", "policy", "stats", "timeouts")

    def __init__(
        self,
        consumer: StreamConsumer,
        stats: StreamStats,
        depth: int,
        max_queued: int,
        policy: str,
        timeouts: tuple[float, float, float],
    ) -> None:
        self.consumer = consumer
        self.stats = stats
        self.depth = depth
        self.max_queued = max_queued
        self.policy = policy
        # (new, established, closed) idle timeouts in seconds.
        self.timeouts = timeouts

    def open(self, flow: Flow, pkt: Packet) -> None:
        """Set up a flow whose first packet is ``pkt`` (sent by the flow's client)."""
        consumer, stats = self.consumer, self.stats
        flow.stream_ts = StreamDirection(
            flow, True, consumer, stats, self.depth, self.max_queued, self.policy
        )
        flow.stream_tc = StreamDirection(
            flow, False, consumer, stats, self.depth, self.max_queued, self.policy
        )
        flags = pkt.tcp_flags
        if flags & (TH_SYN | TH_ACK) == TH_SYN:
            flow.tcp_state = TCP_SYN_SENT
            flow.timeout = self.timeouts[0]
        else:
            # Picked up mid-stream: track it as established from here on.
            flow.midstream = True
            flow.tcp_state = TCP_ESTABLISHED
            flow.state = STATE_ESTABLISHED
            flow.timeout = self.timeouts[1]

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
        if stream is None or peer is None:
            return
        if flags & _CONTROL or flow.tcp_state != TCP_ESTABLISHED:
            self._control(flow, to_server, flags, pkt, stream)
        if flow.bypassed:
            return
        if flags & TH_ACK and peer.queue:
            peer.acked(pkt.ack)
        if pkt.payload_len and not stream.done and not flags & TH_RST:
            if flags & TH_SYN:
                # Data on a SYN (TCP Fast Open) starts one past the ISN.
                stream.segment(pkt.seq + 1, pkt.buf, pkt.payload_off, pkt.payload_len)
            else:
                stream.segment(pkt.seq, pkt.buf, pkt.payload_off, pkt.payload_len)
        if flags & TH_FIN:
            stream.fin_seen = True

    def _control(self, flow: Flow, to_server: bool, flags: int, pkt: Packet, stream: StreamDirection) -> None:
        """Handshake and teardown: the slow path, taken only for SYN/FIN/RST or before establishment."""
        state = flow.tcp_state
        if flags & TH_RST:
            flow.tcp_state = TCP_CLOSED
            flow.state = STATE_CLOSED
            flow.timeout = self.timeouts[2]
            return
        if flags & TH_SYN:
            if flags & TH_ACK:
                if not to_server and state in (TCP_SYN_SENT, TCP_NONE):
                    flow.tcp_state = TCP_SYN_RECV
                if stream.next_seq is None or not to_server:
                    stream.start(pkt.seq + 1)
            elif to_server and (stream.next_seq is None or state == TCP_SYN_SENT):
                stream.start(pkt.seq + 1)
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
            elif flow.tcp_state == TCP_FIN_WAIT:
                peer = flow.stream_tc if to_server else flow.stream_ts
                if peer is not None and peer.fin_seen:
                    flow.tcp_state = TCP_CLOSED
                    flow.state = STATE_CLOSED
                    flow.timeout = self.timeouts[2]

    def is_reuse(self, flow: Flow, pkt: Packet) -> bool:
        """A fresh SYN on a finished connection starts a new session on the same ports."""
        return (
            pkt.tcp_flags & (TH_SYN | TH_ACK | TH_RST) == TH_SYN
            and flow.tcp_state in (TCP_CLOSED, TCP_FIN_WAIT)
            and flow.state >= STATE_CLOSING
        )

    def close(self, flow: Flow) -> None:
        """The flow ends: flush both directions across any remaining holes."""
        for stream in (flow.stream_ts, flow.stream_tc):
            if stream is not None and stream.queue:
                stream.flush()


__all__ = ["TCP_NONE", "TcpTracker"]
