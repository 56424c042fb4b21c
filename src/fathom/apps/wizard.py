"""Payload-based service detection, after Snort 3's wizard.

The wizard looks at the first bytes of each direction of a flow and names the most likely service,
with Snort's service names (``http``, ``ssl``, ``dns``, ``smtp``, ``netbios-ssn``, ...), so that the
right parser and rule groups engage early. It does not prove the service: parsers do that.

Three kinds of magic, as in Snort's ``default_wizard``, each anchored at the start of a direction:

- spells: text, case-insensitive, leading whitespace skipped; ``*`` matches any run of bytes and
  ``**`` is a literal ``*`` (``"220*FTP"``, ``"** OK"``, ``"* * HTTP/"``);
- hexes: bytes in Snort's content syntax, case-sensitive, where ``?`` stands for any one byte
  (``"|16 03|"``); signatures are the binary patterns that need more than that (BER lengths,
  character classes) and are written as regular expressions;
- curses: small detectors for framings a pattern cannot follow (DNS messages, NetBIOS sessions
  carrying SMB, connectionless DCE/RPC, SSLv2 client hellos), some for one direction only, some
  only on a port (mDNS is DNS on 5353);
- pairs (not in Snort): detectors for UDP framings that one datagram cannot prove, judging each
  datagram with the start of the one before it in the same direction (RTP: one SSRC, sequence
  numbers that go up; OpenVPN: a hard reset, then a control message of its session).

Beyond the services Snort's rules gate on (``SNORT_SERVICES``), the wizard names others that nDPI
names, for application identification: BitTorrent, syslog, STUN, RTP (over TCP too), OpenVPN,
WireGuard, MQTT, DTLS, QUIC, mDNS, TDS, Redis, the ICS protocols DNP3 and Modbus, WhatsApp's chat
protocol, Discord's voice, Spotify's and Dropbox's LAN discovery, and TLS picked up after its
handshake (``tls-data``: application data records, which Snort's ssl hex does not take, so no
SSL inspector has such a flow).

Client and server magic differ (an FTP banner only comes from the server). TCP bytes of one
direction accumulate up to ``max_depth``; each UDP datagram is judged on its own, as Snort does.
A direction is abandoned, with its reason counted, when it reaches ``max_depth`` bytes or
``max_packets`` packets, or when its bytes can no longer start any magic.

Ports are hints. A direction's first payload that confirms what the server port suggests names
the flow at once (``first_look``). Ports alone name a service only at the end of a flow that the
payload never decided (no payload, half a conversation, or bytes no magic follows), as nDPI
guesses by port. Every service of ``PORT_HINTS`` may come from its port this way; ``wins`` (WINS
replication, TCP 42) comes from its port only, having no magic here.
FTP data connections (``ftp-data``) are not covered: the app layer names them from the control
channel's PORT/EPRT/PASV/EPSV exchange (:mod:`fathom.apps.logs.ftp`), not by their own bytes.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from fathom.apps import dtls

TCP = 6
UDP = 17
BOTH = frozenset({TCP, UDP})
TCP_ONLY = frozenset({TCP})
UDP_ONLY = frozenset({UDP})

Bytes = bytes | bytearray | memoryview
# A curse's verdict on the bytes seen so far: True (this service), False (not it) or None (too
# few bytes to tell).
CurseTest = Callable[[Bytes], bool | None]
# A pair's verdict on a datagram, given the start of the previous one.
PairTest = Callable[[bytes, Bytes], bool]


@dataclass(frozen=True)
class Magic:
    """Spells or hexes of one service, by direction."""

    service: str
    to_server: tuple[str, ...] = ()
    to_client: tuple[str, ...] = ()
    transports: frozenset[int] = TCP_ONLY


@dataclass(frozen=True)
class Signature:
    """A binary pattern written as a regular expression; ``needs`` bytes decide it."""

    service: str
    pattern: bytes
    needs: int
    transports: frozenset[int]
    to_server: bool = True
    to_client: bool = True


@dataclass(frozen=True)
class Curse:
    """A detector for a framing that no pattern can follow; with ``ports``, only for flows that
    have one of them at either end."""

    service: str
    test: CurseTest
    transports: frozenset[int]
    to_server: bool = True
    to_client: bool = True
    ports: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Pair:
    """A detector for a UDP framing that one datagram cannot prove: it judges each datagram with
    the start of the one before it in the same direction (``PAIR_PREFIX`` bytes)."""

    service: str
    test: PairTest
    to_server: bool = True
    to_client: bool = True


# --- Snort 3's default_wizard (lua/snort_defaults.lua) ---------------------------------------

HTTP_METHODS = (
    "GET", "HEAD", "POST", "DELETE", "TRACE", "CONNECT", "VERSION_CONTROL", "REPORT", "CHECKOUT",
    "CHECKIN", "UNCHECKOUT", "MKWORKSPACE", "LABEL", "MERGE", "BASELINE_CONTROL", "MKACTIVITY",
    "ORDERPATCH", "ACL", "PATCH", "BIND", "LINK", "MKCALENDAR", "MKREDIRECTREF", "REBIND", "UNBIND",
    "UNLINK", "UPDATEREDIRECTREF", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    "SEARCH", "BCOPY", "BDELETE", "BMOVE", "BPROPFIND", "BPROPPATCH", "POLL", "UNSUBSCRIBE",
    "X_MS_ENUMATTS", "NOTIFY * HTTP/", "OPTIONS * HTTP/", "SUBSCRIBE * HTTP/", "UPDATE * HTTP/",
    "PUT * HTTP/", "* * HTTP/",
)  # fmt: skip

SIP_REQUESTS = (
    "INVITE", "CANCEL", "BYE", "REGISTER", "PRACK", "PUBLISH", "REFER", "INFO", "MESSAGE",
    "NOTIFY * SIP/", "OPTIONS * SIP/", "SUBSCRIBE * SIP/", "UPDATE * SIP/", "ACK * SIP/", "* * SIP/",
)  # fmt: skip

# IAC followed by a command from SE (F0) to DONT (FE).
TELNET_COMMANDS = tuple(f"|FF {cmd:02X}|" for cmd in range(0xF0, 0xFF))

SPELLS = (
    Magic("ftp", to_client=("220*FTP", "220*FileZilla")),
    Magic("http", to_server=HTTP_METHODS, to_client=("HTTP/",)),
    Magic("imap", to_client=("** OK", "** BYE", "** PREAUTH")),
    Magic("pop3", to_client=("+OK", "-ERR")),
    Magic("sip", to_server=SIP_REQUESTS, to_client=("SIP/",), transports=BOTH),
    Magic("smtp", to_server=("HELO", "EHLO"), to_client=("220*SMTP", "220*MAIL")),
    Magic("ssh", to_server=("SSH-",), to_client=("SSH-",)),
    Magic("dce_http_server", to_client=("ncacn_http",)),
    Magic("dce_http_proxy", to_server=("RPC_CONNECT",)),
    # Not in Snort's defaults: text protocols that the community rules name, after nDPI.
    Magic(
        "irc",
        to_server=("NICK ", "CAP LS", "USER * * * :"),
        to_client=(":* NOTICE ", "NOTICE AUTH", ":* 001 "),
    ),
    Magic(
        "nntp",
        to_server=("MODE READER", "AUTHINFO USER", "ARTICLE ", "GROUP "),
        to_client=("200*NNTP", "201*NNTP", "200*NNRP", "201*NNRP"),
    ),
    Magic("rtsp", to_server=("* * RTSP/",), to_client=("RTSP/",)),
    Magic(
        "ssdp", to_server=("M-SEARCH * HTTP/", "NOTIFY * HTTP/"), to_client=("HTTP/",), transports=UDP_ONLY
    ),
)

# What Snort 3's default wizard can name (its spells, hexes and curses): rules gate on these. The
# other services here help application identification, which Snort leaves to other inspectors.
SNORT_SERVICES = frozenset({
    "ftp", "http", "imap", "pop3", "sip", "smtp", "ssh", "dce_http_server", "dce_http_proxy",
    "dnp3", "netflow", "http2", "modbus", "rpc", "ssl", "telnet", "dcerpc", "netbios-ssn", "mms",
    "opcua", "s7commplus", "socks",
})  # fmt: skip

HEXES = (
    Magic("ssl", to_server=("|16 03|",), to_client=("|16 03|",)),
    Magic("telnet", to_server=TELNET_COMMANDS, to_client=TELNET_COMMANDS),
    # Not in Snort's defaults: the peer wire protocol's handshake, from either peer.
    Magic("bittorrent", to_server=("|13|BitTorrent protocol",), to_client=("|13|BitTorrent protocol",)),
)

# --- Signatures for the binary services the community rules name (after nDPI's dissectors) ------

# A BER length: short form, or long form with one to four length bytes.
_BER_LEN = rb"(?:[\x00-\x7f]|\x81.|\x82..|\x83...|\x84....)"
# pvno [0] or [1] INTEGER 5, the first field of every Kerberos message.
_KRB5 = rb"[\x6a-\x6e\x7e]" + _BER_LEN + rb"\x30" + _BER_LEN + rb"[\xa0\xa1]\x03\x02\x01\x05"
# An ONC RPC call to a program in Sun's assigned range 100000-100511, version 2 of the protocol.
_RPC_CALL = rb"....\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01[\x86\x87]."
_RPC_REPLY = rb"....\x00\x00\x00\x01\x00\x00\x00[\x00\x01]\x00\x00\x00[\x00-\x06]"
# An encoded NetBIOS name: length 32, then 32 letters from A to P.
_NB_NAME = rb"\x20[A-P]{32}\x00"
# NTP's first byte: version 1-4, modes 1 (symmetric) to 5 (broadcast), any leap indicator.
_NTP_FIRST = bytes(li << 6 | vn << 3 | mode for li in range(4) for vn in range(1, 5) for mode in range(1, 6))

# Google QUIC's public flags with a version and an 8-byte connection id: no reset, multipath or
# reserved bits.
_GQUIC_FLAGS = bytes(f for f in range(0x40) if f & 0x0B == 0x09)

SIGNATURES = (
    Signature("snmp", rb"\x30" + _BER_LEN + rb"\x02\x01(?:[\x00\x01]\x04|\x03\x30)", 7, UDP_ONLY),
    Signature("ldap", rb"\x30" + _BER_LEN + rb"\x02[\x01-\x04].{1,4}?[\x42\x4a\x50\x60-\x79]", 8, BOTH),
    Signature("kerberos", _KRB5, 11, UDP_ONLY),
    Signature("kerberos", rb"\x00..." + _KRB5, 15, TCP_ONLY),
    Signature("mysql", rb"...\x00\x0a[1-9][0-9]?\.[0-9]", 8, TCP_ONLY, to_server=False),
    Signature(
        "postgresql",
        rb"\x00\x00..\x00\x03\x00\x00(?:user|database|options|replication)\x00"
        rb"|\x00\x00\x00\x08\x04\xd2\x16[\x2f\x30]|\x00\x00\x00\x10\x04\xd2\x16\x2e",
        13,
        TCP_ONLY,
        to_client=False,
    ),
    # A TPKT-framed X.224 connection request carrying an RDP cookie or negotiation request.
    Signature("rdp", rb"\x03\x00..[\x06-\xfe]\xe0\x00\x00..\x00(?:Cookie: |\x01.\x08\x00)", 15, TCP_ONLY),
    Signature("rdp", rb"\x03\x00..[\x06-\xfe]\xd0....\x00[\x02\x03].\x08\x00", 15, TCP_ONLY, to_server=False),
    # DCE/RPC connection-oriented bind or bind_ack, version 5.0, with a valid data representation.
    Signature("dcerpc", rb"\x05\x00[\x0b\x0c].[\x00\x10][\x00-\x03]\x00\x00", 8, TCP_ONLY),
    Signature("sunrpc", _RPC_CALL, 16, UDP_ONLY, to_client=False),
    Signature("sunrpc", rb"[\x80-\xff]..." + _RPC_CALL, 20, TCP_ONLY, to_client=False),
    Signature("sunrpc", _RPC_REPLY, 16, UDP_ONLY, to_server=False),
    Signature("sunrpc", rb"[\x80-\xff]..." + _RPC_REPLY, 20, TCP_ONLY, to_server=False),
    # Read and write requests, and the first packets of a transfer (which opens its own flow,
    # from either side: data block 1, the acknowledgement of block 0, an option acknowledgement).
    Signature("tftp", rb"\x00[\x01\x02][^\x00]{0,255}\x00(?i:netascii|octet|mail)\x00", 4, UDP_ONLY),
    Signature("tftp", rb"\x00\x03\x00\x01|\x00\x04\x00\x00\Z|\x00\x06(?i:blksize|tsize|timeout)\x00", 4,
              UDP_ONLY),
    Signature("dhcp", rb"[\x01\x02]\x01\x06.{233}\x63\x82\x53\x63", 240, UDP_ONLY),
    Signature("ntp", b"[" + re.escape(_NTP_FIRST) + rb"][\x00-\x10](?:.{46}|.{66}|.{70})\Z", 48, UDP_ONLY),
    # Name service packets put one encoded name, of type NB or NBSTAT, right after the header.
    Signature("netbios-ns", rb".{4}\x00[\x00\x01]\x00[\x00\x01]\x00\x00\x00[\x00\x01]" + _NB_NAME
              + rb"\x00[\x20\x21]\x00\x01", 50, UDP_ONLY),
    Signature("netbios-dgm", rb"[\x10-\x12].{11}\x00\x00" + _NB_NAME, 48, UDP_ONLY),
    # Not named by the community rules: services nDPI names, for application identification.
    # A syslog message's priority (facility * 8 + severity, 0 to 191), then text.
    Signature("syslog", rb"<(?:1[0-8][0-9]|19[01]|[1-9]?[0-9])>[\t\x20-\x7e]{4}", 9, BOTH),
    # DHT queries and responses (bencoded, the node id first), and uTP carrying the handshake.
    Signature("bittorrent", rb"d1:[ar]d2:id20:", 12, UDP_ONLY),
    Signature("bittorrent", rb"[\x01\x41][\x00-\x02].{18}\x13BitTorrent protocol", 40, UDP_ONLY),
    # An MQTT CONNECT: remaining length, protocol name and level (3.1, 3.1.1, 5.0).
    Signature("mqtt", rb"\x10[\x80-\xff]{0,3}[\x00-\x7f](?:\x00\x04MQTT[\x03-\x05]|\x00\x06MQIsdp\x03)", 13,
              TCP_ONLY, to_client=False),
    # WhatsApp's chat protocol: its "WA" header with a protocol version, or the Noise handshake's
    # "ED" prologue, then the first frame's length.
    Signature("whatsapp", rb"WA[\x01\x02][\x00-\x09]\x00|ED\x00\x01\x00", 5, TCP_ONLY, to_client=False),
    # Discord's voice IP discovery: a request (type 1, length 70, SSRC, an empty address, a port)
    # and its answer with the client's address as text.
    Signature("discord", rb"\x00\x01\x00\x46.{4}\x00{64}..\Z", 74, UDP_ONLY, to_client=False),
    Signature("discord", rb"\x00\x02\x00\x46.{4}(?=[0-9A-Fa-f.:]{2,63}\x00)[0-9A-Fa-f.:\x00]{64}..\Z", 74,
              UDP_ONLY, to_server=False),
    # Spotify's and Dropbox's LAN discovery broadcasts.
    Signature("spotify", rb"SpotUdp[0-9]", 8, UDP_ONLY),
    Signature("dropbox", rb'\{"host_int": [0-9]+, "version": \[', 30, UDP_ONLY),
    # A Redis command as an array of bulk strings; replies that are not also POP3's (+OK, -ERR).
    Signature("redis", rb"\*[1-9][0-9]{0,5}\r\n\$[0-9]{1,9}\r\n", 8, TCP_ONLY, to_client=False),
    Signature("redis", rb"(?:[*$]-?[0-9]{1,9}|:-?[0-9]{1,19})\r\n|-(?:NOAUTH|WRONGPASS|DENIED) ", 4, TCP_ONLY,
              to_server=False),
    # A Google QUIC client's first packet: public flags with version and connection id, the id,
    # then the version (Q0xx).
    Signature("quic", b"[" + re.escape(_GQUIC_FLAGS) + rb"].{8}Q0[0-9]{2}", 13, UDP_ONLY, to_client=False),
)  # fmt: skip

# --- Curses ----------------------------------------------------------------------------------

_DNS_HEADER = struct.Struct("!HHHHHH")
_TWO_U16 = struct.Struct("!HH")
_DNS_OPCODES = frozenset({0, 2, 4, 5})  # query, status, notify, update
_DNS_CLASSES = frozenset({1, 3, 4, 254, 255})  # IN, CH, HS, NONE, ANY
_MAX_LABELS = 127


def _dns_name_end(msg: Bytes, off: int) -> int | None:
    """The offset after the uncompressed name at ``off``, or None when it is cut short or invalid."""
    for _ in range(_MAX_LABELS):
        if off >= len(msg):
            return None
        size = msg[off]
        if size == 0:
            return off + 1
        if size > 63:
            return None
        off += 1 + size
    return None


def dns_message(msg: Bytes) -> bool | None:
    """A DNS header whose counts fit its flags, then a well-formed first question (or, in an mDNS
    announcement, answer) of a known class."""
    if len(msg) < _DNS_HEADER.size:
        return None
    _, flags, questions, answers, _, _ = _DNS_HEADER.unpack_from(msg)
    response = flags & 0x8000
    opcode = (flags >> 11) & 0xF
    if opcode not in _DNS_OPCODES or flags & 0x0040:
        return False
    if questions != 1 and not (response and questions == 0 and answers):
        return False
    if not response and answers and opcode not in (4, 5):  # only notify and update carry records
        return False
    end = _dns_name_end(msg, _DNS_HEADER.size)
    if end is None or end + 4 > len(msg):
        return None
    qtype, qclass = _TWO_U16.unpack_from(msg, end)
    return qtype != 0 and qclass & 0x7FFF in _DNS_CLASSES


def dns_over_tcp(data: Bytes) -> bool | None:
    """A DNS message behind its two-byte length."""
    if len(data) < 2:
        return None
    size = int.from_bytes(data[:2], "big")
    if size < _DNS_HEADER.size:
        return False
    verdict = dns_message(data[2 : 2 + size])
    # A complete message that still leaves the question unfinished is not DNS.
    return False if verdict is None and len(data) >= 2 + size else verdict


_SMB_MAGIC = (b"\xffSMB", b"\xfeSMB", b"\xfdSMB")
_SESSION_MESSAGE = 0x00
_SESSION_SETUP = frozenset({0x81, 0x82, 0x85})  # request, positive response, keepalive
_MAX_SESSION_SETUP = 4


def netbios_smb(data: Bytes) -> bool | None:
    """NetBIOS session packets (or their direct-TCP framing on 445) whose first message is SMB1,
    SMB2 or an SMB3 transform: Snort's ``dce_smb`` curse, which skips session setup."""
    off = 0
    for _ in range(_MAX_SESSION_SETUP):
        if len(data) < off + 8:
            return None
        kind = data[off]
        if kind == _SESSION_MESSAGE:
            return bytes(data[off + 4 : off + 8]) in _SMB_MAGIC
        if kind not in _SESSION_SETUP:
            return False
        off += 4 + int.from_bytes(data[off + 2 : off + 4], "big")
    return False


