"""The server's certificate in the ``tls`` event: read after the ServerHello however records and
segments cut it, written with Suricata's formats, bounded, and never raising on bad input."""

from __future__ import annotations

import ipaddress
import random
import re
import struct
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from fathom.apps.layer import AppLayer
from fathom.apps.tls_cert import MAX_CERTIFICATE, CertificateReader
from fathom.apps.tls_log import TlsHellos
from fathom.apps.tls_x509 import MAX_ALT_NAMES, certificate_fields
from fathom.capture.pcapfile import open_capture
from fathom.engine import Engine
from tests.traffic import ListSink, TcpConversation, feed

APPID = Path(__file__).resolve().parents[1] / "data" / "corpus" / "appid"

# Ed25519 signatures are deterministic: with a fixed key, the certificates' bytes are too.
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NOT_BEFORE = datetime(2019, 3, 19, 9, 10, 33, tzinfo=UTC)
NOT_AFTER = datetime(2029, 3, 19, 9, 10, 33, tzinfo=UTC)
SUBJECT = x509.Name(
    [
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fathom, Test")]),
        x509.RelativeDistinguishedName(
            [
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Lab"),
                x509.NameAttribute(NameOID.COMMON_NAME, "test.example"),
            ]
        ),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.SERIAL_NUMBER, "42")]),
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), "x")]
        ),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "example")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@test.example")]),
    ]
)
ALT_NAMES: list[x509.GeneralName] = [
    x509.DNSName("test.example"),
    x509.DNSName("*.test.example"),
    x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
    x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
    x509.UniformResourceIdentifier("https://test.example/"),
    x509.RFC822Name("ops@test.example"),
    x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir")])),
    x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),
    x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03upn"),
]
SUBJECT_TEXT = (
    "C=FR, O=Fathom, Test, OU=Lab + CN=test.example, serialNumber=42, OID(1.3.6.1.4.1.99999.1)=x, "
    "DC=example, Email=ops@test.example"
)
# The event's certificate fields of the self-signed certificate, in Suricata's order and formats.
CERTIFICATE_BODY = {
    "subject": SUBJECT_TEXT,
    "issuerdn": SUBJECT_TEXT,
    "subjectaltname": [
        "test.example",
        "*.test.example",
        "[192, 0, 2, 1]",
        "[32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]",
        "https://test.example/",
        "RFC822Name(ops@test.example)",
        "DirectoryName(CN=dir)",
        "RegisteredID(1.2.3.4)",
        "OtherName(1.3.6.1.4.1.311.20.2.3, [...])",
    ],
    "serial": "00:8A:07:E0:8D:4A:B5:0A:7B",
    # As openssl x509 -fingerprint -sha1 gives it, in lower case.
    "fingerprint": "0b:32:b0:a6:33:0c:44:2b:fd:bc:fe:76:ae:bf:b6:cc:3c:e1:ce:ff",
}


def make_certificate(
    subject: x509.Name = SUBJECT,
    issuer: x509.Name | None = None,
    serial: int = 0x8A07E08D4AB50A7B,
    alt_names: list[x509.GeneralName] | None = None,
    not_before: datetime = NOT_BEFORE,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer)
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(NOT_AFTER)
    )
    names = ALT_NAMES if alt_names is None else alt_names
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(KEY, None).public_bytes(serialization.Encoding.DER)


CERTIFICATE = make_certificate()
CLIENT_HELLO = bytes.fromhex("160301002d010000290303") + bytes(32) + bytes.fromhex("000002c02f0100")
CHANGE_CIPHER_SPEC = b"\x14\x03\x03\x00\x01\x01"


