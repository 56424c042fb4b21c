"""A sans-IO HTTP/1.x parser for the two reassembled streams of one TCP connection.

Bytes go in (``feed``, ``gap``, ``end``) and typed events come out, each carrying the
``Transaction`` that pairs a request with its response. Semantics follow Snort 3's http_inspect:
its URI, header, cookie and true-IP buffers (see ``http_normalize``), its body framing and
decompression of gzip and deflate bodies. Nothing here raises on bad input: malformed traffic ends
the work on that direction with a counted reason, and every bound truncates and counts.

Counters (``HttpConnection.counters``): ``not_http``, ``bad_start_line``, ``bad_header_line``,
``bad_content_length``, ``bad_chunk_size``, ``chunk_too_long``, ``header_too_large``,
``too_many_headers``, ``body_truncated``, ``decompress_capped``, ``decompress_ratio``,
``decompress_failed``, ``decompress_error``, ``encoding_layers``, ``unknown_encoding``,
``pipeline_overflow``, ``response_without_request``, ``gap``, ``gap_abandoned``, ``tunnel``,
``incomplete_message``.
"""

from __future__ import annotations

import re
import weakref
import zlib
from collections import Counter
from dataclasses import dataclass

from fathom.apps.http_normalize import Uri, decode_percent, header_value, parse_uri, true_ip

# A request line, a status line, and what the first bytes of each may look like before the line ends.
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_METHOD = re.compile(rb"(" + _TOKEN + rb"+)[ \t]+")
_VERSION = re.compile(rb"HTTP/\d\.\d")
_STATUS_LINE = re.compile(rb"(HTTP/\d\.\d)[ \t]+(\d{3})(?:[ \t]+(.*))?")
_REQUEST_PREFIX = re.compile(_TOKEN + rb"{0,32}(?:[ \t]|\Z)")
_RESPONSE_PREFIX = re.compile(rb"HTTP/|H(?:T(?:T(?:P)?)?)?\Z")
_HEAD_END = re.compile(rb"\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;.*)?\r?")
# What a chunk-size line may start with: anything else breaks the chunking at once.
_CHUNK_SIZE_START = re.compile(rb"[ \t]*[0-9A-Fa-f]*[ \t]*(?:;.*)?\r?")
_CRLF = b"\r\n"
# A chunk-size line (with extensions) or trailer line longer than this is not HTTP.
_MAX_CHUNK_LINE = 4096

