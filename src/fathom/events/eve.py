"""EVE JSON: event records as Suricata writes them, and a line-oriented file sink."""

from __future__ import annotations

import socket
import sys
from typing import Any, BinaryIO

import orjson

from fathom.decode.packet import (
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_SCTP,
    PROTO_TCP,
    PROTO_UDP,
    proto_name,
    vlan_ids,
)
from fathom.events.timefmt import eve_timestamp
from fathom.flow.community_id import community_id_v1
from fathom.flow.flow import TCP_STATE_NAMES, Flow
from fathom.flow.flow_id import flow_id

Event = dict[str, Any]

_PORT_PROTOS = (PROTO_TCP, PROTO_UDP, PROTO_SCTP)
_TCP_FLAG_NAMES = ("fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr")
# Per flags byte: its hex text and the names of the bits set, as EVE's ``tcp`` object lists them.
_FLAGS_HEX = tuple(f"{flags:02x}" for flags in range(256))
_FLAGS_SET = tuple(
    tuple(n for bit, n in enumerate(_TCP_FLAG_NAMES) if flags & (1 << bit)) for flags in range(256)
)


def ip_text(addr: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)


def flow_community_id(flow: Flow) -> str:
    if flow.proto in (PROTO_ICMP, PROTO_ICMPV6):
        return community_id_v1(flow.src, flow.dst, max(flow.icmp_type, 0), max(flow.icmp_code, 0), flow.proto)
    return community_id_v1(flow.src, flow.dst, flow.sport, flow.dport, flow.proto)


def flow_header(flow: Flow, timestamp: float, event_type: str, interface: str | None = None) -> Event:
    """The fields every event about ``flow`` starts with."""
    cid = flow_community_id(flow)
    event: Event = {
        "timestamp": eve_timestamp(timestamp),
        "flow_id": flow_id(flow.serial, flow.start),
    }
    if interface is not None:
        event["in_iface"] = interface
    event["event_type"] = event_type
    if flow.vlan:
        event["vlan"] = vlan_ids(flow.vlan)
    event["src_ip"] = ip_text(flow.src)
    if flow.proto in _PORT_PROTOS:
        event["src_port"] = flow.sport
    event["dest_ip"] = ip_text(flow.dst)
    if flow.proto in _PORT_PROTOS:
        event["dest_port"] = flow.dport
    event["proto"] = proto_name(flow.proto)
    if flow.proto in (PROTO_ICMP, PROTO_ICMPV6) and flow.icmp_type >= 0:
        event["icmp_type"] = flow.icmp_type
        event["icmp_code"] = flow.icmp_code
    event["community_id"] = cid
    return event


def flow_event(flow: Flow, interface: str | None = None) -> Event:
    """The ``flow`` event written when a flow ends."""
    event = flow_header(flow, flow.last, "flow", interface)
    if flow.last_pcap_cnt:
        event["pcap_cnt"] = flow.last_pcap_cnt
    if flow.app_proto:
        event["app_proto"] = flow.app_proto
    event["flow"] = {
        "pkts_toserver": flow.pkts_ts,
        "pkts_toclient": flow.pkts_tc,
        "bytes_toserver": flow.bytes_ts,
        "bytes_toclient": flow.bytes_tc,
        "start": eve_timestamp(flow.start),
        "end": event["timestamp"],
        "age": int(flow.last - flow.start),
        "state": "bypassed" if flow.bypassed else flow.state_name,
        "reason": flow.end_reason,
        "alerted": flow.alerted,
    }
    if flow.proto == PROTO_TCP:
        both = flow.tcp_flags_ts | flow.tcp_flags_tc
        tcp: dict[str, Any] = {
            "tcp_flags": _FLAGS_HEX[both],
            "tcp_flags_ts": _FLAGS_HEX[flow.tcp_flags_ts],
            "tcp_flags_tc": _FLAGS_HEX[flow.tcp_flags_tc],
        }
        for name in _FLAGS_SET[both]:
            tcp[name] = True
        tcp["state"] = TCP_STATE_NAMES[flow.tcp_state]
        if flow.midstream:
            tcp["midstream"] = True
        event["tcp"] = tcp
    return event


class EveWriter:
    """Writes one JSON object per line to a file, or to stdout for ``-``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._own = path != "-"
        self._out: BinaryIO = open(path, "wb") if self._own else sys.stdout.buffer  # noqa: SIM115
        self.count = 0

    def emit(self, event: Event) -> None:
        self._out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        if self._own:
            self._out.close()
        else:
            self._out.flush()
