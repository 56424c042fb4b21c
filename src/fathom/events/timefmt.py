"""EVE timestamps: ISO 8601 with microseconds and a UTC offset, as Suricata writes them."""

from __future__ import annotations

import time
from functools import lru_cache


@lru_cache(maxsize=4096)
def _second(secs: int) -> str:
    # Events cluster in time, so a second's date-and-time text is reused many times.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))


def eve_timestamp(ts: float) -> str:
    secs, frac = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{_second(secs)}.{frac:06d}+0000"
