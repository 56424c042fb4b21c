"""The service wizard names services from the first payload bytes, as Snort 3's wizard does, and
agrees with nDPI on the corpus captures."""

from __future__ import annotations

import ipaddress
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


def test_port_fallback_only_when_a_side_was_silent() -> None:
    wizard = ServiceWizard()
    silent = WizardState()
    assert wizard.finish(silent, TCP, 40000, 443) == "ssl"
    assert silent.by_port
    one_sided = WizardState()
    wizard.observe(one_sided, True, b"\x01\x02\x03", UDP, 40000, 53)
    assert wizard.finish(one_sided, UDP, 40000, 53) == "dns"
    # Replies seen alone: the server's port is the flow's source.
    replies = WizardState()
    assert wizard.finish(replies, UDP, 161, 40000) == "snmp"
    both_spoke = WizardState()
    wizard.observe(both_spoke, True, b"\x01\x02\x03", TCP, 40000, 443)
    wizard.observe(both_spoke, False, b"\x04\x05\x06", TCP, 40000, 443)
    assert wizard.finish(both_spoke, TCP, 40000, 443) is None
    assert wizard.finish(WizardState(), TCP, 40000, ODD_PORT) is None
    assert wizard.stats.port_hints == Counter({"ssl": 1, "dns": 1, "snmp": 1})


def test_payload_outranks_the_port(wizard: ServiceWizard) -> None:
    state = WizardState()
    assert wizard.observe(state, True, b"SSH-2.0-x\r\n", TCP, 40000, 80) == "ssh"
    assert wizard.finish(state, TCP, 40000, 80) == "ssh"
    assert not state.by_port


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
    "MDNS": "dns",
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
    are left out (the wizard guesses only for silent sides), and so are its unknown flows."""
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
    # Both TLS flows start mid-stream with application data records (17 03 03): Snort's ssl hex
    # wants a handshake record (16 03).
    "whatsapp_login_chat.pcap": Counter({"ssl->None": 2}),
}


@pytest.mark.parametrize("capture", APPID_CAPTURES, ids=lambda p: p.name)
def test_corpus_flows_agree_with_ndpi(capture: Path) -> None:
    expected = expected_services(capture)
    named = run_wizard(capture).named
    missed = Counter(f"{svc}->{named.get(key)}" for key, svc in expected.items() if named.get(key) != svc)
    assert missed == KNOWN_DISAGREEMENTS.get(capture.name, Counter())
