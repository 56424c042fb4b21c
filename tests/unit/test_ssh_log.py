"""EVE ssh events: each side's identification string (RFC 4253 4.2) and HASSH from its KEXINIT
(7.1), one event per flow, however the streams are cut; bounds and malformed input end the work
with a reason, and what was seen is still written."""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from fathom.apps.layer import AppLayer
from fathom.apps.logs.base import LogBody, LogParser
from fathom.apps.logs.registry import PARSERS
from fathom.apps.logs.ssh import MAX_KEXINIT, MAX_LINE, MAX_PRE_BANNER_LINES, SshLog, hassh_string
from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
from tests.traffic import ListSink

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus" / "appid"

Stream = list[tuple[bool, bytes]]


def capture_stream(path: Path, server_port: int) -> Stream:
    """The payloads of the capture's TCP connection to ``server_port``, in capture order, each
    with its direction (True: to the server), bytes sent again passed once. The connection must
    start with its handshake and have no hole."""
    stream: Stream = []
    next_seq: dict[bool, int] = {}
    for pkt in rdpcap(str(path)):
        if IP not in pkt or TCP not in pkt or server_port not in (pkt[TCP].sport, pkt[TCP].dport):
            continue
        ip, tcp = pkt[IP], pkt[TCP]
        to_server = tcp.dport == server_port
        if tcp.flags.S:
            next_seq[to_server] = tcp.seq + 1
            continue
        # The IP length, not the frame's: a short frame's Ethernet padding is no payload.
        payload = bytes(tcp.payload)[: ip.len - ip.ihl * 4 - tcp.dataofs * 4]
        if not payload:
            continue
        seen = next_seq[to_server] - tcp.seq
        assert seen >= 0, "a hole in the capture"
        if len(payload) > seen:
            stream.append((to_server, payload[seen:]))
            next_seq[to_server] = tcp.seq + len(payload)
    return stream


def run(parser: LogParser, stream: Stream) -> list[LogBody]:
    """Feed a stream to ``parser``, then end the flow."""
    bodies: list[LogBody] = []
    for to_server, data in stream:
        if not parser.done:
            bodies += parser.feed(to_server, data)
    if not parser.done:
        bodies += parser.end()
    return bodies


def every_cut(stream: Stream) -> list[Stream]:
    """The stream with each of its chunks cut in two at each position, one cut at a time, and
    byte by byte."""
    cut: list[Stream] = []
    for index, (to_server, data) in enumerate(stream):
        for at in range(1, len(data)):
            part = [(to_server, data[:at]), (to_server, data[at:])]
            cut.append(stream[:index] + part + stream[index + 1 :])
    cut.append([(to_server, data[i : i + 1]) for to_server, data in stream for i in range(len(data))])
    return cut


def name_list(names: str) -> bytes:
    return struct.pack("!I", len(names)) + names.encode()


def packet(payload: bytes, padding: int = 4) -> bytes:
    """An RFC 4253 binary packet, with no MAC (before the first NEWKEYS)."""
    return struct.pack("!IB", 1 + len(payload) + padding, padding) + payload + b"\x00" * padding


def kexinit(kex: str, enc: tuple[str, str], mac: tuple[str, str], comp: tuple[str, str]) -> bytes:
    """A KEXINIT packet; ``enc``, ``mac`` and ``comp`` are client-to-server, server-to-client."""
    lists = (kex, "ssh-ed25519", *enc, *mac, *comp, "", "")
    return packet(b"\x14" + bytes(range(16)) + b"".join(map(name_list, lists)) + b"\x00" + bytes(4))


CLIENT_KEX = kexinit(
    "curve25519-sha256,ext-info-c", ("aes128-ctr", "aes256-ctr"), ("hmac-sha2-256", "hmac-sha1"),
    ("none", "zlib"),
)  # fmt: skip
SERVER_KEX = kexinit(
    "curve25519-sha256", ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"),
    ("umac-64@openssh.com", "hmac-sha2-512"), ("none,zlib@openssh.com", "none"),
)  # fmt: skip
CLIENT_HASSH = "curve25519-sha256,ext-info-c;aes128-ctr;hmac-sha2-256;none"
SERVER_HASSH = "curve25519-sha256;aes128-gcm@openssh.com;hmac-sha2-512;none"
NEWKEYS = packet(b"\x15")
IGNORE = packet(b"\x02" + name_list("padding to hide nothing"))