_DCE_CL_HEADER = 80
_DCE_CL_TYPES = frozenset({0, 2, 3, 6, 9})  # request, response, fault, reject, fack


def dce_udp(data: Bytes) -> bool | None:
    """Connectionless DCE/RPC: version 4, a client or server PDU type, and a body that fits."""
    if len(data) < _DCE_CL_HEADER:
        return None
    order: Literal["little", "big"] = "little" if data[4] & 0x10 else "big"
    body = int.from_bytes(data[74:76], order)
    return data[0] == 4 and data[1] in _DCE_CL_TYPES and 0 < body <= len(data) - _DCE_CL_HEADER


_SSLV2_HELLO = struct.Struct("!HBBBHHH")
_SSLV2_RECORD = 9  # the hello's fields after the two length bytes


def sslv2_hello(data: Bytes) -> bool | None:
    """An SSLv2-framed client hello (SSL 2.0 up to TLS 1.2 offered): Snort's ``sslv2`` curse."""
    if data and not data[0] & 0x80:
        return False
    if len(data) < _SSLV2_HELLO.size:
        return None
    length, kind, major, minor, specs, session, challenge = _SSLV2_HELLO.unpack_from(data)
    room = (length & 0x7FFF) - _SSLV2_RECORD
    return bool(kind == 1 and major <= 3 and minor <= 3 and room >= specs + session + challenge)


