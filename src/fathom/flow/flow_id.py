"""Suricata-style integer flow ids: stable for a flow, unique within a run, safe in JSON."""

from __future__ import annotations

import hashlib
import struct

_SEED = struct.Struct("!Qd")
# Stay below 2**53 so every JSON reader keeps the id exact.
_MASK = (1 << 51) - 1


def flow_id(serial: int, start: float, community_id: str) -> int:
    digest = hashlib.blake2b(_SEED.pack(serial, start) + community_id.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & _MASK) or 1