def side(proto: str, software: str | None, hassh: str | None = None) -> dict[str, Any]:
    member: dict[str, Any] = {"proto_version": proto}
    if software is not None:
        member["software_version"] = software
    if hassh is not None:
        member["hassh"] = {"hash": hashlib.md5(hassh.encode()).hexdigest(), "string": hassh}
    return member


EXCHANGE: Stream = [
    (False, b"Welcome to the example server\r\nSSH-2.0-OpenSSH_9.6 Ubuntu-3ubuntu13\r\n"),
    (True, b"SSH-2.0-OpenSSH_8.9p1\r\n" + CLIENT_KEX),
    (False, SERVER_KEX + NEWKEYS),
    (True, NEWKEYS + b"\x00\x00\x00\x20encrypted"),
]
EXCHANGE_EVENT = {
    "ssh": {
        "client": side("2.0", "OpenSSH_8.9p1", CLIENT_HASSH),
        "server": side("2.0", "OpenSSH_9.6", SERVER_HASSH),
    }
}


def test_both_sides_versions_and_hassh_are_written_once_both_kexinits_are_read() -> None:
    parser = SshLog()
    assert parser.feed(*EXCHANGE[0]) == []
    assert parser.feed(*EXCHANGE[1]) == []
    assert parser.feed(*EXCHANGE[2]) == [EXCHANGE_EVENT]
    assert parser.done and parser.failure is None
    assert parser.feed(*EXCHANGE[3]) == []


def test_the_event_does_not_depend_on_how_the_streams_are_cut() -> None:
    for stream in every_cut(EXCHANGE):
        parser = SshLog()
        assert run(parser, stream) == [EXCHANGE_EVENT]
        assert parser.failure is None


def test_hassh_takes_the_lists_of_the_side_that_sent_them() -> None:
    payload = CLIENT_KEX[6:]  # past the length, padding length and message code
    assert hassh_string(payload, client=True) == CLIENT_HASSH.encode()
    assert hassh_string(payload, client=False) == b"curve25519-sha256,ext-info-c;aes256-ctr;hmac-sha1;zlib"
    assert hassh_string(payload[:-10], client=True) is None  # the packet ends inside its lists


def test_banners_alone_are_written_at_the_flow_end() -> None:
    parser = SshLog()
    assert parser.feed(True, b"SSH-2.0-PuTTY_Release_0.80\n") == []
    assert parser.feed(False, b"SSH-1.99-Cisco-1.25\r\n") == []
    assert parser.end() == [
        {"ssh": {"client": side("2.0", "PuTTY_Release_0.80"), "server": side("1.99", "Cisco-1.25")}}
    ]
    assert parser.done and parser.failure is None


def test_one_side_is_written_alone_and_an_empty_software_version_is_left_out() -> None:
    parser = SshLog()
    assert parser.feed(False, b"SSH-2.0-\r\n") == []
    assert parser.end() == [{"ssh": {"server": side("2.0", None)}}]
    assert SshLog().end() == []


def test_ssh1_has_no_rfc4253_packets_to_read() -> None:
    parser = SshLog()
    assert parser.feed(True, b"SSH-1.5-OldClient\n\x00\x00\x01\x04garbage") == []
    assert parser.feed(False, b"SSH-2.0-srv\r\n") == []
    assert parser.feed(False, SERVER_KEX) == [
        {"ssh": {"client": side("1.5", "OldClient"), "server": side("2.0", "srv", SERVER_HASSH)}}
    ]


def test_messages_before_the_kexinit_are_passed_over_and_newkeys_ends_a_side() -> None:
    ignore = IGNORE + IGNORE
    stream: Stream = [
        (True, b"SSH-2.0-c\r\n" + ignore[:7]),
        (True, ignore[7:] + CLIENT_KEX),
        (False, b"SSH-2.0-s\r\n" + NEWKEYS),
    ]
    for cut in every_cut(stream):
        assert run(SshLog(), cut) == [
            {"ssh": {"client": side("2.0", "c", CLIENT_HASSH), "server": side("2.0", "s")}}
        ]


