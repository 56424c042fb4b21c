"""The service wizard names services from the first payload bytes, as Snort 3's wizard does, and
agrees with nDPI on the corpus captures."""

from __future__ import annotations

import ipaddress
import random
import re
import struct
from collections import Counter
from pathlib import Path

import pytest

from fathom.apps.wizard import TCP, UDP, ServiceWizard, WizardState
from fathom.decode.packet import Buffer, Packet
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.host import LayerHost
from tests.corpus.conftest import APPID_CAPTURES
from tests.corpus.helpers import run_layer
from tests.corpus.test_appid_flows import _ip

ODD_PORT = 40123  # no port hint: the payload alone names the service
FlowKey = tuple[str, frozenset[tuple[str, int]]]


def first(wizard: ServiceWizard, data: bytes, to_server: bool = True, proto: int = TCP) -> str | None:
    return wizard.observe(WizardState(), to_server, data, proto, 50000, ODD_PORT)


@pytest.fixture(scope="module")
def wizard() -> ServiceWizard:
    return ServiceWizard()


def _dns_query(name: bytes, qtype: int = 1) -> bytes:
    labels = b"".join(bytes([len(part)]) + part for part in name.split(b"."))
    return (
        struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", qtype, 1)
    )


_NB = b"\x20" + b"EOGFGLGPCACACACACACACACACACACAAA" + b"\x00"  # "NOKO" encoded