_STUN_HEADER = struct.Struct("!HHI")
_STUN_COOKIE = 0x2112A442
_STUN_SIZE = 20
# RFC 3489's messages (binding and shared secret requests and their answers) and attributes.
_STUN_CLASSIC_TYPES = frozenset({0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112})
_STUN_CLASSIC_ATTRS = frozenset(range(0x0001, 0x000C))
_STUN_MAX_ATTRS = 32


def _stun_classic_attributes(msg: Bytes, end: int) -> bool:
    """RFC 3489 attributes of known types that fill the message exactly."""
    off = _STUN_SIZE
    for _ in range(_STUN_MAX_ATTRS):
        if off == end:
            return True
        if off + 4 > end:
            return False
        kind, size = _TWO_U16.unpack_from(msg, off)
        if kind not in _STUN_CLASSIC_ATTRS:
            return False
        off += 4 + size
    return False


def stun_message(msg: Bytes) -> bool | None:
    """A STUN message filling the datagram: RFC 5389's (magic cookie at offset 4), or an RFC 3489
    request or answer whose attributes, all of known types, fill it exactly."""
    if len(msg) < _STUN_SIZE:
        return None if not msg or msg[0] < 0x40 else False
    kind, size, cookie = _STUN_HEADER.unpack_from(msg)
    if kind & 0xC000 or size & 3 or _STUN_SIZE + size != len(msg):
        return False
    if cookie == _STUN_COOKIE:
        return True
    if kind not in _STUN_CLASSIC_TYPES:
        return False
    return _stun_classic_attributes(msg, len(msg)) if size else kind == 0x0001


