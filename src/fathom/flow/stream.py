"""TCP reassembly for one direction of a connection.

In-order data is handed to the upper layers as it arrives, without copying, exactly as a live stream
would deliver it. Out-of-order segments are copied into a queue (bounded per direction and by a
global memcap) and delivered once the hole before them is filled.

Overlap policy: **first**. Bytes that were already received win over later bytes for the same
sequence range, whether the earlier bytes were delivered or are still queued. This is how BSD
and Windows stacks treat overlaps (Snort's ``first`` policy); the ``last`` policy, where newer
bytes replace queued ones (as Linux does for segments still in its out-of-order queue), is
available through the config. Data already delivered is never revised.

Gaps: when the receiver acknowledges bytes the capture never saw, when the queue outgrows its
bound, or when the flow ends with holes left, the layers are told the size of the missing range
(``on_gap``) and delivery resumes after it.

Depth: after ``depth`` bytes in a direction, reassembly stops for that direction (``done``); the
TCP tracker bypasses the flow when both directions are done.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fathom.decode.packet import Buffer
    from fathom.flow.consumer import Layer
    from fathom.flow.flow import Flow

POLICY_FIRST = "first"
POLICY_LAST = "last"


class StreamStats:
    """Counters shared by every stream of one engine, plus the global queue memory in use."""

    __slots__ = (
        "delivered_bytes",
        "depth_reached",
        "gap_bytes",
        "gaps",
        "memcap",
        "memcap_drops",
        "memuse",
        "overlap_different",
        "overlaps",
        "queue_limit_hits",
        "retransmissions",
    )

    def __init__(self, memcap: int) -> None:
        self.memcap = memcap
        self.memuse = 0
        self.delivered_bytes = 0
        self.retransmissions = 0
        self.overlaps = 0
        self.overlap_different = 0
        self.gaps = 0
        self.gap_bytes = 0
        self.memcap_drops = 0
        self.queue_limit_hits = 0
        self.depth_reached = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "memcap"}


class StreamDirection:
    """Reassembly state for the bytes one side sends."""

    __slots__ = (
        "depth_left",
        "done",
        "flow",
        "layer",
        "max_queued",
        "next_offset",
        "next_seq",
        "policy_last",
        "queue",
        "queued_bytes",
        "stats",
        "to_server",
    )

    def __init__(
        self,
        flow: Flow,
        to_server: bool,
        layer: Layer,
        stats: StreamStats,
        depth: int,
        max_queued: int,
        policy: str = POLICY_FIRST,
    ) -> None:
        self.flow = flow
        self.to_server = to_server
        self.layer = layer
        self.stats = stats
        # Sequence number of the next byte to deliver; None until the direction's start is known.
        self.next_seq: int | None = None
        # Stream offset of the next byte to deliver: sequence numbers unwrapped to 64 bits.
        self.next_offset = 0
        # Sorted list of (stream offset, bytes) waiting for the hole before them to fill.
        self.queue: list[tuple[int, bytes]] = []
        self.queued_bytes = 0
        self.max_queued = max_queued
        # 0 means unlimited.
        self.depth_left = depth if depth > 0 else -1
        self.done = False
        self.policy_last = policy == POLICY_LAST

    def start(self, seq: int) -> None:
        """Set the sequence number of the first data byte (ISN + 1, or the first seen mid-stream)."""
        self.next_seq = seq & 0xFFFFFFFF
        self.next_offset = 0

    def segment(self, seq: int, buf: Buffer, off: int, length: int) -> None:
        """Add one segment's payload: ``length`` bytes of ``buf`` at ``off``, starting at ``seq``."""
        next_seq = self.next_seq
        if next_seq is None:
            next_seq = self.next_seq = seq
        diff = ((seq - next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if diff == 0 and not self.queue:
            # The common case: the next bytes of the stream, nothing waiting. Deliver in place.
            if 0 <= self.depth_left <= length:
                self._deliver(buf, off, length)
                return
            if self.depth_left > 0:
                self.depth_left -= length
            self.next_seq = (next_seq + length) & 0xFFFFFFFF
            self.next_offset += length
            self.stats.delivered_bytes += length
            self.layer.on_data(self.flow, self.to_server, buf, off, length)
            return
        if diff < 0:
            if diff + length <= 0:
                self.stats.retransmissions += 1
                return
            # Partly old data: the delivered bytes stand (first policy); keep the new tail.
            self.stats.overlaps += 1
            off -= diff
            length += diff
            diff = 0
            if not self.queue:
                self._deliver(buf, off, length)
                return
        self._enqueue(self.next_offset + diff, bytes(buf[off : off + length]))
        self._drain()

    def _deliver(self, buf: Buffer, off: int, length: int) -> None:
        if self.depth_left >= 0:
            if length >= self.depth_left:
                length = self.depth_left
                self.depth_left = 0
                self._reach_depth()
            else:
                self.depth_left -= length
        self.next_seq = ((self.next_seq or 0) + length) & 0xFFFFFFFF
        self.next_offset += length
        self.stats.delivered_bytes += length
        if length:
            self.layer.on_data(self.flow, self.to_server, buf, off, length)

    def _reach_depth(self) -> None:
        self.stats.depth_reached += 1
        self.stop()

    def stop(self) -> None:
        """Reassemble nothing more in this direction; queued data is dropped."""
        self.done = True
        self._drop_queue()

    def _enqueue(self, start: int, data: bytes) -> None:
        stats = self.stats
        if stats.memuse + len(data) > stats.memcap:
            stats.memcap_drops += 1
            return
        queue = self.queue
        end = start + len(data)
        overlapping = [s for s in queue if s[0] < end and s[0] + len(s[1]) > start]
        if overlapping:
            stats.overlaps += 1
            for qstart, qdata in overlapping:
                lo = max(start, qstart)
                hi = min(end, qstart + len(qdata))
                if data[lo - start : hi - start] != qdata[lo - qstart : hi - qstart]:
                    stats.overlap_different += 1
                    break
            if self.policy_last:
                self._cut_queue(start, end)
                self._insert(start, data)
            else:
                self._insert_uncovered(start, data, overlapping)
        else:
            self._insert(start, data)
        if self.queued_bytes > self.max_queued:
            # The hole is not going to fill in time: give up on it and deliver what we hold.
            stats.queue_limit_hits += 1
            self._skip_to(self.queue[0][0])

    def _insert(self, start: int, data: bytes) -> None:
        bisect.insort(self.queue, (start, data))
        self.queued_bytes += len(data)
        self.stats.memuse += len(data)

    def _insert_uncovered(self, start: int, data: bytes, covered: list[tuple[int, bytes]]) -> None:
        """First policy: queue only the parts of ``data`` that no queued segment covers yet."""
        pos = start
        end = start + len(data)
        for qstart, qdata in covered:
            if qstart > pos:
                self._insert(pos, data[pos - start : qstart - start])
            pos = max(pos, qstart + len(qdata))
        if pos < end:
            self._insert(pos, data[pos - start :])

    def _cut_queue(self, start: int, end: int) -> None:
        """Last policy: remove the range [start, end) from queued segments."""
        kept: list[tuple[int, bytes]] = []
        for qstart, qdata in self.queue:
            qend = qstart + len(qdata)
            if qend <= start or qstart >= end:
                kept.append((qstart, qdata))
                continue
            if qstart < start:
                kept.append((qstart, qdata[: start - qstart]))
            if qend > end:
                kept.append((end, qdata[end - qstart :]))
        freed = self.queued_bytes - sum(len(d) for _, d in kept)
        self.queue = kept
        self.queued_bytes -= freed
        self.stats.memuse -= freed

    def _drain(self) -> None:
        """Deliver queued segments that now continue the stream."""
        queue = self.queue
        while queue and not self.done:
            start, data = queue[0]
            if start > self.next_offset:
                return
            del queue[0]
            self.queued_bytes -= len(data)
            self.stats.memuse -= len(data)
            skip = self.next_offset - start
            if skip >= len(data):
                continue
            self._deliver(data, skip, len(data) - skip)

    def _skip_to(self, offset: int) -> None:
        """Declare the bytes up to stream ``offset`` lost and continue after them."""
        missing = offset - self.next_offset
        if missing <= 0:
            return
        self.stats.gaps += 1
        self.stats.gap_bytes += missing
        self.next_offset = offset
        self.next_seq = ((self.next_seq or 0) + missing) & 0xFFFFFFFF
        if self.depth_left >= 0:
            self.depth_left = max(0, self.depth_left - missing)
            if self.depth_left == 0:
                self._reach_depth()
                return
        self.layer.on_gap(self.flow, self.to_server, missing)
        self._drain()

    def acked(self, ack: int) -> None:
        """The receiver acknowledged up to ``ack``: bytes before it that we never saw are a gap."""
        if self.next_seq is None or self.done:
            return
        ahead = ((ack - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if ahead <= 0:
            return
        target = self.next_offset + ahead
        if self.queue and self.queue[0][0] < target:
            target = self.queue[0][0]
        self._skip_to(target)

    def flush(self) -> None:
        """The flow ends: deliver everything queued, across whatever holes remain."""
        while self.queue and not self.done:
            self._skip_to(self.queue[0][0])
            self._drain()
        self._drop_queue()

    def _drop_queue(self) -> None:
        self.stats.memuse -= self.queued_bytes
        self.queue = []
        self.queued_bytes = 0
