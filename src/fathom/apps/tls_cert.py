"""The server's certificate of a TLS 1.0-1.2 handshake, read from the first bytes the server sends
(sans-IO), and the fields Suricata's ``tls`` event writes of it.

The Certificate message (RFC 5246 7.4.2) follows the ServerHello in the server's first flight,
possibly over several handshake records (6.2.1). Only its first certificate, the server's own, is
read, and only that certificate's bytes are held, within ``MAX_CERTIFICATE``. In TLS 1.3 the
certificate is encrypted (RFC 8446 4.4.2) and cannot be read.

The fields are written as Suricata 8 writes them (src/app-layer-ssl.c, src/output-json-tls.c,
rust/src/x509/mod.rs): a name as x509-parser 0.16 displays it, its RDNs in the certificate's order
joined by ", " and the attributes of one RDN by " + ", each ``<type>=<value>`` with the value
unescaped, the type ``CN``, ``C``, ``L``, ``ST``, ``O``, ``OU``, ``DC`` or ``Email``, else the OID
registry's short name, else ``OID(<dotted>)``, and a value that is no string in upper-case hex (but
cryptography decodes a UniversalString or an OCTET STRING value to text, written so); the
alternative names' host names and URIs as they are, other kinds as x509-parser displays them; the
serial's DER bytes in upper-case hex joined by ":"; the SHA-1 of the certificate's DER in
lower-case hex joined by ":"; validity times in UTC as ``2019-03-19T09:10:33``. The certificate is
parsed by ``cryptography``, which is stricter than x509-parser: it refuses, for one, a
PrintableString holding ``*``; such a certificate is not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Bytes of the server's direction read for its certificate, from the first through the
# certificate's last; the certificate's own bytes are held until it is complete. Real first flights
# reach it within a few KiB; certificates naming hundreds of hosts take tens of KiB.
MAX_CERTIFICATE = 65536

_RECORD = struct.Struct("!BHH")
_HANDSHAKE = 22
_SERVER_HELLO, _CERTIFICATE = 2, 11
_MESSAGE_HEADER = 4  # type, 3-byte length
_LENGTH = 3  # a certificate list's, or a certificate's, length

# What the reader waits for: the ServerHello's header, the next message's header, then in the
# Certificate message the list's length, the first certificate's length, the certificate itself.
_HELLO, _NEXT, _LIST, _LEAF_LENGTH, _LEAF = range(5)


@dataclass(frozen=True, slots=True)
class CertificateFields:
    """What the ``tls`` event writes of the server's certificate."""

    subject: str
    issuerdn: str
    subjectaltname: tuple[str, ...]
    serial: str
    fingerprint: str
    # None for the Unix epoch itself, which Suricata takes for "no time".
    notbefore: str | None
    notafter: str | None


class CertificateReader:
    """Reads the server's own certificate from the bytes of the server's direction, in order and
    from its first. ``done`` once it needs no more: then ``fields`` holds the certificate's when it
    was read, and ``failure`` why it could not be when one was sent (a counter's name); neither
    when none comes in clear (a resumed session, an anonymous or PSK key exchange, TLS 1.3)."""

    __slots__ = (
        "_held",
        "_read",
        "_record",
        "_record_left",
        "_room",
        "_skip",
        "_state",
        "_want",
        "done",
        "failure",
        "fields",
    )

    def __init__(self) -> None:
        self._record = bytearray()  # a record header being read
        self._record_left = 0  # handshake bytes left in the current record
        self._read = 0  # bytes of the direction read
        self._state = _HELLO
        self._held = bytearray()  # the field being read: a header, a length, the certificate
        self._want = _MESSAGE_HEADER  # that field's length
        self._skip = 0  # handshake bytes to pass over: the ServerHello's body
        self._room = 0  # bytes the next field must fit in: the message's, then the list's
        self.done = False
        self.fields: CertificateFields | None = None
        self.failure: str | None = None

    @property
    def in_certificate(self) -> bool:
        """Whether the Certificate message has begun and its certificate is not read yet."""
        return not self.done and self._state >= _LIST

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)[: MAX_CERTIFICATE - self._read]
        self._read += len(view)
        while view and not self.done:
            if self._record_left:
                chunk = view[: self._record_left]
                self._record_left -= len(chunk)
                self._handshake(chunk)
            else:
                chunk = view[: _RECORD.size - len(self._record)]
                self._record += chunk
                if len(self._record) == _RECORD.size:
                    self._record_header()
            view = view[len(chunk) :]
        if self._read >= MAX_CERTIFICATE and not self.done:
            self._finish("certificate_too_long" if self.in_certificate else None)

    def stop(self, failure: str) -> None:
        """No more bytes will be read (a gap, or the client went on): ``failure`` when the
        certificate had begun."""
        self._finish(failure if self.in_certificate else None)

    def _record_header(self) -> None:
        kind, _, length = _RECORD.unpack(self._record)
        self._record.clear()
        if kind != _HANDSHAKE:
            # The flight's handshake messages are over (ChangeCipherSpec, an alert, ...).
            self._finish("certificate_malformed" if self.in_certificate else None)
            return
        self._record_left = length

    def _handshake(self, chunk: memoryview) -> None:
        """Reads the handshake messages' bytes of one record, however the fields fall in records."""
        while chunk and not self.done:
            if self._skip:
                skipped = min(self._skip, len(chunk))
                self._skip -= skipped
                chunk = chunk[skipped:]
                continue
            part = chunk[: self._want - len(self._held)]
            self._held += part
            chunk = chunk[len(part) :]
            if len(self._held) == self._want:
                field = bytes(self._held)
                self._held.clear()
                self._field(field)

    def _field(self, field: bytes) -> None:
        """A field is complete: what it says sets what is read next, or ends the reading."""
        value = int.from_bytes(field[-_LENGTH:], "big")
        state = self._state
        if state == _HELLO and field[0] == _SERVER_HELLO:
            self._skip, self._state = value, _NEXT
        elif state == _NEXT and field[0] == _CERTIFICATE and value >= _LENGTH:
            self._room, self._state, self._want = value, _LIST, _LENGTH
        elif state == _LIST and value + _LENGTH == self._room and value:
            self._room, self._state = value, _LEAF_LENGTH
        elif state == _LEAF_LENGTH and 0 < value <= min(self._room - _LENGTH, MAX_CERTIFICATE):
            self._state, self._want = _LEAF, value
        elif state == _LEAF:
            # Parsed by cryptography, imported only once a certificate is read.
            from fathom.apps.tls_x509 import certificate_fields

            self.fields = certificate_fields(field)
            self._finish(None if self.fields is not None else "certificate_unparsed")
        else:
            self._finish(self._unread(state, field, value))

    def _unread(self, state: int, field: bytes, value: int) -> str | None:
        """Why a field ends the reading: none when it says no certificate comes in clear."""
        if state == _HELLO or (state == _NEXT and field[0] != _CERTIFICATE):
            return None  # not a server's first flight, or one without a certificate
        if state == _LIST and value == 0 == self._room - _LENGTH:
            return None  # an empty list
        if state == _LEAF_LENGTH and 0 < value <= self._room - _LENGTH:
            return "certificate_too_long"
        return "certificate_malformed"

    def _finish(self, failure: str | None) -> None:
        self.done = True
        self.failure = failure
        self._held = bytearray()  # its bytes are released at once, however long the flow keeps this
