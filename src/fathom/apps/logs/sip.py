"""The EVE ``sip`` log: one event per SIP message, as Suricata writes it (``rust/src/sip/log.rs``,
with the message grammar of ``rust/src/sip/parser.rs``).

Like Suricata, the parser reads requests from the client and responses from the server, with
Suricata's strict RFC 3261 grammar: a start line of its token characters, header fields ending
in CRLF, then the blank line. A request logs its method, Request-URI and version, a response
its version, status code and reason phrase; each also logs its start line as Suricata's
``request_line``/``response_line`` (the leading run of reason-phrase characters). Suricata also
logs a message's SDP body; this log does not.

One datagram of a UDP flow is one message, its body the rest of the datagram; a datagram that
is not a message (a keep-alive, a message the other way) gives no event, and the flow's next one
is read, as in Suricata. On TCP a message's body is as long as its Content-Length says (RFC 3261
18.3; read as :func:`fathom.apps.sip.content_length` reads it) and is skipped, not kept, where
Suricata would read the body as the next message; bytes that are not a message end the log of
the flow, as they end Suricata's.
"""

from __future__ import annotations

from typing import Any

from fathom.apps.logs.base import LogBody, LogParser
from fathom.apps.sip import content_length

# The longest start line and header section kept while waiting for the rest of it.
MAX_HEAD = 65536

_ALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN = _ALPHA | frozenset(b"0123456789!%'*+-._`~")
_URI = _TOKEN | frozenset(b"~#@:;=?+&$,/")
_VERSION = frozenset(b"0123456789.")
_REASON = _TOKEN | frozenset(b"$&(),/:;=?@[\\]^ ")
_VALUE = _TOKEN | frozenset(b'"#$&(),/;:<=>?@[]{}()^|~\\\t\n\r ')
_SPACE = frozenset(b" \t")
_KEYWORD = b"SIP/"
_CRLF = b"\r\n"


class _Incomplete(Exception):
    """The bytes so far are a message's beginning: more are needed."""


class _Malformed(Exception):
    """The bytes are not a message, whatever follows them."""


class _Reader:
    """Suricata's streaming grammar over ``data`` from ``pos``: a run that reaches the end of the
    bytes is incomplete, not complete, so the answer never depends on where a stream was cut."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def run(self, allowed: frozenset[int], at_least_one: bool = False) -> bytes:
        data, start = self.data, self.pos
        end = start
        while end < len(data) and data[end] in allowed:
            end += 1
        if end == len(data):
            raise _Incomplete
        if at_least_one and end == start:
            raise _Malformed
        self.pos = end
        return data[start:end]

    def literal(self, expected: bytes) -> None:
        have = self.data[self.pos : self.pos + len(expected)]
        if have != expected:
            raise _Incomplete if expected.startswith(have) else _Malformed
        self.pos += len(expected)

    def version(self) -> str:
        self.literal(_KEYWORD)
        return (_KEYWORD + self.run(_VERSION, at_least_one=True)).decode("ascii")

    def headers(self) -> None:
        """Header fields through the blank line that ends them."""
        while not self.data.startswith(_CRLF, self.pos):
            if self.data[self.pos :] == b"\r":
                raise _Incomplete
            self.run(_TOKEN)
            self.run(_SPACE)
            self.literal(b":")
            self.run(_SPACE)
            self.header_value()
            self.literal(_CRLF)
        self.pos += len(_CRLF)

    def header_value(self) -> None:
        """A header value, which continues on lines that start with a space or a tab; its
        trailing blanks are left for the CRLF after it, as Suricata leaves them."""
        data = self.data
        value_end = self.pos
        blanks = 0
        i = self.pos
        while i < len(data):
            octet = data[i]
            if octet == 0x0A:  # LF: a continuation line, or the value's end
                i += 1
                if i == len(data):
                    raise _Incomplete
                if data[i] in _SPACE:
                    i += 1
                    continue
                self.pos = value_end + blanks
                return
            if octet in _SPACE:
                blanks += 1
            elif octet != 0x0D:
                blanks = 0
                if octet not in _VALUE:
                    # Suricata waits for more bytes here, and no more bytes make it a message.
                    raise _Malformed
                value_end = i + 1
            i += 1
        raise _Incomplete


def _request(reader: _Reader) -> dict[str, Any]:
    method = reader.run(_ALPHA)
    reader.literal(b" ")
    uri = reader.run(_URI, at_least_one=True)
    reader.literal(b" ")
    version = reader.version()
    reader.literal(_CRLF)
    return {"method": method.decode("ascii"), "uri": uri.decode("ascii"), "version": version}


def _response(reader: _Reader) -> dict[str, Any]:
    version = reader.version()
    reader.literal(b" ")
    code = reader.data[reader.pos : reader.pos + 3]
    if len(code) < 3:
        raise _Incomplete
    try:
        code_text = code.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed from None
    reader.pos += 3
    reader.literal(b" ")
    reason = reader.run(_REASON)
    reader.literal(_CRLF)
    return {"version": version, "code": code_text, "reason": reason.decode("ascii")}


def _start_line(data: bytes, start: int) -> str | None:
    """Suricata's ``request_line``/``response_line``: the reason-phrase characters that begin
    the message (None when it begins with another)."""
    end = start
    while end < len(data) and data[end] in _REASON:
        end += 1
    return data[start:end].decode("ascii") if end > start else None


class SipLog(LogParser):
    """One flow's SIP messages, one event each: requests to the server, responses to the client."""

    __slots__ = ("_heads", "_skips")
    event_type = "sip"

    def __init__(self) -> None:
        super().__init__()
        # On TCP, per direction (to the server, to the client): the start of a message not yet
        # whole, and how many bytes of a body are still to come.
        self._heads = [b"", b""]
        self._skips = [0, 0]

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if not self.stream:
            found = _message(data, 0, to_server)
            return [found[0]] if isinstance(found, tuple) else []
        side = 0 if to_server else 1
        skip = min(self._skips[side], len(data))
        self._skips[side] -= skip
        buffer = self._heads[side] + data[skip:]
        self._heads[side] = b""
        events: list[LogBody] = []
        pos = 0
        while pos < len(buffer):
            found = _message(buffer, pos, to_server)
            if found is _Malformed:
                return events + self.fail("malformed_message")
            if not isinstance(found, tuple):
                if len(buffer) - pos > MAX_HEAD:
                    return events + self.fail("message_too_long")
                self._heads[side] = buffer[pos:]
                break
            event, head_end = found
            events.append(event)
            # The body, as long as Content-Length says: what is not here yet is skipped as it comes.
            body_end = head_end + (content_length(buffer[pos:head_end]) or 0)
            self._skips[side] = max(body_end - len(buffer), 0)
            pos = min(body_end, len(buffer))
        return events


def _message(data: bytes, pos: int, to_server: bool) -> tuple[LogBody, int] | type[_Incomplete | _Malformed]:
    """The event of the message at ``pos`` (a request when ``to_server``, else a response) and
    where its header section ends; or why there is none yet: _Incomplete or _Malformed."""
    reader = _Reader(data, pos)
    try:
        fields = _request(reader) if to_server else _response(reader)
        reader.headers()
    except (_Incomplete, _Malformed) as exc:
        return type(exc)
    line = _start_line(data, pos)
    if line is not None:
        fields["request_line" if to_server else "response_line"] = line
    return {"sip": fields}, reader.pos