def test_every_truncation_writes_what_was_read_and_raises_nothing() -> None:
    client = b"SSH-2.0-OpenSSH_8.9p1\r\n" + CLIENT_KEX
    banner_end = client.index(b"\n") + 1
    for end in range(len(client) + 1):
        parser = SshLog()
        bodies = run(parser, [(False, b"SSH-2.0-s\r\n"), (True, client[:end])])
        expected = {"server": side("2.0", "s")}
        if end >= banner_end:
            hassh = CLIENT_HASSH if end == len(client) else None
            expected = {"client": side("2.0", "OpenSSH_8.9p1", hassh)} | expected
        assert bodies == [{"ssh": expected}]
        assert parser.failure is None


def test_an_identification_string_is_at_most_255_bytes_with_its_end_of_line() -> None:
    longest = b"SSH-2.0-" + b"x" * (MAX_LINE - 10) + b"\r\n"
    assert len(longest) == MAX_LINE
    parser = SshLog()
    parser.feed(True, longest)
    assert parser.end() == [{"ssh": {"client": side("2.0", "x" * (MAX_LINE - 10))}}]

    parser = SshLog()
    assert parser.feed(False, b"SSH-2.0-s\r\n") == []
    assert parser.feed(True, b"SSH-2.0-" + b"x" * (MAX_LINE - 9)) == []
    assert not parser.done
    assert parser.feed(True, b"y") == [{"ssh": {"server": side("2.0", "s")}}]
    assert (parser.done, parser.failure) == (True, "banner_too_long")


def test_only_the_server_may_send_lines_before_its_identification_string() -> None:
    parser = SshLog()
    assert parser.feed(True, b"GET / HTTP/1.1\r\n") == []
    assert (parser.done, parser.failure) == (True, "malformed_banner")

    lines = b"".join(b"line %d\r\n" % i for i in range(MAX_PRE_BANNER_LINES))
    parser = SshLog()
    assert parser.feed(False, lines + b"SSH-2.0-s\r\n") == []
    assert parser.end() == [{"ssh": {"server": side("2.0", "s")}}]

    parser = SshLog()
    assert parser.feed(False, lines + b"one more\r\nSSH-2.0-s\r\n") == []
    assert (parser.done, parser.failure) == (True, "malformed_banner")


def test_an_identification_string_without_its_two_dashes_is_malformed() -> None:
    parser = SshLog()
    assert parser.feed(True, b"SSH-2.0\r\n") == []
    assert (parser.done, parser.failure) == (True, "malformed_banner")


@pytest.mark.parametrize(
    ("after_banner", "reason"),
    [
        (b"\x00\x00\x00\x01\x00\x14", "malformed_packet"),
        (struct.pack("!IBB", MAX_KEXINIT + 2, 4, 20), "kexinit_too_long"),
        (packet(b"\x14" + bytes(16) + struct.pack("!I", 1000)), "malformed_kexinit"),
    ],
)
def test_a_bad_packet_ends_the_work_after_writing_the_banners(after_banner: bytes, reason: str) -> None:
    parser = SshLog()
    assert parser.feed(False, b"SSH-2.0-s\r\n") == []
    assert parser.feed(True, b"SSH-2.0-c\r\n" + after_banner) == [
        {"ssh": {"client": side("2.0", "c"), "server": side("2.0", "s")}}
    ]
    assert (parser.done, parser.failure) == (True, reason)


def test_the_largest_kexinit_is_read() -> None:
    kex = "k" * (MAX_KEXINIT - 66)
    big = packet(b"\x14" + bytes(16) + name_list(kex) + name_list("") * 9 + bytes(5))
    assert struct.unpack_from("!I", big)[0] - 2 == MAX_KEXINIT - 1
    parser = SshLog()
    parser.feed(True, b"SSH-2.0-c\r\n" + big)
    hassh = kex + ";;;"
    assert parser.end() == [{"ssh": {"client": side("2.0", "c", hassh)}}]