def stun_over_tcp(data: Bytes) -> bool | None:
    """RFC 5389 messages on a stream, bare or behind RFC 4571's two-byte length (ICE-TCP)."""
    for off in (0, 2):
        if len(data) < off + 8:
            return None
        kind, size, cookie = _STUN_HEADER.unpack_from(data, off)
        if cookie != _STUN_COOKIE or kind & 0xC000 or size & 3:
            continue
        if off == 0 or int.from_bytes(data[:2], "big") == _STUN_SIZE + size:
            return True
    return False


# OpenVPN's first control packets: opcode (top five bits) and key id 0 (the low three).
_OVPN_CLIENT_RESET = frozenset({7 << 3, 10 << 3})  # P_CONTROL_HARD_RESET_CLIENT_V2, _V3
_OVPN_SERVER_RESET = 8 << 3  # P_CONTROL_HARD_RESET_SERVER_V2
_OVPN_HMACS = (0, 20, 32)  # no tls-auth, tls-auth with SHA-1, with SHA-256
_OVPN_REPLAY = b"\x00\x00\x00\x01"  # tls-auth's packet id of a session's first packet
_NO_ACK = b"\x00\x00\x00\x00\x00"  # an empty acknowledgement array, then message id 0
_ONE_ACK = b"\x01\x00\x00\x00\x00"  # an array acknowledging message 0
_OVPN_SERVER_RESETS = frozenset({_OVPN_SERVER_RESET})
_OVPN_RESETS = _OVPN_CLIENT_RESET | _OVPN_SERVER_RESETS
_OVPN_MAX_RESET = 66  # the server's, with a SHA-256 HMAC
_OVPN_MIN = 14  # opcode, session id, an empty acknowledgement array and a message id
_OVPN_CONTROL = frozenset({4 << 3, 5 << 3})  # P_CONTROL_V1, P_ACK_V1


_OVPN_CRYPT_CLIENT = 54  # tls-crypt: replay id and time, a SHA-256 tag, then the encrypted rest
_OVPN_CRYPT_SERVER = 66


def _ovpn_hmac_ok(pkt: Bytes, hmac: int) -> bool:
    return not hmac or pkt[9 + hmac : 13 + hmac] == _OVPN_REPLAY


def openvpn_reset(pkt: Bytes) -> bool:
    """A hard reset, as the client's first packet or the server's answer: session id, an optional
    tls-auth HMAC and replay id, the acknowledgements (none, or message 0 with the client's session
    id) and message id 0, filling the packet exactly; or, with tls-crypt, the session's first
    replay id and the size of an encrypted reset."""
    if not pkt:
        return False
    if pkt[9:13] == _OVPN_REPLAY and len(pkt) == (
        _OVPN_CRYPT_CLIENT if pkt[0] in _OVPN_CLIENT_RESET else _OVPN_CRYPT_SERVER
    ):
        return pkt[0] in _OVPN_RESETS
    if pkt[0] in _OVPN_CLIENT_RESET:
        return any(
            len(pkt) == 14 + hmac + (8 if hmac else 0) and pkt[-5:] == _NO_ACK and _ovpn_hmac_ok(pkt, hmac)
            for hmac in _OVPN_HMACS
        )
    if pkt[0] == _OVPN_SERVER_RESET:
        for hmac in _OVPN_HMACS:
            acks = 9 + hmac + (8 if hmac else 0)
            if len(pkt) == acks + 17 and pkt[acks : acks + 5] == _ONE_ACK and pkt[-4:] == _NO_ACK[1:]:
                return _ovpn_hmac_ok(pkt, hmac)
    return False


def _openvpn_session(resets: frozenset[int], prev: bytes, msg: Bytes) -> bool:
    """A hard reset of one side, then a control message or acknowledgement under the same session
    id, both of key id 0: how nDPI tells OpenVPN whose resets it cannot check (tls-crypt,
    obfuscated variants). The control opcodes lack the fixed bit of QUIC's short headers, whose
    connection id would repeat the same way."""
    return (
        len(msg) >= _OVPN_MIN
        and len(prev) >= 9
        and prev[0] in resets
        and msg[0] in _OVPN_CONTROL
        and prev[1:9] == msg[1:9]
    )


def openvpn_client_pair(prev: bytes, msg: Bytes) -> bool:
    return _openvpn_session(_OVPN_CLIENT_RESET, prev, msg)


def openvpn_server_pair(prev: bytes, msg: Bytes) -> bool:
    return _openvpn_session(_OVPN_SERVER_RESETS, prev, msg)


def openvpn_udp(msg: Bytes) -> bool | None:
    """An OpenVPN hard reset alone in a datagram."""
    return openvpn_reset(msg)


def openvpn_tcp(data: Bytes) -> bool | None:
    """An OpenVPN hard reset behind its two-byte length."""
    if len(data) < 2:
        return None
    size = int.from_bytes(data[:2], "big")
    if len(data) < 2 + size:
        return None if size <= _OVPN_MAX_RESET and (len(data) < 3 or data[2] in _OVPN_RESETS) else False
    return openvpn_reset(data[2 : 2 + size])


_WG_SIZES = {1: 148, 2: 92, 3: 64}  # handshake initiation, response, cookie reply
_WG_TRANSPORT = 4
_WG_TRANSPORT_MIN = 32  # header 16, an empty payload's tag 16


