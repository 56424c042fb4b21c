"""The EVE ``tls`` event: one per TLS flow, with Suricata's field names, written once both hellos
and, below TLS 1.3, the server's certificate were read (or at the flow's end with what was): the
certificate's subject, issuer, alternative names, serial, fingerprint and validity, SNI, version,
JA3, JA3S and JA4.

:class:`TlsHellos` reads the two hellos from each direction's first bytes, bounded by
``tls_hello.MAX_HELLO``, and the certificate after the ServerHello (:mod:`fathom.apps.tls_cert`).
The fields the hellos give are also those of a DTLS handshake's event (:mod:`fathom.apps.logs.dtls`)."""

from __future__ import annotations

from typing import Any

from fathom.apps.tls_cert import CertificateFields, CertificateReader
from fathom.apps.tls_hello import MAX_HELLO, Hello, handshake_bytes, ja3, ja3s, ja4, parse_hello
from fathom.events.schema import FlowScopedEvent
from fathom.flow.flow import Flow

_HANDSHAKE = 22
_TLS13 = 0x0304
# Suricata's names of the protocol versions; DTLS's (which Suricata does not log) as nDPI writes them.
_VERSION_NAMES = {
    0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
    0x0304: "TLS 1.3", 0xFEFF: "DTLSv1.0", 0xFEFD: "DTLSv1.2", 0xFEFC: "DTLSv1.3",
}  # fmt: skip


class TlsHellos:
    """One flow's two hellos, read from the first bytes of each direction, and the server's
    certificate that follows its hello."""

    __slots__ = ("_failure", "_reader", "certificate", "client", "data", "logged", "server")

    def __init__(self) -> None:
        self.client: Hello | None = None
        self.server: Hello | None = None
        # Each direction's first bytes, while its hello is incomplete: to the client, to the server.
        self.data = (bytearray(), bytearray())
        self.logged = False
        self.certificate: CertificateFields | None = None
        # Reads the server's bytes from the first, until its certificate is read or cannot be.
        self._reader: CertificateReader | None = CertificateReader()
        self._failure: str | None = None

    def feed(self, to_server: bool, data: bytes | memoryview) -> None:
        reader = self._reader
        if reader is not None and not to_server:
            reader.feed(data)
            self._keep_certificate(reader)
        elif reader is not None and self.server is not None:
            # The client speaks again once it has the server's whole first flight (RFC 5246 7.3),
            # certificate included: what of it was not read by now will not be.
            reader.stop("certificate_incomplete")
            self._keep_certificate(reader)
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

    def gap(self, to_server: bool) -> None:
        """Bytes of a direction are missing: the server's records cannot be followed past them."""
        reader = self._reader
        if reader is not None and not to_server:
            reader.stop("certificate_gap")
            self._keep_certificate(reader)

    def _keep_certificate(self, reader: CertificateReader) -> None:
        """Once the reader is done, keep what it read and drop it with its bytes."""
        if reader.done:
            self.certificate, self._failure, self._reader = reader.fields, reader.failure, None

    @property
    def certificate_failure(self) -> str | None:
        """Why the server's certificate was sent but not read, a counter's name: it did not parse
        (``certificate_unparsed``), its message was malformed (``certificate_malformed``) or past
        the bound (``certificate_too_long``), or it was cut short by a gap (``certificate_gap``),
        by the client going on or by the flow's end (``certificate_incomplete``)."""
        reader = self._reader
        if reader is not None and reader.in_certificate:
            return "certificate_incomplete"
        return self._failure

    def _sides(self) -> tuple[tuple[Hello | None, bytearray], tuple[Hello | None, bytearray]]:
        """Each direction's hello, if read, and the bytes it holds until then."""
        return (self.client, self.data[True]), (self.server, self.data[False])

    @property
    def unread(self) -> int:
        """Directions that sent bytes but no hello that could be read."""
        return sum(hello is None and bool(held) for hello, held in self._sides())

    @property
    def finished(self) -> bool:
        """Both hellos read, or a direction that cannot bring its own any more; and the server's
        certificate read, unless none can come in clear."""
        hellos = all(
            hello is not None or len(held) >= MAX_HELLO or (len(held) >= 5 and held[0] != _HANDSHAKE)
            for hello, held in self._sides()
        )
        return hellos and not self._awaits_certificate()

    def _awaits_certificate(self) -> bool:
        """Below TLS 1.3 the certificate follows the ServerHello in clear; in TLS 1.3 (chosen by the
        supported_versions extension, RFC 8446 4.2.1) it is encrypted."""
        server = self.server
        return server is not None and self._reader is not None and _chosen_version(server) < _TLS13


def _chosen_version(server: Hello) -> int:
    return server.versions[0] if server.versions else server.version


class TlsLogEvent(FlowScopedEvent):
    __slots__ = ("hellos",)
    event_type = "tls"

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int, hellos: TlsHellos) -> None:
        super().__init__(flow, timestamp, pcap_cnt)
        self.hellos = hellos

    def body(self) -> dict[str, Any]:
        client, server = self.hellos.client, self.hellos.server
        certificate = self.hellos.certificate
        # Suricata's order: the certificate's identity, the hellos', the validity, the fingerprints.
        tls: dict[str, Any] = {}
        if certificate is not None:
            tls["subject"] = certificate.subject
            tls["issuerdn"] = certificate.issuerdn
            if certificate.subjectaltname:
                tls["subjectaltname"] = list(certificate.subjectaltname)
            tls["serial"] = certificate.serial
            tls["fingerprint"] = certificate.fingerprint
        tls.update(hello_fields(client, server))
        if certificate is not None:
            if certificate.notbefore is not None:
                tls["notbefore"] = certificate.notbefore
            if certificate.notafter is not None:
                tls["notafter"] = certificate.notafter
        tls.update(fingerprints(client, server, "t"))
        return {"tls": tls}


def hello_fields(client: Hello | None, server: Hello | None) -> dict[str, Any]:
    """The ``sni`` and ``version`` of a tls event: the version the server chose, else the one
    the client asked for."""
    fields: dict[str, Any] = {}
    if client is not None and client.server_name:
        fields["sni"] = client.server_name
    hello = server or client
    if hello is not None:
        chosen = _chosen_version(server) if server is not None else hello.version
        fields["version"] = _VERSION_NAMES.get(chosen, "UNDETERMINED")
    return fields


def fingerprints(client: Hello | None, server: Hello | None, transport: str) -> dict[str, Any]:
    """The ``ja3``, ``ja3s`` and ``ja4`` of a tls event; ``transport`` is JA4's (``t``, ``d``)."""
    fields: dict[str, Any] = {}
    if client is not None:
        text, digest = ja3(client)
        fields["ja3"] = {"hash": digest, "string": text}
    if server is not None:
        text, digest = ja3s(server)
        fields["ja3s"] = {"hash": digest, "string": text}
    if client is not None:
        fields["ja4"] = ja4(client, transport)
    return fields
