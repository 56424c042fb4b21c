"""The fields of a DER certificate as Suricata's ``tls`` event writes them, parsed with
``cryptography`` (see :mod:`fathom.apps.tls_cert` for the formats and where they come from).
Imported only when a certificate is read, as cryptography's x509 takes a while to import."""

from __future__ import annotations

import hashlib
import ipaddress
import warnings
from datetime import datetime
from itertools import islice

from cryptography import x509

from fathom.apps.tls_cert import CertificateFields

# Subject alternative names written. CAs issue at most a few hundred (Suricata's own bound is 65535).
MAX_ALT_NAMES = 1024

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