# (service, first payload, direction, transport): each from a realistic capture of its protocol.
CASES = [
    ("http", b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", True, TCP),
    ("http", b"PUT /upload/file.bin HTTP/1.1\r\n", True, TCP),
    ("http", b"HTTP/1.1 200 OK\r\nServer: nginx\r\n", False, TCP),
    ("ssl", bytes.fromhex("160301020001") + b"\x00" * 40, True, TCP),
    ("ssl", bytes.fromhex("160303007a02"), False, TCP),
    ("ssl", bytes.fromhex("805901000200300000002000003900"), True, TCP),  # SSLv2 client hello
    ("dns", _dns_query(b"www.example.com"), True, UDP),
    ("dns", struct.pack("!H", 33) + _dns_query(b"example.org"), True, TCP),
    ("smtp", b"220 mx.example.com ESMTP Postfix (Debian)\r\n", False, TCP),
    ("smtp", b"EHLO client.example.net\r\n", True, TCP),
    ("ftp", b"220 (vsFTPd 3.0.3)\r\n", False, TCP),
    ("ftp", b"220-FileZilla Server 0.9.60 beta\r\n", False, TCP),
    ("imap", b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n", False, TCP),
    ("pop3", b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", False, TCP),
    ("sip", b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n", True, UDP),
    ("sip", b"OPTIONS sip:100@10.0.0.2 SIP/2.0\r\n", True, TCP),
    ("sip", b"SIP/2.0 200 OK\r\n", False, UDP),
    ("netbios-ssn", bytes.fromhex("00000054ff534d4272000000001843c8"), True, TCP),
    (
        "netbios-ssn",
        bytes.fromhex("81000044") + b"\x20" * 68 + bytes.fromhex("000000a0fe534d4240"),
        True,
        TCP,
    ),
    ("dcerpc", bytes.fromhex("05000b031000000048000000010000"), True, TCP),
    ("ssh", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", True, TCP),
    ("ssh", b"SSH-2.0-dropbear_2022.83\r\n", False, TCP),
    ("telnet", bytes.fromhex("fffd18fffd20fffd23fffd27"), False, TCP),
    ("irc", b"NICK alice\r\nUSER alice 0 * :Alice\r\n", True, TCP),
    ("irc", b":irc.libera.chat NOTICE * :*** Checking Ident\r\n", False, TCP),
    ("rtsp", b"OPTIONS rtsp://cam.local/stream RTSP/1.0\r\nCSeq: 1\r\n", True, TCP),
    ("nntp", b"200 news.example.com InterNetNews NNRP server INN 2.6.4 ready\r\n", False, TCP),
    ("ssdp", b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n", True, UDP),
    ("ldap", bytes.fromhex("300c020101600702010304008000"), True, TCP),
    ("snmp", bytes.fromhex("302602010104067075626c6963a019"), True, UDP),
    ("kerberos", bytes.fromhex("6a8201203082011ca103020105a20302010a"), True, UDP),
    ("kerberos", bytes.fromhex("000001246a8201203082011ca103020105a2"), True, TCP),
    ("mysql", bytes.fromhex("4a0000000a") + b"8.0.36\x00", False, TCP),
    ("postgresql", bytes.fromhex("0000002900030000") + b"user\x00bob\x00", True, TCP),
    ("rdp", bytes.fromhex("0300002b26e00000000000") + b"Cookie: mstshash=a\r\n", True, TCP),
    ("sunrpc", bytes.fromhex("6b8b4567 00000000 00000002 000186a3 00000003 00000000"), True, UDP),
    ("tftp", b"\x00\x01rfc1350.txt\x00octet\x00", True, UDP),
    ("dhcp", b"\x01\x01\x06\x00" + b"\x00" * 232 + b"\x63\x82\x53\x63\x35\x01\x01", True, UDP),
    ("ntp", b"\xe3\x00\x06\xec" + b"\x00" * 44, True, UDP),
    ("netbios-ns", bytes.fromhex("80f001100001000000000000") + _NB + b"\x00\x20\x00\x01", True, UDP),
    ("netbios-dgm", bytes.fromhex("1102abcdc0a80001008a00bb0000") + _NB + _NB, True, UDP),
]


@pytest.mark.parametrize(("service", "data", "to_server", "proto"), CASES, ids=lambda v: str(v)[:20])
def test_names_service_from_first_payload(
    wizard: ServiceWizard, service: str, data: bytes, to_server: bool, proto: int
) -> None:
    assert first(wizard, data, to_server, proto) == service


@pytest.mark.parametrize(
    ("data", "to_server"),
    [
        (b"220 (vsFTPd 3.0.3)\r\n", True),  # a banner comes from the server
        (b"+OK ready\r\n", True),
        (b"* OK IMAP4rev1\r\n", True),
        (b"GET / HTTP/1.1\r\n", False),  # a request goes to the server
        (b"EHLO client\r\n", False),
        (b"NICK alice\r\n", False),
    ],
)
def test_spells_only_work_in_their_direction(wizard: ServiceWizard, data: bytes, to_server: bool) -> None:
    assert first(wizard, data, to_server) is None


def test_spells_skip_leading_whitespace_and_ignore_case(wizard: ServiceWizard) -> None:
    assert first(wizard, b"\r\n  get / HTTP/1.0\r\n") == "http"
    assert first(wizard, b"ssh-1.99-x\r\n", False) == "ssh"


def test_netbios_names_are_not_taken_for_dns(wizard: ServiceWizard) -> None:
    assert (
        first(wizard, _dns_query(b"EOGFGLGPCACACACACACACACACACACAAA", qtype=0x20), True, UDP) == "netbios-ns"
    )


def test_tcp_magic_split_over_segments_waits_then_matches(wizard: ServiceWizard) -> None:
    state = WizardState()
    for part in (b"22", b"0 mail.example.com", b" ESMTP ready\r\n"):
        result = wizard.observe(state, False, part, TCP, 25, ODD_PORT)
    assert result == "smtp"
    state = WizardState()
    assert wizard.observe(state, True, b"\x00\x00", TCP, 1, ODD_PORT) is None  # could be DNS or SMB yet
    assert wizard.observe(state, True, b"\x00\x54\xffSMB", TCP, 1, ODD_PORT) == "netbios-ssn"


def test_gives_up_on_mismatch_depth_and_packets() -> None:
    wizard = ServiceWizard(max_depth=64, max_packets=3)
    state = WizardState()
    # Nothing starts with these bytes; but "* * HTTP/" keeps a client stream alive until the depth.
    assert wizard.observe(state, False, b"BANNER: welcome to the service\r\n", TCP, 1, ODD_PORT) is None
    assert state.server.done
    assert wizard.observe(state, True, b"hello there, " * 3, TCP, 1, ODD_PORT) is None
    assert not state.client.done
    assert wizard.observe(state, True, b"x" * 40, TCP, 1, ODD_PORT) is None
    assert state.client.done
    # A given-up direction stays undecided, even for bytes that would have matched.
    assert wizard.observe(state, True, b"GET / HTTP/1.1\r\n", TCP, 1, ODD_PORT) is None
    udp = WizardState()
    for _ in range(3):
        assert wizard.observe(udp, True, b"\x17\x00random", UDP, 1, ODD_PORT) is None
    assert udp.client.done
    assert wizard.stats.gave_up == Counter({"mismatch": 1, "depth": 1, "packets": 1})


def test_undecided_flow_keeps_waiting(wizard: ServiceWizard) -> None:
    state = WizardState()
    assert wizard.observe(state, True, b"GE", TCP, 1, ODD_PORT) is None
    assert not state.client.done
    assert wizard.observe(state, True, b"T / HTTP/1.1\r\n", TCP, 1, ODD_PORT) == "http"


def test_the_port_names_what_the_payload_did_not() -> None:
    wizard = ServiceWizard()
    silent = WizardState()
    assert wizard.finish(silent, TCP, 40000, 443) == "ssl"
    one_sided = WizardState()
    wizard.observe(one_sided, True, b"\x01\x02\x03", UDP, 40000, 53)
    assert wizard.finish(one_sided, UDP, 40000, 53) == "dns"
    # Replies seen alone: the server's port is the flow's source.
    replies = WizardState()
    assert wizard.finish(replies, UDP, 161, 40000) == "snmp"
    # Both sides spoke, in bytes no magic follows: nDPI guesses by port, and so does the wizard.
    both_spoke = WizardState()
    wizard.observe(both_spoke, True, b"\x01\x02\x03", TCP, 40000, 443)
    wizard.observe(both_spoke, False, b"\x04\x05\x06", TCP, 40000, 443)
    assert wizard.finish(both_spoke, TCP, 40000, 443) == "ssl"
    # A flow that carried no payload has no state; its port names it all the same.
    assert wizard.finish(None, TCP, 40000, 22) == "ssh"
    assert wizard.finish(WizardState(), TCP, 40000, ODD_PORT) is None
    assert wizard.stats.port_hints == Counter({"ssl": 2, "dns": 1, "snmp": 1, "ssh": 1})


def test_payload_outranks_the_port(wizard: ServiceWizard) -> None:
    state = WizardState()
    assert wizard.observe(state, True, b"SSH-2.0-x\r\n", TCP, 40000, 80) == "ssh"
    assert wizard.finish(state, TCP, 40000, 80) == "ssh"
    assert not wizard.stats.port_hints


# --- Real captures -----------------------------------------------------------------------------


class WizardLayer(Layer):
    """Feeds each flow's first payload to the wizard and records what it named, per flow."""

    def __init__(self, host: LayerHost, wizard: ServiceWizard) -> None:
        self.wizard = wizard
        self.slot = host.new_slot("wizard", WizardState)
        self.named: dict[FlowKey, str | None] = {}

    def _state(self, flow: Flow) -> WizardState:
        state = self.slot.get(flow)
        if state is None:
            state = WizardState()
            self.slot.set(flow, state)
        return state

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        if flow.proto == UDP and pkt.payload_len:
            self.wizard.observe(self._state(flow), to_server, pkt.payload(), UDP, flow.sport, flow.dport)

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        data = memoryview(buf)[off : off + length]
        self.wizard.observe(self._state(flow), to_server, data, TCP, flow.sport, flow.dport)

    def on_flow_end(self, flow: Flow) -> None:
        if flow.proto not in (TCP, UDP):
            return
        service = self.wizard.finish(self._state(flow), flow.proto, flow.sport, flow.dport)
        ends = frozenset(
            {
                (str(ipaddress.ip_address(flow.src)), flow.sport),
                (str(ipaddress.ip_address(flow.dst)), flow.dport),
            }
        )
        self.named[("TCP" if flow.proto == TCP else "UDP", ends)] = service


# nDPI's protocol (the master protocol, before the dot) as the service Snort's wizard would name.
NDPI_TO_SNORT = {
    "HTTP": "http",
    "TLS": "ssl",
    "DNS": "dns",
    "MDNS": "mdns",
    "SMTP": "smtp",
    "FTP_CONTROL": "ftp",
    "IMAP": "imap",
    "POP3": "pop3",
    "SIP": "sip",
    "SSH": "ssh",
    "Telnet": "telnet",
    "IRC": "irc",
    "Kerberos": "kerberos",
    "LDAP": "ldap",
    "SMBv1": "netbios-ssn",
    "SMBv23": "netbios-ssn",
    "MySQL": "mysql",
    "PostgreSQL": "postgresql",
    "RDP": "rdp",
    "SNMP": "snmp",
    "TFTP": "tftp",
    "DHCP": "dhcp",
    "NTP": "ntp",
    "BitTorrent": "bittorrent",
    "Syslog": "syslog",
    "STUN": "stun",
    "RTP": "rtp",
    "OpenVPN": "openvpn",
    "WireGuard": "wireguard",
    "MQTT": "mqtt",
    "DTLS": "dtls",
    "QUIC": "quic",
    "MsSQL-TDS": "tds",
    "DNP3": "dnp3",
    "RESP": "redis",
    "Modbus": "modbus",
    "WhatsApp": "whatsapp",
    "Spotify": "spotify",
    "Dropbox": "dropbox",
    "Discord": "discord",
}
_NDPI_FLOW = re.compile(
    r"^\t\d+\t(TCP|UDP) (\S+):(\d+) <?-> (\S+):(\d+) (?:\[VLAN: \d+\])?\[proto: [\d.]+/([\w-]+)[.\]]"
)
NETBIOS_PORTS = ((137, "netbios-ns"), (138, "netbios-dgm"), (139, "netbios-ssn"), (445, "netbios-ssn"))


def snort_service(ndpi: str, ports: set[int]) -> str | None:
    """The service Snort names for nDPI's (master) protocol; nDPI's NetBIOS is three, by port."""
    if ndpi == "NetBIOS":
        return next((svc for port, svc in NETBIOS_PORTS if port in ports), None)
    return NDPI_TO_SNORT.get(ndpi)


def expected_services(capture: Path) -> dict[FlowKey, str | None]:
    """What the wizard should name for each flow that nDPI names from its payload: the same
    service, or nothing when nDPI's protocol has no Snort service. nDPI's guesses from ports alone
    are left out (the wizard guesses only at a flow's end), and so are its unknown flows."""
    expected = capture.with_name(re.sub(r"\.pcapn?g?$", "", capture.name) + ".expected.txt")
    services: dict[FlowKey, str | None] = {}
    for line in expected.read_text(errors="replace").splitlines():
        m = _NDPI_FLOW.match(line)
        if m is None or m[6] == "Unknown" or "[Confidence: Match by port]" in line:
            continue
        proto, a, ap, b, bp, name = m.groups()
        key = (proto, frozenset({(_ip(a), int(ap)), (_ip(b), int(bp))}))
        services[key] = snort_service(name, {int(ap), int(bp)})
    return services


def run_wizard(capture: Path) -> WizardLayer:
    wizard = ServiceWizard()
    return run_layer(capture, lambda host: WizardLayer(host, wizard))


# Flows where Snort's wizard, reading the same bytes, would not name nDPI's service, and why.
KNOWN_DISAGREEMENTS = {
    # Two TLS flows start mid-stream with application data records (17 03 03): Snort's ssl hex
    # wants a handshake record (16 03), so the wizard names them tls-data, which is TLS to
    # application identification but gives no SSL inspector.
    "whatsapp_login_chat.pcap": Counter({"ssl->tls-data": 2}),
    # WebRTC calls: ICE's STUN checks come first, and the wizard names the flow then; nDPI goes on
    # to the DTLS handshake, and so does the app layer's DTLS log (test_dtls_log).
    "stun.pcapng": Counter({"dtls->stun": 2}),
}


@pytest.mark.parametrize("capture", APPID_CAPTURES, ids=lambda p: p.name)
def test_corpus_flows_agree_with_ndpi(capture: Path) -> None:
    expected = expected_services(capture)
    named = run_wizard(capture).named
    missed = Counter(f"{svc}->{named.get(key)}" for key, svc in expected.items() if named.get(key) != svc)
    assert missed == KNOWN_DISAGREEMENTS.get(capture.name, Counter())


# --- Services nDPI names, beyond the rules' ------------------------------------------------------


def _stun(kind: int, attrs: bytes = b"", cookie: bool = True) -> bytes:
    head = struct.pack("!HH", kind, len(attrs)) + (struct.pack("!I", 0x2112A442) if cookie else b"\x5a" * 4)
    return head + bytes(range(12)) + attrs


def _dnp3(control: int = 0x44, dest: int = 3, src: int = 4) -> bytes:
    header = struct.pack("<BBBBHH", 0x05, 0x64, 5, control, dest, src)
    crc = 0
    for byte in header:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
    return header + struct.pack("<H", crc ^ 0xFFFF)


def _tds(kind: int, body: bytes, status: int = 1) -> bytes:
    return struct.pack("!BBHHBB", kind, status, 8 + len(body), 0, 1, 0) + body


# A pre-login: VERSION and ENCRYPTION options, the terminator, then their data.
_PRELOGIN = _tds(0x12, bytes.fromhex("00000b0006 01001100 01 ff") + bytes.fromhex("0f0007d00000") + b"\x02")
_ALL_HEADERS = struct.pack("<IIH", 22, 18, 2) + bytes(12)
_DTLS_HELLO = struct.pack("!BHHIHH", 22, 0xFEFF, 0, 0, 0, 12) + bytes.fromhex("010000000000000000000000")
_QUIC_INITIAL = bytes.fromhex("c3 00000001 08 0102030405060708 00 00 4496") + bytes(1200)
_WG_INIT = b"\x01\x00\x00\x00" + bytes(range(144))
# Discord's voice IP discovery (type, length 70, SSRC, address, port).
_DISCORD_REQUEST = bytes.fromhex("00010046 001a7e73") + bytes(64) + b"\x8b\x19"
_DISCORD_ANSWER = bytes.fromhex("00020046 001a7e73") + b"85.154.2.145".ljust(64, b"\x00") + b"\xd3\xda"
# Application data records of TLS 1.2, picked up after the handshake.
_TLS_DATA = bytes.fromhex("170303001c") + bytes(28) + bytes.fromhex("1703030020")

NEW_CASES = [
    ("bittorrent", b"\x13BitTorrent protocol" + bytes(8) + bytes(range(40)), True, TCP),
    ("bittorrent", b"\x13BitTorrent protocol" + bytes(8) + bytes(range(40)), False, TCP),
    ("bittorrent", b"d1:ad2:id20:" + bytes(range(20)) + b"e1:q4:ping1:t2:aa1:y1:qe", True, UDP),
    ("bittorrent", b"d1:rd2:id20:" + bytes(range(20)) + b"e1:t2:aa1:y1:re", False, UDP),
    ("syslog", b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", True, UDP),
    ("syslog", b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - x", True, TCP),
    ("syslog", b"<0>kernel: panic", True, UDP),
    ("stun", _stun(0x0001), True, UDP),
    ("stun", _stun(0x0101, bytes.fromhex("0020000800011a2b7c3d45a3")), False, UDP),
    ("stun", _stun(0x0001, bytes.fromhex("00030004 00000000"), cookie=False), True, UDP),  # RFC 3489
    ("stun", _stun(0x0001, bytes.fromhex("0006000475736572")), True, TCP),
    ("stun", struct.pack("!H", 20) + _stun(0x0001), True, TCP),  # RFC 4571 framing
    ("openvpn", b"\x38" + bytes(range(1, 9)) + bytes(5), True, UDP),
    (
        "openvpn",
        b"\x50" + bytes(range(1, 9)) + bytes(range(20)) + b"\x00\x00\x00\x01abcd" + bytes(5),
        True,
        UDP,
    ),
    (
        "openvpn",
        b"\x40" + bytes(range(9, 17)) + b"\x01" + bytes(4) + bytes(range(1, 9)) + bytes(4),
        False,
        UDP,
    ),
    ("openvpn", b"\x00\x0e\x38" + bytes(range(1, 9)) + bytes(5), True, TCP),
    ("wireguard", _WG_INIT, True, UDP),
    ("wireguard", b"\x02\x00\x00\x00" + bytes(range(88)), False, UDP),
    ("wireguard", b"\x04\x00\x00\x00" + b"\x11\x22\x33\x44" + struct.pack("<Q", 7) + bytes(32), True, UDP),
    ("mqtt", b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcd", True, TCP),
    ("mqtt", b"\x10\x11\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x03abc", True, TCP),
    ("dtls", _DTLS_HELLO, True, UDP),
    ("dtls", _DTLS_HELLO + struct.pack("!BHHIHH", 20, 0xFEFD, 0, 1, 0, 1) + b"\x01", False, UDP),
    ("quic", _QUIC_INITIAL, True, UDP),
    ("quic", bytes.fromhex("d3 6b3343cf 08 0102030405060708 00 00 4496") + bytes(1200), True, UDP),  # v2
    ("quic", bytes.fromhex("c2 ff00001d 00 08 0102030405060708 00 4020") + bytes(32), False, UDP),
    ("quic", b"\x0d" + bytes(range(8)) + b"Q043\x01" + bytes(1300), True, UDP),  # Google QUIC
    ("tds", _PRELOGIN, True, TCP),
    ("tds", _tds(0x04, bytes.fromhex("fd0000c1000100000000000000")), False, TCP),
    ("tds", _tds(0x01, _ALL_HEADERS + "select 1".encode("utf-16-le")), True, TCP),
    ("tds", _tds(0x03, b"\x0d\x00" + "sp_executesql".encode("utf-16-le")), True, TCP),
    ("dnp3", _dnp3(0xC4, 10, 1) + bytes(8), True, TCP),
    ("dnp3", _dnp3(), False, UDP),
    ("kerberos", bytes.fromhex("0000012b6c82012730820123a103020105a20302010c"), True, TCP),  # TGS-REQ
    ("kerberos", bytes.fromhex("000005a06b82059c30820598a003020105a10302010b"), False, TCP),  # AS-REP
    ("kerberos", bytes.fromhex("000005a06d82059c30820598a003020105a10302010d"), False, TCP),  # TGS-REP
    ("kerberos", bytes.fromhex("000001127e82010e3082010aa003020105a10302011e"), False, TCP),  # KRB-ERROR
    ("kerberos", bytes.fromhex("7e81913081 8ea003020105a10302011e"), False, UDP),
    ("redis", b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", True, TCP),
    ("redis", b"$5\r\nvalue\r\n", False, TCP),
    ("redis", b":1000\r\n", False, TCP),
    ("redis", b"-NOAUTH Authentication required.\r\n", False, TCP),
    ("modbus", bytes.fromhex("00d1 0000 0006 01 03 0001 0001"), True, TCP),
    ("modbus", bytes.fromhex("00d1 0000 0005 01 03 02 0000"), False, TCP),
    ("modbus", bytes.fromhex("0001 0000 0003 11 83 02"), False, TCP),  # an exception answer
    ("whatsapp", b"WA\x01\x05\x00\x00\x1a\xf8\x05\x01\xa5", True, TCP),
    ("whatsapp", b"ED\x00\x01\x00\x00\x02\x08\x00WA\x02\x00", True, TCP),
    ("spotify", b"SpotUdp0" + bytes(range(36)), True, UDP),
    ("dropbox", b'{"host_int": 123456789, "version": [2, 0], "displayname": "", "port": 17500}', True, UDP),
    ("discord", _DISCORD_REQUEST, True, UDP),
    ("discord", _DISCORD_ANSWER, False, UDP),
    ("tls-data", _TLS_DATA, True, TCP),
    ("tls-data", _TLS_DATA, False, TCP),
]


@pytest.mark.parametrize(("service", "data", "to_server", "proto"), NEW_CASES, ids=lambda v: str(v)[:20])
def test_names_identification_services(
    wizard: ServiceWizard, service: str, data: bytes, to_server: bool, proto: int
) -> None:
    assert first(wizard, data, to_server, proto) == service


NEW_SERVICES = {case[0] for case in NEW_CASES} | {"rtp", "mdns"}
_RANDOM = random.Random(20240611)
NEGATIVES = [
    _dns_query(b"www.example.com"),
    _dns_query(b"_services._dns-sd._udp.local", qtype=12),
    bytes.fromhex("16030100f5010000f10303") + bytes(range(32)) + bytes(200),  # a TLS ClientHello
    bytes.fromhex("170303001c") + bytes(28),
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"+OK POP3 server ready\r\n",
    *(_RANDOM.randbytes(size) for size in (14, 20, 26, 32, 64, 92, 148, 200, 1200, 1400) for _ in range(20)),
]


@pytest.mark.parametrize("proto", [TCP, UDP])
@pytest.mark.parametrize("to_server", [True, False])
def test_new_services_need_their_own_framing(wizard: ServiceWizard, to_server: bool, proto: int) -> None:
    for data in NEGATIVES:
        framed = struct.pack("!H", len(data)) + data if proto == TCP and data[:2] != b"\x16\x03" else data
        for sample in (data, framed):
            state = WizardState()
            assert wizard.observe(state, to_server, sample, proto, 50000, ODD_PORT) not in NEW_SERVICES, (
                sample
            )


def test_dns_on_5353_is_mdns(wizard: ServiceWizard) -> None:
    query = _dns_query(b"_airplay._tcp.local", qtype=12)
    assert wizard.observe(WizardState(), True, query, UDP, 5353, 5353) == "mdns"
    assert wizard.observe(WizardState(), True, query, UDP, 40000, 5353) == "mdns"
    assert wizard.observe(WizardState(), True, query, UDP, 40000, 53) == "dns"
    assert ServiceWizard().finish(WizardState(), UDP, 40000, 5353) == "mdns"


def _rtp(seq: int, stamp: int, ssrc: int = 0x1234ABCD, kind: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, kind, seq, stamp, ssrc) + bytes(160)


def test_rtp_needs_two_datagrams_of_one_stream() -> None:
    wizard = ServiceWizard()
    state = WizardState()
    assert wizard.observe(state, True, _rtp(1000, 160000), UDP, 40000, ODD_PORT) is None
    assert wizard.observe(state, True, _rtp(1001, 160160), UDP, 40000, ODD_PORT) == "rtp"
    # A sequence that wraps and a lost datagram still go up.
    state = WizardState()
    wizard.observe(state, False, _rtp(0xFFFF, 5, kind=0x80 | 96), UDP, 40000, ODD_PORT)
    assert wizard.observe(state, False, _rtp(2, 5, kind=96), UDP, 40000, ODD_PORT) == "rtp"


@pytest.mark.parametrize(
    "second",
    [
        _rtp(1000, 160000),  # the same sequence number
        _rtp(999, 159840),  # going back
        _rtp(1001, 160160, ssrc=0x1234ABCE),  # another source
        _rtp(1001, 160160, kind=8),  # another payload type
        _rtp(1100, 160160),  # too far ahead
    ],
)
def test_rtp_rejects_datagrams_of_different_streams(second: bytes) -> None:
    wizard = ServiceWizard()
    state = WizardState()
    assert wizard.observe(state, True, _rtp(1000, 160000), UDP, 40000, ODD_PORT) is None
    assert wizard.observe(state, True, second, UDP, 40000, ODD_PORT) is None


def test_rtp_pairs_only_datagrams_of_one_direction() -> None:
    wizard = ServiceWizard()
    state = WizardState()
    assert wizard.observe(state, True, _rtp(1000, 160000), UDP, 40000, ODD_PORT) is None
    assert wizard.observe(state, False, _rtp(1001, 160160), UDP, 40000, ODD_PORT) is None
    # DNS queries from one client, back to back, are DNS, never RTP.
    assert (
        wizard.observe(WizardState(), True, b"\x80" + _dns_query(b"a.example")[1:], UDP, 40000, 53) == "dns"
    )


def _rfc4571(packet: bytes) -> bytes:
    return struct.pack("!H", len(packet)) + packet


def test_rtp_over_tcp_needs_two_packets_of_one_stream(wizard: ServiceWizard) -> None:
    stream = _rfc4571(_rtp(1000, 160000)) + _rfc4571(_rtp(1001, 160160))
    state = WizardState()
    # The first packet and a little of the second's header: not yet.
    assert wizard.observe(state, True, stream[:180], TCP, 40000, ODD_PORT) is None
    assert wizard.observe(state, True, stream[180:], TCP, 40000, ODD_PORT) == "rtp"
    assert first(wizard, _rfc4571(_rtp(1000, 160000)) + _rfc4571(_rtp(1000, 160000))) is None
    assert first(wizard, _rfc4571(_rtp(1000, 160000))[:2] + b"\x40" + bytes(200)) is None  # not version 2


def _ovpn(opcode: int, session: bytes, size: int = 86) -> bytes:
    return bytes([opcode << 3]) + session + bytes(range(size - 9))


@pytest.mark.parametrize(("to_server", "reset"), [(True, 7), (True, 10), (False, 8)])
def test_openvpn_is_a_reset_then_a_control_message_of_its_session(to_server: bool, reset: int) -> None:
    """tls-crypt resets, whose size and contents cannot be checked, as nDPI names them."""
    wizard = ServiceWizard()
    for follow in (4, 5):  # P_CONTROL_V1, P_ACK_V1
        state = WizardState()
        assert wizard.observe(state, to_server, _ovpn(reset, b"sessionA"), UDP, 40000, 443) is None
        assert wizard.observe(state, to_server, _ovpn(follow, b"sessionA", 102), UDP, 40000, 443) == "openvpn"


@pytest.mark.parametrize(
    ("to_server", "reset", "follow", "session"),
    [
        (True, 7, 4, b"sessionB"),  # another session
        (False, 7, 4, b"sessionA"),  # a client's reset from the server
        (True, 8, 4, b"sessionA"),  # and a server's from the client
        (True, 7, 9, b"sessionA"),  # data, not control
        (False, 8, 11, b"sessionA"),  # a QUIC short header's first byte (fixed bit set) cannot follow
    ],
)
def test_openvpn_pairs_want_the_sides_reset_and_control(
    to_server: bool, reset: int, follow: int, session: bytes
) -> None:
    wizard = ServiceWizard()
    state = WizardState()
    assert wizard.observe(state, to_server, _ovpn(reset, b"sessionA"), UDP, 40000, ODD_PORT) is None
    assert wizard.observe(state, to_server, _ovpn(follow, session), UDP, 40000, ODD_PORT) is None


def test_near_misses_are_not_named(wizard: ServiceWizard) -> None:
    assert first(wizard, b"<192>Oct 11 22:14:15 host", True, UDP) is None  # priority above 191
    assert first(wizard, b"<034>Oct 11 22:14:15 host", True, UDP) is None  # leading zero
    assert first(wizard, _stun(0x0001)[:-1], True, UDP) is None  # length does not fit
    assert first(wizard, _WG_INIT[:-1], True, UDP) is None
    assert first(wizard, _QUIC_INITIAL[:1000], True, UDP) is None  # an Initial is padded to 1200
    assert first(wizard, _DTLS_HELLO + b"\x00", True, UDP) is None
    assert first(wizard, _dnp3()[:-1] + b"\x00", True, TCP) is None  # wrong CRC
    assert first(wizard, bytes.fromhex("00d1 0000 0007 01 03 0001 0001"), True, TCP) is None  # cut short
    assert first(wizard, _PRELOGIN + b"\x00", True, TCP) is None  # longer than its length
    assert first(wizard, b"\x38" + bytes(range(1, 9)) + b"\x01" + bytes(4), True, UDP) is None
    assert first(wizard, _DISCORD_REQUEST[:-1], True, UDP) is None
    with_address = _DISCORD_REQUEST[:8] + b"\x01" + _DISCORD_REQUEST[9:]  # a request has none
    assert first(wizard, with_address, True, UDP) is None
    assert first(wizard, _DISCORD_ANSWER[:8] + bytes(66), False, UDP) is None  # no address
    assert first(wizard, _TLS_DATA[:-5]) is None  # one record is too little
    assert first(wizard, _TLS_DATA[:-4] + b"\x03\x01" + _TLS_DATA[-2:]) is None  # versions differ