_DEFLATE_CODINGS = {b"gzip": 31, b"x-gzip": 31, b"deflate": 0}
_IGNORED_CODINGS = (b"", b"identity", b"chunked")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Bounds of one connection's parser. Snort 3 examines whole bodies by default
    (``request_depth``/``response_depth`` -1); here the body kept per message is bounded so memory
    is. ``max_chunk_length`` is Snort's default, ``max_layers`` Suricata's for the http-evader tests."""

    max_header_bytes: int = 65536
    max_headers: int = 200
    request_depth: int = 1 << 20
    response_depth: int = 1 << 20
    max_decompressed: int = 4 << 20
    max_ratio: int = 100
    ratio_floor: int = 65536
    max_layers: int = 3
    max_pipelined: int = 99
    max_chunk_length: int = 0xFFFFFFFF


DEFAULT_LIMITS = HttpLimits()
# For logs alone: bodies are framed and counted, not kept or decoded.
LOG_LIMITS = HttpLimits(request_depth=0, response_depth=0)


class Headers:
    """One message's header block: the fields as sent and the raw block. Snort's normalized
    ``http_header`` (no cookies) and cookie buffers are made when a rule first asks for them."""

    __slots__ = ("_buffers", "_cookie_name", "_first", "fields", "raw")

    def __init__(
        self,
        fields: list[tuple[bytes, bytes]] | None = None,
        raw: bytes = b"",
        cookie_name: bytes = b"cookie",
        first: dict[bytes, bytes] | None = None,
    ) -> None:
        self.fields = fields if fields is not None else []
        self.raw = raw
        self._cookie_name = cookie_name
        self._buffers: tuple[bytes, bytes, bytes] | None = None
        # The raw value of the first field of each name (lower case): given, or made when first
        # looked up.
        self._first = first

    def get(self, name: bytes) -> bytes | None:
        """The normalized value of the first field called ``name`` (lower case)."""
        first = self._first
        if first is None:
            first = self._first = first_fields(self.fields)
        found = first.get(name)
        return None if found is None else header_value(found)

    def values(self, name: bytes) -> list[bytes]:
        return [header_value(value) for key, value in self.fields if key.lower() == name]

    @property
    def normalized(self) -> bytes:
        return self._snort_buffers()[0]

    @property
    def cookie_raw(self) -> bytes:
        return self._snort_buffers()[1]

    @property
    def cookie(self) -> bytes:
        return self._snort_buffers()[2]

    def _snort_buffers(self) -> tuple[bytes, bytes, bytes]:
        """Snort's header buffers: the normalized headers are the header lines but the cookies',
        as sent, with characters cleaned up; the cookies are their values joined."""
        if self._buffers is None:
            lines: list[bytes] = []
            cookies: list[bytes] = []
            for name, value in self.fields:
                if name.lower() == self._cookie_name:
                    cookies.append(header_value(value))
                else:
                    lines.append(name + b":" + value)
            cookie_raw = b", ".join(cookies)
            self._buffers = (decode_percent(_CRLF.join(lines)), cookie_raw, decode_percent(cookie_raw))
        return self._buffers


# A message not seen (yet): no fields. Never changed, so one serves every transaction.
_NO_HEADERS = Headers()


def split_host(host: bytes) -> tuple[bytes, int | None]:
    """A Host value's name and port (None when it has none); an IPv6 literal keeps its brackets."""
    if not host.endswith(b"]"):
        name, colon, port = host.rpartition(b":")
        if colon and port.isdigit() and name:
            return name, int(port)
    return host, None