def message(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def records(data: bytes, size: int = 16384, kind: int = 22) -> bytes:
    """``data`` in records of ``size`` bytes at most."""
    return b"".join(
        struct.pack("!BHH", kind, 0x0303, len(data[i : i + size])) + data[i : i + size]
        for i in range(0, len(data), size)
    )


def server_hello(tls13: bool = False, extension_bytes: int = 0) -> bytes:
    extensions = struct.pack("!HHB", 0xFF01, 1, 0)  # renegotiation_info
    if tls13:
        extensions += struct.pack("!HHH", 43, 2, 0x0304)
    if extension_bytes:
        extensions += struct.pack("!HH", 0xFFCE, extension_bytes) + bytes(extension_bytes)
    body = struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!HB", 0xC02F, 0)
    return message(2, body + struct.pack("!H", len(extensions)) + extensions)


def certificate_message(*certificates: bytes) -> bytes:
    chain = b"".join(len(c).to_bytes(3, "big") + c for c in certificates)
    return message(11, len(chain).to_bytes(3, "big") + chain)


SERVER_HELLO_DONE = message(14, b"")
ISSUER_CERTIFICATE = make_certificate(
    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fathom Test CA")]), alt_names=[]
)
FLIGHT = server_hello() + certificate_message(CERTIFICATE, ISSUER_CERTIFICATE) + SERVER_HELLO_DONE


def hellos_after(server_bytes: bytes, cuts: int = 1 << 30) -> TlsHellos:
    """A flow's hellos once the client's hello, then ``server_bytes`` in pieces of ``cuts`` bytes,
    were read."""
    hellos = TlsHellos()
    hellos.feed(True, CLIENT_HELLO)
    for i in range(0, len(server_bytes), cuts):
        hellos.feed(False, memoryview(server_bytes)[i : i + cuts])
    return hellos


def test_the_certificate_fields_of_a_self_signed_certificate() -> None:
    fields = certificate_fields(CERTIFICATE)
    assert fields is not None
    assert fields.subject == fields.issuerdn == SUBJECT_TEXT
    assert list(fields.subjectaltname) == CERTIFICATE_BODY["subjectaltname"]
    assert (fields.serial, fields.fingerprint) == (
        CERTIFICATE_BODY["serial"],
        CERTIFICATE_BODY["fingerprint"],
    )
    assert (fields.notbefore, fields.notafter) == ("2019-03-19T09:10:33", "2029-03-19T09:10:33")


@pytest.mark.parametrize(
    ("serial", "text"),
    [(1, "01"), (0x7F, "7F"), (0x80, "00:80"), (0x03DE23, "03:DE:23"), (2**159 - 1, "7F" + ":FF" * 19)],
)
def test_serials_are_their_der_bytes(serial: int, text: str) -> None:
    fields = certificate_fields(make_certificate(serial=serial))
    assert fields is not None and fields.serial == text


def _three_letter_country() -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns of it, and builds it
        country = x509.NameAttribute(NameOID.COUNTRY_NAME, "FRA", _validate=False)
    return make_certificate(x509.Name([country]), alt_names=[])


def _negative_serial() -> bytes:
    der = make_certificate(serial=0x7A5B3C, alt_names=[])
    assert der.count(bytes.fromhex("02037a5b3c")) == 1
    return der.replace(bytes.fromhex("02037a5b3c"), bytes.fromhex("0203fa5b3c"))


@pytest.mark.parametrize(
    ("der", "subject", "serial"),
    [
        (_three_letter_country(), "C=FRA", "00:8A:07:E0:8D:4A:B5:0A:7B"),
        (_negative_serial(), SUBJECT_TEXT, "FA:5B:3C"),
    ],
    ids=["country", "negative-serial"],
)
def test_what_cryptography_finds_odd_is_read_without_a_warning(der: bytes, subject: str, serial: str) -> None:
    """Suricata logs a serial that is not positive (RFC 5280 4.1.2.2) and a country of three letters."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fields = certificate_fields(der)
    assert fields is not None and (fields.subject, fields.serial) == (subject, serial)
    assert seen == []


def test_a_printable_string_with_a_star_does_not_parse() -> None:
    """cryptography is stricter than Suricata's x509-parser: a wildcard in a PrintableString (where
    ``*`` is not allowed, X.680 41.4) makes the certificate unreadable, where Suricata logs it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.test.example")])
    der = make_certificate(name, alt_names=[])
    utf8 = b"\x0c\x0e*.test.example"
    assert der.count(utf8) == 2 and certificate_fields(der) is not None
    assert certificate_fields(der.replace(utf8, b"\x13" + utf8[1:])) is None


