"""SIP messages as Snort 3's SIP inspector shows them to rules (``sip_parser.cc``): the request's
method or the response's status code, the header section and the body of one datagram or PDU.

Parsing follows Snort where it is lenient: a request's method is whatever precedes the first
space even when the rest of its start line is bad, and a status code outside 100-999 counts as
1000. Header and body exist only when the start line is good (and names a known method).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Snort's default ``sip.methods``.
METHODS = frozenset(
    b"INVITE CANCEL ACK BYE REGISTER OPTIONS REFER SUBSCRIBE UPDATE JOIN INFO MESSAGE NOTIFY PRACK "
    b"PUBLISH REPLACE".split()
)
_KEYWORD = b"SIP/"
# "SIP/2.0": a start line is at least this long.
_MIN_START_LINE = 7
_BAD_STATUS = 1000
_STATUS = re.compile(rb"[ \t\n\v\f\r]*\+?(\d+)")
# The buffers of :func:`sip_buffers`.
SIP_BUFFERS = ("sip_method", "sip_stat_code", "sip_header", "sip_body")
_CONTENT_LENGTH = re.compile(rb"(?:content-length|l)[ \t]*:[ \t]*(\d+)", re.IGNORECASE)
# The digits of a Content-Length read as they are; a longer one says more than any message holds.
_LENGTH_DIGITS = 18


@dataclass(frozen=True, slots=True)
class SipMessage:
    # The request's method as sent; None for a response.
    method: bytes | None
    # The response's status code (1000 when out of range); 0 for a request.
    status_code: int
    # The start line and headers through the blank line; empty when the start line is bad.
    header: bytes
    body: bytes


def parse_sip(data: bytes) -> SipMessage | None:
    """The message at the start of ``data``; None when it has no start line Snort accepts."""
    line_end, breaks = _line_break(data, 0)
    if line_end < 0 or line_end - breaks < _MIN_START_LINE:
        return None
    if data.startswith(_KEYWORD):
        space = data.find(b" ", 0, line_end)
        if space < 0:
            return None
        found = _STATUS.match(data, space + 1)
        code = int(found.group(1)) if found else 0
        status = code if 100 <= code <= 999 else _BAD_STATUS
        return _with_sections(SipMessage(None, status, b"", b""), data, line_end)
    space = data.find(b" ")
    if space < 0:
        return None
    method = data[:space]
    request = SipMessage(method, 0, b"", b"")
    uri_end = data.find(b" ", space + 1)
    if uri_end < 0 or not data.startswith(_KEYWORD, uri_end + 1) or method.upper() not in METHODS:
        return request
    return _with_sections(request, data, line_end)


def _with_sections(message: SipMessage, data: bytes, start_line_end: int) -> SipMessage:
    """``message`` with its header (through the blank line that ends it, else through the start
    line) and its body (as long as Content-Length says, at most what is there)."""
    header_end = start_line_end
    length = -1
    pos = start_line_end
    while True:
        line_end, breaks = _line_break(data, pos)
        if line_end < 0:
            break
        line = data[pos : line_end - breaks]
        if not line:
            header_end = line_end
            break
        field = _CONTENT_LENGTH.match(line)
        if field is not None:
            length = _declared_length(field.group(1))
        pos = line_end
    rest = data[header_end:]
    body = rest[:length] if 0 <= length <= len(rest) else rest
    return SipMessage(message.method, message.status_code, data[:header_end], body)


def content_length(header: bytes) -> int | None:
    """The body length a message's header section declares (its start line may come with it):
    its last Content-Length field, read as :func:`parse_sip` reads it; None when there is none."""
    length = None
    pos = 0
    while True:
        line_end, breaks = _line_break(header, pos)
        if line_end < 0:
            return length
        field = _CONTENT_LENGTH.match(header, pos, line_end - breaks)
        if field is not None:
            length = _declared_length(field.group(1))
        pos = line_end


def _declared_length(digits: bytes) -> int:
    """A Content-Length value, at most 10**18: more digits say more than any message holds (and
    int() refuses those past 4300)."""
    digits = digits.lstrip(b"0") or b"0"
    return int(digits) if len(digits) <= _LENGTH_DIGITS else 10**_LENGTH_DIGITS


def _line_break(data: bytes, start: int) -> tuple[int, int]:
    """(end of the line at ``start`` past its break, length of the break): a CR, an LF or a CRLF;
    (-1, 0) when the line has no break."""
    cr = data.find(b"\r", start)
    lf = data.find(b"\n", start)
    if cr < 0 and lf < 0:
        return -1, 0
    if cr < 0 or 0 <= lf < cr:
        return lf + 1, 1
    if lf == cr + 1:
        return cr + 2, 2
    return cr + 1, 1


def sip_buffers(data: bytes) -> dict[str, bytes]:
    """The buffers SIP rule options read for the message in ``data``: ``sip_method`` (requests),
    ``sip_stat_code`` (responses, in decimal), ``sip_header`` and ``sip_body`` when not empty."""
    message = parse_sip(data)
    if message is None:
        return {}
    found = {"sip_header": message.header, "sip_body": message.body}
    if message.method is not None:
        found["sip_method"] = message.method
    else:
        found["sip_stat_code"] = str(message.status_code).encode()
    return {name: value for name, value in found.items() if value}
