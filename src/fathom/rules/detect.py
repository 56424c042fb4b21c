"""The ``detect`` layer: Snort rules on packets and on the PDUs of the ``app`` layer.

Rules are grouped as Snort groups them: by IP protocol and, for TCP and UDP, by the service port
a rule names (its destination ports, else its source ports; rules for any port form a group of
their own), and by the services they name. Data is evaluated against the groups of its ports,
the any-port group and, once the flow's service is known, that service's group. Within a group,
each rule's fast pattern (its longest positive content in the data, or the one marked
``fast_pattern``) goes into one Hyperscan database; the data is scanned once per group, and only
the rules whose fast pattern occurs are evaluated, plus those that have none. A candidate is then
checked in Snort's order: header (addresses, ports, direction; a known service replaces the port
check for rules naming services, and excludes those naming others), tests (flow, flags,
flowbits, ...), payload options, and the filters; its actions (flowbits) run when it matched, and
it alerts unless it is ``noalert``.

What the rules see is what Snort shows them: TCP segments one by one until a service inspector
has the flow, then the PDUs the ``app`` layer flushes (:meth:`DetectLayer.on_pdu`). An HTTP
message section is a PDU: its HTTP rules are evaluated against the sections their buffers belong
to, prefiltered by their longest positive content in those buffers, and a body section is packet
data too. Not yet here: rules mixing packet data with HTTP buffers, and ``file`` rules; such
rules are left out and counted.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container, Sequence
from typing import cast

import hyperscan

from fathom.apps.http_buffers import (
    BUFFER_SECTION,
    REQUEST_BODY,
    REQUEST_HEADERS,
    RESPONSE_BODY,
    RESPONSE_HEADERS,
    buffer_base,
)
from fathom.apps.layer import AppLayer, Buffers
from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Packet
from fathom.flow.consumer import Layer, LayerChain
from fathom.flow.flow import Flow
from fathom.host import LayerFactory, LayerHost
from fathom.rules.alert import AlertEvent
from fathom.rules.evaluate import match_payload
from fathom.rules.loader import Rule, Ruleset
from fathom.rules.options.base import DEFAULT_BUFFER, MatchState
from fathom.rules.options.content import Content
from fathom.rules.options.filters import DetectionFilter, RateTracker, Threshold

# Buffers a packet provides by itself; the others come from inspectors.
_PACKET_BUFFERS = frozenset((DEFAULT_BUFFER, "raw_data"))
_IP_PROTOCOLS = {"tcp": (PROTO_TCP,), "udp": (PROTO_UDP,), "icmp": (PROTO_ICMP, PROTO_ICMPV6)}
_ALL = (PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, -1)
# What a rule whose header names a service (``alert http``) runs over.
_SERVICE_PROTOCOLS = (PROTO_TCP, PROTO_UDP)


def fast_pattern(rule: Rule, buffers: Container[str] | None = _PACKET_BUFFERS) -> Content | None:
    """The content a rule is found by, among its positive contents in ``buffers`` (None: in any
    buffer): the one marked fast_pattern, else the longest."""
    contents = [
        o
        for o in rule.body.payload
        if isinstance(o, Content) and not o.negated and (buffers is None or o.buffer in buffers)
    ]
    marked = [c for c in contents if c.fast_pattern]
    if marked:
        return marked[0]
    return max(contents, key=lambda c: len(c.pattern), default=None)


def _literal(pattern: bytes) -> bytes:
    """A Hyperscan expression matching ``pattern`` literally."""
    return b"".join(b"\\x%02x" % byte for byte in pattern)


# A rule naming more ports than this goes into the group for any port, as Snort's port groups do.
_MAX_GROUP_PORTS = 1024


class PortGroups:
    """The rules of TCP or UDP, filed by the service port they name: a packet is evaluated against
    the group of its destination port, the group of its source port and the rules for any port."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        by_dst: dict[int, list[Rule]] = {}
        by_src: dict[int, list[Rule]] = {}
        generic: list[Rule] = []
        for rule in rules:
            header = rule.header
            dst = None if header.bidirectional else header.destination_ports.listed(_MAX_GROUP_PORTS)
            src = None if header.bidirectional or dst else header.source_ports.listed(_MAX_GROUP_PORTS)
            for port in dst or ():
                by_dst.setdefault(port, []).append(rule)
            for port in src or ():
                by_src.setdefault(port, []).append(rule)
            if not dst and not src:
                generic.append(rule)
        # Rules sharing a port list share one group (and one database).
        shared: dict[tuple[int, ...], RuleGroup] = {}
        self.by_dst = {port: _shared_group(rules, shared) for port, rules in by_dst.items()}
        self.by_src = {port: _shared_group(rules, shared) for port, rules in by_src.items()}
        self.generic = RuleGroup(generic)
        self.order = {id(rule): index for index, rule in enumerate(rules)}

    def candidates(self, sport: int, dport: int, payload: bytes) -> list[Rule]:
        found = self.generic.candidates(payload)
        for group in (self.by_dst.get(dport), self.by_src.get(sport)):
            if group is not None:
                found = found + group.candidates(payload)
        if len(found) > 1:
            found.sort(key=lambda rule: self.order[id(rule)])
        return found


