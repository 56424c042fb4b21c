"""Rules filed for lookup: the groups a packet or an HTTP section is evaluated against, each with
a Hyperscan database of its rules' fast patterns.

Rules are grouped as Snort groups them: by IP protocol and, for TCP and UDP, by the service port
a rule names (its destination ports, else its source ports; rules for any port form a group of
their own), and by the services they name. Within a group, each rule's fast pattern (its longest
positive content in the data, or the one marked ``fast_pattern``) goes into one Hyperscan
database; the data is scanned once per group, and only the rules whose fast pattern occurs are
candidates, plus those that have none. HTTP rules are filed by the message sections their
buffers belong to, with one database per buffer.

An index is built once per ruleset and shared by every packet path; it pickles (Hyperscan
databases as their serialized form), which is what the rule cache stores.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from operator import attrgetter
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
from fathom.apps.sip import SIP_BUFFERS
from fathom.apps.tls_state import SSL_FLAGS_BUFFER
from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Packet
from fathom.flow.flow import Flow
from fathom.rules.evaluate import match_payload
from fathom.rules.loader import Rule, Ruleset
from fathom.rules.options.base import DEFAULT_BUFFER, MatchState
from fathom.rules.options.buffers import BASE64_BUFFER
from fathom.rules.options.content import Content
from fathom.rules.options.header import FlagsTest, IpProtoTest

# Buffers a packet provides by itself; the others come from inspectors.
_PACKET_BUFFERS = frozenset((DEFAULT_BUFFER, "raw_data"))
# What rules on packet data may read: the packet's buffers, what base64_decode made of them, and
# the SIP and SSL inspectors' findings.
_DATA_BUFFERS = _PACKET_BUFFERS | {"base64_data", SSL_FLAGS_BUFFER, *SIP_BUFFERS}
_IP_PROTOCOLS = {"tcp": (PROTO_TCP,), "udp": (PROTO_UDP,), "icmp": (PROTO_ICMP, PROTO_ICMPV6)}
_ALL = (PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, -1)


def fast_pattern(rule: Rule, buffers: Container[str] | None = _PACKET_BUFFERS) -> Content | None:
    """The content a rule is found by, among its positive contents in ``buffers`` (None: in any
    buffer the data has, so not base64_data, which a rule option makes): the one marked
    fast_pattern, else the longest."""
    contents = [
        o
        for o in rule.body.payload
        if isinstance(o, Content)
        and not o.negated
        and (o.buffer != BASE64_BUFFER if buffers is None else o.buffer in buffers)
    ]
    marked = [c for c in contents if c.fast_pattern]
    if marked:
        return marked[0]
    return max(contents, key=lambda c: len(c.pattern), default=None)


def _literal(pattern: bytes) -> bytes:
    """A Hyperscan expression matching ``pattern`` literally."""
    return b"".join(b"\\x%02x" % byte for byte in pattern)


_ORDER = attrgetter("order")
# Combinations of groups, flags and service whose empty-data candidates are remembered.
_MAX_ON_EMPTY = 65536

# A rule naming more ports than this goes into the group for any port, as Snort's port groups do.
_MAX_GROUP_PORTS = 1024


class PortGroups:
    """The rules of TCP or UDP, filed by the service port they name: a packet is evaluated against
    the group of its destination port, the group of its source port and the rules for any port
    (see :meth:`RuleIndex.candidates`)."""

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


def _shared_group(rules: list[Rule], shared: dict[tuple[int, ...], RuleGroup]) -> RuleGroup:
    key = tuple(id(rule) for rule in rules)
    group = shared.get(key)
    if group is None:
        group = shared[key] = RuleGroup(rules)
    return group


class RuleGroup:
    """Rules with a Hyperscan database of their fast patterns in ``buffers``; those without one
    are candidates always, and on empty data only those whose payload options pass on it."""

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
        self.on_empty = [rule for rule in self.always if _matches_empty(rule)]
        # For TCP: by flags byte, (always, on_empty) less the rules whose ``flags`` fail on it.
        self.by_flags = _by_flags(self.always, self.on_empty)
        self.database: hyperscan.Database | None = None
        if expressions:
            self.database = hyperscan.Database()
            self.database.compile(
                expressions=expressions,
                ids=list(range(len(expressions))),
                elements=len(expressions),
                flags=flags,
            )

    def __getstate__(self) -> dict[str, object]:
        database = None if self.database is None else hyperscan.dumpb(self.database)
        return {**self.__dict__, "database": database}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if self.database is not None:
            self.database = hyperscan.loadb(cast(bytes, self.database), hyperscan.HS_MODE_BLOCK)
            self.database.scratch = hyperscan.Scratch(self.database)

    def candidates(self, payload: bytes, tcp_flags: int = -1) -> list[Rule]:
        """The rules worth evaluating on ``payload``, in ruleset order; ``tcp_flags`` is the TCP
        packet's flags byte (-1 for other protocols)."""
        if tcp_flags >= 0 and self.by_flags is not None:
            always, on_empty = self.by_flags[tcp_flags]
        else:
            always, on_empty = self.always, self.on_empty
        if not payload:
            return on_empty
        hits: list[int] = []
        if self.database is not None:
            self.database.scan(payload, match_event_handler=_collect, context=hits)
        if not hits:
            return always
        hits.sort()
        return always + [self.indexed[i] for i in hits]


