"""The sans-IO HTTP parser: transactions, Snort's normalized buffers, bodies, bounds and captures."""

from __future__ import annotations

import gzip
import itertools
import re
import zlib
from pathlib import Path

import pytest

from fathom.apps.http import (
    LOG_LIMITS,
    HttpConnection,
    HttpEvent,
    HttpLimits,
    RequestBody,
    RequestHeaders,
    ResponseBody,
    ResponseHeaders,
    Transaction,
    _request_line,
    _status_line,
)
from fathom.apps.http_normalize import parse_uri
from fathom.decode.packet import Buffer
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.host import LayerHost
from tests.corpus.helpers import run_layer

ROOT = Path(__file__).resolve().parents[2]
SIGS = ROOT / "tests" / "data" / "corpus" / "sigs"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

GET = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"


def response(body: bytes, *headers: bytes, chunk: int = 0) -> bytes:
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in headers)
    if not chunk:
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"


def exchange(
    request: bytes, reply: bytes, limits: HttpLimits | None = None
) -> tuple[HttpConnection, list[HttpEvent]]:
    conn = HttpConnection(limits)
    events = conn.feed(True, request) + conn.feed(False, reply) + conn.end()
    return conn, events


def kinds(events: list[HttpEvent]) -> list[tuple[str, int, int]]:
    return [(type(e).__name__, e.transaction.index, e.offset) for e in events]


def test_simple_get_and_response() -> None:
    conn, events = exchange(GET, OK)
    assert kinds(events) == [
        ("RequestHeaders", 0, len(GET)),
        ("RequestBody", 0, len(GET)),
        ("ResponseHeaders", 0, len(OK) - 5),
        ("ResponseBody", 0, len(OK)),
    ]
    assert [e.to_server for e in events] == [True, True, False, False]
    tx = events[-1].transaction
    assert (tx.method, tx.uri_raw, tx.uri, tx.version) == (
        b"GET",
        b"/index.html",
        b"/index.html",
        b"HTTP/1.1",
    )
    assert tx.request_headers.fields == [(b"Host", b" example.com"), (b"User-Agent", b" curl/8")]
    assert tx.header_raw == GET
    # Snort's http_header: the header lines as sent, without the blank line that ends them.
    assert tx.header == b"Host: example.com\r\nUser-Agent: curl/8"
    assert (tx.host, tx.user_agent, tx.true_ip) == (b"example.com", b"curl/8", None)
    assert (tx.status_code, tx.status_msg, tx.response_version) == (200, b"OK", b"HTTP/1.1")
    assert (tx.content_type, tx.content_length, tx.file_data, tx.response_body_len) == (
        b"text/html",
        5,
        b"hello",
        5,
    )
    assert not conn.counters


