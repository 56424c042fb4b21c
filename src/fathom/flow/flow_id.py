"""Suricata-style integer flow ids: stable for a flow, unique within a run, safe in JSON."""

from __future__ import annotations

# Stay below 2**53 so every JSON reader keeps the id exact.
_MASK = (1 << 53) - 1


def flow_id(serial: int, start: float) -> int:
    """The flow's creation order mixed with its start time: distinct per flow in a run, the same for
    the same capture (hashes of numbers do not depend on the hash seed), and spread over the id
    space as Suricata's hash-based ids are."""
    return (hash((serial, start)) & _MASK) or 1
