"""The ``detect`` layer: Snort rules on packets and on the PDUs of the ``app`` layer.

Data is evaluated against the rule groups of its ports (or IP protocol), the any-port group and,
once the flow's service is known, that service's group (see :mod:`fathom.rules.index`). A
candidate is then checked in Snort's order: header (addresses, ports, direction; a known service
replaces the port check for rules naming services, and excludes those naming others), tests
(flow, flags, flowbits, ...), payload options, and the filters; its actions (flowbits) run when
it matched. The rules that matched one packet or PDU, and may alert, go through Snort's event
queue: the first five are kept, and three of them alert, the longest fast pattern first
(``engine.detect`` changes both numbers).

What the rules see is what Snort shows them: TCP segments one by one until a service inspector
has the flow, then the PDUs the ``app`` layer flushes (:meth:`DetectLayer.on_pdu`). An HTTP
message section is a PDU: its HTTP rules are evaluated against the sections their buffers belong
to, prefiltered by their longest positive content in those buffers, and a body section is packet
data too, so rules reading packet data with HTTP buffers are evaluated on the bodies. Not yet
here: rules mixing ``raw_data`` with HTTP buffers, and ``file`` rules; such rules are left out and
counted.
"""

from __future__ import annotations

from collections.abc import Callable

from fathom.apps.layer import AppLayer, Buffers
from fathom.config import DetectConfig
from fathom.decode.packet import PROTO_TCP, Packet
from fathom.flow.consumer import Layer, LayerChain
from fathom.flow.flow import Flow
from fathom.host import LayerFactory, LayerHost
from fathom.rules.alert import AlertEvent
from fathom.rules.evaluate import match_payload
from fathom.rules.index import RuleIndex
from fathom.rules.loader import Rule
from fathom.rules.options.base import DEFAULT_BUFFER, MatchState
from fathom.rules.options.filters import DetectionFilter, RateTracker, Threshold


def _header_matches(rule: Rule, service: str | None, src: bytes, sport: int, dst: bytes, dport: int) -> bool:
    """The rule header against a packet, as Snort matches it: once the flow's service is known,
    a rule naming services matches only that service, and then whatever its ports; otherwise
    its addresses and ports, in its direction (or either, for ``<>``)."""
    services = rule.body.services
    ports = True
    if service is not None and services:
        if service not in services:
            return False
        ports = False
    header = rule.header
    if (
        header.source.contains(src)
        and header.destination.contains(dst)
        and (not ports or (header.source_ports.contains(sport) and header.destination_ports.contains(dport)))
    ):
        return True
    return (
        header.bidirectional
        and header.source.contains(dst)
        and header.destination.contains(src)
        and (not ports or (header.source_ports.contains(dport) and header.destination_ports.contains(sport)))
    )


