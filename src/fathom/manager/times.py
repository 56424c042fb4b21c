"""Times in the manager: BIGINT microseconds since the epoch (UTC) in the store, EVE timestamps
(``2026-11-21T20:48:49.680019+0000``) on the way out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fathom.events.timefmt import eve_timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Longer text is no timestamp; it is not worth parsing.
_MAX_TIMESTAMP = 64


def now_us() -> int:
    return time.time_ns() // 1000


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch; a time without an offset is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND


def parse_us(value: object) -> int | None:
    """An ISO 8601 timestamp (an event's, so anything at all) in microseconds, or None."""
    if not isinstance(value, str) or len(value) > _MAX_TIMESTAMP:
        return None
    try:
        return to_us(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return None


def eve_time(us: int) -> str:
    return eve_timestamp(us / 1_000_000)
