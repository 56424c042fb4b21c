"""Typed event records. Each builds its EVE JSON line once, on first use, and the same bytes go to
every sink; sinks that count (the summary, metrics) read the typed fields instead."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from fathom.decode.packet import PROTO_TCP
from fathom.events.eve import TCP_FLAGS_HEX, TCP_FLAGS_JSON, header_json, json_string
from fathom.events.timefmt import eve_timestamp
from fathom.flow.flow import STATE_NAMES, TCP_STATE_NAMES, Flow


class Event:
    """One event. Subclasses name their ``event_type`` and build their line in :meth:`render`."""

    __slots__ = ("_json", "iface", "in_iface")
    event_type: ClassVar[str]

    def __init__(self, iface: int = -1) -> None:
        self._json: bytes | None = None
        # Index of the capture interface the event came from (-1 when none), and its name when the
        # packet source knows it: the engine fills the name in.
        self.iface = iface
        self.in_iface: str | None = None

    def render(self) -> bytes:
        """The EVE JSON object, newline-terminated."""
        raise NotImplementedError

    def json(self) -> bytes:
        """The EVE JSON line, built once."""
        data = self._json
        if data is None:
            data = self._json = self.render()
        return data


class FlowScopedEvent(Event):
    """An event about one flow: it starts with the flow's addresses, ids and Community ID. Subclasses
    add their own members in :meth:`body`."""

    __slots__ = ("flow", "pcap_cnt", "timestamp", "to_server")

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int = 0, to_server: bool = True) -> None:
        # Event.__init__ inlined: one of these is made for every flow.
        self._json = None
        self.iface = flow.iface
        self.in_iface = None
        self.flow = flow
        self.timestamp = timestamp
        # The packet (1-based index in the capture file) that caused the event; 0 when none did.
        self.pcap_cnt = pcap_cnt
        # Which way that packet went: its source is the event's source.
        self.to_server = to_server

    def header(self) -> str:
        return header_json(
            self.flow,
            eve_timestamp(self.timestamp),
            self.event_type,
            self.in_iface,
            self.pcap_cnt,
            self.to_server,
        )

    def render(self) -> bytes:
        body = orjson.dumps(self.body())
        if body == b"{}":
            return self.header().encode() + b"}\n"
        return self.header().encode() + b"," + body[1:] + b"\n"

    def body(self) -> dict[str, Any]:
        return {}


class FlowEvent(FlowScopedEvent):
    """The ``flow`` event, written once when a flow ends: at its last packet."""

    __slots__ = ()
    event_type = "flow"

    def render(self) -> bytes:
        flow = self.flow
        end = eve_timestamp(flow.last)
        app = f',"app_proto":{json_string(flow.app_proto)}' if flow.app_proto else ""
        state = "bypassed" if flow.bypassed else STATE_NAMES[flow.state]
        alerted = "true" if flow.alerted else "false"
        header = header_json(flow, end, "flow", self.in_iface, self.pcap_cnt)
        line = (
            f'{header}{app},"flow":{{"pkts_toserver":{flow.pkts_ts},"pkts_toclient":{flow.pkts_tc},'
            f'"bytes_toserver":{flow.bytes_ts},'
            f'"bytes_toclient":{flow.bytes_tc},"start":"{eve_timestamp(flow.start)}","end":"{end}",'
            f'"age":{int(flow.last - flow.start)},"state":"{state}","reason":"{flow.end_reason}",'
            f'"alerted":{alerted}}}'
        )
        if flow.proto == PROTO_TCP:
            line += _tcp_json(flow)
        return (line + "}\n").encode()


def _tcp_json(flow: Flow) -> str:
    both = flow.tcp_flags_ts | flow.tcp_flags_tc
    midstream = ',"midstream":true' if flow.midstream else ""
    return (
        f',"tcp":{{"tcp_flags":"{TCP_FLAGS_HEX[both]}","tcp_flags_ts":"{TCP_FLAGS_HEX[flow.tcp_flags_ts]}",'
        f'"tcp_flags_tc":"{TCP_FLAGS_HEX[flow.tcp_flags_tc]}"{TCP_FLAGS_JSON[both]},'
        f'"state":"{TCP_STATE_NAMES[flow.tcp_state]}"{midstream}}}'
    )
