"""The EVE ``tls`` event: one per TLS flow, with Suricata's field names, written once both hellos
were read (or at the flow's end with what was): SNI, version, JA3, JA3S and JA4.

:class:`TlsHellos` reads the two hellos from each direction's first bytes, bounded by
``tls_hello.MAX_HELLO``."""

from __future__ import annotations

from typing import Any

from fathom.apps.tls_hello import MAX_HELLO, Hello, handshake_bytes, ja3, ja3s, ja4, parse_hello
from fathom.events.schema import FlowScopedEvent
from fathom.flow.flow import Flow

_HANDSHAKE = 22
# Suricata's names of the protocol versions.
_VERSION_NAMES = {
    0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}  # fmt: skip


class TlsHellos:
    """One flow's two hellos, read from the first bytes of each direction."""

    __slots__ = ("client", "data", "logged", "server")

    def __init__(self) -> None:
        self.client: Hello | None = None
        self.server: Hello | None = None
        # Each direction's first bytes, while its hello is incomplete: to the client, to the server.
        self.data = (bytearray(), bytearray())
        self.logged = False

    def feed(self, to_server: bool, data: bytes | memoryview) -> None:
        if self.client if to_server else self.server:
            return
        held = self.data[to_server]
        if len(held) >= MAX_HELLO:
            return
        held += data[: MAX_HELLO - len(held)]
        handshake = handshake_bytes(bytes(held))
        hello = None if handshake is None else parse_hello(handshake, to_server)
        if hello is None:
            return
        held.clear()
        if to_server:
            self.client = hello
        else:
            self.server = hello

    def _sides(self) -> tuple[tuple[Hello | None, bytearray], tuple[Hello | None, bytearray]]:
        """Each direction's hello, if read, and the bytes it holds until then."""
        return (self.client, self.data[True]), (self.server, self.data[False])

    @property
    def unread(self) -> int:
        """Directions that sent bytes but no hello that could be read."""
        return sum(hello is None and bool(held) for hello, held in self._sides())

    @property
    def finished(self) -> bool:
        """Both hellos read, or a direction that cannot bring its own any more."""
        return all(
            hello is not None or len(held) >= MAX_HELLO or (len(held) >= 5 and held[0] != _HANDSHAKE)
            for hello, held in self._sides()
        )


class TlsLogEvent(FlowScopedEvent):
    __slots__ = ("hellos",)
    event_type = "tls"

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int, hellos: TlsHellos) -> None:
        super().__init__(flow, timestamp, pcap_cnt)
        self.hellos = hellos

    def body(self) -> dict[str, Any]:
        client, server = self.hellos.client, self.hellos.server
        tls: dict[str, Any] = {}
        if client is not None and client.server_name:
            tls["sni"] = client.server_name
        hello = server or client
        if hello is not None:
            chosen = server.versions[0] if server is not None and server.versions else hello.version
            tls["version"] = _VERSION_NAMES.get(chosen, "UNDETERMINED")
        if client is not None:
            text, digest = ja3(client)
            tls["ja3"] = {"hash": digest, "string": text}
            tls["ja4"] = ja4(client)
        if server is not None:
            text, digest = ja3s(server)
            tls["ja3s"] = {"hash": digest, "string": text}
        return {"tls": tls}
