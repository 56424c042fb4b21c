"""The EVE ``dhcp`` log: one event per DHCP (BOOTP) message, as Suricata's extended DHCP logger
writes it (``rust/src/dhcp/logger.rs``, with its parser ``rust/src/dhcp/parser.rs``).

A message is the fixed BOOTP header (RFC 2131: 236 bytes, then the 4-byte magic cookie) and the
options after it (RFC 2132). As in Suricata, options are read until the END option or the first
one that does not fit, and the message is logged with what was read; when the Option Overload
option (52) says so, the ``file`` and then the ``sname`` field hold more options, read after the
others. Fields are written in the order their options come, so an option given twice is written
as its last value says, where a reader of Suricata's (duplicate-keyed) JSON sees the same.

A datagram too short for the header is not a DHCP message: like Suricata, the parser writes no
event for it and goes on with the flow's next datagram.
"""

from __future__ import annotations

import struct
from typing import Any

from fathom.apps.logs.base import LogBody, LogParser

# op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file.
_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
# The header and the magic cookie, which Suricata reads but does not check.
_HEADER_LENGTH = _HEADER.size + 4
_U32 = struct.Struct("!I")

_BOOTP_REQUEST = 1
_BOOTP_REPLY = 2

_OPT_SUBNET_MASK = 1
_OPT_ROUTERS = 3
_OPT_DNS_SERVER = 6
_OPT_HOSTNAME = 12
_OPT_REQUESTED_IP = 50
_OPT_ADDRESS_TIME = 51
_OPT_OVERLOAD = 52
_OPT_TYPE = 53
_OPT_PARAMETER_LIST = 55
_OPT_RENEWAL_TIME = 58
_OPT_REBINDING_TIME = 59
_OPT_VENDOR_CLASS_ID = 60
_OPT_CLIENT_ID = 61
_OPT_END = 255

# Option Overload values: which header fields hold options.
_OVERLOAD_FILE = 0x01
_OVERLOAD_SNAME = 0x02

_TIME_FIELDS = {
    _OPT_ADDRESS_TIME: "lease_time",
    _OPT_RENEWAL_TIME: "renewal_time",
    _OPT_REBINDING_TIME: "rebinding_time",
}
_MESSAGE_TYPES = {
    1: "discover",
    2: "offer",
    3: "request",
    4: "decline",
    5: "ack",
    6: "nak",
    7: "release",
    8: "inform",
}
# The parameters Suricata names in ``params``; it leaves the others out.
_PARAMETERS = {
    1: "subnet_mask",
    3: "router",
    6: "dns_server",
    15: "domain",
    35: "arp_timeout",
    42: "ntp_server",
    66: "tftp_server_name",
    150: "tftp_server_ip",
}


def _address(data: bytes) -> str:
    """An address as Suricata's ``dns_print_addr`` writes it: dotted for 4 bytes, eight groups of
    four hex digits for 16, and empty for any other length."""
    if len(data) == 4:
        return ".".join(str(octet) for octet in data)
    if len(data) == 16:
        return ":".join(data[i : i + 2].hex() for i in range(0, 16, 2))
    return ""


def _addresses(data: bytes) -> list[str]:
    # Whole 4-byte addresses only; at most 63, as an option holds at most 255 bytes.
    return [_address(data[i : i + 4]) for i in range(0, len(data) - 3, 4)]


def _hex_pairs(data: bytes) -> str:
    return ":".join(f"{octet:02x}" for octet in data)


def _text(data: bytes) -> str:
    """Bytes as Suricata's ``set_string_from_bytes`` writes them: as they are when UTF-8, else
    each byte past ASCII as the four characters ``\\xNN``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(octet) if octet < 0x80 else f"\\x{octet:02x}" for octet in data)


class DhcpLog(LogParser):
    """One flow's DHCP messages, one event each (a UDP flow: each datagram is one message)."""

    __slots__ = ()
    event_type = "dhcp"

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        body = dhcp_body(data)
        return [] if body is None else [{"dhcp": body}]


def dhcp_body(data: bytes) -> dict[str, Any] | None:
    """The ``dhcp`` object for the message in ``data``; None when it is too short for a header."""
    if len(data) < _HEADER_LENGTH:
        return None
    op, _, hlen, _, xid, _, _, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file = _HEADER.unpack_from(data)
    body: dict[str, Any] = {
        "type": {_BOOTP_REQUEST: "request", _BOOTP_REPLY: "reply"}.get(op, "<unknown>"),
        "id": xid,
        "client_mac": _hex_pairs(chaddr[: min(hlen, len(chaddr))]),
        "assigned_ip": _address(yiaddr),
        "client_ip": _address(ciaddr),
    }
    if op == _BOOTP_REPLY:
        body["relay_ip"] = _address(giaddr)
        body["next_server_ip"] = _address(siaddr)
    overload = _read_options(data, _HEADER_LENGTH, body)
    if overload & _OVERLOAD_FILE:
        _read_options(file, 0, body)
    if overload & _OVERLOAD_SNAME:
        _read_options(sname, 0, body)
    return body


def _read_options(data: bytes, pos: int, body: dict[str, Any]) -> int:
    """Write the fields of the options in ``data`` from ``pos`` into ``body``, up to the END
    option or the first that does not fit; return the value of the first Option Overload (0:
    none)."""
    overload: int | None = None
    end = len(data)
    while pos < end:
        code = data[pos]
        if code == _OPT_END:
            break
        if pos + 2 > end:
            break
        length = data[pos + 1]
        if code in _TIME_FIELDS:
            # Suricata reads a time as the 4 bytes after the length, whatever the length says.
            if pos + 6 > end:
                break
            body[_TIME_FIELDS[code]] = _U32.unpack_from(data, pos + 2)[0]
            pos += 6
            continue
        if code == _OPT_CLIENT_ID and length < 2:
            break  # no room for the hardware type and an identifier: Suricata stops here
        if pos + 2 + length > end:
            break
        value = data[pos + 2 : pos + 2 + length]
        if code == _OPT_OVERLOAD and value and overload is None:
            overload = value[0]
        _write_option(code, value, body)
        pos += 2 + length
    return overload or 0


def _write_option(code: int, value: bytes, body: dict[str, Any]) -> None:
    if code == _OPT_CLIENT_ID:
        body["client_id"] = _hex_pairs(value[1:])  # after the hardware type
    elif code == _OPT_SUBNET_MASK:
        body["subnet_mask"] = _address(value)
    elif code == _OPT_HOSTNAME and value:
        body["hostname"] = _text(value)
    elif code == _OPT_TYPE and value:
        body["dhcp_type"] = _MESSAGE_TYPES.get(value[0], "unknown")
    elif code == _OPT_REQUESTED_IP:
        body["requested_ip"] = _address(value)
    elif code == _OPT_PARAMETER_LIST:
        body["params"] = [_PARAMETERS[p] for p in value if p in _PARAMETERS]
    elif code == _OPT_DNS_SERVER:
        body["dns_servers"] = _addresses(value)
    elif code == _OPT_ROUTERS:
        body["routers"] = _addresses(value)
    elif code == _OPT_VENDOR_CLASS_ID and value:
        body["vendor_class_identifier"] = _text(value)
