"""``detection_filter`` and ``threshold`` (also spelt ``event_filter``): whether a match alerts,
from how often the rule matched per source or destination address (Snort's sfthd.cc).

- ``detection_filter:track by_src|by_dst, count c, seconds s``: alert on every match after the
  first ``c`` within ``s`` seconds of the first one;
- ``threshold:type limit|threshold|both, track by_src|by_dst, count c, seconds s``: ``limit``
  alerts on the first ``c`` matches per window, ``threshold`` on every ``c``-th, ``both`` once per
  window, on the ``c``-th.
"""

from __future__ import annotations

from dataclasses import dataclass

from fathom.rules.errors import RuleError
from fathom.rules.options.base import Option, RuleBody, register
from fathom.rules.options.header import MAX32
from fathom.rules.options.ranges import parse_number

TRACKS = ("by_src", "by_dst")
THRESHOLD_TYPES = ("limit", "threshold", "both")


def _fields(text: str | None, names: tuple[str, ...]) -> dict[str, str]:
    """``name value, name value`` into a mapping; every name in ``names`` exactly once."""
    fields: dict[str, str] = {}
    for item in (text or "").split(","):
        name, _, value = item.strip().partition(" ")
        if name not in names:
            raise RuleError(f"unknown field {name!r}" if name else "empty field")
        if name in fields:
            raise RuleError(f"{name} given twice")
        if not value.strip():
            raise RuleError(f"{name} needs a value")
        fields[name] = value.strip()
    missing = [name for name in names if name not in fields]
    if missing:
        raise RuleError(f"missing {', '.join(missing)}")
    return fields


def _choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise RuleError(f"{what} must be {' or '.join(choices)}, not {value!r}")
    return value


# eq=False: each rule's filter counts on its own, even when two rules spell it alike.
@dataclass(frozen=True, eq=False)
class DetectionFilter(Option):
    track: str
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str | None) -> DetectionFilter:
        fields = _fields(text, ("track", "count", "seconds"))
        return cls(
            _choice(fields["track"], TRACKS, "track"),
            parse_number(fields["count"], 1, MAX32),
            parse_number(fields["seconds"], 1, MAX32),
        )

    def attach(self, body: RuleBody) -> None:
        if any(isinstance(f, DetectionFilter) for f in body.filters):
            raise RuleError("only one detection_filter per rule")
        body.filters.append(self)


@dataclass(frozen=True, eq=False)
class Threshold(Option):
    type: str
    track: str
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str | None) -> Threshold:
        fields = _fields(text, ("type", "track", "count", "seconds"))
        return cls(
            _choice(fields["type"], THRESHOLD_TYPES, "type"),
            _choice(fields["track"], TRACKS, "track"),
            parse_number(fields["count"], 1, MAX32),
            parse_number(fields["seconds"], 1, MAX32),
        )

    def attach(self, body: RuleBody) -> None:
        if any(isinstance(f, Threshold) for f in body.filters):
            raise RuleError("only one threshold per rule")
        body.filters.append(self)


class _Window:
    """Matches counted for one filter and address: since ``start``, and at the last match."""

    __slots__ = ("count", "last", "prev", "start")

    def __init__(self, now: int) -> None:
        self.count = 1
        self.prev = 0
        self.start = now
        self.last = now


Filter = DetectionFilter | Threshold


class RateTracker:
    """Counts matches per (filter, tracked address) over whole seconds of packet time and decides
    whether each alerts, as Snort's sfthd_test_non_suppress does.

    The table holds at most ``capacity`` windows. When it is full a new (filter, address) is not
    tracked: ``full`` counts those matches, a detection_filter does not alert on them and a
    threshold lets them alert, as Snort does when its table is out of memory.
    """

    def __init__(self, capacity: int = 65536) -> None:
        self.capacity = capacity
        self.full = 0
        self._windows: dict[tuple[Filter, bytes], _Window] = {}

    def alerts(self, rule_filter: Filter, src: bytes, dst: bytes, ts: float) -> bool:
        """A match of the rule at time ``ts`` from ``src`` to ``dst``: does it alert?"""
        now = int(ts)
        key = (rule_filter, src if rule_filter.track == "by_src" else dst)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self.capacity:
                self.full += 1
                return isinstance(rule_filter, Threshold)
            window = self._windows[key] = _Window(now)
        else:
            window.count += 1
        if isinstance(rule_filter, DetectionFilter):
            return self._detect(rule_filter, window, now)
        return self._threshold(rule_filter, window, now)

    @staticmethod
    def _detect(rule_filter: DetectionFilter, window: _Window, now: int) -> bool:
        if now - window.start >= rule_filter.seconds:
            # A new window; matches of the one just ended still count if it ended only now.
            window.prev = 0 if now - window.last > rule_filter.seconds else window.count - 1
            window.start = now
            window.count = 1
        window.last = now
        return window.count > rule_filter.count or window.prev > rule_filter.count

    @staticmethod
    def _threshold(rule_filter: Threshold, window: _Window, now: int) -> bool:
        expired = now - window.start >= rule_filter.seconds
        if expired:
            window.start = now
            window.count = 1
        if rule_filter.type == "limit":
            return window.count <= rule_filter.count
        if rule_filter.type == "threshold":
            if window.count >= rule_filter.count:
                window.count = 0
                window.start = now
                return True
            return False
        # both: once per window, on the count-th match; never on the match that opens a window.
        return not expired and window.count == rule_filter.count


register("detection_filter", DetectionFilter.parse)
register("threshold", Threshold.parse)
register("event_filter", Threshold.parse)
