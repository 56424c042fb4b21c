"""Flow expiry and eviction in O(1) per packet, whatever the table size.

Flows are filed by their idle timeout (one class per distinct timeout value: a handful) and, within
a class, in a bucket per second of their last packet. A packet only updates ``flow.last``; its flow
is refiled lazily, when its bucket comes up. So:

- expiry looks only at buckets whose every flow, if still filed there, has been idle past the
  class's timeout; a flow that moved on since is refiled under its newer second;
- eviction takes the oldest bucket of all classes: the flows still filed there are the longest idle
  (to the second), the others are refiled.

Each flow is visited at most once per timeout period while it lives, plus once per eviction pass
that reaches its bucket. A flow whose timeout shrinks (a TCP close) is refiled at once, so it expires
on time; the entry left behind is recognised as stale and skipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from fathom.flow.flow import END_FORCED, END_TIMEOUT, Flow

# Ends a flow, giving the reason (Suricata's flow.reason).
EndFlow = Callable[[Flow, str], None]


class _TimeoutClass:
    """The flows whose idle timeout is ``timeout``, in buckets by second of last activity."""

    __slots__ = ("buckets", "keys", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.buckets: dict[int, list[Flow]] = {}
        # Min-heap of the bucket seconds, oldest first.
        self.keys: list[int] = []

    def pop_oldest(self) -> tuple[int, list[Flow]]:
        key = heapq.heappop(self.keys)
        return key, self.buckets.pop(key)

    def put_back(self, key: int, flows: list[Flow]) -> None:
        """Return the unvisited rest of a bucket."""
        self.buckets[key] = flows
        heapq.heappush(self.keys, key)


class IdleIndex:
    """Live flows ordered by idleness, per timeout class."""

    __slots__ = ("classes", "visits")

    def __init__(self) -> None:
        self.classes: dict[float, _TimeoutClass] = {}
        # Bucket entries looked at by expiry and eviction: stays proportional to flows, not to time.
        self.visits = 0

    def file(self, flow: Flow) -> None:
        """File ``flow`` under its current timeout and the second of its last packet."""
        timeout = flow.timeout
        cls = self.classes.get(timeout)
        if cls is None:
            cls = self.classes[timeout] = _TimeoutClass(timeout)
        # _TimeoutClass.file, inlined: every flow is filed at least once.
        key = int(flow.last)
        bucket = cls.buckets.get(key)
        if bucket is None:
            cls.buckets[key] = [flow]
            heapq.heappush(cls.keys, key)
        else:
            bucket.append(flow)
        flow.idle_class = timeout
        flow.idle_key = key

    def expire(self, now: float, end: EndFlow) -> None:
        """Call ``end`` for every flow idle for longer than its timeout at ``now``."""
        for cls in list(self.classes.values()):
            timeout = cls.timeout
            # Bucket k holds packets before k + 1: all its flows are idle past the timeout once
            # now - (k + 1) >= timeout.
            while cls.keys and cls.keys[0] + 1 + timeout <= now:
                key, bucket = cls.pop_oldest()
                self.visits += len(bucket)
                for flow in bucket:
                    # Skip entries that are no longer the flow's filing (or whose flow ended).
                    if flow.idle_key != key or flow.idle_class != timeout or flow.key is None:
                        continue
                    if now - flow.last > flow.timeout:
                        end(flow, END_TIMEOUT)
                    else:
                        self.file(flow)

    def evict(self, count: int, end: EndFlow) -> int:
        """End up to ``count`` of the longest-idle flows; return how many were ended."""
        ended = 0
        while ended < count:
            cls = self._oldest_class()
            if cls is None:
                break
            timeout = cls.timeout
            key, bucket = cls.pop_oldest()
            moved_on = key + 1
            visited = 0
            for flow in bucket:
                visited += 1
                if flow.idle_key != key or flow.idle_class != timeout or flow.key is None:
                    continue
                if flow.last < moved_on:
                    end(flow, END_FORCED)
                    ended += 1
                    if ended >= count:
                        break
                else:
                    self.file(flow)
            self.visits += visited
            if visited < len(bucket):
                cls.put_back(key, bucket[visited:])
        return ended

    def _oldest_class(self) -> _TimeoutClass | None:
        oldest: _TimeoutClass | None = None
        for cls in self.classes.values():
            if cls.keys and (oldest is None or cls.keys[0] < oldest.keys[0]):
                oldest = cls
        return oldest