def _request_line(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """A request line's method, URI and version (empty when absent), or None when it is not one.
    The URI is what lies between the method and the version, spaces included (as Snort reads it)."""
    m = _METHOD.match(line)
    if m is None:
        return None
    rest = line[m.end() :].rstrip(b" \t")
    if not rest or rest[:1].isspace():
        return None
    if len(rest) > 9 and rest[-9] in b" \t" and _VERSION.fullmatch(rest, len(rest) - 8):
        return m.group(1), rest[:-9].rstrip(b" \t"), rest[-8:]
    return m.group(1), rest, b""


def _status_line(line: bytes) -> tuple[bytes, int, bytes] | None:
    """A status line's version, status code and reason phrase, or None when it is not one."""
    m = _STATUS_LINE.fullmatch(line)
    if m is None:
        return None
    version, code, reason = m.groups()
    return version, int(code), (reason or b"").rstrip(b" \t")


def first_fields(fields: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """The raw value of the first field of each name, by lower-case name."""
    return {name.lower(): value for name, value in reversed(fields)}


def _parse_head(block: bytes) -> tuple[bytes, list[tuple[bytes, bytes]] | None]:
    """A header block's start line and its fields, (name, raw value) pairs; continuation lines
    stay in the value so the raw form survives. The fields are None when a line has no colon."""
    lines = block.split(b"\n")
    while lines and lines[-1] in (b"", b"\r"):
        lines.pop()
    start = lines[0] if lines else b""
    if start.endswith(b"\r"):
        start = start[:-1]
    fields: list[tuple[bytes, bytes]] = []
    for i in range(1, len(lines)):
        line = lines[i]
        if line.endswith(b"\r"):
            line = line[:-1]
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + _CRLF + line)
            continue
        colon = line.find(b":")
        if colon <= 0:
            return start, None
        fields.append((line[:colon].rstrip(b" \t"), line[colon + 1 :]))
    return start, fields


@dataclass(slots=True)
class Transaction:
    """A request and its response, with the fields of Snort's HTTP buffers and Suricata's ``http``
    event. Request-side values are set when the request headers complete, the rest as they come."""

    index: int
    method: bytes = b""
    uri_raw: bytes = b""
    _uri_parts: Uri | None = None
    version: bytes = b""
    request_headers: Headers = _NO_HEADERS
    client_body: bytes = b""
    request_body_len: int = 0
    status_code: int | None = None
    status_msg: bytes = b""
    response_version: bytes = b""
    response_headers: Headers = _NO_HEADERS
    file_data: bytes = b""
    response_body_len: int = 0

    @property
    def uri_parts(self) -> Uri | None:
        """The request URI's parts, parsed when first asked for; None before a request line."""
        if self._uri_parts is None and self.method:
            self._uri_parts = parse_uri(self.uri_raw)
        return self._uri_parts

    @property
    def uri(self) -> bytes:
        """Snort's normalized ``http_uri``."""
        parts = self.uri_parts
        return b"" if parts is None else parts.classic

    @property
    def header(self) -> bytes:
        return self.request_headers.normalized

    @property
    def header_raw(self) -> bytes:
        return self.request_headers.raw

    @property
    def cookie(self) -> bytes:
        return self.request_headers.cookie

    @property
    def cookie_raw(self) -> bytes:
        return self.request_headers.cookie_raw

    @property
    def true_ip(self) -> bytes | None:
        return true_ip(self.request_headers.fields)

    @property
    def host(self) -> bytes | None:
        if self.uri_raw[:1] != b"/":  # only an absolute URI names a host: parse no other
            parts = self.uri_parts
            if parts is not None and parts.host:
                return parts.host
        return self.request_headers.get(b"host")

    @property
    def user_agent(self) -> bytes | None:
        return self.request_headers.get(b"user-agent")

    @property
    def content_type(self) -> bytes | None:
        """The response's Content-Type (Suricata's ``http_content_type``)."""
        return self.response_headers.get(b"content-type")

    @property
    def content_length(self) -> int | None:
        """The response's declared Content-Length."""
        return _content_length(self.response_headers)


class HttpEvent:
    """Something completed in one direction: ``offset`` is the stream offset just after the byte
    that completed it, so the caller can tie it to the packet that carried that byte."""

    __slots__ = ("offset", "to_server", "transaction")

    def __init__(self, transaction: Transaction, to_server: bool, offset: int) -> None:
        self.transaction = transaction
        self.to_server = to_server
        self.offset = offset

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tx={self.transaction.index}, offset={self.offset})"


class RequestHeaders(HttpEvent):
    __slots__ = ()


class RequestBody(HttpEvent):
    """The request is complete (whether or not it had a body)."""

    __slots__ = ()


class ResponseHeaders(HttpEvent):
    __slots__ = ()


class ResponseBody(HttpEvent):
    """The response is complete (whether or not it had a body)."""

    __slots__ = ()


def _content_length(headers: Headers) -> int | None:
    value = headers.get(b"content-length")
    return int(value) if value is not None and value.isdigit() else None