class DetectLayer(Layer):
    """Snort rules on packets and on the PDUs of ``app`` (which this layer subscribes to)."""

    def __init__(self, host: LayerHost, index: RuleIndex, app: AppLayer, events: DetectConfig) -> None:
        self.host = host
        self.index = index
        self.app = app
        self.max_queue_events = events.max_queue_events
        self.log_events = events.log_events
        app.on_pdu = self.on_pdu
        self.rates = RateTracker()
        self.alerts = 0
        # The rules that matched in the inspection under way (a packet, or a PDU), to be logged at
        # its end as Snort's event queue logs them; matches past its bound, and events past the
        # number logged, are counted.
        self.matched: list[Rule] = []
        self.queue_limit = 0
        self.log_limit = 0
        # The rules (and directions) that alerted on the packet being processed itself.
        self.alerted_packet = -1
        self.alerted_rules: set[tuple[int, bool]] = set()

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        # TCP data that a service inspector cuts into PDUs is inspected as PDUs, not as segments.
        if pkt.proto == PROTO_TCP and pkt.payload_len and self.app.inspected(flow):
            return
        self._inspect_data(pkt, flow, to_server, bytes(pkt.payload()), self.app.service(flow))
        if self.matched:
            self._log(pkt, flow, to_server)

    def _inspect_data(
        self, pkt: Packet, flow: Flow, to_server: bool, payload: bytes, service: str | None
    ) -> None:
        """The rules on packet data: those of the packet's ports (or protocol) and those of the
        flow's service, with what its inspector found in the data."""
        tcp_flags = pkt.tcp_flags if pkt.proto == PROTO_TCP else -1
        candidates = self.index.candidates(pkt.proto, pkt.sport, pkt.dport, payload, tcp_flags, service)
        # A packet with a wrong checksum is not inspected (as in Snort); verified only when some
        # rule would look at it.
        if not candidates or (not pkt.rebuilt and self.host.damaged(pkt)):
            return
        known = {DEFAULT_BUFFER: payload, "raw_data": payload}
        known |= self.app.findings(flow, service, payload, pkt.rebuilt)
        buffers = known.get
        for rule in candidates:
            if _header_matches(rule, service, pkt.src, pkt.sport, pkt.dst, pkt.dport):
                self._evaluate(rule, pkt, flow, to_server, buffers)

    def on_pdu(self, flow: Flow, to_server: bool, section: str, buffers: Buffers) -> None:
        """A PDU was flushed: evaluate the rules on packet data against its data, when it is
        packet data to them, and the HTTP rules of its section. The rules see the packet being
        processed (the one that flushed the PDU) carrying the PDU's data in the data's direction:
        that packet is changed for the time of the evaluation, not copied."""
        pkt = self.host.current_packet
        saved = pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.buf, pkt.payload_off, pkt.payload_len
        if to_server:
            pkt.src, pkt.dst, pkt.sport, pkt.dport = flow.src, flow.dst, flow.sport, flow.dport
        else:
            pkt.src, pkt.dst, pkt.sport, pkt.dport = flow.dst, flow.src, flow.dport, flow.sport
        data = buffers(DEFAULT_BUFFER)
        pkt.buf, pkt.payload_off, pkt.payload_len = data or b"", 0, len(data or b"")
        pkt.rebuilt = True
        try:
            self._inspect_pdu(pkt, flow, to_server, section, buffers, data)
            if self.matched:
                self._log(pkt, flow, to_server)
        finally:
            pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.buf, pkt.payload_off, pkt.payload_len = saved
            pkt.rebuilt = False

    def _inspect_pdu(
        self, pkt: Packet, flow: Flow, to_server: bool, section: str, buffers: Buffers, data: bytes | None
    ) -> None:
        service = self.app.service(flow)
        if data is not None:
            self._inspect_data(pkt, flow, to_server, data, service)
        group = self.index.sections.get(section)
        if group is None:
            return
        for rule in group.candidates(buffers):
            if _header_matches(rule, service, pkt.src, pkt.sport, pkt.dst, pkt.dport):
                self._evaluate(rule, pkt, flow, to_server, buffers)

    def _evaluate(
        self, rule: Rule, pkt: Packet, flow: Flow, to_server: bool, buffers: Callable[[str], bytes | None]
    ) -> None:
        """Tests, payload, actions and filters of one candidate whose header matched; a rule that
        matched and may alert joins the inspection's events (the first ``max_queue_events``)."""
        body = rule.body
        for test in body.tests:
            if not test.test(pkt, flow, to_server):
                return
        if body.payload and not match_payload(body.payload, buffers, MatchState()):
            return
        for action in body.actions:
            action.apply(flow)
        if body.noalert or not self._filters_pass(rule, pkt) or rule in self.matched:
            return
        if len(self.matched) < self.max_queue_events:
            self.matched.append(rule)
        else:
            self.queue_limit += 1

    def _log(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        """Alert for the inspection's events as Snort logs them: ordered by the length of their
        fast pattern (longest first, then the higher sid), the first ``log_events``, leaving
        out rules that already alerted on the packet that flushed this PDU."""
        matched, self.matched = self.matched, []
        lengths = self.index.pattern_lengths
        matched.sort(key=lambda rule: (lengths[rule.order], rule.body.sid), reverse=True)
        logged = 0
        for position, rule in enumerate(matched):
            if logged == self.log_events:
                self.log_limit += len(matched) - position
                return
            if self._alerted_already(rule, pkt, to_server):
                continue
            logged += 1
            flow.alerted = True
            self.alerts += 1
            self.host.emit(AlertEvent(flow, pkt.ts, pkt.pcap_cnt, to_server, rule))

    def _alerted_already(self, rule: Rule, pkt: Packet, to_server: bool) -> bool:
        """A rule that alerted on a packet does not alert again on a PDU of the same data that
        the packet flushed at once (a stream picked up mid-stream)."""
        if pkt.pcap_cnt != self.alerted_packet:
            self.alerted_packet = pkt.pcap_cnt
            self.alerted_rules.clear()
        key = (id(rule), to_server)
        if pkt.rebuilt:
            return key in self.alerted_rules
        self.alerted_rules.add(key)
        return False

    def _filters_pass(self, rule: Rule, pkt: Packet) -> bool:
        """detection_filter and threshold: whether this match alerts."""
        return all(
            self.rates.alerts(f, pkt.src, pkt.dst, pkt.ts)
            for f in rule.body.filters
            if isinstance(f, DetectionFilter | Threshold)
        )

    def on_flow_end(self, flow: Flow) -> None:
        self.index.ruleset.flowbits.forget(flow)

    def counters(self) -> dict[str, int]:
        found = {
            "detect.alerts": self.alerts,
            "detect.queue_limit": self.queue_limit,
            "detect.log_limit": self.log_limit,
            "detect.empty_candidates_resets": self.index.on_empty_resets,
        }
        for reason, count in self.index.left_out.items():
            found[f"detect.rules_left_out.{reason}"] = count
        return found


def detection(index: RuleIndex, events: DetectConfig | None = None) -> LayerFactory:
    """The layers that match the rules of ``index``: the application layer, which names services
    and cuts PDUs, then this one (with Snort's event queue unless ``events`` says otherwise)."""

    def build(host: LayerHost) -> Layer:
        app = AppLayer(host)
        return LayerChain([app, DetectLayer(host, index, app, events or DetectConfig())])

    return build
