"""HTTP, HTTPS and DNS servers for the benchmark, run inside the server namespace.

Started as ``python -m bench.traffic.servers ...`` through ``ip netns exec``; prints ``ready``
once every socket is bound and serves until SIGTERM. Stdlib only.
"""

from __future__ import annotations

import argparse
import signal
import socket
import ssl
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.traffic.dns import answer


class QuietHandler(SimpleHTTPRequestHandler):
    # HTTP/1.1 so one curl with many URLs reuses the connection; HTTP/1.0 requests still close.
    protocol_version = "HTTP/1.1"
    server_version = "fathom-bench/1"
    sys_version = ""

    def end_headers(self) -> None:
        # Like nginx: an HTTP/1.1 status line to an HTTP/1.0 request must say the connection closes,
        # or curl reuses it, the server resets it, and the capture fills with retried requests.
        if self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # thousands of requests: per-request stderr lines would only slow the server


class HttpServer(ThreadingHTTPServer):
    # The default backlog of 5 drops SYNs under parallel curls, and each drop costs a 1 s retransmit.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early is normal here (and at teardown); no traceback spam


class TlsServer(HttpServer):
    def __init__(self, address: tuple[str, int], handler: Any, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        # Handshake later, in the handler thread, so a slow client never stalls accept().
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        # Send close_notify and read the client's before closing: closing with its alert still
        # unread makes the kernel answer with a RST, which real HTTPS servers rarely do.
        try:
            request.settimeout(2)
            request.unwrap()
        except (ssl.SSLError, OSError):
            pass
        super().shutdown_request(request)


def serve_dns(sock: socket.socket, fixed: dict[str, str]) -> None:
    while True:
        packet, peer = sock.recvfrom(4096)
        response = answer(packet, fixed)
        if response is not None:
            sock.sendto(response, peer)


def parse_hosts(values: list[str]) -> dict[str, str]:
    return dict(value.split("=", 1) for value in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, help="directory served over HTTP and HTTPS")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--http-port", type=int, action="append", default=[])
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--dns-port", type=int, default=53)
    parser.add_argument("--host", action="append", default=[], help="NAME=ADDR answered by DNS")
    args = parser.parse_args(argv)

    handler = partial(QuietHandler, directory=args.root)
    servers: list[HttpServer] = [HttpServer(("0.0.0.0", port), handler) for port in args.http_port or [80]]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    servers.append(TlsServer(("0.0.0.0", args.https_port), handler, context))
    dns_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns_sock.bind(("0.0.0.0", args.dns_port))

    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=serve_dns, args=(dns_sock, parse_hosts(args.host)), daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