class _Inflater:
    """One gzip or deflate layer, streaming and bounded. Deflate is zlib-wrapped or raw, told apart
    by the first two bytes as browsers do. A body that fails to inflate before yielding anything
    passes through as it is (servers that label plain bodies gzip)."""

    __slots__ = ("_budget", "_counters", "_obj", "_produced", "_raw", "_taken", "_wbits", "done")

    def __init__(self, wbits: int, budget: _Budget, counters: Counter[str]) -> None:
        self._wbits = wbits  # 0: deflate of either kind, -1: passing through
        self._budget = budget
        self._counters = counters
        self._obj: zlib._Decompress | None = None
        # Input kept until the first output, to pass through if it turns out not to be compressed.
        self._raw = bytearray()
        self._taken = 0
        self._produced = 0
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self.done or not data:
            return b""
        if self._wbits < 0:
            return data
        if not self._produced and len(self._raw) < self._budget.limits.ratio_floor:
            self._raw += data
        if self._obj is None:
            if len(self._raw) < 2:
                return b""
            self._obj = zlib.decompressobj(self._wbits or _deflate_wbits(self._raw))
            data = bytes(self._raw)
        self._taken += len(data)
        allowed = self._budget.allowed(self._taken, self._produced)
        if allowed <= 0:
            return self._cap()
        try:
            out = self._obj.decompress(data, allowed)
        except zlib.error:
            return self._fail()
        if out:
            self._produced += len(out)
            self._budget.used += len(out)
            self._raw.clear()
        if self._obj.unconsumed_tail:
            self._cap()
        elif self._obj.eof:
            self.done = True
        return out

    def _fail(self) -> bytes:
        self.done = bool(self._produced)
        if self.done:
            self._counters["decompress_error"] += 1
            return b""
        self._counters["decompress_failed"] += 1
        self._wbits = -1
        raw = bytes(self._raw)
        self._raw.clear()
        return raw

    def _cap(self) -> bytes:
        self._counters[self._budget.reason()] += 1
        self.done = True
        return b""


def _deflate_wbits(head: bytes | bytearray) -> int:
    """zlib-wrapped when the first two bytes are a valid zlib header, raw deflate otherwise."""
    return 15 if (head[0] & 0x0F) == 8 and (head[0] << 8 | head[1]) % 31 == 0 else -15


class _Budget:
    """Decompressed bytes one message may still produce: a total cap and a ratio cap per layer."""

    __slots__ = ("limits", "used")

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.used = 0

    def allowed(self, taken: int, produced: int) -> int:
        by_ratio = max(taken * self.limits.max_ratio, self.limits.ratio_floor) - produced
        return max(0, min(self.limits.max_decompressed - self.used, by_ratio))

    def reason(self) -> str:
        if self.used >= self.limits.max_decompressed:
            return "decompress_capped"
        return "decompress_ratio"


def _codings(headers: Headers) -> list[bytes]:
    """The content codings to undo, outermost first: Transfer-Encoding's then Content-Encoding's."""
    found: list[bytes] = []
    for name in (b"content-encoding", b"transfer-encoding"):
        for value in headers.values(name):
            found.extend(c.strip(b" \t").lower() for c in value.split(b","))
    return [c for c in reversed(found) if c not in _IGNORED_CODINGS]


class _Body:
    """Collects one message body: counts the framed bytes, undoes its content codings and keeps
    at most ``depth`` decoded bytes."""

    __slots__ = ("_counters", "_depth", "_kept", "_layers", "_truncated", "length")

    def __init__(self, headers: Headers, depth: int, limits: HttpLimits, counters: Counter[str]) -> None:
        self._depth = depth
        self._counters = counters
        self._kept = bytearray()
        self._truncated = False
        self.length = 0
        self._layers: list[_Inflater] = []
        if not depth:
            return  # nothing is kept, so nothing needs decoding
        codings = _codings(headers)
        if len(codings) > limits.max_layers:
            counters["encoding_layers"] += 1
            codings = codings[: limits.max_layers]
        budget = _Budget(limits)
        for coding in codings:
            wbits = _DEFLATE_CODINGS.get(coding)
            if wbits is None:
                counters["unknown_encoding"] += 1
                break
            self._layers.append(_Inflater(wbits, budget, counters))

    def add(self, data: bytes) -> None:
        self.length += len(data)
        if not self._depth:
            return
        for layer in self._layers:
            data = layer.feed(data)
        room = self._depth - len(self._kept)
        if len(data) > room:
            if not self._truncated:
                self._truncated = True
                self._counters["body_truncated"] += 1
            data = data[:room]
        self._kept += data

    def value(self) -> bytes:
        return bytes(self._kept)

    @property
    def keeps(self) -> bool:
        """Whether the body's bytes are kept (and decoded), not only counted."""
        return self._depth > 0


