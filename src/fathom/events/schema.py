"""Typed event records. Each builds its EVE JSON line once, on first use, and the same bytes go to
every sink; sinks that count (the summary, metrics) read the typed fields instead.

For a sink in another process, :meth:`Event.record` gives the event as plain values: its line,
or for the flow event (one per flow, the bulk of the output) the values its line is made of, so
that the other process renders it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from fathom.decode.packet import PROTO_TCP
from fathom.events.eve import (
    TCP_FLAGS_HEX,
    TCP_FLAGS_JSON,
    FlowIdentity,
    flow_identity,
    header_json,
    json_string,
)
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

    def record(self) -> EventRecord:
        """The event as plain values, for a sink in another process: its line, or what
        :func:`render_record` makes it from."""
        return self.json()


class FlowScopedEvent(Event):
    """An event about one flow: it starts with the flow's addresses, ids and Community ID. Subclasses
    add their own members in :meth:`body`."""

    __slots__ = ("context", "flow", "pcap_cnt", "timestamp", "to_server")

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int = 0, to_server: bool = True) -> None:
        # Event.__init__ inlined: one of these is made for every flow.
        self._json = None
        self.iface = flow.iface
        self.in_iface = None
        # Members a sensor adds before the event is rendered (the endpoints it concerns).
        self.context: dict[str, Any] | None = None
        self.flow = flow
        self.timestamp = timestamp
        # The packet (1-based index in the capture file) that caused the event; 0 when none did.
        self.pcap_cnt = pcap_cnt
        # Which way that packet went: its source is the event's source.
        self.to_server = to_server

    def header(self) -> str:
        return header_json(
            flow_identity(self.flow),
            eve_timestamp(self.timestamp),
            self.event_type,
            self.in_iface,
            self.pcap_cnt,
            self.to_server,
        )

    def render(self) -> bytes:
        body = self.body()
        if self.context:
            body |= self.context
        return event_line(self.header(), body)

    def body(self) -> dict[str, Any]:
        return {}


def event_line(header: str, body: dict[str, Any]) -> bytes:
    """An event's line: the members :func:`header_json` opened, then ``body``'s."""
    members = orjson.dumps(body)
    if members == b"{}":
        return header.encode() + b"}\n"
    return header.encode() + b"," + members[1:] + b"\n"


# An event as plain values, for a sink in another process: its line, or a tuple whose first item
# names the function that renders it ("module:function"), which takes the whole tuple.
EventRecord = bytes | tuple[Any, ...]

FLOW_RENDERER = "fathom.events.schema:render_flow"
# A flow event as plain values: its renderer; the flow's identity; its last packet's time; the
# interface name and packet number; packets and bytes to server and to client; state and end
# reason; whether it alerted; what it speaks (app_proto, nDPI protocol, category and application,
# as a plain tuple); TCP flags to server and to client, TCP state and whether it started mid-stream.
FlowRecord = tuple[
    str, FlowIdentity, float, str | None, int, int, int, int, int, str, str, bool,
    tuple[str, str, str, str | None] | None, int, int, int, bool,
]  # fmt: skip


class FlowEvent(FlowScopedEvent):
    """The ``flow`` event, written once when a flow ends: at its last packet."""

    __slots__ = ()
    event_type = "flow"

    def record(self) -> FlowRecord:
        flow = self.flow
        app = flow.app
        return (
            FLOW_RENDERER,
            flow_identity(flow),
            flow.last,
            self.in_iface,
            self.pcap_cnt,
            flow.pkts_ts,
            flow.pkts_tc,
            flow.bytes_ts,
            flow.bytes_tc,
            "bypassed" if flow.bypassed else STATE_NAMES[flow.state],
            flow.end_reason,
            flow.alerted,
            None if app is None else (app.app_proto, app.protocol, app.category, app.application),
            flow.tcp_flags_ts,
            flow.tcp_flags_tc,
            flow.tcp_state,
            flow.midstream,
        )

    def render(self) -> bytes:
        return render_flow(self.record())


# Renderers by name, imported on first use.
_RENDERERS: dict[str, Callable[[Any], bytes]] = {}


def render_record(record: EventRecord) -> bytes:
    """The EVE line of an event given by :meth:`Event.record`."""
    if isinstance(record, bytes):
        return record
    name = record[0]
    render = _RENDERERS.get(name)
    if render is None:
        module, _, function = name.partition(":")
        render = _RENDERERS[name] = getattr(importlib.import_module(module), function)
    return render(record)


def _app_json(app_proto: str, protocol: str, category: str, application: str | None) -> str:
    named = "null" if application is None else json_string(application)
    return (
        f',"app_proto":{json_string(app_proto)},"app":{{"protocol":{json_string(protocol)},'
        f'"application":{named},"category":{json_string(category)}}}'
    )


def render_flow(record: FlowRecord) -> bytes:
    """The EVE line of a flow event."""
    (
        _, ident, last, in_iface, pcap_cnt, pkts_ts, pkts_tc, bytes_ts, bytes_tc, state, reason, alerted,
        app_name, flags_ts, flags_tc, tcp_state, midstream,
    ) = record  # fmt: skip
    start = ident[1]
    end = eve_timestamp(last)
    app = "" if app_name is None else _app_json(*app_name)
    line = (
        f'{header_json(ident, end, "flow", in_iface, pcap_cnt)}{app},"flow":{{"pkts_toserver":{pkts_ts},'
        f'"pkts_toclient":{pkts_tc},"bytes_toserver":{bytes_ts},"bytes_toclient":{bytes_tc},'
        f'"start":"{eve_timestamp(start)}","end":"{end}","age":{int(last - start)},"state":"{state}",'
        f'"reason":"{reason}","alerted":{"true" if alerted else "false"}}}'
    )
    if ident[6] == PROTO_TCP:
        both = flags_ts | flags_tc
        midstream_member = ',"midstream":true' if midstream else ""
        line += (
            f',"tcp":{{"tcp_flags":"{TCP_FLAGS_HEX[both]}","tcp_flags_ts":"{TCP_FLAGS_HEX[flags_ts]}",'
            f'"tcp_flags_tc":"{TCP_FLAGS_HEX[flags_tc]}"{TCP_FLAGS_JSON[both]},'
            f'"state":"{TCP_STATE_NAMES[tcp_state]}"{midstream_member}}}'
        )
    return (line + "}\n").encode()
