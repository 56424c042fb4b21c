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
  carrying SMB, connectionless DCE/RPC, SSLv2 client hellos).

Client and server magic differ (an FTP banner only comes from the server). TCP bytes of one
direction accumulate up to ``max_depth``; each UDP datagram is judged on its own, as Snort does.
A direction is abandoned, with its reason counted, when it reaches ``max_depth`` bytes or
``max_packets`` packets, or when its bytes can no longer start any magic.

Ports alone name a service only at the end of a flow that the payload never decided, and only
when one of its directions carried no payload at all (an unanswered request, a capture that saw
one side): half a conversation is too little to rule a service out. A flow whose two sides both
spoke without matching stays unknown. Every service of ``PORT_HINTS`` may come from its port this
way; ``wins`` (WINS replication, TCP 42) comes from its port only, having no magic here.
FTP data connections (``ftp-data``) are not covered: they are named by the control channel's
PORT/PASV/EPSV exchange, not by their own bytes.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

TCP = 6
UDP = 17
BOTH = frozenset({TCP, UDP})
TCP_ONLY = frozenset({TCP})
UDP_ONLY = frozenset({UDP})

Bytes = bytes | bytearray | memoryview
# A curse's verdict on the bytes seen so far: True (this service), False (not it) or None (too
# few bytes to tell).
CurseTest = Callable[[Bytes], bool | None]


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
    """A detector for a framing that no pattern can follow."""

    service: str
    test: CurseTest
    transports: frozenset[int]


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
)  # fmt: skip

# --- Curses ----------------------------------------------------------------------------------

_DNS_HEADER = struct.Struct("!HHHHHH")
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
    qtype, qclass = struct.unpack_from("!HH", msg, end)
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


CURSES = (
    Curse("dns", dns_message, UDP_ONLY),
    Curse("dns", dns_over_tcp, TCP_ONLY),
    Curse("netbios-ssn", netbios_smb, TCP_ONLY),
    Curse("dcerpc", dce_udp, UDP_ONLY),
    Curse("ssl", sslv2_hello, TCP_ONLY),
)

# Server ports of the services, for flows the payload could not judge (see the module docstring).
PORT_HINTS: dict[tuple[int, int], str] = {
    **{(TCP, port): service for port, service in (
        (21, "ftp"), (22, "ssh"), (23, "telnet"), (25, "smtp"), (42, "wins"), (53, "dns"), (80, "http"),
        (88, "kerberos"), (110, "pop3"), (111, "sunrpc"), (119, "nntp"), (135, "dcerpc"),
        (139, "netbios-ssn"), (143, "imap"), (389, "ldap"), (443, "ssl"), (445, "netbios-ssn"),
        (465, "ssl"), (554, "rtsp"), (587, "smtp"), (993, "ssl"), (995, "ssl"), (3306, "mysql"),
        (3389, "rdp"), (5060, "sip"), (5432, "postgresql"), (6667, "irc"), (8080, "http"),
    )},
    **{(UDP, port): service for port, service in (
        (53, "dns"), (67, "dhcp"), (68, "dhcp"), (69, "tftp"), (88, "kerberos"), (111, "sunrpc"),
        (123, "ntp"), (135, "dcerpc"), (137, "netbios-ns"), (138, "netbios-dgm"), (161, "snmp"),
        (162, "snmp"), (389, "ldap"), (1900, "ssdp"), (5060, "sip"), (5353, "dns"),
    )},
}  # fmt: skip

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

    __slots__ = ("alive", "curses", "match", "names", "needs")

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
        self.curses = tuple((c.service, c.test) for c in CURSES if transport in c.transports)

    def _group(self, service: str, pattern: bytes) -> bytes:
        name = f"g{len(self.names)}"
        self.names[name] = service
        return b"(?P<" + name.encode() + b">" + pattern + b")"

    def identify(self, data: Bytes) -> tuple[str | None, bool]:
        """The service ``data`` shows, and whether more bytes could still show one."""
        m = self.match.match(data)
        if m is not None and m.lastgroup is not None:
            return self.names[m.lastgroup], False
        pending = len(data) < self.needs or self.alive.fullmatch(data) is not None
        for service, test in self.curses:
            verdict = test(data)
            if verdict:
                return service, False
            pending = pending or verdict is None
        return None, pending


# --- Per-flow state and the wizard -------------------------------------------------------------


class Side:
    """What the wizard keeps of one direction: TCP's first bytes, packet and byte counts."""

    __slots__ = ("buf", "done", "packets", "seen")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.packets = 0
        self.seen = 0
        self.done = False


class WizardState:
    """One flow's search: ``service`` once named, and whether only the port named it."""

    __slots__ = ("by_port", "client", "server", "service")

    def __init__(self) -> None:
        self.service: str | None = None
        self.by_port = False
        self.client = Side()
        self.server = Side()


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
        """Feed one direction's next bytes; the service once named, else None. The ports serve
        only ``finish``; they are taken here so that callers pass one flow description."""
        side = state.client if to_server else state.server
        book = self._books.get((proto, to_server))
        if state.service is not None or side.done or book is None:
            return state.service
        side.packets += 1
        side.seen += len(data)
        if proto == TCP:
            side.buf += data[: self.max_depth - len(side.buf)]
            data = side.buf
        else:
            data = data[: self.max_depth]
        service, pending = book.identify(data)
        if service is not None:
            self._decide(state, service)
            self.stats.hits[service] += 1
        elif (reason := self._stop_reason(side, proto, pending)) is not None:
            side.done = True
            side.buf = bytearray()
            self.stats.gave_up[reason] += 1
        return state.service

    def _stop_reason(self, side: Side, proto: int, pending: bool) -> str | None:
        if proto == TCP and len(side.buf) >= self.max_depth:
            return "depth"
        if side.packets >= self.max_packets:
            return "packets"
        # A datagram stands alone: the next one may still match.
        if proto == TCP and not pending:
            return "mismatch"
        return None

    def finish(self, state: WizardState, proto: int, sport: int, dport: int) -> str | None:
        """At the flow's end: the service, from the server port (else the client's) when the
        payload named none and one direction carried none."""
        if state.service is None and not (state.client.seen and state.server.seen):
            hint = PORT_HINTS.get((proto, dport)) or PORT_HINTS.get((proto, sport))
            if hint is not None:
                self._decide(state, hint)
                state.by_port = True
                self.stats.port_hints[hint] += 1
        return state.service

    @staticmethod
    def _decide(state: WizardState, service: str) -> None:
        state.service = service
        state.client.buf = state.server.buf = bytearray()