def wireguard(msg: Bytes) -> bool | None:
    """A WireGuard message: its type, three reserved zero bytes and the type's size; transport
    data padded to 16 bytes, with a counter below 2**48."""
    if len(msg) < 4:
        return None
    if msg[1:4] != b"\x00\x00\x00":
        return False
    kind = msg[0]
    if kind == _WG_TRANSPORT:
        return len(msg) >= _WG_TRANSPORT_MIN and len(msg) % 16 == 0 and msg[14:16] == b"\x00\x00"
    return _WG_SIZES.get(kind) == len(msg)


def dtls_records(msg: Bytes) -> bool | None:
    """DTLS records filling the datagram exactly, each of a TLS content type and DTLS version,
    the first one a handshake, alert or change cipher spec."""
    if len(msg) < dtls.RECORD.size:
        return None if not msg or msg[0] in dtls.CONTENT_TYPES else False
    found = dtls.records(msg)
    return found is not None and found[0].kind != dtls.APPLICATION_DATA


_QUIC_V1 = 0x00000001
_QUIC_V2 = 0x6B3343CF
_QUIC_DRAFT = 0xFF000000  # 0xff0000xx: the IETF drafts
_QUIC_MAX_DRAFT = 34
_QUIC_MIN_INITIAL = 1200
_QUIC_MAX_CID = 20
# Google QUIC's versions with IETF long headers.
_GQUIC_LONG = frozenset(int.from_bytes(v, "big") for v in (b"Q046", b"Q050", b"T050", b"T051"))


def _quic_varint(pkt: Bytes, off: int) -> tuple[int, int] | None:
    """The variable-length integer at ``off`` and the offset after it."""
    if off >= len(pkt):
        return None
    size = 1 << (pkt[off] >> 6)
    if off + size > len(pkt):
        return None
    return int.from_bytes(pkt[off : off + size], "big") & ((1 << (8 * size - 2)) - 1), off + size


def _quic_long_header(pkt: Bytes) -> tuple[bool, int] | None:
    """For a long header of a known version: whether it is an Initial packet, and the offset after
    its connection ids; None otherwise."""
    if len(pkt) < 7 or pkt[0] & 0xC0 != 0xC0:
        return None
    version = int.from_bytes(pkt[1:5], "big")
    kind = (pkt[0] >> 4) & 3
    draft = version & 0xFFFFFF00 == _QUIC_DRAFT and 0 < version & 0xFF <= _QUIC_MAX_DRAFT
    if version == _QUIC_V2:
        initial = kind == 1
    elif version == _QUIC_V1 or draft or version in _GQUIC_LONG:
        initial = kind == 0
    else:
        return None
    dcid = pkt[5]
    if dcid > _QUIC_MAX_CID or 7 + dcid > len(pkt) or pkt[6 + dcid] > _QUIC_MAX_CID:
        return None
    return initial, 7 + dcid + pkt[6 + dcid]


def quic_client(pkt: Bytes) -> bool | None:
    """A client's first datagram: an Initial packet of a known version, padded to 1200 bytes."""
    header = _quic_long_header(pkt)
    return header is not None and header[0] and len(pkt) >= _QUIC_MIN_INITIAL


def quic_server(pkt: Bytes) -> bool | None:
    """A server's long-header packet of a known version; an Initial one has its token length and
    a packet length that fits the datagram."""
    header = _quic_long_header(pkt)
    if header is None:
        return False
    initial, off = header
    if not initial:
        return True
    token = _quic_varint(pkt, off)
    length = None if token is None else _quic_varint(pkt, token[1] + token[0])
    return length is not None and 0 < length[0] <= len(pkt) - length[1]


_TDS_HEADER = struct.Struct("!BBHHBB")  # type, status, length, SPID, packet id, window
_TDS_PRELOGIN = 0x12
_TDS_RESPONSE = 0x04
_TDS_REQUESTS = frozenset({0x01, 0x03})  # SQL batch, RPC
_TDS_MAX_OPTIONS = 16
_TDS_TERMINATOR = 0xFF
# Tokens a server's response starts with: ERROR, INFO, LOGINACK, ENVCHANGE, COLMETADATA,
# RETURNSTATUS, DONE, DONEPROC, DONEINPROC, ORDER, RETURNVALUE.
_TDS_FIRST_TOKENS = frozenset({0xAA, 0xAB, 0xAD, 0xE3, 0x81, 0x79, 0xFD, 0xFE, 0xFF, 0xA9, 0xAC})
_TDS_ALL_HEADERS = struct.Struct("<IIH")  # total length, the first header's length and type
_TDS_HEADER_TYPES = frozenset({1, 2, 3})  # query notifications, transaction descriptor, trace
_TDS_MIN_HEADER = 6
_TDS_MAX_HEADERS = 1024


def _tds_prelogin_options(data: Bytes, end: int) -> bool | None:
    """Pre-login options from VERSION on, five bytes each, each pointing inside the packet, up to
    the terminator."""
    off = _TDS_HEADER.size
    for i in range(_TDS_MAX_OPTIONS):
        if off >= len(data):
            return None
        token = data[off]
        if token == _TDS_TERMINATOR:
            return i > 0
        if off + 5 > len(data):
            return None
        start, size = _TWO_U16.unpack_from(data, off + 1)
        if (i == 0 and token != 0) or token > 0x08 or _TDS_HEADER.size + start + size > end:
            return False
        off += 5
    return False


def _tds_request_body(data: Bytes) -> bool:
    """A batch's or RPC's start: ALL_HEADERS, or (before TDS 7.2) UCS-2 text or a procedure name."""
    body = _TDS_HEADER.size
    if len(data) < body + 10:
        return False
    total, first, kind = _TDS_ALL_HEADERS.unpack_from(data, body)
    if _TDS_MIN_HEADER <= first <= total - 4 <= _TDS_MAX_HEADERS and kind in _TDS_HEADER_TYPES:
        return True
    # Text or a name: two UCS-2 ASCII characters, maybe behind the name's length.
    for off in (body, body + 2):
        chars = data[off : off + 4]
        if chars[1] == 0 == chars[3] and 0x20 <= chars[0] < 0x7F and 0x20 <= chars[2] < 0x7F:
            return off == body or 0 < int.from_bytes(data[body : body + 2], "little") <= 128
    return False


def tds_client(data: Bytes) -> bool | None:
    """A TDS client's first packet: a pre-login (its length the segment's, its options well
    formed), or a batch or RPC request."""
    if len(data) < _TDS_HEADER.size:
        return None if not data or data[0] == _TDS_PRELOGIN or data[0] in _TDS_REQUESTS else False
    kind, status, length, _, packet, window = _TDS_HEADER.unpack_from(data)
    if status > 0x1F or window or packet > 1 or length < _TDS_HEADER.size:
        return False
    if kind == _TDS_PRELOGIN:
        if status != 0x01:
            return False
        if len(data) < length:
            return None
        return len(data) == length and _tds_prelogin_options(data, length)
    return kind in _TDS_REQUESTS and _tds_request_body(data)


