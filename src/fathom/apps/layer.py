"""The ``app`` layer: which service a flow speaks, and its HTTP transactions section by section.

The service comes from the payload (:mod:`fathom.apps.wizard`) and is published as the flow's
``app_proto``, in Suricata's names. Every TCP flow's streams also go to an HTTP parser until the
wizard names another service or the parser gives up, so that no HTTP byte is missed while the
service is still unknown. Each completed HTTP section goes to the section handler (the detect
layer) with that section's buffers when the receiver acknowledges its last byte, as Snort's
stream reassembly flushes in IDS mode: the acknowledging packet is the one alerts name. Sections
of a stream whose start is unknown (picked up mid-stream) go at once.
"""

from __future__ import annotations

from collections.abc import Callable

from fathom.apps.http import HttpConnection, HttpEvent, RequestBody, RequestHeaders, ResponseBody
from fathom.apps.http_buffers import (
    REQUEST_BODY,
    REQUEST_HEADERS,
    RESPONSE_BODY,
    RESPONSE_HEADERS,
    section_buffers,
)
from fathom.apps.wizard import ServiceWizard, WizardState
from fathom.decode.packet import PROTO_TCP, TH_ACK, Buffer, Packet
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.host import LayerHost

# Snort's service names where Suricata's app_proto differs.
_APP_PROTO = {"ssl": "tls", "netbios-ssn": "smb", "dce_tcp": "dcerpc", "dce_udp": "dcerpc"}

# Receives one completed HTTP section: the flow, the direction that completed it, the section's
# name and its buffer lookup.
SectionHandler = Callable[[Flow, bool, str, Callable[[str], bytes | None]], None]


# A completed section waiting for its acknowledgement: direction, stream offset after its last
# byte, the section and its buffers.
_Pending = tuple[bool, int, str, Callable[[str], bytes | None]]


class AppState:
    __slots__ = ("http", "pending", "wizard")

    def __init__(self) -> None:
        self.wizard = WizardState()
        self.http: HttpConnection | None = HttpConnection()
        self.pending: list[_Pending] = []


def _section(event: HttpEvent) -> str:
    if isinstance(event, RequestHeaders):
        return REQUEST_HEADERS
    if isinstance(event, RequestBody):
        return REQUEST_BODY
    if isinstance(event, ResponseBody):
        return RESPONSE_BODY
    return RESPONSE_HEADERS


class AppLayer(Layer):
    def __init__(self, host: LayerHost, on_section: SectionHandler) -> None:
        self.slot = host.new_slot("app", AppState)
        self.wizard = ServiceWizard()
        self.on_section = on_section

    def _state(self, flow: Flow) -> AppState:
        state = self.slot.get(flow)
        if state is None:
            state = AppState()
            self.slot.set(flow, state)
        return state

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        if pkt.proto != PROTO_TCP:
            if pkt.payload_len and flow.app_proto is None:
                self._identify(flow, self._state(flow), to_server, pkt.payload(), pkt.proto)
            return
        if pkt.tcp_flags & TH_ACK:
            state = self.slot.get(flow)
            if state is not None and state.pending:
                self._acknowledged(flow, state, not to_server, pkt.ack)

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        state = self._state(flow)
        data = memoryview(buf)[off : off + length]
        if flow.app_proto is None:
            self._identify(flow, state, to_server, data, PROTO_TCP)
        http = state.http
        if http is None:
            return
        for event in http.feed(to_server, data):
            self._deliver(flow, event)
        if http.stopped(True) and http.stopped(False):
            state.http = None

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        state = self.slot.get(flow)
        if state is not None and state.http is not None:
            for event in state.http.gap(to_server, length):
                self._deliver(flow, event)

    def on_flow_end(self, flow: Flow) -> None:
        state = self.slot.get(flow)
        if state is None:
            return
        if state.http is not None:
            for event in state.http.end():
                self._deliver(flow, event)
        for to_server, _, section, buffers in state.pending:
            self.on_section(flow, to_server, section, buffers)
        state.pending.clear()
        if flow.app_proto is None:
            self._publish(flow, self.wizard.finish(state.wizard, flow.proto, flow.sport, flow.dport))

    def _identify(self, flow: Flow, state: AppState, to_server: bool, data: memoryview, proto: int) -> None:
        service = self.wizard.observe(state.wizard, to_server, data, proto, flow.sport, flow.dport)
        if service is not None:
            self._publish(flow, service)
            if service != "http":
                state.http = None

    @staticmethod
    def _publish(flow: Flow, service: str | None) -> None:
        if service is not None:
            flow.app_proto = _APP_PROTO.get(service, service)

    def _deliver(self, flow: Flow, event: HttpEvent) -> None:
        section = _section(event)
        buffers = section_buffers(event.transaction, section)
        first = flow.first_seq_ts if event.to_server else flow.first_seq_tc
        state = self.slot.get(flow)
        if first < 0 or state is None:
            self.on_section(flow, event.to_server, section, buffers)
        else:
            state.pending.append((event.to_server, event.offset, section, buffers))

    def _acknowledged(self, flow: Flow, state: AppState, sender_to_server: bool, ack: int) -> None:
        """The receiver acknowledged the sender's stream up to ``ack``: deliver the sections it
        covers, in order."""
        first = flow.first_seq_ts if sender_to_server else flow.first_seq_tc
        acked = (ack - first) & 0xFFFFFFFF
        due = [p for p in state.pending if p[0] == sender_to_server and p[1] <= acked]
        if not due:
            return
        state.pending = [p for p in state.pending if p[0] != sender_to_server or p[1] > acked]
        for to_server, _, section, buffers in due:
            self.on_section(flow, to_server, section, buffers)
