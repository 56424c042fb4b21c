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

import hashlib
import ipaddress
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from cryptography import x509

# Bytes of the server's direction read for its certificate, from the first through the
# certificate's last; the certificate's own bytes are held until it is complete. Real first flights
# reach it within a few KiB; certificates naming hundreds of hosts take tens of KiB.
MAX_CERTIFICATE = 65536
# Subject alternative names written. CAs issue at most a few hundred (Suricata's own bound is 65535).
MAX_ALT_NAMES = 1024

_RECORD = struct.Struct("!BHH")
_HANDSHAKE = 22
_SERVER_HELLO, _CERTIFICATE = 2, 11
_MESSAGE_HEADER = 4  # type, 3-byte length
_LENGTH = 3  # a certificate list's, or a certificate's, length

# What the reader waits for: the ServerHello's header, the next message's header, then in the
# Certificate message the list's length, the first certificate's length, the certificate itself.
_HELLO, _NEXT, _LIST, _LEAF_LENGTH, _LEAF = range(5)

# Attribute types as x509-parser names them: its abbreviations (src/objects.rs), then the short names
# of the registry it loads (oid-registry 0.7, assets/oid_db.txt: the x509 and pkcs9 attribute types).
_ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
    "2.5.4.11": "OU", "0.9.2342.19200300.100.1.25": "DC", "1.2.840.113549.1.9.1": "Email",
    "0.9.2342.19200300.100.1.1": "uid",
    "1.3.6.1.4.1.311.60.2.1.1": "msJurisdictionLocality",
    "1.3.6.1.4.1.311.60.2.1.2": "msJurisdictionStateOrProvince",
    "1.3.6.1.4.1.311.60.2.1.3": "msJurisdictionCountry",
    "2.5.4.0": "objectClass", "2.5.4.1": "aliasedEntryName", "2.5.4.2": "knowledgeInformation",
    "2.5.4.4": "surname", "2.5.4.5": "serialNumber", "2.5.4.9": "streetAddress",
    "2.5.4.12": "title", "2.5.4.13": "description", "2.5.4.14": "searchGuide",
    "2.5.4.15": "businessCategory", "2.5.4.16": "postalAddress", "2.5.4.17": "postalCode",
    "2.5.4.41": "name", "2.5.4.42": "givenName", "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier", "2.5.4.45": "uniqueIdentifier", "2.5.4.46": "dnQualifier",
    "1.2.840.113549.1.9.2": "unstructuredName", "1.2.840.113549.1.9.3": "contentType",
    "1.2.840.113549.1.9.4": "id-messageDigest", "1.2.840.113549.1.9.5": "signing-time",
    "1.2.840.113549.1.9.7": "challengePassword", "1.2.840.113549.1.9.14": "extensionRequest",
    "1.2.840.113549.1.9.15": "smimeCapabilities", "1.2.840.113549.1.9.20": "friendlyName",
}  # fmt: skip


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


def certificate_fields(der: bytes) -> CertificateFields | None:
    """The fields of the DER certificate ``der``; None when it does not parse."""
    # What cryptography finds odd but reads is written as Suricata writes it, without a warning: a
    # serial that is not positive (RFC 5280 4.1.2.2), a country name not of two letters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(der)
            # The names are decoded on first use, and may fail then (a value of the wrong type).
            subject, issuer = cert.subject, cert.issuer
            serial, not_before, not_after = (
                cert.serial_number,
                cert.not_valid_before_utc,
                cert.not_valid_after_utc,
            )
        except (ValueError, TypeError, x509.InvalidVersion):
            return None
        alt_names = _alt_names(cert)
    return CertificateFields(
        _name(subject),
        _name(issuer),
        tuple(_alt_name(name) for name in alt_names),
        _serial(serial),
        hashlib.sha1(der, usedforsecurity=False).digest().hex(":"),
        _time(not_before),
        _time(not_after),
    )


def _name(name: x509.Name) -> str:
    return ", ".join(" + ".join(_attribute(attribute) for attribute in rdn) for rdn in name.rdns)


def _attribute(attribute: x509.NameAttribute[str | bytes]) -> str:
    dotted = attribute.oid.dotted_string
    value = attribute.value
    text = value if isinstance(value, str) else value.hex().upper()
    return f"{_ATTRIBUTE_NAMES.get(dotted) or f'OID({dotted})'}={text}"


def _serial(number: int) -> str:
    """The serial's DER content, the shortest two's complement: a leading zero byte included."""
    size = (number if number >= 0 else ~number).bit_length() // 8 + 1
    return number.to_bytes(size, "big", signed=True).hex(":").upper()


def _time(moment: datetime) -> str | None:
    if moment.timestamp() == 0:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def _alt_names(cert: x509.Certificate) -> list[x509.GeneralName]:
    """The first subject alternative names; none when the extension is absent or does not parse
    (Suricata writes the rest of the certificate then too)."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return list(islice(names, MAX_ALT_NAMES))
    except (
        ValueError,
        TypeError,
        x509.ExtensionNotFound,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ):
        return []


def _alt_name(name: x509.GeneralName) -> str:
    """A host name or URI as it is; other kinds as Suricata's x509-parser displays them."""
    if isinstance(name, x509.DNSName | x509.UniformResourceIdentifier):
        return name.value
    if isinstance(name, x509.IPAddress):
        return f"[{', '.join(str(byte) for byte in _ip_bytes(name.value))}]"  # Rust's Debug of the bytes
    if isinstance(name, x509.RFC822Name):
        return f"RFC822Name({name.value})"
    if isinstance(name, x509.DirectoryName):
        return f"DirectoryName({_name(name.value)})"
    if isinstance(name, x509.RegisteredID):
        return f"RegisteredID({name.value.dotted_string})"
    if isinstance(name, x509.OtherName):
        return f"OtherName({name.type_id.dotted_string}, [...])"
    return str(name.value)  # a kind cryptography may add


def _ip_bytes(
    value: ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> bytes:
    """The bytes of an address, or of a network's address then its mask, as they were sent."""
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value.packed
    return value.network_address.packed + value.netmask.packed


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
