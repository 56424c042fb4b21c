"""Suricata-style integer flow ids: stable for a flow, unique within a run, safe in JSON."""

from __future__ import annotations

# Stay below 2**53 so every JSON reader keeps the id exact.
_MASK = (1 << 51) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def flow_id(serial: int, start: float) -> int:
    """Mix the flow's creation order with its start time (microseconds): unique per flow in a run,
    the same for the same capture, and spread over the id space as hash-based ids are."""
    x = (serial * _GOLDEN ^ int(start * 1_000_000)) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 31)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return ((x ^ (x >> 29)) & _MASK) or 1