class _Framing:
    """How a body ends. ``feed`` hands body bytes to ``body`` and returns the position after what
    it used, or -1 when the body is malformed (``error`` says why); ``complete`` says it ended."""

    __slots__ = ("complete", "error")

    def __init__(self) -> None:
        self.complete = False
        self.error = ""

    def feed(self, data: bytes, pos: int, body: _Body) -> int:
        raise NotImplementedError

    def skip(self, length: int) -> bool:
        """Account for ``length`` bytes the capture missed; False when the framing is lost."""
        return False


class _Length(_Framing):
    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        super().__init__()
        self.remaining = length
        self.complete = length == 0

    def feed(self, data: bytes, pos: int, body: _Body) -> int:
        end = min(len(data), pos + self.remaining)
        body.add(data[pos:end])
        self.remaining -= end - pos
        self.complete = self.remaining == 0
        return end

    def skip(self, length: int) -> bool:
        self.remaining -= length
        self.complete = self.remaining <= 0
        return self.remaining >= 0


class _UntilClose(_Framing):
    __slots__ = ()

    def feed(self, data: bytes, pos: int, body: _Body) -> int:
        body.add(data[pos:])
        return len(data)

    def skip(self, length: int) -> bool:
        return True


# Stateless, so one serves every body that runs to the end of its stream.
_UNTIL_CLOSE = _UntilClose()


class _Chunked(_Framing):
    """Transfer-Encoding: chunked. Lines (sizes, chunk ends, trailers) are gathered across calls;
    chunk data is passed on as it comes. A bad chunk size breaks the chunking down as in Snort's
    http_inspect: from the bad line on, everything is body until the connection closes (``error``
    says why, and the body goes on)."""

    __slots__ = ("_line", "_max", "_remaining", "_state")

    _SIZE, _DATA, _DATA_END, _TRAILER, _BROKEN = range(5)

    def __init__(self, max_chunk: int) -> None:
        super().__init__()
        self._max = max_chunk
        self._line = bytearray()
        self._remaining = 0
        self._state = self._SIZE

    def feed(self, data: bytes, pos: int, body: _Body) -> int:
        n = len(data)
        while pos < n and not self.complete:
            if self._state == self._BROKEN:
                body.add(data[pos:])
                return n
            if self._state == self._DATA:
                end = min(n, pos + self._remaining)
                body.add(data[pos:end])
                self._remaining -= end - pos
                pos = end
                if not self._remaining:
                    self._state = self._DATA_END
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += data[pos:]
                if self._state == self._SIZE and not _CHUNK_SIZE_START.fullmatch(self._line):
                    self.error = "bad_chunk_size"
                    self._break_down(body)
                elif len(self._line) > _MAX_CHUNK_LINE:
                    self.error = "bad_chunk_size"
                    return -1
                return n
            self._line += data[pos:newline]
            pos = newline + 1
            if not self._end_of_line(bytes(self._line)):
                self._line += b"\n"
                self._break_down(body)
            self._line.clear()
        return pos

    def _break_down(self, body: _Body) -> None:
        """The line being read is body, and so is all that follows."""
        body.add(bytes(self._line))
        self._line.clear()
        self._state = self._BROKEN

    def _end_of_line(self, line: bytes) -> bool:
        if self._state == self._DATA_END:
            self._state = self._SIZE
            return True
        if self._state == self._TRAILER:
            self.complete = line in (b"", b"\r")
            return True
        m = _CHUNK_SIZE.fullmatch(line)
        if m is None:
            self.error = "bad_chunk_size"
            return False
        size = int(m.group(1), 16)
        if size > self._max:
            self.error = "chunk_too_long"
            return False
        self._remaining = size
        self._state = self._DATA if size else self._TRAILER
        return True


