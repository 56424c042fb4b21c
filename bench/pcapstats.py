"""Count packets and wire bytes of a capture with fathom's own reader."""

from __future__ import annotations

from dataclasses import dataclass

from fathom.capture.pcapfile import CaptureError, open_capture


@dataclass(frozen=True)
class CaptureStats:
    packets: int
    wire_bytes: int
    max_caplen: int


def capture_stats(path: str) -> CaptureStats:
    """Raises CaptureError when the file is unreadable or damaged part way."""
    packets = wire_bytes = max_caplen = 0
    with open_capture(path) as reader:
        for _buf, records in reader.batches():
            for _ts, _off, caplen, wirelen, _iface, _linktype in records:
                packets += 1
                wire_bytes += wirelen
                max_caplen = max(max_caplen, caplen)
        if reader.error:
            raise CaptureError(reader.error)
    return CaptureStats(packets, wire_bytes, max_caplen)
