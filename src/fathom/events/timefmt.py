"""EVE timestamps: ISO 8601 with microseconds and a UTC offset, as Suricata writes them."""

from __future__ import annotations

import time

# Date-and-time text by whole second: events cluster in time, so each is reused many times.
# Cleared when full, so bounded.
_SECONDS: dict[int, str] = {}
_SECONDS_MAX = 4096
# Three digits, zero-padded: two of them make the microseconds (half the cost of "%06d").
_DIGITS3 = tuple(f"{n:03d}" for n in range(1000))


def eve_timestamp(ts: float) -> str:
    secs, micros = divmod(round(ts * 1_000_000), 1_000_000)
    text = _SECONDS.get(secs)
    if text is None:
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        text = _SECONDS[secs] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{text}.{_DIGITS3[micros // 1000]}{_DIGITS3[micros % 1000]}+0000"