def tds_server(data: Bytes) -> bool | None:
    """A TDS server's first packet: a response (type 4) carrying pre-login options or starting
    with a token a response starts with."""
    if len(data) < _TDS_HEADER.size + 1:
        return None if not data or data[0] == _TDS_RESPONSE else False
    kind, status, length, _, _, window = _TDS_HEADER.unpack_from(data)
    if kind != _TDS_RESPONSE or status not in (0, 1) or window or length <= _TDS_HEADER.size:
        return False
    if status == 1 and len(data) < length:
        return None
    if status == 1 and len(data) != length:
        return False
    return data[_TDS_HEADER.size] in _TDS_FIRST_TOKENS or bool(_tds_prelogin_options(data, length))


def _dnp3_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_DNP3_CRC = _dnp3_crc_table()
_DNP3_HEADER = 10  # start bytes, length, control, destination, source, CRC


def dnp3_frame(data: Bytes) -> bool | None:
    """A DNP3 link-layer frame: start bytes 05 64, a length of at least 5 and a header whose CRC
    (DNP's CRC-16, stored little-endian) is right."""
    if len(data) < _DNP3_HEADER:
        head = bytes(data[:2])
        return None if b"\x05\x64".startswith(head) else False
    if data[0] != 0x05 or data[1] != 0x64 or data[2] < 5:
        return False
    crc = 0
    for byte in data[:8]:
        crc = (crc >> 8) ^ _DNP3_CRC[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF == data[8] | data[9] << 8


_MBAP = struct.Struct("!HHHBB")  # transaction, protocol 0, length, unit, function
# Public function codes: reads, writes, diagnostics, event counters, file records, FIFO,
# encapsulated interface; an exception answer sets the top bit.
_MODBUS_FUNCTIONS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43})
_MODBUS_MAX = 254  # unit id, function and data of the largest PDU


def _modbus_adu(data: Bytes, off: int) -> int | None:
    """The size of a plausible Modbus/TCP ADU at ``off`` that ``data`` holds entirely."""
    if len(data) < off + _MBAP.size:
        return None
    _, protocol, length, _, function = _MBAP.unpack_from(data, off)
    if protocol or not 2 <= length <= _MODBUS_MAX or function & 0x7F not in _MODBUS_FUNCTIONS:
        return None
    return 6 + length if off + 6 + length <= len(data) else None


def modbus_tcp(data: Bytes) -> bool | None:
    """A Modbus/TCP ADU (MBAP header, protocol 0, its length the rest of the ADU, a public
    function code) filling the bytes, or followed by another."""
    if len(data) < _MBAP.size:
        return None if len(data) < 4 or data[2:4] == b"\x00\x00" else False
    size = _modbus_adu(data, 0)
    if size is None:
        length = int.from_bytes(data[4:6], "big")
        plausible = not data[2] and not data[3] and 2 <= length <= _MODBUS_MAX
        return None if plausible and len(data) < 6 + length else False
    return size == len(data) or _modbus_adu(data, size) is not None


PAIR_PREFIX = 12  # an RTP header without CSRCs
_RTP_HEADER = struct.Struct("!BBHII")  # flags, marker and type, sequence, timestamp, SSRC
# Payload types: RFC 3551's static audio and video ones and the dynamic range (72-76 are left
# out: with the marker bit set they read as RTCP's packet types 200-204).
_RTP_TYPES = frozenset({*range(0, 35), *range(96, 128)})
_RTP_MAX_STEP = 16  # sequence numbers lost between two datagrams


def rtp_pair(prev: bytes, msg: Bytes) -> bool:
    """Two RTP datagrams (version 2, a usual payload type, room for their CSRCs) of one SSRC and
    payload type, the second a little later in sequence and not earlier in time."""
    if len(msg) < PAIR_PREFIX or len(prev) < PAIR_PREFIX:
        return False
    flags, kind, seq, stamp, ssrc = _RTP_HEADER.unpack_from(msg)
    pflags, pkind, pseq, pstamp, pssrc = _RTP_HEADER.unpack_from(prev)
    return (
        flags & 0xC0 == 0x80
        and pflags & 0xC0 == 0x80
        and ssrc == pssrc
        and kind & 0x7F == pkind & 0x7F
        and kind & 0x7F in _RTP_TYPES
        and 0 < (seq - pseq) & 0xFFFF <= _RTP_MAX_STEP
        and (stamp - pstamp) & 0xFFFFFFFF < 0x80000000
        and len(msg) >= PAIR_PREFIX + 4 * (flags & 0x0F)
    )


def rtp_over_tcp(data: Bytes) -> bool | None:
    """RTP behind RFC 4571's two-byte length: the stream's first two packets are of one RTP
    stream, as ``rtp_pair`` judges two datagrams."""
    if len(data) < 4:
        return None
    size = int.from_bytes(data[:2], "big")
    if size < PAIR_PREFIX or data[2] & 0xC0 != 0x80 or data[3] & 0x7F not in _RTP_TYPES:
        return False
    second = 2 + size
    if len(data) < second + 2 + PAIR_PREFIX:
        return None
    length = int.from_bytes(data[second : second + 2], "big")
    return rtp_pair(bytes(data[2 : 2 + PAIR_PREFIX]), data[second + 2 : second + 2 + length])


_TLS_RECORD = struct.Struct("!BHH")  # content type, version, length
_TLS_APPLICATION_DATA = 23
_TLS_CONTENT_TYPES = frozenset({20, 21, 22, 23})
_TLS_VERSIONS = frozenset({0x0300, 0x0301, 0x0302, 0x0303})  # TLS 1.3 records say 1.2
_TLS_MAX_RECORD = 16384 + 2048  # a ciphertext's bound (RFC 5246 §6.2.3)


def tls_data(data: Bytes) -> bool | None:
    """TLS picked up after its handshake: an application data record, then the header of the next
    record, of the same version and within TLS's bounds (one record alone is too little)."""
    if len(data) < _TLS_RECORD.size:
        return None if not data or data[0] == _TLS_APPLICATION_DATA else False
    kind, version, size = _TLS_RECORD.unpack_from(data)
    if kind != _TLS_APPLICATION_DATA or version not in _TLS_VERSIONS or size > _TLS_MAX_RECORD:
        return False
    after = _TLS_RECORD.size + size
    if len(data) < after + _TLS_RECORD.size:
        return None
    kind, next_version, size = _TLS_RECORD.unpack_from(data, after)
    return kind in _TLS_CONTENT_TYPES and next_version == version and size <= _TLS_MAX_RECORD


