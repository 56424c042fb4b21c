"""EVE timestamps: ISO 8601 with microseconds and a UTC offset, as Suricata writes them."""

from __future__ import annotations

import time

# Date-and-time text by whole second: events cluster in time, so each is reused many times.
# Cleared when full, so bounded.
_SECONDS: dict[int, str] = {}
_SECONDS_MAX = 4096


def eve_timestamp(ts: float) -> str:
    micros = round(ts * 1_000_000)
    secs = micros // 1_000_000
    text = _SECONDS.get(secs)
    if text is None:
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        text = _SECONDS[secs] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return "%s.%06d+0000" % (text, micros - secs * 1_000_000)  # noqa: UP031 (faster than format here)