def _by_flags(always: list[Rule], on_empty: list[Rule]) -> list[tuple[list[Rule], list[Rule]]] | None:
    """For each TCP flags byte, the rules of ``always`` and ``on_empty`` whose flags tests pass on
    it (None when no rule has one): header-only rules such as ``flags:S`` then cost nothing on the
    packets they cannot match."""
    if not any(isinstance(test, FlagsTest) for rule in always for test in rule.body.tests):
        return None
    pkt = Packet()
    pkt.proto = PROTO_TCP
    table: list[tuple[list[Rule], list[Rule]]] = []
    shared: dict[tuple[int, ...], tuple[list[Rule], list[Rule]]] = {}
    for flags in range(256):
        pkt.tcp_flags = flags
        passing = [rule for rule in always if _flags_pass(rule, pkt)]
        key = tuple(rule.order for rule in passing)
        if key not in shared:
            shared[key] = passing, [rule for rule in on_empty if rule in passing]
        table.append(shared[key])
    return table


def _flags_pass(rule: Rule, pkt: Packet) -> bool:
    flow = cast("Flow", None)  # flags tests read the packet alone
    return all(test.test(pkt, flow, True) for test in rule.body.tests if isinstance(test, FlagsTest))


def _matches_empty(rule: Rule) -> bool:
    """Whether the rule's payload options pass on empty data (a rule with none, ``isdataat:!1``,
    a negated content, ...): what a packet without payload needs evaluated."""
    return match_payload(rule.body.payload, _EMPTY_BUFFERS.get, MatchState())


_EMPTY_BUFFERS = {buffer: b"" for buffer in _PACKET_BUFFERS}


def _collect(rule_id: int, start: int, end: int, flags: int, hits: object) -> None:
    cast("list[int]", hits).append(rule_id)


SECTIONS_IN_ORDER = (REQUEST_HEADERS, REQUEST_BODY, RESPONSE_HEADERS, RESPONSE_BODY)
# Header and cookie buffers are the request's on the request side and the response's after it.
_BOTH_HEADERS = frozenset(("http_header", "http_raw_header", "http_cookie", "http_raw_cookie"))


def http_sections(rule: Rule) -> tuple[str, ...]:
    """The HTTP sections ``rule`` is evaluated on; empty when it reads no HTTP buffer, or reads one
    together with a buffer sections do not have (raw_data, another inspector's).

    Packet data read with HTTP buffers is a body's: Snort files an option on pkt_data in the body
    section (``PktDataOption::get_pdu_section`` in ips_pkt_data.cc, ``parse_rule_opt_end`` in
    parse_rule.cc) and a rule in the latest section of its options, and header sections have no
    packet data."""
    # base64_data holds what base64_decode took from another buffer: that one decides.
    bases = {buffer_base(option.buffer) for option in rule.body.payload} - {BASE64_BUFFER}
    if not bases - {DEFAULT_BUFFER} or not bases <= BUFFER_SECTION.keys() | {DEFAULT_BUFFER}:
        return ()
    if bases & {"file_data", DEFAULT_BUFFER}:
        # The body of either message, unless another buffer belongs to one of them only.
        if bases & {"http_stat_code", "http_stat_msg"}:
            return (RESPONSE_BODY,)
        return (REQUEST_BODY,) if "http_client_body" in bases else (REQUEST_BODY, RESPONSE_BODY)
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
        found.sort(key=_ORDER)
        return found


