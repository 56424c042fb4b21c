"""EVE JSON as Suricata writes it: the fields every event about a flow starts with.

Events are written as text directly rather than through a dict and a JSON encoder: a flow event is
built for every flow, and this halves its cost. Every string that does not come from a fixed table
of ours (interface names, application names) goes through :func:`json_string`.
"""

from __future__ import annotations

import socket

import orjson

from fathom.decode.packet import (
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_SCTP,
    PROTO_TCP,
    PROTO_TEXT,
    PROTO_UDP,
    vlan_ids,
)
from fathom.flow.community_id import community_id_ports, community_id_v1
from fathom.flow.flow import Flow
from fathom.flow.flow_id import flow_id

_PORT_PROTOS = frozenset((PROTO_TCP, PROTO_UDP, PROTO_SCTP))
_ICMP_PROTOS = frozenset((PROTO_ICMP, PROTO_ICMPV6))
_TCP_FLAG_NAMES = ("fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr")
# Per flags byte: its hex text and the names of the bits set, as EVE's ``tcp`` object lists them.
TCP_FLAGS_HEX = tuple(f"{flags:02x}" for flags in range(256))
TCP_FLAGS_SET = tuple(
    tuple(n for bit, n in enumerate(_TCP_FLAG_NAMES) if flags & (1 << bit)) for flags in range(256)
)
# The same set as JSON members, e.g. ',"syn":true,"ack":true'.
TCP_FLAGS_JSON = tuple("".join(f',"{n}":true' for n in names) for names in TCP_FLAGS_SET)

# Address text by packed address: hosts recur across flows. Cleared when full, so bounded.
_IP_TEXT: dict[bytes, str] = {}
_IP_TEXT_MAX = 4096


def ip_text(addr: bytes) -> str:
    text = _IP_TEXT.get(addr)
    if text is None:
        if len(_IP_TEXT) >= _IP_TEXT_MAX:
            _IP_TEXT.clear()
        text = _IP_TEXT[addr] = socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)
    return text


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, quotes included."""
    return orjson.dumps(text).decode()


# What every event about a flow says about the flow: (serial, start, src, dst, sport, dport, proto,
# vlan, icmp_type, icmp_code), client first. Plain values, so the EVE writer process can take it.
FlowIdentity = tuple[int, float, bytes, bytes, int, int, int, int, int, int]


def flow_identity(flow: Flow) -> FlowIdentity:
    return (
        flow.serial,
        flow.start,
        flow.src,
        flow.dst,
        flow.sport,
        flow.dport,
        flow.proto,
        flow.vlan,
        flow.icmp_type,
        flow.icmp_code,
    )


def header_json(
    ident: FlowIdentity,
    timestamp: str,
    event_type: str,
    in_iface: str | None,
    pcap_cnt: int,
    to_server: bool = True,
) -> str:
    """The opening members of an event about the flow ``ident``, without the closing brace. The
    addresses are the flow's (client first) or, for an event about a packet to the client, the
    packet's."""
    serial, start, src, dst, sport, dport, proto, vlan, icmp_type, icmp_code = ident
    if proto in _PORT_PROTOS:
        community_id = community_id_ports(src, dst, sport, dport, proto)
        if not to_server:
            src, dst, sport, dport = dst, src, dport, sport
        ends = f'"src_ip":"{ip_text(src)}","src_port":{sport},"dest_ip":"{ip_text(dst)}","dest_port":{dport}'
    else:
        if proto in _ICMP_PROTOS:
            community_id = community_id_v1(src, dst, max(icmp_type, 0), max(icmp_code, 0), proto)
        else:
            community_id = community_id_v1(src, dst, 0, 0, proto)
        if not to_server:
            src, dst = dst, src
        ends = f'"src_ip":"{ip_text(src)}","dest_ip":"{ip_text(dst)}"'
    iface = "" if in_iface is None else f',"in_iface":{json_string(in_iface)}'
    vlans = f',"vlan":{vlan_ids(vlan)}'.replace(" ", "") if vlan else ""
    extra = ""
    if icmp_type >= 0 and proto in _ICMP_PROTOS:
        extra = f',"icmp_type":{icmp_type},"icmp_code":{icmp_code}'
    if pcap_cnt:
        extra += f',"pcap_cnt":{pcap_cnt}'
    return (
        f'{{"timestamp":"{timestamp}","flow_id":{flow_id(serial, start)}{iface},'
        f'"event_type":"{event_type}"{vlans},{ends},"proto":"{PROTO_TEXT[proto]}"{extra},'
        f'"community_id":"{community_id}"'
    )