CURSES = (
    # mDNS is DNS on port 5353: named so before the DNS curse sees it.
    Curse("mdns", dns_message, UDP_ONLY, ports=frozenset({5353})),
    Curse("dns", dns_message, UDP_ONLY),
    Curse("dns", dns_over_tcp, TCP_ONLY),
    Curse("netbios-ssn", netbios_smb, TCP_ONLY),
    Curse("dcerpc", dce_udp, UDP_ONLY),
    Curse("ssl", sslv2_hello, TCP_ONLY),
    # Not in Snort's defaults: binary framings nDPI names, for application identification.
    Curse("stun", stun_message, UDP_ONLY),
    Curse("stun", stun_over_tcp, TCP_ONLY),
    Curse("openvpn", openvpn_udp, UDP_ONLY),
    Curse("openvpn", openvpn_tcp, TCP_ONLY),
    Curse("wireguard", wireguard, UDP_ONLY),
    Curse("rtp", rtp_over_tcp, TCP_ONLY),
    Curse("tls-data", tls_data, TCP_ONLY),
    Curse("dtls", dtls_records, UDP_ONLY),
    # Either side, in case the flow's first packet came from the server; the looser tests of
    # servers' packets only to the client.
    Curse("quic", quic_client, UDP_ONLY),
    Curse("quic", quic_server, UDP_ONLY, to_server=False),
    Curse("tds", tds_client, TCP_ONLY),
    Curse("tds", tds_server, TCP_ONLY),
    Curse("dnp3", dnp3_frame, BOTH),
    Curse("modbus", modbus_tcp, TCP_ONLY),
)

PAIRS = (
    Pair("rtp", rtp_pair),
    Pair("openvpn", openvpn_client_pair, to_client=False),
    Pair("openvpn", openvpn_server_pair, to_server=False),
)

# Services an IP protocol number names by itself.
PROTOCOL_NAMES = {1: "icmp", 58: "icmpv6"}

# Server ports of the services, for flows the payload could not judge (see the module docstring).
PORT_HINTS: dict[tuple[int, int], str] = {
    **{(TCP, port): service for port, service in (
        (21, "ftp"), (22, "ssh"), (23, "telnet"), (25, "smtp"), (42, "wins"), (53, "dns"), (80, "http"),
        (88, "kerberos"), (110, "pop3"), (111, "sunrpc"), (119, "nntp"), (135, "dcerpc"),
        (139, "netbios-ssn"), (143, "imap"), (389, "ldap"), (443, "ssl"), (445, "netbios-ssn"),
        (465, "ssl"), (554, "rtsp"), (587, "smtp"), (993, "ssl"), (995, "ssl"), (3306, "mysql"),
        (3389, "rdp"), (5060, "sip"), (5432, "postgresql"), (6667, "irc"), (8080, "http"),
        (502, "modbus"), (1194, "openvpn"), (1433, "tds"), (1883, "mqtt"), (6379, "redis"),
        (20000, "dnp3"),
    )},
    **{(UDP, port): service for port, service in (
        (53, "dns"), (67, "dhcp"), (68, "dhcp"), (69, "tftp"), (88, "kerberos"), (111, "sunrpc"),
        (123, "ntp"), (135, "dcerpc"), (137, "netbios-ns"), (138, "netbios-dgm"), (161, "snmp"),
        (162, "snmp"), (389, "ldap"), (1900, "ssdp"), (5060, "sip"), (5353, "mdns"),
        (443, "quic"), (514, "syslog"), (1194, "openvpn"), (3478, "stun"), (20000, "dnp3"),
        (51820, "wireguard"),
    )},
}  # fmt: skip
# What a port names when no payload did: the hints, but for direct-hosted SMB (445), which nDPI
# guesses as SMB rather than as SMB in NetBIOS framing.
PORT_GUESSES = {**PORT_HINTS, (TCP, 445): "smb"}

# --- Compiling the magic into one pattern per transport and direction --------------------------

_LEADING_SPACE = rb"[ \t\r\n]*"


def _chain(atoms: list[bytes], tail: bytes) -> bytes:
    """A pattern that fully matches every prefix of ``atoms`` followed by ``tail``."""
    pattern = tail
    for atom in reversed(atoms):
        pattern = b"(?:" + atom + pattern + b")?"
    return pattern


class Compiled(NamedTuple):
    """A spell or hex as patterns: ``alive`` fully matches the bytes that may still become a match;
    ``glob`` says whether it has a wildcard run."""

    pattern: bytes
    alive: bytes
    glob: bool = False


def spell(text: str) -> Compiled:
    """A spell's patterns: case-insensitive, each glob matching any run of bytes."""
    pieces = [""]
    for token in re.split(r"(\*\*|\*)", text):
        if token == "*":
            pieces.append("")
        else:
            pieces[-1] += "*" if token == "**" else token
    head, *tails = (re.escape(piece.encode()) for piece in pieces)
    # Atomic groups keep each glob at the earliest place its text appears: linear, no backtracking.
    pattern = head + b"".join(b"(?>.*?" + tail + b")" for tail in tails)
    atoms = [re.escape(bytes([c])) for c in pieces[0].encode()]
    alive = _chain(atoms, b".*" if tails else b"")
    return Compiled(b"(?i:" + pattern + b")", b"(?i:" + alive + b")", bool(tails))


def hex_atoms(text: str) -> list[bytes]:
    """The byte patterns of a hex in Snort's content syntax: ``|hex bytes|``, ``?`` or literal text."""
    atoms: list[bytes] = []
    for i, part in enumerate(text.split("|")):
        if i % 2:
            atoms += [re.escape(bytes([b])) for b in bytes.fromhex(part)]
        else:
            atoms += [b"." if c == "?" else re.escape(c.encode()) for c in part]
    return atoms


def hexes(text: str) -> Compiled:
    """A hex's patterns."""
    atoms = hex_atoms(text)
    return Compiled(b"".join(atoms), _chain(atoms, b""))


