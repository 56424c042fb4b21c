"""Where a service's TCP stream is cut into the PDUs that rules inspect, after Snort 3's splitters.

Once a flow's service has an inspector, Snort stops inspecting its TCP segments one by one and
inspects protocol data units instead: reassembled stream data, cut where the service's splitter
says a unit ends and flushed when the receiver acknowledges it. Each cutter here takes the
acknowledged bytes not yet flushed and returns how many of them to flush now (0: wait for more);
like Snort's splitters, a cutter flushes through the last complete unit it sees.

HTTP is cut by its own parser (message sections, :mod:`fathom.apps.http`); the other services with
an inspector in Snort's default configuration are cut here. A service without a cutter of its own
flushes whatever was acknowledged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fathom.decode.packet import PROTO_TCP, PROTO_UDP

# Takes the acknowledged, unflushed bytes; returns how many to flush now.
Cutter = Callable[[bytes], int]

# Snort's largest PDU (stream_tcp's max_pdu): a unit that grows past it is flushed in pieces.
MAX_PDU = 16384


def through_last_line(data: bytes) -> int:
    """Line protocols (FTP, Telnet, SMTP, POP3, IMAP): through the last CR or LF, as Snort's
    Telnet splitter does."""
    return max(data.rfind(b"\n"), data.rfind(b"\r")) + 1


def _framed(data: bytes, unit_length: Callable[[bytes, int], int | None]) -> int:
    """Through the last complete unit, where ``unit_length`` reads the length of the unit at an
    offset (None: too few bytes to tell). A header that cannot be a unit flushes everything."""
    off = 0
    while off < len(data):
        length = unit_length(data, off)
        if length is None or off + length > len(data):
            break
        if length <= 0:
            return len(data)
        off += length
    return off


def _tls_record(data: bytes, off: int) -> int | None:
    if len(data) - off < 5:
        return None
    if data[off] & 0x80:  # an SSLv2 record: two-byte header with the high bit set
        return ((data[off] & 0x7F) << 8 | data[off + 1]) + 2
    if not 20 <= data[off] <= 24:
        return -1
    return (data[off + 3] << 8 | data[off + 4]) + 5


def _dns_message(data: bytes, off: int) -> int | None:
    if len(data) - off < 2:
        return None
    return (data[off] << 8 | data[off + 1]) + 2


def _netbios_message(data: bytes, off: int) -> int | None:
    if len(data) - off < 4:
        return None
    return ((data[off + 1] & 1) << 16 | data[off + 2] << 8 | data[off + 3]) + 4


def _dcerpc_pdu(data: bytes, off: int) -> int | None:
    if len(data) - off < 10:
        return None
    if data[off] != 5:  # connection-oriented DCE/RPC version 5
        return -1
    low, high = data[off + 8], data[off + 9]
    # The data representation's first byte says the byte order: 0x10 is little-endian.
    return high << 8 | low if data[off + 4] & 0x10 else low << 8 | high


# A Content-Length header (or its compact form) at a line start, blank lines skipped, with the
# whitespace that ends its value; and the blank line that ends a SIP message's headers.
_SIP_LENGTH = re.compile(rb"\s*(?:content-length|l)[ \t]*:\s*(\d{1,9})(?=\s)", re.IGNORECASE)
_SIP_HEADERS_END = re.compile(rb"\r?\n\r?\n")


def _sip_message(data: bytes, off: int) -> int | None:
    """As Snort's SIP splitter reads a message: the line after the start line that gives its
    Content-Length, the blank line after it, then that many bytes. Without a length the message
    never ends (None)."""
    line = data.find(b"\n", off) + 1
    while line:
        found = _SIP_LENGTH.match(data, line)
        if found is not None:
            body = _SIP_HEADERS_END.search(data, found.end())
            return None if body is None else body.end() + int(found.group(1)) - off
        line = data.find(b"\n", line) + 1
    return None


def through_last_sip_message(data: bytes) -> int:
    return _framed(data, _sip_message)


def through_last_tls_record(data: bytes) -> int:
    return _framed(data, _tls_record)


def through_last_dns_message(data: bytes) -> int:
    return _framed(data, _dns_message)


def through_last_netbios_message(data: bytes) -> int:
    return _framed(data, _netbios_message)


def through_last_dcerpc_pdu(data: bytes) -> int:
    return _framed(data, _dcerpc_pdu)


def everything(data: bytes) -> int:
    return len(data)


# The services Snort's default configuration binds an inspector to, by Snort's service names,
# with how their streams are cut. HTTP is absent: its parser cuts it.
CUTTERS: dict[str, Cutter] = {
    "ftp": through_last_line,
    "telnet": through_last_line,
    "smtp": through_last_line,
    "pop3": through_last_line,
    "imap": through_last_line,
    "ssl": through_last_tls_record,
    "dns": through_last_dns_message,
    "netbios-ssn": through_last_netbios_message,
    "dcerpc": through_last_dcerpc_pdu,
    "sip": through_last_sip_message,
    **{
        service: everything
        for service in (
            "ssh", "dce_http_server", "dce_http_proxy", "dnp3", "modbus", "mms",
            "s7commplus", "cip", "iec104", "gtp", "sunrpc", "http2", "opcua",
        )
    },
}  # fmt: skip

# Server ports (by IP protocol) that Snort's default binder gives an inspector, for protocols its
# wizard cannot recognise. The inspector's service is then the flow's service to rules (Snort's
# snort_protocol_id), though not named in its alerts, and the wizard is not asked.
PORT_BOUND: dict[tuple[int, int], str] = {
    (PROTO_UDP, 53): "dns",
    (PROTO_TCP, 53): "dns",
    (PROTO_TCP, 111): "sunrpc",
    (PROTO_TCP, 502): "modbus",
    (PROTO_TCP, 2123): "gtp",
    (PROTO_TCP, 2152): "gtp",
    (PROTO_TCP, 3386): "gtp",
    (PROTO_TCP, 2404): "iec104",
    (PROTO_UDP, 2222): "cip",
    (PROTO_TCP, 4840): "opcua",
    (PROTO_TCP, 44818): "cip",
}
