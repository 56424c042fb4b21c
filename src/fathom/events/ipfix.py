"""IPFIX export (RFC 7011): each ended flow as a data record to a UDP collector, with the
application that spoke in it.

One template per address family, in IANA's information elements: the flow's start and end
(milliseconds), its addresses and ports, protocol, initiator and responder packets and octets
(RFC 5103's biflow counters), the application name (nDPI's: the application behind the
protocol when known, else the protocol) and its category. Templates go in the first message and
again every ``TEMPLATE_EVERY`` messages, since UDP may lose them. Records are batched into
messages that fit one Ethernet frame.
"""

from __future__ import annotations

import socket
import struct
import time

from fathom.events.schema import Event, FlowEvent
from fathom.flow.flow import Flow

_VERSION = 10
_HEADER = struct.Struct("!HHIII")
_SET = struct.Struct("!HH")
_TEMPLATE_SET = 2
_TEMPLATE_V4, _TEMPLATE_V6 = 256, 257
_VARIABLE = 0xFFFF
# Bytes of IPFIX per message: room for the IP and UDP headers in a 1500-byte frame.
MAX_MESSAGE = 1400
TEMPLATE_EVERY = 64

# (information element id, length); the addresses differ by family.
_FIELDS_HEAD = ((152, 8), (153, 8))  # flowStartMilliseconds, flowEndMilliseconds
_ADDRESSES = {4: ((8, 4), (12, 4)), 6: ((27, 16), (28, 16))}  # source, destination
_FIELDS_TAIL = (
    (7, 2), (11, 2), (4, 1),  # sourceTransportPort, destinationTransportPort, protocolIdentifier
    (298, 8), (299, 8), (231, 8), (232, 8),  # initiator/responder packets, initiator/responder octets
    (96, _VARIABLE), (372, _VARIABLE),  # applicationName, applicationCategoryName
)  # fmt: skip
_FIXED = struct.Struct("!QQ")
_TAIL = struct.Struct("!HHBQQQQ")


def _template(template_id: int, version: int) -> bytes:
    fields = (*_FIELDS_HEAD, *_ADDRESSES[version], *_FIELDS_TAIL)
    return struct.pack("!HH", template_id, len(fields)) + b"".join(struct.pack("!HH", *f) for f in fields)


_TEMPLATES = _template(_TEMPLATE_V4, 4) + _template(_TEMPLATE_V6, 6)
# A message's bytes besides its data records: header, template set, a data set per template.
_OVERHEAD = _HEADER.size + 3 * _SET.size + len(_TEMPLATES)


def _text(value: str) -> bytes:
    data = value.encode("utf-8", "replace")[:254]
    return bytes([len(data)]) + data


def flow_record(flow: Flow) -> tuple[int, bytes]:
    """The template id and data record of an ended flow."""
    app = flow.app
    name = "Unknown" if app is None else app.application or app.protocol
    category = "Unknown" if app is None else app.category
    counts = (flow.pkts_ts, flow.pkts_tc, flow.bytes_ts, flow.bytes_tc)
    record = (
        _FIXED.pack(int(flow.start * 1000), int(flow.last * 1000))
        + flow.src
        + flow.dst
        + _TAIL.pack(flow.sport, flow.dport, flow.proto, *counts)
        + _text(name)
        + _text(category)
    )
    return (_TEMPLATE_V4 if flow.ip_version == 4 else _TEMPLATE_V6), record


class IpfixExporter:
    """An event sink sending flow records to the collector at ``host``:``port`` over UDP. Sending
    never stops the analysis: a message the network refuses is counted in ``send_errors``."""

    def __init__(self, host: str, port: int, observation_domain: int = 1) -> None:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.connect((host, port))
        self.domain = observation_domain
        # Data records waiting, per template.
        self._pending: dict[int, list[bytes]] = {_TEMPLATE_V4: [], _TEMPLATE_V6: []}
        self._pending_bytes = 0
        self.messages = 0
        self.records = 0
        self.send_errors = 0

    def emit(self, event: Event) -> None:
        if not isinstance(event, FlowEvent):
            return
        template, record = flow_record(event.flow)
        if self._pending_bytes + len(record) + _OVERHEAD > MAX_MESSAGE:
            self.flush()
        self._pending[template].append(record)
        self._pending_bytes += len(record)

    def flush(self) -> None:
        """Send the records waiting, in one message."""
        sets = b""
        if self.messages % TEMPLATE_EVERY == 0:
            sets += _SET.pack(_TEMPLATE_SET, _SET.size + len(_TEMPLATES)) + _TEMPLATES
        sent = 0
        for template, records in self._pending.items():
            if records:
                body = b"".join(records)
                sets += _SET.pack(template, _SET.size + len(body)) + body
                sent += len(records)
                records.clear()
        self._pending_bytes = 0
        if not sent and self.messages:
            return
        sequence = self.records & 0xFFFFFFFF
        header = _HEADER.pack(_VERSION, _HEADER.size + len(sets), int(time.time()), sequence, self.domain)
        try:
            self._socket.send(header + sets)
        except OSError:
            self.send_errors += 1
        self.messages += 1
        self.records += sent

    def close(self) -> None:
        self.flush()
        self._socket.close()