def _body_framing(headers: Headers, limits: HttpLimits) -> _Framing | None:
    """Chunked, by length, or None when neither is declared."""
    te = headers.get(b"transfer-encoding")
    if te is not None:
        if te.lower().rsplit(b",", 1)[-1].strip(b" \t") == b"chunked":
            return _Chunked(limits.max_chunk_length)
        return _UNTIL_CLOSE
    length = _content_length(headers)
    return None if length is None else _Length(length)


_HEAD, _BODY, _STOPPED = range(3)


class _Reader:
    """Frames the messages of one direction: a header block, then a body as its framing says.
    What the head means is decided by the connection, which knows both directions."""

    __slots__ = ("_body", "_buf", "_conn", "_framing", "_state", "offset", "stopped", "to_server", "tx")

    def __init__(self, conn: HttpConnection, to_server: bool) -> None:
        # Not a strong reference: the connection owns its readers, and a cycle between them
        # would outlive every flow until the next full collection (a few MB per thousand flows).
        self._conn: HttpConnection = weakref.proxy(conn)
        self.to_server = to_server
        self._buf = bytearray()
        self._state = _HEAD
        self._framing: _Framing = _UNTIL_CLOSE
        self._body: _Body | None = None
        self.tx: Transaction | None = None
        self.offset = 0
        self.stopped: str | None = None

    def absorb(self, size: int) -> bool:
        """Take ``size`` bytes of a body that nobody keeps and that they cannot end: they are only
        counted, without being looked at. False when the bytes must be parsed."""
        body, framing = self._body, self._framing
        if self._state != _BODY or body is None or body.keeps:
            return False
        if isinstance(framing, _Length):
            if framing.remaining <= size:
                return False
            framing.remaining -= size
        elif framing is not _UNTIL_CLOSE:
            return False
        body.length += size
        self.offset += size
        return True

    def feed(self, data: bytes, events: list[HttpEvent]) -> None:
        base = self.offset
        self.offset += len(data)
        pos = 0
        while pos < len(data) and self._state != _STOPPED:
            if self._state == _HEAD:
                pos = self._head(data, pos, base, events)
            else:
                pos = self._body_bytes(data, pos, base, events)

    def _head(self, data: bytes, pos: int, base: int, events: list[HttpEvent]) -> int:
        n = len(data)
        limit = self._conn.limits.max_header_bytes
        if not self._buf:
            # Blank lines between messages are tolerated, as Snort does.
            while pos < n and data[pos] in b"\r\n":
                pos += 1
            if pos == n:
                return n
            # The common case: the whole head in this segment. Nothing needs holding.
            m = _HEAD_END.search(data, pos)
            if m is not None and m.end() - pos <= limit:
                end = m.end()
                self._conn.head(self, data[pos:end], base + end, events)
                return end
        held = len(self._buf)
        self._buf += data[pos:]
        m = _HEAD_END.search(self._buf, max(0, held - 2))
        if m is None or m.end() > limit:
            if m is not None or len(self._buf) > limit:
                self.stop("header_too_large")
            elif (_REQUEST_PREFIX if self.to_server else _RESPONSE_PREFIX).match(self._buf) is None:
                self.stop("not_http")
            return n
        block = bytes(self._buf[: m.end()])
        self._buf.clear()
        pos += m.end() - held
        self._conn.head(self, block, base + pos, events)
        return pos

    def _body_bytes(self, data: bytes, pos: int, base: int, events: list[HttpEvent]) -> int:
        assert self._body is not None
        framing = self._framing
        pos = framing.feed(data, pos, self._body)
        if pos < 0:
            self.stop(framing.error)
            return len(data)
        if framing.error:  # malformed, but the body goes on: counted once
            self._conn.counters[framing.error] += 1
            framing.error = ""
        if self._framing.complete:
            self.finish(base + pos, events)
        return pos

    def start_body(
        self, tx: Transaction, framing: _Framing | None, body: _Body, offset: int, events: list[HttpEvent]
    ) -> None:
        if self._state == _STOPPED:
            return
        self.tx = tx
        self._body = body
        if framing is None or framing.complete:
            self.finish(offset, events)
        else:
            self._framing = framing
            self._state = _BODY

    def finish(self, offset: int, events: list[HttpEvent]) -> None:
        """The message is complete: its body goes into the transaction and the event out."""
        tx, body = self.tx, self._body
        assert tx is not None and body is not None
        if self.to_server:
            tx.client_body, tx.request_body_len = body.value(), body.length
            events.append(RequestBody(tx, True, offset))
        else:
            tx.file_data, tx.response_body_len = body.value(), body.length
            events.append(ResponseBody(tx, False, offset))
        self.tx = self._body = None
        if self._state != _STOPPED:
            self._state = _HEAD
        self._conn.message_done(self, tx)

    def gap(self, length: int, events: list[HttpEvent]) -> None:
        self.offset += length
        if self._state == _STOPPED:
            return
        self._conn.counters["gap"] += 1
        if self._state == _BODY and self._framing.skip(length):
            if self._framing.complete:
                self.finish(self.offset, events)
            return
        self.stop("gap_abandoned")

    def end(self, events: list[HttpEvent]) -> None:
        if self._state == _BODY:
            if not isinstance(self._framing, _UntilClose):
                self._conn.counters["incomplete_message"] += 1
            self.finish(self.offset, events)
        elif self._state == _HEAD and self._buf:
            self._conn.counters["incomplete_message"] += 1
            # A header block cut short after a whole start line is inspected as far as its last
            # whole line, as Snort's http_inspect does at the end of a stream.
            block = bytes(self._buf)
            self._buf.clear()
            if block.find(b"\n") >= 0:
                self._conn.head(self, block[: block.rfind(b"\n") + 1], self.offset, events)
        self._state = _STOPPED

    def stop(self, reason: str) -> None:
        """Give up on this direction, counting why (once)."""
        if self._state == _STOPPED:
            return
        self._conn.counters[reason] += 1
        self.stopped = reason
        self._state = _STOPPED
        self._buf.clear()