def test_the_epoch_is_no_time_and_names_may_be_empty() -> None:
    """Suricata writes no validity time that is 0, and an empty name as an empty string."""
    fields = certificate_fields(
        make_certificate(x509.Name([]), alt_names=[], not_before=datetime(1970, 1, 1, tzinfo=UTC))
    )
    assert fields is not None
    assert (fields.subject, fields.issuerdn, fields.subjectaltname) == ("", "", ())
    assert (fields.notbefore, fields.notafter) == (None, "2029-03-19T09:10:33")


def test_an_issuer_of_its_own_and_a_unique_identifier() -> None:
    """A bit string value is written in upper-case hex, as x509-parser writes what is no string."""
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "CA"),
            # cryptography builds a bit string value only with its private type name.
            x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x00\xab", x509.name._ASN1Type.BitString),
        ]
    )
    fields = certificate_fields(make_certificate(issuer=issuer))
    assert fields is not None and fields.issuerdn == "CN=CA, uniqueIdentifier=00AB"


def test_alternative_names_are_bounded() -> None:
    names: list[x509.GeneralName] = [x509.DNSName(f"h{i}.example") for i in range(MAX_ALT_NAMES + 5)]
    fields = certificate_fields(make_certificate(alt_names=names))
    assert fields is not None
    assert fields.subjectaltname == tuple(f"h{i}.example" for i in range(MAX_ALT_NAMES))


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x01", CERTIFICATE[:-1], CERTIFICATE + b"\x00"])
def test_what_does_not_parse_has_no_fields(data: bytes) -> None:
    assert certificate_fields(data) is None


@pytest.mark.parametrize("record_size", [16384, 1000, 97, 3, 1])
@pytest.mark.parametrize("segment_size", [1 << 30, 1460, 100, 7, 1])
def test_a_certificate_over_records_and_segments_is_read_whole(record_size: int, segment_size: int) -> None:
    hellos = hellos_after(records(FLIGHT, record_size), segment_size)
    assert hellos.finished and hellos.certificate_failure is None
    certificate = hellos.certificate
    assert certificate is not None
    assert (certificate.subject, certificate.serial, certificate.fingerprint) == (
        SUBJECT_TEXT,
        CERTIFICATE_BODY["serial"],
        CERTIFICATE_BODY["fingerprint"],
    )


def test_the_flow_waits_for_the_certificate_below_tls_13() -> None:
    stream = records(server_hello() + certificate_message(CERTIFICATE), 600)
    hellos = hellos_after(stream[:700])
    assert hellos.server is not None and not hellos.finished and hellos.certificate is None
    assert hellos.certificate_failure == "certificate_incomplete"  # were the flow to end now
    hellos.feed(False, stream[700:])
    assert hellos.finished and hellos.certificate is not None


