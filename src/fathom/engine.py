"""The engine: capture records in, events out. A library with no global state.

The CLI, the sensor and the tests drive it the same way: build an :class:`Engine` from an
:class:`EngineConfig`, attach sinks, feed packets (or a whole capture), then :meth:`Engine.finish`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Protocol

from fathom.capture.pcapfile import CaptureReader
from fathom.config import EngineConfig
from fathom.decode.decoder import Decoder
from fathom.decode.defrag import Defragmenter
from fathom.decode.packet import Buffer, Packet, proto_name
from fathom.events.eve import Event, flow_event
from fathom.flow.flow import Flow
from fathom.flow.stream import NullConsumer, StreamConsumer
from fathom.flow.table import FlowTable

ProgressCallback = Callable[[int], None]

# How many packets pass between progress updates and housekeeping.
_CHECKPOINT_MASK = 0x3FFF
# Bound on distinct addresses kept for the top-talkers summary.
_MAX_TALKERS = 65536


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class FlowSummary:
    """What the terminal report shows about flows, gathered as flows end (never per packet)."""

    def __init__(self) -> None:
        self.by_proto: Counter[str] = Counter()
        self.by_app: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.talker_bytes: Counter[bytes] = Counter()
        self.talkers_dropped = 0

    def add(self, flow: Flow) -> None:
        self.by_proto[proto_name(flow.proto)] += 1
        self.by_app[flow.app_proto or "unknown"] += 1
        self.by_reason[flow.end_reason] += 1
        total = flow.bytes_ts + flow.bytes_tc
        talkers = self.talker_bytes
        for addr in (flow.src, flow.dst):
            if addr in talkers or len(talkers) < _MAX_TALKERS:
                talkers[addr] += total
            else:
                self.talkers_dropped += 1


class Engine:
    def __init__(self, config: EngineConfig | None = None, consumer: StreamConsumer | None = None) -> None:
        self.config = config = config or EngineConfig()
        d = config.defrag
        self.decoder = Decoder(Defragmenter(d.max_trackers, d.timeout, d.memcap))
        self.flows = FlowTable(consumer or NullConsumer(), self._flow_ended, config.flow, config.stream)
        self.sinks: list[EventSink] = []
        self.summary = FlowSummary()
        self.packets = 0
        self.bytes = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        # Packets whose processing raised: a bug, counted so one packet never stops the capture.
        self.failures = 0
        self.first_failure = ""
        self._pkt = Packet()

    def add_sink(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def _flow_ended(self, flow: Flow) -> None:
        self.summary.add(flow)
        if self.sinks:
            event = flow_event(flow)
            for sink in self.sinks:
                sink.emit(event)

    def feed(
        self, buf: Buffer, off: int, caplen: int, wirelen: int, ts: float, linktype: int, iface: int = 0
    ) -> None:
        """Process one packet held in ``buf[off:off+caplen]``."""
        pkt = self._pkt
        self.packets += 1
        self.bytes += wirelen
        if self.packets == 1:
            self.first_ts = ts
        self.last_ts = ts
        pkt.ts = ts
        pkt.pcap_cnt = self.packets
        pkt.wirelen = wirelen
        pkt.iface = iface
        try:
            if self.decoder.decode(buf, off, caplen, linktype, pkt):
                self.flows.process(pkt)
        except Exception as exc:
            self._failed(exc)

    def run(self, reader: CaptureReader, progress: ProgressCallback | None = None) -> None:
        """Process every packet of a capture file. The loop is the engine's hot path."""
        if not self.packets:
            self.first_ts = self._first_ts_of(reader)
        pkt = self._pkt
        decode = self.decoder.decode
        process = self.flows.process
        buf = reader.buffer
        n = self.packets
        total = self.bytes
        ts = self.last_ts
        for ts, off, caplen, wirelen, iface, linktype in reader:
            n += 1
            total += wirelen
            pkt.ts = ts
            pkt.pcap_cnt = n
            pkt.wirelen = wirelen
            pkt.iface = iface
            try:
                if decode(buf, off, caplen, linktype, pkt):
                    process(pkt)
            except Exception as exc:
                self._failed(exc)
            if not n & _CHECKPOINT_MASK:
                self.decoder.defrag.expire(ts)
                reader.release_consumed()
                if progress is not None:
                    progress(reader.position)
        self.packets = n
        self.bytes = total
        self.last_ts = ts
        if progress is not None:
            progress(reader.position)

    @staticmethod
    def _first_ts_of(reader: CaptureReader) -> float:
        for record in reader:
            return record[0]
        return 0.0

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if not self.first_failure:
            self.first_failure = f"packet {self._pkt.pcap_cnt}: {type(exc).__name__}: {exc}"

    def finish(self) -> None:
        """End of input: end every flow (flushing streams) and emit their events."""
        self.flows.flush()

    def counters(self) -> dict[str, int]:
        """Every counter the engine keeps, by dotted name."""
        out: dict[str, int] = {"capture.packets": self.packets, "capture.bytes": self.bytes}
        out["decoder.reassembled"] = self.decoder.reassembled
        for reason, count in self.decoder.errors.items():
            out[f"decoder.error.{reason}"] = count
        for name, count in self.decoder.non_ip.items():
            out[f"decoder.non_ip.{name}"] = count
        for name, count in self.decoder.defrag.stats.items():
            out[f"defrag.{name}"] = count
        for name, count in self.flows.stats.as_dict().items():
            out[f"flow.{name}"] = count
        out["flow.memuse"] = self.flows.memuse
        for name, count in self.flows.stream_stats.as_dict().items():
            out[f"stream.{name}"] = count
        out["engine.failures"] = self.failures
        return out