def _shared_group(rules: list[Rule], shared: dict[tuple[int, ...], RuleGroup]) -> RuleGroup:
    key = tuple(id(rule) for rule in rules)
    group = shared.get(key)
    if group is None:
        group = shared[key] = RuleGroup(rules)
    return group


class RuleGroup:
    """Rules with a Hyperscan database of their fast patterns in ``buffers``."""

    def __init__(self, rules: Sequence[Rule], buffers: Container[str] = _PACKET_BUFFERS) -> None:
        self.always: list[Rule] = []
        self.indexed: list[Rule] = []
        expressions: list[bytes] = []
        flags: list[int] = []
        for rule in rules:
            content = fast_pattern(rule, buffers)
            if content is None:
                self.always.append(rule)
                continue
            self.indexed.append(rule)
            expressions.append(_literal(content.pattern))
            flags.append(
                hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if content.nocase else 0)
            )
        self.database: hyperscan.Database | None = None
        if expressions:
            self.database = hyperscan.Database()
            self.database.compile(
                expressions=expressions,
                ids=list(range(len(expressions))),
                elements=len(expressions),
                flags=flags,
            )

    def candidates(self, payload: bytes) -> list[Rule]:
        """The rules worth evaluating on ``payload``, in ruleset order."""
        hits: list[int] = []
        if self.database is not None and payload:
            self.database.scan(payload, match_event_handler=_collect, context=hits)
        if not hits:
            return self.always
        hits.sort()
        return self.always + [self.indexed[i] for i in hits]


def _collect(rule_id: int, start: int, end: int, flags: int, hits: object) -> None:
    cast("list[int]", hits).append(rule_id)


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


def _pdu_packet(current: Packet, flow: Flow, to_server: bool, data: bytes) -> Packet:
    """The packet rules see for a PDU: the flushing packet's, carrying the PDU's data in the
    direction of that data."""
    pkt = copy.copy(current)
    if to_server:
        pkt.src, pkt.dst, pkt.sport, pkt.dport = flow.src, flow.dst, flow.sport, flow.dport
    else:
        pkt.src, pkt.dst, pkt.sport, pkt.dport = flow.dst, flow.src, flow.dport, flow.sport
    pkt.buf, pkt.payload_off, pkt.payload_len = data, 0, len(data)
    pkt.rebuilt = True
    return pkt


_SECTIONS_IN_ORDER = (REQUEST_HEADERS, REQUEST_BODY, RESPONSE_HEADERS, RESPONSE_BODY)
# Header and cookie buffers are the request's on the request side and the response's after it.
_BOTH_HEADERS = frozenset(("http_header", "http_raw_header", "http_cookie", "http_raw_cookie"))