def test_a_gap_writes_what_was_read() -> None:
    parser = SshLog()
    assert parser.feed(True, b"SSH-2.0-c\r\n" + CLIENT_KEX[:20]) == []
    assert parser.gap(True, 100) == [{"ssh": {"client": side("2.0", "c")}}]
    assert (parser.done, parser.failure) == (True, "gap")


def test_random_bytes_raise_nothing() -> None:
    rng = random.Random(4253)
    for _ in range(300):
        parser = SshLog()
        prefix = rng.choice([b"", b"SSH-2.0-x\r\n"])
        stream = [(rng.random() < 0.5, prefix + rng.randbytes(rng.randrange(60))) for _ in range(4)]
        run(parser, stream)


# The capture's two connections (nDPI's test capture): nDPI finds the same HASSH values
# (ssh.expected.txt, HASSH-C and HASSH-S).
OPENSSH_EVENT = {
    "ssh": {
        "client": {
            "proto_version": "2.0",
            "software_version": "OpenSSH_5.6",
            "hassh": {
                "hash": "21b457a327ce7a2d4fce5ef2c42400bd",
                "string": "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,"
                "diffie-hellman-group14-sha1,diffie-hellman-group1-sha1;aes128-ctr,aes192-ctr,"
                "aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,"
                "aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se;hmac-md5,hmac-sha1,"
                "umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,"
                "hmac-md5-96;none,zlib@openssh.com,zlib",
            },
        },
        "server": {
            "proto_version": "2.0",
            "software_version": "OpenSSH_5.3",
            "hassh": {
                "hash": "b1c6c0d56317555b85c7005a3de29325",
                "string": "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,"
                "diffie-hellman-group14-sha1,diffie-hellman-group1-sha1;aes128-ctr,aes192-ctr,"
                "aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,"
                "aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se;hmac-md5,hmac-sha1,"
                "umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,"
                "hmac-md5-96;none,zlib@openssh.com",
            },
        },
    }
}
APACHE_EVENT = {
    "ssh": {
        "client": {
            "proto_version": "2.0",
            "software_version": "OpenSSH_8.2p1",
            "hassh": {
                "hash": "c11b200866cf918393e62ea25d851d90",
                "string": "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
                "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
                "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
                "diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com;"
                "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
                "aes128-gcm@openssh.com,aes256-gcm@openssh.com;umac-64-etm@openssh.com,"
                "umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
                "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
                "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1;none,zlib@openssh.com,zlib",
            },
        },
        "server": {
            "proto_version": "2.0",
            "software_version": "APACHE-SSHD-2.5.0",
            "hassh": {
                "hash": "ca6dd86b2d9a44e4a3f1a55c53e6b0fa",
                "string": "ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,"
                "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,"
                "diffie-hellman-group18-sha512,diffie-hellman-group17-sha512,"
                "diffie-hellman-group16-sha512,diffie-hellman-group15-sha512,"
                "diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1;"
                "aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,"
                "blowfish-cbc,aes192-cbc,aes256-cbc;hmac-sha2-256-etm@openssh.com,"
                "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,"
                "hmac-sha1,hmac-md5,hmac-sha1-96,hmac-md5-96;none,zlib,zlib@openssh.com",
            },
        },
    }
}


@pytest.mark.parametrize(("port", "event"), [(22, OPENSSH_EVENT), (8000, APACHE_EVENT)])
def test_the_captures_connections(port: int, event: LogBody) -> None:
    parser = SshLog()
    assert run(parser, capture_stream(CORPUS / "ssh.pcapng", port)) == [event]
    assert parser.failure is None


def test_the_engine_writes_the_captures_ssh_events() -> None:
    assert PARSERS["ssh"] is SshLog
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(CORPUS / "ssh.pcapng")) as reader:
        engine.run(reader)
    engine.finish()
    events = [e for e in sink.events if e["event_type"] == "ssh"]
    assert [({e["src_port"], e["dest_port"]}, e["pcap_cnt"], e["ssh"]) for e in events] == [
        ({58395, 22}, 10, OPENSSH_EVENT["ssh"]),
        ({58496, 8000}, 267, APACHE_EVENT["ssh"]),
    ]
