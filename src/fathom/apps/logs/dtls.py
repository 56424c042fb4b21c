"""The EVE ``tls`` event of a DTLS handshake (RFC 6347, RFC 9147): the hellos' ``sni``,
``version`` (``DTLSv1.0``, ``DTLSv1.2``, ``DTLSv1.3``), ``ja3``, ``ja3s`` and ``ja4`` (DTLS's,
``d…``), as nDPI computes them. Suricata has no DTLS logger; this follows Zeek's choice of logging
DTLS in its ssl log, with the event type and field names of TLS's. The server's certificate, in
clear below DTLS 1.3, is not read.

The parser reads the flows the wizard names DTLS, and STUN flows: ICE users (WebRTC) send their
STUN checks, the DTLS handshake and SRTP on one flow, which each datagram's first byte tells apart
(RFC 7983). Once a datagram of well-formed DTLS records comes, the flow is DTLS (``service``), as
nDPI names it (its master protocol); a STUN flow that carries none stays STUN.

Each direction's first hello is put together from its handshake fragments
(:mod:`fathom.apps.dtls`). A direction can bring no hello any more once it sends a change cipher
spec, application data, a record of a later epoch or a protected DTLS 1.3 record. The event is
written once neither direction can bring one, else when the flow ends or :data:`MAX_DATAGRAMS`
datagrams were read, with the hellos read by then.
"""

from __future__ import annotations

from fathom.apps.dtls import (
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    HelloAssembly,
    Record,
    fragments,
    is_dtls_range,
    is_unified_header,
    records,
)
from fathom.apps.logs.base import LogBody, LogParser
from fathom.apps.tls_hello import Hello, parse_hello
from fathom.apps.tls_log import fingerprints, hello_fields

# Datagrams of a flow read for its hellos: an ICE flow's DTLS handshake follows a few STUN
# checks, and a lost flight is retransmitted a few times, not dozens.
MAX_DATAGRAMS = 32
_CLIENT_HELLO, _SERVER_HELLO = 1, 2


class _Side:
    """One direction's hello, while it is put together and once read."""

    __slots__ = ("assembly", "hello", "over")

    def __init__(self, kind: int) -> None:
        self.assembly = HelloAssembly(kind)
        self.hello: Hello | None = None
        # The hello was read, or can no longer come.
        self.over = False

    def close(self) -> None:
        """No hello of this side is read any more: what was held of one is dropped."""
        self.over = True
        self.assembly.stream.clear()


class DtlsLog(LogParser):
    """One flow's DTLS hellos and its ``tls`` event.

    ``server_name`` is the client's SNI once its hello was read, to name the application."""

    __slots__ = ("_client", "_datagrams", "_dtls", "_server")
    event_type = "tls"
    # Written from the client's side, as the tls event of TLS over TCP.
    client_side = True
    # It finds DTLS on STUN flows.
    identifies = True

    def __init__(self) -> None:
        super().__init__()
        self._client, self._server = _Side(_CLIENT_HELLO), _Side(_SERVER_HELLO)
        self._datagrams = 0
        # Whether DTLS records came on the flow.
        self._dtls = False

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if self.done or not data:
            return []
        if self.stream:
            self.done = True  # STUN over TCP: RFC 7983 demultiplexes datagrams only
            return []
        self._datagrams += 1
        if is_dtls_range(data[0]):
            self._datagram(self._client if to_server else self._server, to_server, data)
        if (self._client.over and self._server.over) or self._datagrams >= MAX_DATAGRAMS:
            return self._event()
        return []

    def end(self) -> list[LogBody]:
        return self._event()

    def _datagram(self, side: _Side, to_server: bool, data: bytes) -> None:
        found = records(data)
        if found is None:
            if self._dtls and is_unified_header(data[0]):
                side.close()  # a protected DTLS 1.3 record: its sender's hello came before it
            return
        if not self._dtls:
            self._dtls = True
            self.service = "dtls"
        for record in found:
            if side.over:
                return
            self._record(side, to_server, data, record)

    def _record(self, side: _Side, to_server: bool, data: bytes, record: Record) -> None:
        if record.epoch or record.kind in (CHANGE_CIPHER_SPEC, APPLICATION_DATA):
            side.close()  # encrypted from here on: the sender's hello, if any, came before
            return
        if record.kind != HANDSHAKE:
            return
        for fragment in fragments(data, record) or ():
            message = side.assembly.add(fragment)
            if side.assembly.failure is not None:
                self.failure = side.assembly.failure
                side.close()
            elif message is not None:
                self._hello(side, to_server, message)
            if side.over:
                return

    def _hello(self, side: _Side, to_server: bool, message: bytes) -> None:
        side.close()
        side.hello = parse_hello(message, client=to_server, dtls=True)
        if side.hello is None:
            self.failure = "malformed_hello"
        elif to_server:
            self.server_name = side.hello.server_name

    def _event(self) -> list[LogBody]:
        """The flow's tls event, if a hello was read; the parser's work is over."""
        self.done = True
        client, server = self._client.hello, self._server.hello
        if client is None and server is None:
            return []
        return [{"tls": hello_fields(client, server) | fingerprints(client, server, "d")}]