class HttpConnection:
    """The HTTP parser of one TCP connection: feed each direction's in-order bytes, holes and the
    end; get back the events that completed. Transactions pair requests with responses in order."""

    __slots__ = ("__weakref__", "_client", "_pending", "_server", "_tx_count", "counters", "limits")

    def __init__(self, limits: HttpLimits | None = None, counters: Counter[str] | None = None) -> None:
        self.limits = limits or DEFAULT_LIMITS
        # Anomalies by reason: the caller's tally (shared by its connections), else this one's own.
        self.counters: Counter[str] = Counter() if counters is None else counters
        self._client = _Reader(self, True)
        self._server = _Reader(self, False)
        # Requests waiting for their response, oldest first: a list, not a deque (an empty deque
        # takes 760 bytes, per connection), as at most ``max_pipelined`` wait.
        self._pending: list[Transaction] = []
        self._tx_count = 0

    def feed(self, to_server: bool, data: bytes | memoryview) -> list[HttpEvent]:
        events: list[HttpEvent] = []
        reader = self._client if to_server else self._server
        if not reader.absorb(len(data)):
            reader.feed(bytes(data), events)
        return events

    def gap(self, to_server: bool, length: int) -> list[HttpEvent]:
        events: list[HttpEvent] = []
        (self._client if to_server else self._server).gap(length, events)
        return events

    def unanswered(self) -> list[Transaction]:
        """The requests whose response has not begun, oldest first."""
        return self._pending.copy()

    def end(self) -> list[HttpEvent]:
        """Both directions are over: bodies that run to the end of the stream complete now."""
        events: list[HttpEvent] = []
        self._client.end(events)
        self._server.end(events)
        return events

    @property
    def finished(self) -> bool:
        """Whether parsing was given up in both directions."""
        return self._client.stopped is not None and self._server.stopped is not None

    def stopped(self, to_server: bool) -> str | None:
        """Why parsing of a direction was given up, or None while it goes on."""
        return (self._client if to_server else self._server).stopped

    def _new_transaction(self) -> Transaction:
        self._tx_count += 1
        return Transaction(self._tx_count - 1)

    def head(self, reader: _Reader, block: bytes, offset: int, events: list[HttpEvent]) -> None:
        """A header block is complete on ``reader``'s direction."""
        start_line, fields = _parse_head(block)
        if fields is None:
            reader.stop("bad_header_line")
            return
        by_name = first_fields(fields)
        length = by_name.get(b"content-length")
        first: dict[bytes, bytes] | None = by_name
        if len(fields) > self.limits.max_headers:
            self.counters["too_many_headers"] += 1
            del fields[self.limits.max_headers :]
            first = None  # made again from the fields kept
        if length is not None and not header_value(length).isdigit():
            # The headers are still inspected, as Snort's are; where the body ends is unknown, so
            # the direction stops before it (start_body).
            reader.stop("bad_content_length")
        if reader.to_server:
            request = _request_line(start_line)
            if request is not None:
                self._request(reader, request, Headers(fields, block, b"cookie", first), offset, events)
                return
        else:
            status = _status_line(start_line)
            if status is not None:
                self._response(reader, status, Headers(fields, block, b"set-cookie", first), offset, events)
                return
        reader.stop("bad_start_line")

    def _request(
        self,
        reader: _Reader,
        request: tuple[bytes, bytes, bytes],
        headers: Headers,
        offset: int,
        events: list[HttpEvent],
    ) -> None:
        tx = self._new_transaction()
        tx.method, tx.uri_raw, tx.version = request
        tx.request_headers = headers
        events.append(RequestHeaders(tx, True, offset))
        if len(self._pending) < self.limits.max_pipelined:
            self._pending.append(tx)
        else:
            self.counters["pipeline_overflow"] += 1
        body = _Body(headers, self.limits.request_depth, self.limits, self.counters)
        reader.start_body(tx, _body_framing(headers, self.limits), body, offset, events)

    def _response(
        self,
        reader: _Reader,
        status_line: tuple[bytes, int, bytes],
        headers: Headers,
        offset: int,
        events: list[HttpEvent],
    ) -> None:
        version, status, reason = status_line
        if 100 <= status < 200 and status != 101:
            return  # interim response: the final one follows
        if self._pending:
            tx = self._pending.pop(0)
        else:
            self.counters["response_without_request"] += 1
            tx = self._new_transaction()
        tx.response_version, tx.status_code, tx.status_msg = version, status, reason
        tx.response_headers = headers
        events.append(ResponseHeaders(tx, False, offset))
        bodyless = tx.method == b"HEAD" or status in (101, 204, 304) or _is_tunnel(tx)
        framing = None if bodyless else _body_framing(headers, self.limits) or _UNTIL_CLOSE
        body = _Body(headers, self.limits.response_depth, self.limits, self.counters)
        reader.start_body(tx, framing, body, offset, events)

    def message_done(self, reader: _Reader, tx: Transaction) -> None:
        """After a message: a CONNECT request or an accepted tunnel ends HTTP on the connection."""
        if reader.to_server and tx.method == b"CONNECT":
            reader.stop("tunnel")
        elif not reader.to_server and _is_tunnel(tx):
            reader.stop("tunnel")
            self._client.stop("tunnel")


def _is_tunnel(tx: Transaction) -> bool:
    code = tx.status_code or 0
    return code == 101 or (tx.method == b"CONNECT" and 200 <= code < 300)
