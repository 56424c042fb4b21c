"""IPv4 and IPv6 fragment reassembly, bounded in trackers, bytes and time.

Overlap policy is "first": bytes already received win over later overlapping bytes, as in BSD and Windows
stacks (Linux favours later data). The same policy is applied to IPv6 rather than dropping the datagram as
RFC 5722 asks, so the content is still inspected; every overlapping fragment is counted in
``stats['overlaps']`` so such evasion attempts stay visible. An exact retransmit (every byte already held,
with identical content) is not an overlap and changes nothing.

Fragments that make the datagram unreassemblable (two different total lengths, data past the known end)
drop the whole tracker; malformed fragments on their own (negative offset, empty non-final fragment) are
counted and ignored. Nothing in ``add`` raises on packet-derived input.
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["Defragmenter"]

_STAT_NAMES = ("fragments", "reassembled", "timeouts", "evicted", "overlaps", "too_large", "invalid")


class _Tracker:
    """Pieces of one datagram: non-overlapping byte runs sorted by offset."""

    __slots__ = ("chunks", "end", "first_ts", "high", "received", "starts")

    def __init__(self, first_ts: float) -> None:
        self.first_ts = first_ts
        # Total payload length, known once the last fragment (MF=0) arrives; -1 until then.
        self.end = -1
        # Highest byte offset received so far, to catch a last fragment that cuts off held data.
        self.high = 0
        # Bytes held; pieces never overlap, so received == end means the datagram is complete.
        self.received = 0
        self.starts: list[int] = []
        self.chunks: list[bytes] = []


class Defragmenter:
    """Reassembles fragmented IP datagrams keyed by (ip_version, src, dst, ident, proto, vlan,
    interface): fragments from different VLANs or interfaces never mix, as in Suricata."""

    __slots__ = ("_memuse", "_trackers", "max_datagram", "max_trackers", "memcap", "stats", "timeout")

    def __init__(
        self,
        max_trackers: int = 4096,
        timeout: float = 60.0,
        memcap: int = 32 * 1024 * 1024,
        max_datagram: int = 65535,
    ) -> None:
        if max_trackers < 1 or memcap < 1 or max_datagram < 1 or not timeout >= 0:
            raise ValueError("Defragmenter: limits must be positive and timeout non-negative")
        self.max_trackers = max_trackers
        self.timeout = timeout
        self.memcap = memcap
        self.max_datagram = max_datagram
        self.stats: dict[str, int] = dict.fromkeys(_STAT_NAMES, 0)
        # Insertion order is first-fragment order, so the first entry is always the oldest tracker.
        self._trackers: dict[tuple[object, ...], _Tracker] = {}
        self._memuse = 0

    @property
    def memuse(self) -> int:
        """Payload bytes currently held across all trackers."""
        return self._memuse

    def __len__(self) -> int:
        return len(self._trackers)

    def add(
        self,
        key: tuple[object, ...],
        offset: int,
        more_fragments: bool,
        payload: bytes | bytearray | memoryview,
        ts: float,
    ) -> bytes | None:
        """Add one fragment; return the reassembled payload once it is complete, else None.

        key identifies the datagram: (ip_version, src_bytes, dst_bytes, ident, proto, vlan, interface);
        the caller builds it.
        offset is the fragment's byte offset (already multiplied by 8); payload is the data after the IP
        header / fragment extension header and is copied, since the caller's buffer is reused.
        """
        stats = self.stats
        stats["fragments"] += 1
        trackers = self._trackers
        size = len(payload)
        if offset < 0 or (more_fragments and size == 0):
            stats["invalid"] += 1
            return None
        end = offset + size

        tracker = trackers.get(key)
        if tracker is not None and ts - tracker.first_ts > self.timeout:
            self._drop(key)
            stats["timeouts"] += 1
            tracker = None
        self._expire_oldest(ts)

        if end > self.max_datagram:
            if tracker is not None:
                self._drop(key)
            stats["too_large"] += 1
            return None

        if tracker is None:
            while len(trackers) >= self.max_trackers:
                self._evict_oldest()
            tracker = trackers[key] = _Tracker(ts)
        elif 0 <= tracker.end < end or (
            not more_fragments and (tracker.end not in (-1, end) or tracker.high > end)
        ):
            # Data past the known end, two different lengths, or a last fragment that cuts off held data:
            # no consistent reassembly exists.
            self._drop(key)
            stats["invalid"] += 1
            return None

        gaps = self._gaps(tracker, offset, end)
        new_bytes = sum(stop - start for start, stop in gaps)
        if new_bytes != size and not (new_bytes == 0 and self._same_bytes(tracker, offset, payload)):
            stats["overlaps"] += 1

        while self._memuse + new_bytes > self.memcap:
            victim = self._evict_oldest()
            if victim is tracker:
                return None

        starts, chunks = tracker.starts, tracker.chunks
        for start, stop in gaps:
            i = bisect_right(starts, start)
            starts.insert(i, start)
            chunks.insert(i, bytes(payload[start - offset : stop - offset]))
        tracker.received += new_bytes
        self._memuse += new_bytes
        if end > tracker.high:
            tracker.high = end
        if not more_fragments:
            tracker.end = end

        if tracker.received != tracker.end:
            return None
        self._drop(key)
        stats["reassembled"] += 1
        return b"".join(chunks)

    def expire(self, now: float) -> int:
        """Drop trackers older than timeout; return how many were dropped."""
        timeout = self.timeout
        stale = [key for key, tracker in self._trackers.items() if now - tracker.first_ts > timeout]
        for key in stale:
            self._drop(key)
        self.stats["timeouts"] += len(stale)
        return len(stale)

    @staticmethod
    def _gaps(tracker: _Tracker, offset: int, end: int) -> list[tuple[int, int]]:
        """Ranges of [offset, end) not yet held: the only bytes that may still be taken (first wins)."""
        starts, chunks = tracker.starts, tracker.chunks
        gaps: list[tuple[int, int]] = []
        pos = offset
        i = max(bisect_right(starts, offset) - 1, 0)
        n = len(starts)
        while i < n and pos < end:
            seg_start = starts[i]
            if seg_start >= end:
                break
            seg_end = seg_start + len(chunks[i])
            if seg_end > pos:
                if seg_start > pos:
                    gaps.append((pos, seg_start))
                pos = seg_end
            i += 1
        if pos < end:
            gaps.append((pos, end))
        return gaps

    @staticmethod
    def _same_bytes(tracker: _Tracker, offset: int, payload: bytes | bytearray | memoryview) -> bool:
        """Whether the held bytes over a fully covered range equal payload (an exact retransmit)."""
        starts, chunks = tracker.starts, tracker.chunks
        end = offset + len(payload)
        i = max(bisect_right(starts, offset) - 1, 0)
        held: list[bytes] = []
        pos = offset
        while pos < end:
            seg_start = starts[i]
            chunk = chunks[i][pos - seg_start : end - seg_start]
            held.append(chunk)
            pos += len(chunk)
            i += 1
        return b"".join(held) == payload

    def _expire_oldest(self, now: float) -> None:
        # Cheap per-fragment sweep from the old end, so stale trackers go even if expire() is never called.
        trackers = self._trackers
        timeout = self.timeout
        while trackers:
            key = next(iter(trackers))
            if not now - trackers[key].first_ts > timeout:
                return
            self._drop(key)
            self.stats["timeouts"] += 1

    def _evict_oldest(self) -> _Tracker:
        key = next(iter(self._trackers))
        self.stats["evicted"] += 1
        return self._drop(key)

    def _drop(self, key: tuple[object, ...]) -> _Tracker:
        tracker = self._trackers.pop(key)
        self._memuse -= tracker.received
        return tracker