class Book:
    """All magic of one transport and direction: one anchored pattern naming the first match
    (hexes, then signatures, then spells, as Snort casts hexes before spells), one pattern
    recognising bytes that may still match, and the curses."""

    __slots__ = ("alive", "curses", "match", "names", "needs", "own_curses", "pairs", "patterns")

    def __init__(self, transport: int, to_server: bool) -> None:
        def texts(m: Magic) -> tuple[str, ...]:
            return (m.to_server if to_server else m.to_client) if transport in m.transports else ()

        def wanted(s: Signature) -> bool:
            return transport in s.transports and (s.to_server if to_server else s.to_client)

        sigs = [s for s in SIGNATURES if wanted(s)]
        hex_items = [(m.service, hexes(t)) for m in HEXES for t in texts(m)]
        spell_items = [(m.service, spell(t)) for m in SPELLS for t in texts(m)]
        self.names: dict[str, str] = {}
        binary = [self._group(svc, c.pattern) for svc, c in hex_items]
        binary += [self._group(s.service, s.pattern) for s in sigs]
        # Spells without a glob first: a literal command outranks a glob spell that also fits.
        ordered = sorted(spell_items, key=lambda item: item[1].glob)
        text = [self._group(svc, c.pattern) for svc, c in ordered]
        self.match = re.compile(b"|".join([*binary, _LEADING_SPACE + b"(?:" + b"|".join(text) + b")"]), re.S)
        spell_alive = b"|".join(c.alive for _, c in spell_items)
        alive = [c.alive for _, c in hex_items] + [_LEADING_SPACE + b"(?:" + spell_alive + b")"]
        self.alive = re.compile(b"|".join(alive), re.S)
        self.needs = max((s.needs for s in sigs), default=0)
        self.curses = tuple(
            (c.service, c.test, c.ports)
            for c in CURSES
            if transport in c.transports and (c.to_server if to_server else c.to_client)
        )
        self.pairs = tuple(
            (p.service, p.test)
            for p in PAIRS
            if transport == UDP and (p.to_server if to_server else p.to_client)
        )
        # Each service's own magic, anchored: to confirm the service a port suggests in one test.
        own: dict[str, list[bytes]] = {}
        for svc, c in hex_items:
            own.setdefault(svc, []).append(c.pattern)
        for s in sigs:
            own.setdefault(s.service, []).append(s.pattern)
        for svc, c in spell_items:
            own.setdefault(svc, []).append(_LEADING_SPACE + b"(?:" + c.pattern + b")")
        self.patterns = {svc: re.compile(b"|".join(texts), re.S) for svc, texts in own.items()}
        self.own_curses: dict[str, list[tuple[CurseTest, frozenset[int]]]] = {}
        for svc, test, ports in self.curses:
            self.own_curses.setdefault(svc, []).append((test, ports))

    def _group(self, service: str, pattern: bytes) -> bytes:
        name = f"g{len(self.names)}"
        self.names[name] = service
        return b"(?P<" + name.encode() + b">" + pattern + b")"

    def confirms(self, service: str, data: Bytes, sport: int, dport: int) -> bool:
        """Whether ``data`` alone shows ``service``, by that service's magic and curses only."""
        pattern = self.patterns.get(service)
        if pattern is not None and pattern.match(data) is not None:
            return True
        for test, ports in self.own_curses.get(service, ()):
            if (not ports or sport in ports or dport in ports) and test(data):
                return True
        return False

    def identify(
        self, data: Bytes, sport: int = 0, dport: int = 0, prev: bytes | None = None
    ) -> tuple[str | None, bool]:
        """The service ``data`` shows (between ports ``sport`` and ``dport``, after a datagram that
        started with ``prev``), and whether more bytes could still show one."""
        m = self.match.match(data)
        if m is not None and m.lastgroup is not None:
            return self.names[m.lastgroup], False
        pending = len(data) < self.needs or self.alive.fullmatch(data) is not None
        for service, test, ports in self.curses:
            if ports and sport not in ports and dport not in ports:
                continue
            verdict = test(data)
            if verdict:
                return service, False
            pending = pending or verdict is None
        if prev is not None:
            for service, pair in self.pairs:
                if pair(prev, data):
                    return service, False
        return None, pending


# --- Per-flow state and the wizard -------------------------------------------------------------


class Side:
    """What the wizard keeps of one direction: TCP's first bytes, the start of the last UDP
    datagram (for pairs), packet and byte counts."""

    __slots__ = ("buf", "done", "packets", "prev", "seen")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.prev: bytes | None = None
        self.packets = 0
        self.seen = 0
        self.done = False


class WizardState:
    """One flow's search: ``service`` once named."""

    __slots__ = ("client", "server", "service")

    def __init__(self) -> None:
        self.service: str | None = None
        self.client = Side()
        self.server = Side()

    @property
    def done(self) -> bool:
        """Whether the search is over: a service named, or both directions given up."""
        return self.service is not None or (self.client.done and self.server.done)


class WizardStats:
    """Flows named by payload and by port, by service; directions abandoned, by reason."""

    __slots__ = ("gave_up", "hits", "port_hints")

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.port_hints: Counter[str] = Counter()
        self.gave_up: Counter[str] = Counter()


class ServiceWizard:
    """Names a flow's service from the first payload bytes of each direction (sans-IO).

    ``observe`` takes a direction's TCP stream bytes in order, or each UDP datagram, and returns
    the service once named. ``finish`` takes the flow's end and may name it from its server port.
    A direction is searched for at most ``max_depth`` bytes and ``max_packets`` packets.
    """

    __slots__ = ("_books", "max_depth", "max_packets", "stats")

    def __init__(self, max_depth: int = 8192, max_packets: int = 8) -> None:
        self.max_depth = max_depth
        self.max_packets = max_packets
        self.stats = WizardStats()
        self._books = {(t, d): Book(t, d) for t in (TCP, UDP) for d in (True, False)}

    def observe(
        self, state: WizardState, to_server: bool, data: Bytes, proto: int, sport: int, dport: int
    ) -> str | None:
        """Feed one direction's next bytes; the service once named, else None. The ports only
        let a curse bound to a port (mDNS's) apply; services are not named from them here."""
        side = state.client if to_server else state.server
        book = self._books.get((proto, to_server))
        if state.service is not None or side.done or book is None:
            return state.service
        side.packets += 1
        side.seen += len(data)
        prev = side.prev
        if proto == TCP:
            side.buf += data[: self.max_depth - len(side.buf)]
            data = side.buf
        else:
            data = data[: self.max_depth]
            side.prev = bytes(data[:PAIR_PREFIX])
        service, pending = book.identify(data, sport, dport, prev)
        if service is not None:
            self._decide(state, service)
            self.stats.hits[service] += 1
        elif (reason := self._stop_reason(side, proto, pending)) is not None:
            side.done = True
            side.buf = bytearray()
            side.prev = None
            self.stats.gave_up[reason] += 1
        return state.service

    def first_look(self, to_server: bool, data: Bytes, proto: int, sport: int, dport: int) -> str | None:
        """The service the server port suggests, when the first payload of a direction confirms it
        on its own: most flows are named so, with no per-flow state. None sends the flow to
        :meth:`observe`."""
        hint = PORT_HINTS.get((proto, dport))
        if hint is None:
            return None
        book = self._books.get((proto, to_server))
        if len(data) > self.max_depth:
            data = data[: self.max_depth]
        if book is None or not book.confirms(hint, data, sport, dport):
            return None
        self.stats.hits[hint] += 1
        return hint

    def _stop_reason(self, side: Side, proto: int, pending: bool) -> str | None:
        if proto == TCP and len(side.buf) >= self.max_depth:
            return "depth"
        if side.packets >= self.max_packets:
            return "packets"
        # A datagram stands alone: the next one may still match.
        if proto == TCP and not pending:
            return "mismatch"
        return None

    def finish(self, state: WizardState | None, proto: int, sport: int, dport: int) -> str | None:
        """At the flow's end: the service, from the server port (else the client's) when the
        payload named none, as nDPI guesses. A flow that carried no payload at all has no state."""
        if state is None:
            return self._port_hint(proto, sport, dport)
        if state.service is None:
            hint = self._port_hint(proto, sport, dport)
            if hint is not None:
                self._decide(state, hint)
        return state.service

    def _port_hint(self, proto: int, sport: int, dport: int) -> str | None:
        hint = PROTOCOL_NAMES.get(proto)
        if hint is None:
            hint = PORT_GUESSES.get((proto, dport)) or PORT_GUESSES.get((proto, sport))
        if hint is not None:
            self.stats.port_hints[hint] += 1
        return hint

    @staticmethod
    def _decide(state: WizardState, service: str) -> None:
        state.service = service
        state.client.buf = state.server.buf = bytearray()
        state.client.prev = state.server.prev = None
