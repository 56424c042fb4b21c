"""The engine: packet records in, events out. A library with no global state.

The CLI, the sensor and the tests drive it the same way: build an :class:`Engine` from an
:class:`EngineConfig` and the upper layers' factories, attach sinks, then ``run`` a packet source
(or ``feed`` single packets), ``tick`` the clock on a quiet live source, and ``finish``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import chain as chain_records
from typing import TypeVar

from fathom.capture.source import Interface, PacketRecord, PacketSource
from fathom.config import EngineConfig
from fathom.decode.checksum import checksum_ok
from fathom.decode.decoder import Decoder
from fathom.decode.defrag import Defragmenter
from fathom.decode.packet import CHECKSUM_BAD, CHECKSUM_OK, CHECKSUM_UNCHECKED, PROTO_NAMES, Buffer, Packet
from fathom.events.schema import Event, FlowEvent
from fathom.events.sink import EventSink
from fathom.flow.consumer import Layer, chain
from fathom.flow.flow import Flow
from fathom.flow.slots import FlowSlot, SlotRegistry
from fathom.flow.table import FlowTable
from fathom.host import LayerFactory

ProgressCallback = Callable[[int], None]
T = TypeVar("T")

# How many packets pass between progress updates and fragment expiry.
_CHECKPOINT_MASK = 0x3FFF


class Engine:
    """Wires decode, flows, streams and the upper layers; implements :class:`fathom.host.LayerHost`."""

    def __init__(self, config: EngineConfig | None = None, layers: Sequence[LayerFactory] = ()) -> None:
        self.config = config = config or EngineConfig()
        d = config.defrag
        self.decoder = Decoder(Defragmenter(d.max_trackers, d.timeout, d.memcap))
        self.sinks: list[EventSink] = []
        self._slots = SlotRegistry()
        built = [factory(self) for factory in layers]
        self._slots.closed = True
        self.layer = chain(built) if built else Layer()
        self.flows = FlowTable(self.layer, self._flow_ended, config.flow, config.stream, len(self._slots))
        self.packets = 0
        self.bytes = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        # Packets whose processing raised: a bug, counted so one packet never stops the capture.
        self.failures = 0
        self.first_failure = ""
        # Packets found with a wrong transport checksum (not shown to rules), by protocol.
        self.bad_checksums: Counter[str] = Counter()
        self._pkt = Packet()
        # Names of the source's interfaces, by index: they become ``in_iface``.
        self._interfaces: list[Interface] = []
        self._progress: Callable[[], None] | None = None

    # -- the host services upper layers use

    def new_slot(self, name: str, kind: type[T]) -> FlowSlot[T]:
        return self._slots.new(name, kind)

    def emit(self, event: Event) -> None:
        iface = event.iface
        if 0 <= iface < len(self._interfaces):
            event.in_iface = self._interfaces[iface].name or None
        for sink in self.sinks:
            sink.emit(event)

    def bypass(self, flow: Flow) -> None:
        self.flows.bypass(flow)

    def release_data(self, flow: Flow) -> None:
        self.flows.release_data(flow)

    @property
    def current_packet(self) -> Packet:
        return self._pkt

    def damaged(self, pkt: Packet) -> bool:
        state = pkt.checksum
        if state == CHECKSUM_UNCHECKED:
            state = pkt.checksum = CHECKSUM_OK if checksum_ok(pkt) else CHECKSUM_BAD
            if state == CHECKSUM_BAD:
                self.bad_checksums[PROTO_NAMES[pkt.proto].lower()] += 1
        return state == CHECKSUM_BAD

    # -- driving the engine

    def add_sink(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def _flow_ended(self, flow: Flow) -> None:
        if self.sinks:
            self.emit(FlowEvent(flow, flow.last, flow.last_pcap_cnt))

    def run(self, source: PacketSource, progress: ProgressCallback | None = None) -> None:
        """Process every packet ``source`` yields. A live source also drives expiry by wall-clock time,
        so flows end on a quiet interface."""
        self.name_interfaces(source.interfaces)
        if progress is not None:
            self._progress = lambda: progress(source.position)
        try:
            for buf, records in source.batches():
                self.process(buf, records)
                if source.live:
                    self.tick(time.time())
        finally:
            self._progress = None
        if progress is not None:
            progress(source.position)

    def name_interfaces(self, interfaces: list[Interface]) -> None:
        """Events name their interface (``in_iface``) from this list, by the records' index; the
        source keeps it current as it learns interfaces."""
        self._interfaces = interfaces

    def feed(
        self, buf: Buffer, off: int, caplen: int, wirelen: int, ts: float, linktype: int, iface: int = 0
    ) -> None:
        """Process one packet held in ``buf[off:off+caplen]``."""
        self.process(buf, ((ts, off, caplen, wirelen, iface, linktype),))

    def process(self, buf: Buffer, records: Iterable[PacketRecord]) -> None:
        """The hot path: decode each packet and hand it to the flow table."""
        if not self.packets:
            records = self._note_first_ts(records)
        pkt = self._pkt
        decode = self.decoder.decode
        process = self.flows.process
        verify = self.config.verify_checksums
        n = self.packets
        total = self.bytes
        ts = self.last_ts
        try:
            for ts, off, caplen, wirelen, iface, linktype in records:
                n += 1
                total += wirelen
                pkt.ts = ts
                pkt.pcap_cnt = n
                pkt.wirelen = wirelen
                pkt.iface = iface
                try:
                    if decode(buf, off, caplen, linktype, pkt):
                        # Verified when a layer asks (most packets never matter to rules); a
                        # packet captured short cannot be.
                        pkt.checksum = CHECKSUM_UNCHECKED if verify and caplen == wirelen else CHECKSUM_OK
                        process(pkt)
                except Exception as exc:
                    self._failed(exc)
                if not n & _CHECKPOINT_MASK:
                    self._checkpoint(ts)
        finally:
            self.packets = n
            self.bytes = total
            self.last_ts = ts

    def _note_first_ts(self, records: Iterable[PacketRecord]) -> Iterable[PacketRecord]:
        """Records unchanged, once the first one's timestamp is noted as the capture's start."""
        it = iter(records)
        for first in it:
            self.first_ts = first[0]
            return chain_records((first,), it)
        return ()

    def _checkpoint(self, ts: float) -> None:
        self.decoder.defrag.expire(ts)
        if self._progress is not None:
            self._progress()

    def tick(self, now: float) -> None:
        """The clock reads ``now`` (seconds, the packets' time base): expire idle flows and fragments
        even when no packet arrives."""
        self.flows.expire(now)
        self.decoder.defrag.expire(now)

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
        for reason, count in self.decoder.errors.items():
            out[f"decoder.error.{reason}"] = count
        for name, count in self.decoder.non_ip.items():
            out[f"decoder.non_ip.{name}"] = count
        for name, count in self.decoder.defrag.stats.items():
            out[f"defrag.{name}"] = count
        for name, count in self.flows.stats.as_dict().items():
            out[f"flow.{name}"] = count
        out["flow.memuse"] = self.flows.memuse
        out["flow.expiry_visits"] = self.flows.idle.visits
        for name, count in self.flows.stream_stats.as_dict().items():
            out[f"stream.{name}"] = count
        out["engine.failures"] = self.failures
        for proto, count in self.bad_checksums.items():
            out[f"checksum.bad.{proto}"] = count
        out.update(self.layer.counters())
        return out
