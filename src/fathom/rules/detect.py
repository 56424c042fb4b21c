"""The ``detect`` layer: Snort rules evaluated on every packet.

Rules are grouped as Snort groups them: by IP protocol and, for TCP and UDP, by the service port
a rule names (its destination ports, else its source ports; rules for any port form a group of
their own). A packet is evaluated against the groups of its ports and the any-port group. Within
a group, each rule's fast pattern (its longest positive content in the packet's payload, or the
one marked ``fast_pattern``) goes into one Hyperscan database; the packet is scanned once per
group, and only the rules whose fast pattern occurs are evaluated, plus those that have none.
A candidate is then checked in Snort's order: header (addresses, ports, direction), tests (flow,
flags, flowbits, ...), payload options, and the filters; its actions (flowbits) run when it
matched, and it alerts unless it is ``noalert``.

Rules on the HTTP inspector's buffers are evaluated on each HTTP message section the
application layer completes (:meth:`DetectLayer.on_section`), against the sections their buffers
belong to; a rule's longest positive content in those buffers prefilters it. Not yet here: service
rule headers (``alert http (...)``), rules mixing packet data with HTTP buffers, and evaluation of
reassembled TCP data at Snort's flush points; such rules are left out and counted.
"""

from __future__ import annotations

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
from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Packet
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.host import LayerHost
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


def _endpoints_match(rule: Rule, src: bytes, sport: int, dst: bytes, dport: int) -> bool:
    """The rule header's addresses and ports, in its direction (or either, for ``<>``)."""
    header = rule.header
    if (
        header.source.contains(src)
        and header.source_ports.contains(sport)
        and header.destination.contains(dst)
        and header.destination_ports.contains(dport)
    ):
        return True
    return (
        header.bidirectional
        and header.source.contains(dst)
        and header.source_ports.contains(dport)
        and header.destination.contains(src)
        and header.destination_ports.contains(sport)
    )


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
    def __init__(self, host: LayerHost, ruleset: Ruleset) -> None:
        self.host = host
        self.ruleset = ruleset
        self.rates = RateTracker()
        # Rules that need what this layer cannot give yet, by reason.
        self.left_out: dict[str, int] = {}
        by_proto: dict[int, list[Rule]] = {proto: [] for proto in _ALL}
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
            for proto in _IP_PROTOCOLS.get(rule.header.protocol, _ALL):
                by_proto[proto].append(rule)
        self.sections = {section: SectionGroup(rules) for section, rules in by_section.items()}
        self.ports = {proto: PortGroups(by_proto[proto]) for proto in (PROTO_TCP, PROTO_UDP)}
        self.groups = {
            proto: RuleGroup(rules) for proto, rules in by_proto.items() if proto not in self.ports
        }
        self.alerts = 0

    @staticmethod
    def _unsupported(rule: Rule) -> str:
        if rule.header.action != "alert":
            return f"action {rule.header.action}"
        if rule.header.protocol not in _IP_PROTOCOLS and rule.header.protocol != "ip":
            return "service rule header"
        if any(o.buffer not in _PACKET_BUFFERS and o.buffer != "base64_data" for o in rule.body.payload):
            return "inspector buffer"
        return ""

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        payload = bytes(pkt.payload())
        ports = self.ports.get(pkt.proto)
        if ports is not None:
            candidates = ports.candidates(pkt.sport, pkt.dport, payload)
        else:
            candidates = (self.groups.get(pkt.proto) or self.groups[-1]).candidates(payload)
        buffers = {DEFAULT_BUFFER: payload, "raw_data": payload}.get
        for rule in candidates:
            if _endpoints_match(rule, pkt.src, pkt.sport, pkt.dst, pkt.dport):
                self._evaluate(rule, pkt, flow, to_server, buffers)

    def on_section(
        self, flow: Flow, to_server: bool, section: str, buffers: Callable[[str], bytes | None]
    ) -> None:
        """An HTTP message section completed: evaluate the rules that read its buffers. The packet
        being processed is the one that completed it."""
        pkt = self.host.current_packet
        src, dst, sport, dport = flow.src, flow.dst, flow.sport, flow.dport
        if not to_server:
            src, dst, sport, dport = dst, src, dport, sport
        for rule in self.sections[section].candidates(buffers):
            if _endpoints_match(rule, src, sport, dst, dport):
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
        if body.noalert or not self._filters_pass(rule, pkt):
            return
        flow.alerted = True
        self.alerts += 1
        self.host.emit(AlertEvent(flow, pkt.ts, pkt.pcap_cnt, to_server, rule))

    def _filters_pass(self, rule: Rule, pkt: Packet) -> bool:
        """detection_filter and threshold: whether this match alerts."""
        return all(
            self.rates.alerts(f, pkt.src, pkt.dst, pkt.ts)
            for f in rule.body.filters
            if isinstance(f, DetectionFilter | Threshold)
        )

    def on_flow_end(self, flow: Flow) -> None:
        self.ruleset.flowbits.forget(flow)