def test_pipelined_requests_pair_in_order() -> None:
    second = b"GET /two HTTP/1.1\r\n\r\n"
    _, events = exchange(GET + second, OK + b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert [(type(e).__name__, e.transaction.index) for e in events] == [
        ("RequestHeaders", 0),
        ("RequestBody", 0),
        ("RequestHeaders", 1),
        ("RequestBody", 1),
        ("ResponseHeaders", 0),
        ("ResponseBody", 0),
        ("ResponseHeaders", 1),
        ("ResponseBody", 1),
    ]
    assert (events[-1].transaction.uri, events[-1].transaction.status_code) == (b"/two", 404)


def test_request_body_by_length_and_chunked() -> None:
    post = b"POST /f HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"
    chunked = (
        b"POST /g HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    )
    conn = HttpConnection()
    events = conn.feed(True, post + chunked)
    bodies = [e for e in events if isinstance(e, RequestBody)]
    assert [(e.transaction.client_body, e.transaction.request_body_len, e.offset) for e in bodies] == [
        (b"abcd", 4, len(post)),
        (b"abcde", 5, len(post + chunked)),
    ]


def test_response_chunked_and_gzip() -> None:
    body = b"<html>" + b"x" * 3000 + b"</html>"
    _, events = exchange(GET, response(gzip.compress(body), b"Content-Encoding: gzip", chunk=7))
    tx = events[-1].transaction
    assert tx.file_data == body
    assert tx.response_body_len == len(gzip.compress(body))


@pytest.mark.parametrize("wbits", [15, -15], ids=["zlib", "raw"])
def test_deflate_zlib_wrapped_and_raw(wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    packed = packer.compress(b"deflated text " * 20) + packer.flush()
    _, events = exchange(GET, response(packed, b"Content-Encoding: deflate"))
    assert events[-1].transaction.file_data == b"deflated text " * 20


def test_stacked_encodings_up_to_three_layers() -> None:
    layered = zlib.compress(gzip.compress(gzip.compress(EICAR)))
    reply = response(layered, b"Content-Encoding: gzip, gzip", b"Transfer-Encoding: deflate", chunk=5)
    # One Transfer-Encoding header naming a coding and the chunked framing.
    reply = reply.replace(
        b"Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked", b"Transfer-Encoding: deflate, chunked"
    )
    conn, events = exchange(GET, reply)
    assert events[-1].transaction.file_data == EICAR
    assert not conn.counters
    four = gzip.compress(layered)
    conn, events = exchange(GET, response(four, b"Content-Encoding: gzip, gzip, deflate, gzip"))
    assert conn.counters == {"encoding_layers": 1}
    assert events[-1].transaction.file_data == gzip.compress(EICAR)


def test_plain_body_labelled_gzip_passes_through() -> None:
    conn, events = exchange(GET, response(b"not compressed at all", b"Content-Encoding: gzip"))
    assert events[-1].transaction.file_data == b"not compressed at all"
    assert conn.counters == {"decompress_failed": 1}


def snapshot(events: list[HttpEvent]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for e in events:
        t = e.transaction
        out.append(
            (
                type(e).__name__,
                e.offset,
                t.index,
                t.uri,
                t.header,
                t.cookie,
                t.client_body,
                t.status_code,
                t.file_data,
            )
        )
    return out


def test_feeding_one_byte_at_a_time_gives_the_same_transactions() -> None:
    request = (
        b"\r\nPOST /a//b/./c/../d%41?x=%2e+y HTTP/1.1\r\nHost: h\r\nCookie: s=%2Fa\r\nX-Long: a\r\n  b\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n"
    )
    reply = response(gzip.compress(b"zipped " * 50), b"Content-Encoding: gzip", chunk=9) + OK
    _, whole = exchange(request, reply)
    conn = HttpConnection()
    split: list[HttpEvent] = []
    for to_server, stream in ((True, request), (False, reply)):
        for i in range(len(stream)):
            split += conn.feed(to_server, memoryview(stream)[i : i + 1])
    split += conn.end()
    assert snapshot(split) == snapshot(whole)
    assert len(whole) == 8


@pytest.mark.parametrize(
    ("raw", "classic", "path", "query"),
    [
        (b"/a/./b/../c//d", b"/a/c/d", b"/a/c/d", None),
        (b"/%7Euser/%41%42%43", b"/~user/ABC", b"/~user/ABC", None),
        (b"/x%2F..%2Fetc/passwd", b"/etc/passwd", b"/etc/passwd", None),
        (b"/..", b"/../", b"/../", None),
        (b"/a\\b\\..\\c", b"/a/c", b"/a/c", None),
        (b"/%c0%afetc", b"/etc", b"/etc", None),
        (b"/%252e%252e/x", b"/../x", b"/../x", None),
        (b"/s?q=/../a+b&z=%41", b"/s?q=/../a b&z=A", b"/s", b"q=/../a b&z=A"),
    ],
)
def test_uri_normalization(raw: bytes, classic: bytes, path: bytes, query: bytes | None) -> None:
    uri = parse_uri(raw)
    assert (uri.classic, uri.path, uri.query) == (classic, path, query)


def test_absolute_uri_parts() -> None:
    uri = parse_uri(b"http://Example.com:8080/a/../b?c#frag")
    assert (uri.scheme, uri.host, uri.port, uri.path, uri.query, uri.fragment) == (
        b"http",
        b"Example.com",
        b"8080",
        b"/b",
        b"c",
        b"frag",
    )
    assert uri.classic == b"/b?c#frag"
    assert parse_uri(b"*").classic == b"*"
    assert (parse_uri(b"host:443").host, parse_uri(b"host:443").port) == (b"host", b"443")


def test_cookies_folded_headers_and_true_ip() -> None:
    request = (
        b"GET / HTTP/1.1\r\nCookie: a=1; b=%2E%2E\r\nX-Folded: first\r\n\tsecond \r\n"
        b"X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nTrue-Client-IP: 198.51.100.1\r\nCookie: c=3\r\n\r\n"
    )
    _, events = exchange(request, b"HTTP/1.1 200 OK\r\nSet-Cookie: id=9\r\nContent-Length: 0\r\n\r\n")
    tx = events[-1].transaction
    assert tx.cookie_raw == b"a=1; b=%2E%2E, c=3"
    assert tx.cookie == b"a=1; b=.., c=3"
    # The header lines but the cookies', folded as sent.
    assert tx.header == (
        b"X-Folded: first\r\n\tsecond \r\n"
        b"X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nTrue-Client-IP: 198.51.100.1"
    )
    assert tx.request_headers.fields[1] == (b"X-Folded", b" first\r\n\tsecond ")
    assert tx.true_ip == b"192.0.2.7"
    assert (tx.response_headers.cookie, tx.response_headers.normalized) == (b"id=9", b"Content-Length: 0")
    _, events = exchange(b"GET / HTTP/1.1\r\nTrue-Client-IP: 198.51.100.1\r\n\r\n", b"")
    assert events[0].transaction.true_ip == b"198.51.100.1"


def test_head_204_304_and_interim_have_no_body() -> None:
    requests = b"HEAD / HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    replies = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n" + OK
    )
    conn, events = exchange(requests, replies)
    done = [e.transaction for e in events if isinstance(e, ResponseBody)]
    assert [(t.index, t.status_code, t.file_data) for t in done] == [
        (0, 200, b""),
        (1, 204, b""),
        (2, 304, b""),
        (3, 200, b"hello"),
    ]
    assert conn.counters == {"response_without_request": 1}


def test_body_to_end_of_stream_and_unfinished_bodies() -> None:
    reply = b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    conn, events = exchange(GET, reply)
    assert (events[-1].transaction.file_data, events[-1].offset) == (b"until the end", len(reply))
    assert not conn.counters
    conn, events = exchange(GET, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    assert events[-1].transaction.file_data == b"short"
    assert conn.counters == {"incomplete_message": 1}


def test_connect_and_upgrade_stop_parsing() -> None:
    conn, events = exchange(
        b"CONNECT h:443 HTTP/1.1\r\n\r\n\x16\x03\x01", b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"
    )
    assert [type(e) for e in events] == [RequestHeaders, RequestBody, ResponseHeaders, ResponseBody]
    assert (conn.stopped(True), conn.stopped(False), conn.counters) == ("tunnel", "tunnel", {"tunnel": 2})
    assert conn.finished
    upgrade = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
    conn, events = exchange(upgrade, b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello")
    assert conn.feed(True, b"\x81\x85masked") == []
    assert (conn.stopped(True), conn.stopped(False)) == ("tunnel", "tunnel")


def test_gap_in_a_sized_body_resynchronises() -> None:
    conn = HttpConnection()
    conn.feed(True, GET + GET)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    events = conn.feed(False, reply + b"abc") + conn.gap(False, 4) + conn.feed(False, b"xyz" + OK)
    assert kinds(events)[1:] == [
        ("ResponseBody", 0, len(reply) + 10),
        ("ResponseHeaders", 1, len(reply) + 10 + len(OK) - 5),
        ("ResponseBody", 1, len(reply) + 10 + len(OK)),
    ]
    assert events[1].transaction.file_data == b"abcxyz"
    assert conn.counters == {"gap": 1}


def test_gap_in_headers_or_chunks_abandons_the_direction() -> None:
    conn = HttpConnection()
    conn.feed(True, b"GET / HT")
    assert conn.gap(True, 10) == []
    assert conn.feed(True, GET) == []
    assert (conn.stopped(True), conn.stopped(False)) == ("gap_abandoned", None)
    assert not conn.finished
    assert conn.counters == {"gap": 1, "gap_abandoned": 1}


@pytest.mark.parametrize(
    ("to_server", "stream", "reason"),
    [
        (True, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "not_http"),
        (True, b"\x00\x01binary garbage", "not_http"),
        (False, b"SSH-2.0-OpenSSH_9\r\n", "not_http"),
        (True, b"GET\r\n\r\n", "bad_start_line"),
        (False, b"HTTP/1.1 abc\r\n\r\n", "bad_start_line"),
        (True, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "bad_header_line"),
        (True, b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "bad_content_length"),
    ],
)
def test_malformed_input_stops_the_direction(to_server: bool, stream: bytes, reason: str) -> None:
    conn = HttpConnection()
    if not to_server:
        conn.feed(True, GET)
    completed = conn.feed(to_server, stream)
    assert not [e for e in completed if isinstance(e, (RequestBody, ResponseBody))]
    assert conn.feed(to_server, GET) == []
    assert conn.stopped(to_server) == reason
    assert conn.counters[reason] == 1


def test_header_bounds() -> None:
    limits = HttpLimits(max_header_bytes=64, max_headers=2)
    conn = HttpConnection(limits)
    assert conn.feed(True, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")[
        0
    ].transaction.request_headers.fields == [
        (b"A", b" 1"),
        (b"B", b" 2"),
    ]
    assert conn.counters == {"too_many_headers": 1}
    conn.feed(True, b"GET / HTTP/1.1\r\nX: " + b"y" * 100)
    assert conn.stopped(True) == "header_too_large"
    conn = HttpConnection(limits)
    assert conn.feed(True, b"GET / HTTP/1.1\r\nX: " + b"y" * 50 + b"\r\n\r\n") == []
    assert conn.counters == {"header_too_large": 1}


def test_body_depth_and_chunk_length_bounds() -> None:
    limits = HttpLimits(request_depth=3, response_depth=4, max_chunk_length=16)
    conn, events = exchange(b"POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\nabcdef", OK, limits)
    tx = events[-1].transaction
    assert (tx.client_body, tx.request_body_len, tx.file_data, tx.response_body_len) == (
        b"abc",
        6,
        b"hell",
        5,
    )
    assert conn.counters == {"body_truncated": 2}
    conn = HttpConnection(limits)
    conn.feed(True, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11\r\nabc")
    (body,) = conn.end()
    assert (conn.stopped(True), body.transaction.client_body) == (None, b"11\r")
    assert conn.counters == {"chunk_too_long": 1, "body_truncated": 1, "incomplete_message": 1}


@pytest.mark.parametrize(
    ("chunks", "body"),
    [
        # A bad character ends the chunking at once, line end or not (parity_p06, sid 32608).
        (b"BRASIL", b"BRASIL"),
        (b"3\r\nabc\r\nzz\r\nmore", b"abczz\r\nmore"),
        (b"3\r\nab", b"ab"),
    ],
)
def test_a_broken_chunk_makes_the_rest_body_as_in_snort(chunks: bytes, body: bytes) -> None:
    """Snort's http_inspect: when chunk parsing breaks down, the bytes from the broken chunk
    line on are body until the connection closes."""
    conn = HttpConnection()
    conn.feed(True, GET)
    conn.feed(False, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    (response,) = conn.end()
    assert conn.stopped(False) is None
    assert response.transaction.file_data == body


def test_decompression_caps_and_zip_bomb_ratio() -> None:
    bomb = gzip.compress(b"\0" * 1_000_000)
    conn, events = exchange(GET, response(bomb, b"Content-Encoding: gzip"), HttpLimits(ratio_floor=1024))
    assert len(events[-1].transaction.file_data) == len(bomb) * 100
    assert conn.counters == {"decompress_ratio": 1}
    limits = HttpLimits(max_decompressed=1000, max_ratio=10_000)
    conn, events = exchange(GET, response(bomb, b"Content-Encoding: gzip"), limits)
    assert (len(events[-1].transaction.file_data), conn.counters) == (1000, {"decompress_capped": 1})


def test_pipeline_bound_and_unknown_encoding() -> None:
    conn = HttpConnection(HttpLimits(max_pipelined=1))
    conn.feed(True, GET * 2)
    events = conn.feed(False, OK + OK)
    assert [e.transaction.index for e in events] == [0, 0, 2, 2]
    assert conn.counters == {"pipeline_overflow": 1, "response_without_request": 1}
    conn, events = exchange(GET, response(b"br-data", b"Content-Encoding: br"))
    assert (events[-1].transaction.file_data, conn.counters) == (b"br-data", {"unknown_encoding": 1})


class HttpProbe(Layer):
    """Feeds every TCP flow's streams to its own parser and keeps the finished transactions."""

    def __init__(self, host: LayerHost) -> None:
        self.slot = host.new_slot("http", HttpConnection)
        self.done: list[Transaction] = []
        self.parsers: list[HttpConnection] = []

    def _conn(self, flow: Flow) -> HttpConnection:
        conn = self.slot.get(flow)
        if conn is None:
            conn = HttpConnection()
            self.slot.set(flow, conn)
            self.parsers.append(conn)
        return conn

    def _keep(self, events: list[HttpEvent]) -> None:
        self.done += [e.transaction for e in events if isinstance(e, ResponseBody)]

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        self._keep(self._conn(flow).feed(to_server, memoryview(buf)[off : off + length]))

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        self._keep(self._conn(flow).gap(to_server, length))

    def on_flow_end(self, flow: Flow) -> None:
        self._keep(self._conn(flow).end())


def parse_capture(path: Path) -> HttpProbe:
    return run_layer(path, HttpProbe)


def test_demo_capture() -> None:
    probe = parse_capture(ROOT / "samples" / "demo.pcap")
    assert len(probe.done) == 4
    first = probe.done[0]
    assert (first.method, first.uri, first.status_code, first.content_type, first.response_body_len) == (
        b"GET",
        b"/index.html",
        200,
        b"text/html",
        1288,
    )
    assert first.file_data.startswith(b"<!doctype html><html><head><title>fathom bench</title>")
    assert sum(p.counters["not_http"] for p in probe.parsers) == 2


@pytest.mark.parametrize(
    ("name", "uri", "body_len"),
    [
        ("http-evader-000", b"/chunked/eicar.txt/chunked", 68),
        ("http-evader-001", b"/chunked/eicar.txt/clen", 68),
        ("http-evader-104", b"/compressed/eicar.txt/ce:gzip;gzip", 88),
    ],
)
def test_http_evader_captures(name: str, uri: bytes, body_len: int) -> None:
    (tx,) = parse_capture(SIGS / name / "input.pcap").done
    assert (tx.uri, tx.status_code, tx.file_data, tx.response_body_len) == (uri, 200, EICAR, body_len)


def test_gzip_label_on_plain_body_capture() -> None:
    probe = parse_capture(SIGS / "http-encoding-gzip-uncompressed" / "input.pcap")
    (tx,) = probe.done
    assert (tx.method, tx.uri, tx.request_body_len, tx.response_body_len) == (
        b"POST",
        b"/api/sdk/init2",
        106,
        224,
    )
    assert tx.client_body.startswith(b'{"sdk_version":11026,')
    assert tx.file_data.startswith(b"B18ED807CE0A54BC31ED7599576D47C038000D53F240D1F38D44B2ED761FDDE69E059A")
    assert probe.parsers[0].counters == {"decompress_failed": 1}


def test_post_file_capture() -> None:
    done = parse_capture(SIGS / "http-post-file" / "input.pcap").done
    assert [(t.method, t.uri, t.status_code, t.request_body_len) for t in done] == [
        (b"POST", b"/api/v4/users/login", 200, 39),
        (b"POST", b"/api/v4/uploads", 201, 170),
        (b"POST", b"/api/v4/uploads/is8j4b6s7i839eo38axwmx5pnr", 200, 68),
    ]
    assert done[0].client_body == b'{"login_id":"toto","password":"tototo"}'
    assert done[2].client_body == EICAR


def test_bad_content_length_still_delivers_the_headers() -> None:
    """Snort inspects the header section of a message whose Content-Length is unusable; only its
    body cannot be framed."""
    conn = HttpConnection()
    events = conn.feed(True, b"GET /in.php HTTP/1.1\r\nContent-Length: \r\nHost: a\r\n\r\n")
    assert [type(e) for e in events] == [RequestHeaders]
    assert events[0].transaction.uri == b"/in.php"
    assert conn.stopped(True) == "bad_content_length"


def test_headers_cut_short_by_the_end_are_inspected_after_a_whole_start_line() -> None:
    """As Snort's http_inspect at the end of a stream: the start line and the whole header lines
    seen make a header section; a partial start line makes none."""
    conn = HttpConnection()
    conn.feed(True, b"POST /a?b HTTP/1.0\r\nUser-Agent: M\r\nHost: h")
    (headers, *_) = conn.end()
    assert isinstance(headers, RequestHeaders)
    assert (headers.transaction.uri_raw, headers.transaction.request_headers.fields) == (
        b"/a?b",
        [(b"User-Agent", b" M")],
    )
    conn = HttpConnection()
    conn.feed(True, b"POST /a?b HTT")
    assert conn.end() == []


def test_a_uri_with_spaces_runs_to_the_version() -> None:
    (headers, *_) = HttpConnection().feed(True, b"GET /uri afterspace HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (headers.transaction.uri_raw, headers.transaction.version) == (b"/uri afterspace", b"HTTP/1.1")


def test_log_limits_count_bodies_without_keeping_or_decoding_them() -> None:
    body = b"hello, world " * 50
    compressed = gzip.compress(body)
    conn, events = exchange(GET, response(compressed, b"Content-Encoding: gzip"), LOG_LIMITS)
    (tx,) = {e.transaction.index: e.transaction for e in events}.values()
    assert (tx.file_data, tx.response_body_len, tx.content_type) == (b"", len(compressed), None)
    assert tx.user_agent == b"curl/8"
    assert not conn.counters  # nothing truncated, nothing inflated


def test_header_lookup_takes_the_first_field_of_a_name_in_any_case() -> None:
    redirect = b"HTTP/1.1 302 Found\r\nlocation: /a\r\nLOCATION: /b\r\nContent-Length: 0\r\n\r\n"
    _, events = exchange(GET, redirect)
    tx = events[-1].transaction
    assert tx.response_headers.get(b"location") == b"/a"
    assert tx.response_headers.values(b"location") == [b"/a", b"/b"]
    assert tx.response_headers.get(b"server") is None


# The start lines as one regular expression reads them: the reference the parser follows.
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_REQUEST_REFERENCE = re.compile(rb"(" + _TOKEN + rb"+)[ \t]+(\S.*?)(?:[ \t]+(HTTP/\d\.\d))?[ \t]*")
_STATUS_REFERENCE = re.compile(rb"(HTTP/\d\.\d)[ \t]+(\d{3})(?:[ \t]+(.*?))?[ \t]*")
START_LINES = [
    b"GET / HTTP/1.1", b"GET /a b c HTTP/1.0", b"GET /a HTTP/1.1 HTTP/1.0", b"GET HTTP/1.1",
    b"GET /x", b"GET /x  ", b"GET\t/x\tHTTP/1.1\t ", b"GET  HTTP/1.1", b"GET /a HTTP/1.1x",
    b"GET /aHTTP/1.1", b"GET \x0b/x HTTP/1.1", b"GET", b"GET ", b"G@T / HTTP/1.1", b"/ HTTP/1.1",
    b"HTTP/1.1 200 OK", b"HTTP/1.1 200", b"HTTP/1.1 200  OK  then  ", b"HTTP/1.1 2000", b"HTTP/1.1 20",
    b"HTTP/1.0 404\tNot Found\t", b"HTTP/2 200 OK", b"HTTP/1.1 200 ", b"",
]  # fmt: skip


@pytest.mark.parametrize("line", START_LINES)
def test_start_lines_read_as_the_reference_expression_reads_them(line: bytes) -> None:
    request = _REQUEST_REFERENCE.fullmatch(line)
    expected_request = None if request is None else (request[1], request[2], request[3] or b"")
    assert _request_line(line) == expected_request
    status = _STATUS_REFERENCE.fullmatch(line)
    expected_status = None if status is None else (status[1], int(status[2]), status[3] or b"")
    assert _status_line(line) == expected_status


def test_log_only_bodies_in_pieces_frame_as_a_whole_would() -> None:
    """Body bytes nobody keeps are only counted; the framing still finds the next message."""
    gets = GET + GET
    replies = response(b"a" * 3000) + response(b"b" * 7, b"Content-Type: text/plain")
    _, whole_events = exchange(gets, replies, LOG_LIMITS)
    pieces = HttpConnection(LOG_LIMITS)
    events = pieces.feed(True, gets)
    head_end = replies.index(b"\r\n\r\n") + 4
    cuts = [0, head_end, head_end + 500, head_end + 1400, head_end + 2999, len(replies)]
    for start, end in itertools.pairwise(cuts):
        events += pieces.feed(False, replies[start:end])
    events += pieces.end()
    assert kinds(events) == kinds(whole_events)
    lengths = [
        (e.transaction.response_body_len, e.transaction.content_type)
        for e in events
        if isinstance(e, ResponseBody)
    ]
    assert lengths == [(3000, None), (7, b"text/plain")]
    assert not pieces.counters
