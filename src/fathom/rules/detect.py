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

Not yet here: rules on the HTTP inspector's buffers and service rules (they wait for the
application layer), and evaluation of reassembled TCP data at Snort's flush points; such rules
are left out of the groups and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import hyperscan

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


def fast_pattern(rule: Rule) -> Content | None:
    """The content a rule is found by: the one marked fast_pattern, else the longest positive one."""
    contents = [
        o
        for o in rule.body.payload
        if isinstance(o, Content) and not o.negated and o.buffer in _PACKET_BUFFERS
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
    """The rules of one IP protocol, with a Hyperscan database of their fast patterns."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.always: list[Rule] = []
        self.indexed: list[Rule] = []
        expressions: list[bytes] = []
        flags: list[int] = []
        for rule in rules:
            content = fast_pattern(rule)
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


def _header_matches(rule: Rule, pkt: Packet) -> bool:
    header = rule.header
    if (
        header.source.contains(pkt.src)
        and header.source_ports.contains(pkt.sport)
        and header.destination.contains(pkt.dst)
        and header.destination_ports.contains(pkt.dport)
    ):
        return True
    return (
        header.bidirectional
        and header.source.contains(pkt.dst)
        and header.source_ports.contains(pkt.dport)
        and header.destination.contains(pkt.src)
        and header.destination_ports.contains(pkt.sport)
    )


class DetectLayer(Layer):
    def __init__(self, host: LayerHost, ruleset: Ruleset) -> None:
        self.host = host
        self.ruleset = ruleset
        self.rates = RateTracker()
        # Rules that need what this layer cannot give yet, by reason.
        self.left_out: dict[str, int] = {}
        by_proto: dict[int, list[Rule]] = {proto: [] for proto in _ALL}
        for rule in ruleset.rules:
            reason = self._unsupported(rule)
            if reason:
                self.left_out[reason] = self.left_out.get(reason, 0) + 1
                continue
            for proto in _IP_PROTOCOLS.get(rule.header.protocol, _ALL):
                by_proto[proto].append(rule)
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
            if not _header_matches(rule, pkt):
                continue
            body = rule.body
            if not all(test.test(pkt, flow, to_server) for test in body.tests):
                continue
            if body.payload and not match_payload(body.payload, buffers, MatchState()):
                continue
            for action in body.actions:
                action.apply(flow)
            if body.noalert or not self._filters_pass(rule, pkt):
                continue
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
