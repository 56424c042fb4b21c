"""EVE timestamps: ISO 8601 with microseconds and a UTC offset, as Suricata writes them."""

from __future__ import annotations

import time

# Events come in time order, so the date-and-time part repeats: keep the last one.
_last_second = -1
_last_prefix = ""


def eve_timestamp(ts: float) -> str:
    global _last_second, _last_prefix
    micros = round(ts * 1_000_000)
    secs, frac = divmod(micros, 1_000_000)
    if secs != _last_second:
        t = time.gmtime(secs)
        _last_prefix = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        )
        _last_second = secs
    return f"{_last_prefix}.{frac:06d}+0000"