def test_every_truncation_of_the_flight_is_read_without_error() -> None:
    stream = records(FLIGHT, 300)
    hello_end = 5 + len(server_hello())
    # The first certificate ends after its record headers: the records before it and its own.
    leaf_end = hello_end + 4 + 3 + 3 + len(CERTIFICATE)
    leaf_end += 5 * ((leaf_end - 1) // 305)
    for end in range(len(stream) + 1):
        hellos = hellos_after(stream[:end])
        read = hellos.certificate is not None
        assert read == (end >= leaf_end) == hellos.finished, end
        if not read and end >= hello_end + 4:
            assert hellos.certificate_failure == "certificate_incomplete", end
        elif not read:
            assert hellos.certificate_failure is None, end


def test_mangled_flights_never_raise() -> None:
    rng = random.Random(11)
    base = records(FLIGHT, 500)
    outcomes: set[str | None] = set()
    for _ in range(1500):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        hellos = hellos_after(bytes(data[: rng.randrange(len(data) + 1)]), rng.choice([1 << 30, 13, 1]))
        outcomes.add(hellos.certificate_failure)
        assert hellos.certificate is None or hellos.certificate_failure is None
    assert outcomes <= {
        None,
        "certificate_incomplete",
        "certificate_malformed",
        "certificate_too_long",
        "certificate_unparsed",
    }
    assert {"certificate_malformed", "certificate_unparsed"} <= outcomes


@pytest.mark.parametrize(
    "after_hello",
    [
        CHANGE_CIPHER_SPEC,  # a resumed session
        records(message(12, b"\x03\x00\x17\x41" + bytes(65)) + SERVER_HELLO_DONE),  # anonymous ECDH
        records(certificate_message()),  # an empty list
    ],
    ids=["resumed", "no-certificate-message", "empty-list"],
)
def test_a_flight_without_a_certificate_logs_none_and_counts_nothing(after_hello: bytes) -> None:
    hellos = hellos_after(records(server_hello()) + after_hello)
    assert hellos.finished
    assert (hellos.certificate, hellos.certificate_failure) == (None, None)


def test_tls_13_does_not_wait_for_its_encrypted_certificate() -> None:
    hellos = hellos_after(records(server_hello(tls13=True)))
    assert hellos.finished
    assert (hellos.certificate, hellos.certificate_failure) == (None, None)


def _certificate_with(list_length: int, first_length: int, first: bytes, length: int | None = None) -> bytes:
    """A ServerHello, then a Certificate message of the lengths given, and so much of it."""
    body = list_length.to_bytes(3, "big") + first_length.to_bytes(3, "big") + first
    header = bytes([11]) + (len(body) if length is None else length).to_bytes(3, "big")
    return records(server_hello() + header + body)


@pytest.mark.parametrize(
    ("stream", "failure"),
    [
        (_certificate_with(len(CERTIFICATE) + 4, len(CERTIFICATE), CERTIFICATE), "certificate_malformed"),
        (_certificate_with(3, 0, b""), "certificate_malformed"),
        (_certificate_with(10, 8, b"12345678"), "certificate_malformed"),
        (_certificate_with(11, 8, b"12345678"), "certificate_unparsed"),
        (records(server_hello() + message(11, b"\x00")), "certificate_malformed"),
        (
            records(server_hello() + certificate_message(CERTIFICATE), 200)[:410] + CHANGE_CIPHER_SPEC,
            "certificate_malformed",
        ),
        (
            _certificate_with(MAX_CERTIFICATE + 4, MAX_CERTIFICATE + 1, b"", length=MAX_CERTIFICATE + 7),
            "certificate_too_long",
        ),
    ],
    ids=[
        "list-length",
        "empty-certificate",
        "past-list",
        "not-der",
        "short-message",
        "cut-by-record",
        "too-long",
    ],
)
def test_certificates_that_cannot_be_read_are_counted(stream: bytes, failure: str) -> None:
    hellos = hellos_after(stream)
    assert hellos.finished and hellos.certificate is None
    assert hellos.certificate_failure == failure


def test_the_bound_covers_the_bytes_before_the_certificate_too() -> None:
    """A certificate within the bound by itself, but not with the ServerHello before it."""
    first = MAX_CERTIFICATE - 4000
    body = (first + 3).to_bytes(3, "big") + first.to_bytes(3, "big") + bytes(first)
    stream = records(server_hello(extension_bytes=5000) + message(11, body))
    reader = CertificateReader()
    reader.feed(stream[: MAX_CERTIFICATE - 1])
    assert not reader.done
    reader.feed(stream[MAX_CERTIFICATE - 1 :])
    assert reader.done and (reader.fields, reader.failure) == (None, "certificate_too_long")


def test_a_certificate_near_the_bound_is_read() -> None:
    names: list[x509.GeneralName] = [x509.DNSName(f"host-{i:05d}.example") for i in range(3220)]
    stream = records(server_hello() + certificate_message(make_certificate(alt_names=names)))
    assert MAX_CERTIFICATE - 1000 < len(stream) < MAX_CERTIFICATE
    hellos = hellos_after(stream)
    assert hellos.certificate is not None and len(hellos.certificate.subjectaltname) == MAX_ALT_NAMES


def test_the_client_going_on_ends_the_wait() -> None:
    """The client's second flight comes once it has the server's whole first flight: what of the
    certificate is missing then will not come."""
    hellos = hellos_after(records(server_hello() + certificate_message(CERTIFICATE))[:200])
    hellos.feed(True, CHANGE_CIPHER_SPEC)
    assert hellos.finished and hellos.certificate_failure == "certificate_incomplete"
    hellos = hellos_after(records(server_hello()))
    hellos.feed(True, CHANGE_CIPHER_SPEC)
    assert hellos.finished and hellos.certificate_failure is None


def test_a_gap_in_the_servers_bytes_ends_the_certificate() -> None:
    hellos = hellos_after(records(server_hello() + certificate_message(CERTIFICATE))[:200])
    hellos.gap(to_server=True)
    assert not hellos.finished
    hellos.gap(to_server=False)
    assert hellos.finished and hellos.certificate is None
    assert hellos.certificate_failure == "certificate_gap"


def tls_events(packets: list[tuple[float, Any]]) -> list[dict[str, Any]]:
    engine = Engine(layers=[AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    feed(engine, packets)
    engine.finish()
    return [e for e in sink.events if e["event_type"] == "tls"]


def test_the_tls_event_carries_the_certificate() -> None:
    flight = records(FLIGHT, 700)
    conv = TcpConversation(dport=443).handshake().client_sends(CLIENT_HELLO)
    for i in range(0, len(flight), 512):
        conv.server_sends(flight[i : i + 512])
    conv.client_sends(records(message(16, bytes(33))) + CHANGE_CIPHER_SPEC).close()
    (event,) = tls_events(conv.packets)
    tls = event["tls"]
    assert list(tls) == [*CERTIFICATE_BODY, "version", "notbefore", "notafter", "ja3", "ja3s", "ja4"]
    assert {k: tls[k] for k in CERTIFICATE_BODY} == CERTIFICATE_BODY
    assert (tls["version"], tls["notbefore"], tls["notafter"]) == (
        "TLS 1.2",
        "2019-03-19T09:10:33",
        "2029-03-19T09:10:33",
    )
    assert tls["ja3s"]["string"] == "771,49199,65281"
    # Written from the packet that completed the first certificate.
    # Its end in the server's bytes: two record headers, the ServerHello, the Certificate message's
    # header and lengths, the certificate; the server's segments follow the client's fourth packet.
    end = 2 * 5 + len(server_hello()) + 10 + len(CERTIFICATE)
    assert event["pcap_cnt"] == 4 + (end + 511) // 512 == 6


def _ndpi(name: str, field: str) -> str:
    expected = (APPID / f"{name}.expected.txt").read_text()
    found = re.search(rf"\[{field}: ([^\]]+)\]", expected)
    assert found is not None
    return found.group(1)


def _capture_tls(name: str) -> dict[str, Any]:
    engine = Engine(layers=[AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(APPID / f"{name}.pcap")) as reader:
        engine.run(reader)
    engine.finish()
    (tls,) = [e["tls"] for e in sink.events if e["event_type"] == "tls"]
    fields: dict[str, Any] = tls
    return fields


MICROSOFT_NAMES = [
    "*.officeapps.live.com",
    "*.msads.net",
    "*.ads2.msads.net",
    "*.stc.s-msn.com",
    "cdn.dc2files.*.livefilestore-int.com",
    "cdn.*.livefilestore.com",
    "*.marketplace.windowsmobile.com",
    "*.marketplace.windowsmobile-int.com",
    "*.marketplace.windowsmobile-perf.com",
    "*.stj.s-msn.com",
    "ajax.microsoft.com",
    "*.microsoft-sbs-domains.com",
    "*.live.net",
    "*.msn.com",
    "*.msn-int.com",
    "*.f1ds.shared.live-int.com",
    "*.f1ds.wlxrs-int.com",
    "*.shared.live-int.com",
    "*.shared.live.com",
    "*.microsoft.com",
    "*.live.com",
    "*.live-int.com",
    "*.wlxrs.com",
    "*.wlxrs-int.com",
    "*.st.s-msn.com",
    "*.stb.s-msn.com",
    "images.moxy.windowsphone-int.com",
    "*.wlxrsu-int.com",
    "images.partner.windowsphone-int.com",
    "images.partner.windowsphone.com",
    "*.jp.msn.com",
    "*.c3scs.jp.msn.com",
    "*.aspnetcdn.com",
    "*.hotmail.com",
    "*.partner-df.windowsphone-int.com",
    "*.s-msn.com",
    "*.live-int.net",
    "*.windowsphone-int.com",
    "*.windowsphone.com",
    "*.partner-pc.windowsphone-int.com",
    "*.manage.microsoft.com",
    "*.vo.msecnd.net",
]

CAPTURED = {
    "tls-rdn-extract": {
        "subject": "C=US, L=Redmond, O=Microsoft, OU=GFS, " + ", ".join(f"CN={n}" for n in MICROSOFT_NAMES),
        "issuerdn": "DC=com, DC=microsoft, DC=corp, DC=redmond, CN=Microsoft Secure Server Authority",
        "subjectaltname": [MICROSOFT_NAMES[-1], *MICROSOFT_NAMES[:-1]],
        "serial": "69:17:C8:B6:00:08:00:02:4C:0F",
        "fingerprint": "ff:bf:9a:69:8f:c8:44:ff:89:f2:61:49:a7:d1:9a:98:de:32:84:3b",
        "sni": "ads1.msads.net",
        "version": "TLSv1",
        "notbefore": "2011-10-21T16:42:03",
        "notafter": "2013-10-20T16:42:03",
    },
    "443-curl": {
        "subject": "CN=www.ntop.org",
        "issuerdn": "C=US, O=Let's Encrypt, CN=Let's Encrypt Authority X3",
        "subjectaltname": ["www.ntop.org"],
        "serial": "03:C5:6F:66:36:ED:A7:2F:7F:4C:56:65:FA:05:5D:93:32:55",
        "fingerprint": "db:a7:e4:3e:6d:bb:21:ab:68:47:35:e8:0b:8f:15:df:db:c7:c9:6f",
        "sni": "www.ntop.org",
        "version": "TLS 1.2",
        "notbefore": "2019-12-17T01:17:28",
        "notafter": "2020-03-16T01:17:28",
    },
    "443-git": {
        "subject": "businessCategory=Private Organization, msJurisdictionCountry=US, "
        "msJurisdictionStateOrProvince=Delaware, serialNumber=5157550, C=US, ST=California, "
        "L=San Francisco, O=GitHub, Inc., CN=github.com",
        "issuerdn": "C=US, O=DigiCert Inc, OU=www.digicert.com, "
        "CN=DigiCert SHA2 Extended Validation Server CA",
        "subjectaltname": ["github.com", "www.github.com"],
        "serial": "0A:06:30:42:7F:5B:BC:ED:69:57:39:65:93:B6:45:1F",
        "fingerprint": "ca:06:f5:6b:25:8b:7a:0d:4f:2b:05:47:09:39:47:86:51:15:19:84",
        "sni": "github.com",
        "version": "TLS 1.2",
        "notbefore": "2018-05-08T00:00:00",
        "notafter": "2020-06-03T12:00:00",
    },
}


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_the_certificates_of_real_captures(name: str) -> None:
    tls = _capture_tls(name)
    assert {k: tls[k] for k in CAPTURED[name]} == CAPTURED[name]
    # What nDPI read of the same certificates.
    assert tls["fingerprint"].upper() == _ndpi(name, "Certificate SHA-1")
    assert tls["subjectaltname"] == _ndpi(name, "ServerNames").split(",")
    assert f"{tls['notbefore']} - {tls['notafter']}".replace("T", " ") == _ndpi(name, "Validity")