def http_sections(rule: Rule) -> tuple[str, ...]:
    """The HTTP sections ``rule`` is evaluated on; empty when it reads no HTTP buffer, or reads one
    together with a buffer sections do not have (such as the packet's payload)."""
    bases = {buffer_base(option.buffer) for option in rule.body.payload}
    if not bases or not bases <= BUFFER_SECTION.keys():
        return ()
    if "file_data" in bases:
        return (REQUEST_BODY, RESPONSE_BODY) if len(bases) == 1 else (RESPONSE_BODY,)
    if bases & {"http_stat_code", "http_stat_msg"}:
        return (RESPONSE_HEADERS,)
    if "http_client_body" in bases:
        return (REQUEST_BODY,)
    if bases <= _BOTH_HEADERS:
        return (REQUEST_HEADERS, RESPONSE_HEADERS)
    return (REQUEST_HEADERS,)


class SectionGroup:
    """The rules of one HTTP section: one Hyperscan database per buffer their fast patterns are
    in, so each buffer of a section is scanned once."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.order = {id(rule): index for index, rule in enumerate(rules)}
        by_buffer: dict[str, list[Rule]] = {}
        self.always: list[Rule] = []
        for rule in rules:
            content = fast_pattern(rule, None)
            if content is None:
                self.always.append(rule)
            else:
                by_buffer.setdefault(content.buffer, []).append(rule)
        self.groups = {buffer: RuleGroup(rules, (buffer,)) for buffer, rules in by_buffer.items()}

    def candidates(self, buffers: Callable[[str], bytes | None]) -> list[Rule]:
        found = list(self.always)
        for buffer, group in self.groups.items():
            data = buffers(buffer)
            if data:
                found += group.candidates(data)
        found.sort(key=lambda rule: self.order[id(rule)])
        return found


class DetectLayer(Layer):
    """Snort rules on packets and on the PDUs of ``app`` (which this layer subscribes to)."""

    def __init__(self, host: LayerHost, ruleset: Ruleset, app: AppLayer) -> None:
        self.host = host
        self.ruleset = ruleset
        self.app = app
        app.on_pdu = self.on_pdu
        self.rates = RateTracker()
        # Rules that need what this layer cannot give yet, by reason.
        self.left_out: dict[str, int] = {}
        self.order = {id(rule): index for index, rule in enumerate(ruleset.rules)}
        by_proto: dict[int, list[Rule]] = {proto: [] for proto in _ALL}
        by_service: dict[tuple[int, str], list[Rule]] = {}
        # HTTP rules by the message sections they are evaluated on.
        by_section: dict[str, list[Rule]] = {section: [] for section in _SECTIONS_IN_ORDER}
        for rule in ruleset.rules:
            sections = http_sections(rule)
            if sections:
                for section in sections:
                    by_section[section].append(rule)
                continue
            reason = self._unsupported(rule)
            if reason:
                self.left_out[reason] = self.left_out.get(reason, 0) + 1
                continue
            protocol = rule.header.protocol
            for service in rule.body.services:
                for proto in _IP_PROTOCOLS.get(protocol, _ALL if protocol == "ip" else _SERVICE_PROTOCOLS):
                    by_service.setdefault((proto, service), []).append(rule)
            if protocol in _IP_PROTOCOLS or protocol == "ip":
                for proto in _IP_PROTOCOLS.get(protocol, _ALL):
                    by_proto[proto].append(rule)
        self.sections = {section: SectionGroup(rules) for section, rules in by_section.items()}
        self.ports = {proto: PortGroups(by_proto[proto]) for proto in (PROTO_TCP, PROTO_UDP)}
        self.groups = {
            proto: RuleGroup(rules) for proto, rules in by_proto.items() if proto not in self.ports
        }
        # Rules naming a service, found by it whatever the ports once the flow's service is known.
        self.services = {service: RuleGroup(rules) for service, rules in by_service.items()}
        self.alerts = 0
        # The rules (and directions) that alerted on the packet being processed itself.
        self.alerted_packet = -1
        self.alerted_rules: set[tuple[int, bool]] = set()

    @staticmethod
    def _unsupported(rule: Rule) -> str:
        if rule.header.action != "alert":
            return f"action {rule.header.action}"
        if rule.header.protocol == "file":
            return "file rule header"
        if any(o.buffer not in _PACKET_BUFFERS and o.buffer != "base64_data" for o in rule.body.payload):
            return "inspector buffer"
        return ""

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        # TCP data that a service inspector cuts into PDUs is inspected as PDUs, not as segments.
        if pkt.proto == PROTO_TCP and pkt.payload_len and self.app.inspected(flow):
            return
        self._inspect_data(pkt, flow, to_server, bytes(pkt.payload()))

    def _inspect_data(self, pkt: Packet, flow: Flow, to_server: bool, payload: bytes) -> None:
        """The rules on packet data: those of the packet's ports (or protocol) and those of the
        flow's service."""
        ports = self.ports.get(pkt.proto)
        if ports is not None:
            candidates = ports.candidates(pkt.sport, pkt.dport, payload)
        else:
            candidates = (self.groups.get(pkt.proto) or self.groups[-1]).candidates(payload)
        service = self.app.service(flow)
        if service is not None:
            group = self.services.get((pkt.proto, service))
            if group is not None:
                candidates = self._merge(candidates, group.candidates(payload))
        buffers = {DEFAULT_BUFFER: payload, "raw_data": payload}.get
        for rule in candidates:
            if _header_matches(rule, service, pkt.src, pkt.sport, pkt.dst, pkt.dport):
                self._evaluate(rule, pkt, flow, to_server, buffers)

    def _merge(self, first: list[Rule], second: list[Rule]) -> list[Rule]:
        """Two candidate lists as one, in ruleset order, each rule once."""
        if not second:
            return first
        if not first:
            return second
        merged = {id(rule): rule for rule in first}
        merged.update((id(rule), rule) for rule in second)
        return sorted(merged.values(), key=lambda rule: self.order[id(rule)])

    def on_pdu(self, flow: Flow, to_server: bool, section: str, buffers: Buffers) -> None:
        """A PDU was flushed: evaluate the rules on packet data against its data, when it is
        packet data to them, and the HTTP rules of its section. The packet being processed is the
        one that flushed it; the rules see the PDU's direction and size."""
        data = buffers(DEFAULT_BUFFER)
        pkt = _pdu_packet(self.host.current_packet, flow, to_server, data or b"")
        if data is not None:
            self._inspect_data(pkt, flow, to_server, data)
        group = self.sections.get(section)
        if group is None:
            return
        service = self.app.service(flow)
        for rule in group.candidates(buffers):
            if _header_matches(rule, service, pkt.src, pkt.sport, pkt.dst, pkt.dport):
                self._evaluate(rule, pkt, flow, to_server, buffers)

    def _evaluate(
        self, rule: Rule, pkt: Packet, flow: Flow, to_server: bool, buffers: Callable[[str], bytes | None]
    ) -> None:
        """Tests, payload, actions and filters of one candidate whose header matched; alert if due."""
        body = rule.body
        if not all(test.test(pkt, flow, to_server) for test in body.tests):
            return
        if body.payload and not match_payload(body.payload, buffers, MatchState()):
            return
        for action in body.actions:
            action.apply(flow)
        if body.noalert or self._alerted_already(rule, pkt, to_server) or not self._filters_pass(rule, pkt):
            return
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
        self.ruleset.flowbits.forget(flow)


def detection(ruleset: Ruleset) -> LayerFactory:
    """The layers that match ``ruleset``: the application layer, which names services and cuts
    PDUs, then this one."""

    def build(host: LayerHost) -> Layer:
        app = AppLayer(host)
        return LayerChain([app, DetectLayer(host, ruleset, app)])

    return build