class RuleIndex:
    """A ruleset filed for detection: the groups of packet data by IP protocol and port, by
    service, and the HTTP rules by section; plus the rules left out, counted by reason."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.left_out: dict[str, int] = {}
        # By rule order: the length of the rule's fast pattern in any buffer (0 without one), by
        # which Snort orders the events of one inspection.
        self.pattern_lengths = [_pattern_length(rule) for rule in ruleset.rules]
        by_proto: dict[int, list[Rule]] = {proto: [] for proto in _ALL}
        by_service: dict[str, list[Rule]] = {}
        by_section: dict[str, list[Rule]] = {section: [] for section in SECTIONS_IN_ORDER}
        for rule in ruleset.rules:
            sections = http_sections(rule)
            if sections:
                for section in sections:
                    by_section[section].append(rule)
                continue
            reason = _unsupported(rule)
            if reason:
                self.left_out[reason] = self.left_out.get(reason, 0) + 1
                continue
            protocol = rule.header.protocol
            # As in Snort, a service's group holds its rules whatever their protocol.
            for service in rule.body.services:
                by_service.setdefault(service, []).append(rule)
            if protocol in _IP_PROTOCOLS or protocol == "ip":
                for proto in _IP_PROTOCOLS.get(protocol) or _ip_rule_protocols(rule):
                    by_proto[proto].append(rule)
        self.sections = {section: SectionGroup(rules) for section, rules in by_section.items()}
        self.ports = {proto: PortGroups(by_proto[proto]) for proto in (PROTO_TCP, PROTO_UDP)}
        self.groups = {
            proto: RuleGroup(rules) for proto, rules in by_proto.items() if proto not in self.ports
        }
        # Rules naming a service, found by it whatever the ports once the flow's service is known.
        self.services = {service: RuleGroup(rules) for service, rules in by_service.items()}
        # The candidates for empty data, which depend only on the groups, flags and service: most
        # packets carry no payload, and each combination is worked out once. Bounded (traffic
        # chooses the combinations): emptied when full, and counted.
        self._on_empty: dict[tuple[object, ...], list[Rule]] = {}
        self.on_empty_resets = 0

    def candidates(
        self, proto: int, sport: int, dport: int, payload: bytes, tcp_flags: int, service: str | None
    ) -> list[Rule]:
        """The rules worth evaluating on packet data: those of its ports (or IP protocol), and
        those of the flow's service once it is known."""
        ports = self.ports.get(proto)
        if ports is not None:
            dst, src = ports.by_dst.get(dport), ports.by_src.get(sport)
            groups: tuple[RuleGroup | None, ...] = (ports.generic, dst, src)
        else:
            groups = (self.groups.get(proto) or self.groups[-1],)
        by_service = self.services.get(service) if service is not None else None
        if payload:
            return _candidates(groups, by_service, payload, tcp_flags)
        key = (*groups, by_service, tcp_flags)
        found = self._on_empty.get(key)
        if found is None:
            if len(self._on_empty) >= _MAX_ON_EMPTY:
                self._on_empty.clear()
                self.on_empty_resets += 1
            found = self._on_empty[key] = _candidates(groups, by_service, payload, tcp_flags)
        return found

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_on_empty": {}}


def _candidates(
    groups: tuple[RuleGroup | None, ...], by_service: RuleGroup | None, payload: bytes, tcp_flags: int
) -> list[Rule]:
    found: list[Rule] = []
    for group in groups:
        if group is not None:
            found = found + group.candidates(payload, tcp_flags)
    if len(found) > 1:
        found.sort(key=_ORDER)
    if by_service is not None:
        found = _merge_candidates(found, by_service.candidates(payload, tcp_flags))
    return found


def _merge_candidates(first: list[Rule], second: list[Rule]) -> list[Rule]:
    """Two candidate lists as one, in ruleset order, each rule once."""
    if not second:
        return first
    if not first:
        return second
    merged = {id(rule): rule for rule in first}
    merged.update((id(rule), rule) for rule in second)
    return sorted(merged.values(), key=_ORDER)


def _pattern_length(rule: Rule) -> int:
    content = fast_pattern(rule, None)
    return 0 if content is None else len(content.pattern)


def _ip_rule_protocols(rule: Rule) -> tuple[int, ...]:
    """The protocol groups an ``ip`` rule belongs to: that of its ``ip_proto:N``, else all."""
    for test in rule.body.tests:
        if isinstance(test, IpProtoTest) and test.op == "=":
            return (test.proto if test.proto in _ALL else -1,)
    return _ALL


def _unsupported(rule: Rule) -> str:
    """Why the detect layer cannot evaluate ``rule`` yet; empty when it can."""
    if rule.header.action != "alert":
        return f"action {rule.header.action}"
    if rule.header.protocol == "file":
        return "file rule header"
    other = sorted({buffer_base(o.buffer) for o in rule.body.payload} - _DATA_BUFFERS)
    if not other:
        return ""
    if BUFFER_SECTION.keys() & other:
        return "raw_data with HTTP buffers"
    return f"{other[0]} buffer"
