"""The flood capture: a server subnet under a SYN scan and a DNS query flood, written directly.

No kernel can be driven to open ten thousand flows a second through namespaces and keep tcpdump
lossless, so the packets are synthesised: Ethernet/IPv4 frames with real checksums and lengths,
in a microsecond pcap. Each flow is one request and one answer:

- TCP: a SYN to a closed port, answered 50-200 µs later by an RST-ACK (seq 0, ack = ISN + 1);
- UDP: a DNS A query for a random name, answered by one DNS response with one address.

Client address and port pairs are never reused, so every flow has its own 5-tuple and the file
holds exactly `flows` flows and twice as many packets. A seeded PRNG makes the file identical
every time for a given flow count.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from bench.traffic.dns import CLASS_IN, TYPE_A, encode_name

# Bump when a change should invalidate cached flood captures.
VERSION = 1
SEED = 0xF100D
DEFAULT_FLOWS = 1_000_000
FLOWS_PER_SECOND = 10_000
START_US = 1_767_225_600 * 1_000_000  # 2026-01-01 00:00:00 UTC
CHUNK_PACKETS = 65_536  # packets per write

CLIENT_NET = ipaddress.IPv4Network("10.64.0.0/10")
SERVER_NET = ipaddress.IPv4Network("172.16.0.0/23")
SERVERS = 400
DNS_SERVERS = 8  # the first addresses of the server subnet run resolvers
CLIENT_PORTS = (1024, 65535)
GATEWAY_MAC = bytes.fromhex("020000000001")  # every client packet comes in through the router

# Realistic header values: clients start at a common initial TTL and are some hops away.
INITIAL_TTLS = (64, 128, 255)
HOPS = (2, 24)
SERVER_TTL = 64
SYN_WINDOWS = (1024, 29200, 64240, 65535)  # scanners, older and newer Linux, Windows and BSD
MSS_OPTION = bytes.fromhex("020405b4")  # MSS 1460
TCP_DELAY_US = (50, 200)
DNS_DELAY_US = (80, 400)

ETH_IPV4 = 0x0800
IPV4_NO_OPTIONS = 0x45
DONT_FRAGMENT = 0x4000
IP_FIXED_SUM = (IPV4_NO_OPTIONS << 8) + DONT_FRAGMENT  # the header words every frame shares
TCP = 6
UDP = 17
SYN = 0x02
RST_ACK = 0x14
DNS_QUERY_FLAGS = 0x0100  # recursion desired
DNS_RESPONSE_FLAGS = 0x8180  # response, recursion desired and available, no error
QNAME_POINTER = 0xC00C  # the answer's name points at the question's
ANSWER_TTL = 300
ZONES = tuple(encode_name(zone) for zone in ("example.com", "example.net", "example.org"))
LABEL_LENGTH = (6, 16)
ANSWER_NET = int(ipaddress.IPv4Address("203.0.113.0"))  # TEST-NET-3

# Network byte order throughout, except the pcap headers: little endian, as tcpdump writes on x86.
PCAP_HEADER = struct.Struct("<IHHiIII").pack(0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1)
RECORD = struct.Struct("<IIII")
ETH_IP = "6s6sHBBHHHBBHII"
TCP_FRAME = struct.Struct("!" + ETH_IP + "HHIIBBHHH")
UDP_FRAME = struct.Struct("!" + ETH_IP + "HHHH")
IP_HEADER_LEN = 20
TCP_HEADER_LEN = 20
UDP_HEADER_LEN = 8
DNS_HEADER = struct.Struct("!HHHHHH")
QUESTION_TAIL = struct.Struct("!HH").pack(TYPE_A, CLASS_IN)
ANSWER = struct.Struct("!HHHIHI")
# 32 letters and digits: a random byte maps to one without bias.
LABEL_ALPHABET = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[i % 32] for i in range(256))


class Ends(NamedTuple):
    """One flow's endpoints."""

    client: int
    client_port: int
    server: int
    server_port: int
    server_mac: bytes


# (request frame, answer frame, delay of the answer in µs)
Exchange = tuple[bytes, bytes, int]


@dataclass
class FloodStats:
    flows: int = 0
    tcp_flows: int = 0
    packets: int = 0
    wire_bytes: int = 0
    max_caplen: int = 0


def checksum(total: int) -> int:
    """Internet checksum of data whose big-endian fields, of any even byte width, add up to total.

    2**16 is 1 modulo 0xFFFF, so the folded one's complement sum is total modulo 0xFFFF (written
    0xFFFF rather than 0 for non-zero data): no per-word loop is needed.
    """
    return 0xFFFE - (total - 1) % 0xFFFF


def words(data: bytes) -> int:
    """data as one big-endian number, zero-padded to whole 16-bit words, for checksum()."""
    return int.from_bytes(data, "big") << (8 * (len(data) & 1))


def server_mac(address: int) -> bytes:
    return b"\x02\x00" + address.to_bytes(4, "big")


SERVER_ADDRS = tuple(int(SERVER_NET.network_address) + 1 + i for i in range(SERVERS))
SERVER_MACS = tuple(server_mac(address) for address in SERVER_ADDRS)


def ip_fields(
    ends: Ends, to_server: bool, proto: int, l4_len: int, ttl: int, ip_id: int
) -> tuple[object, ...]:
    """Ethernet and IPv4 header fields of one frame, in ETH_IP order."""
    src, dst = (ends.client, ends.server) if to_server else (ends.server, ends.client)
    macs = (ends.server_mac, GATEWAY_MAC) if to_server else (GATEWAY_MAC, ends.server_mac)
    length = IP_HEADER_LEN + l4_len
    header_sum = checksum(IP_FIXED_SUM + length + ip_id + (ttl << 8) + proto + src + dst)
    header = (IPV4_NO_OPTIONS, 0, length, ip_id, DONT_FRAGMENT, ttl, proto, header_sum, src, dst)
    return (*macs, ETH_IPV4, *header)


def pseudo_sum(ends: Ends, proto: int, l4_len: int) -> int:
    """The pseudo-header and both ports: the same sum in either direction."""
    return ends.client + ends.server + proto + l4_len + ends.client_port + ends.server_port


def ports(ends: Ends, to_server: bool) -> tuple[int, int]:
    return (ends.client_port, ends.server_port) if to_server else (ends.server_port, ends.client_port)


def tcp_frame(
    ends: Ends, to_server: bool, seq: int, ack: int, flags: int, window: int, ttl: int, ip_id: int,
    options: bytes = b"",
) -> bytes:  # fmt: skip
    l4_len = TCP_HEADER_LEN + len(options)
    offset = l4_len << 2  # header length in 32-bit words, in the high nibble
    total = pseudo_sum(ends, TCP, l4_len) + seq + ack + (offset << 8) + flags + window + words(options)
    fields = ip_fields(ends, to_server, TCP, l4_len, ttl, ip_id)
    return (
        TCP_FRAME.pack(*fields, *ports(ends, to_server), seq, ack, offset, flags, window, checksum(total), 0)
        + options
    )


def udp_frame(ends: Ends, to_server: bool, payload: bytes, ttl: int, ip_id: int) -> bytes:
    l4_len = UDP_HEADER_LEN + len(payload)
    # The length field counts twice: once in the pseudo-header, once in the UDP header.
    total = pseudo_sum(ends, UDP, l4_len) + l4_len + words(payload)
    fields = ip_fields(ends, to_server, UDP, l4_len, ttl, ip_id)
    # A computed 0 goes out as 0xFFFF: 0 in the field means "no checksum".
    return UDP_FRAME.pack(*fields, *ports(ends, to_server), l4_len, checksum(total) or 0xFFFF) + payload


def client_ttl(rng: random.Random) -> int:
    return rng.choice(INITIAL_TTLS) - rng.randint(*HOPS)


def tcp_exchange(rng: random.Random, ends: Ends) -> Exchange:
    """A SYN to a closed port and the kernel's RST-ACK: Linux sends it with IP id 0 and window 0."""
    isn = rng.getrandbits(32)
    window = rng.choice(SYN_WINDOWS)
    syn = tcp_frame(ends, True, isn, 0, SYN, window, client_ttl(rng), rng.getrandbits(16), MSS_OPTION)
    rst = tcp_frame(ends, False, 0, (isn + 1) & 0xFFFFFFFF, RST_ACK, 0, SERVER_TTL, 0)
    return syn, rst, rng.randint(*TCP_DELAY_US)


def random_question(rng: random.Random) -> bytes:
    """A random name under one of the zones, as a question section: the pattern of a water-torture flood."""
    length = rng.randint(*LABEL_LENGTH)
    label = rng.getrandbits(8 * length).to_bytes(length, "big").translate(LABEL_ALPHABET)
    return bytes((length,)) + label + rng.choice(ZONES) + QUESTION_TAIL


def dns_exchange(rng: random.Random, ends: Ends) -> Exchange:
    query_id = rng.getrandbits(16)
    question = random_question(rng)
    query = DNS_HEADER.pack(query_id, DNS_QUERY_FLAGS, 1, 0, 0, 0) + question
    answer = ANSWER.pack(QNAME_POINTER, TYPE_A, CLASS_IN, ANSWER_TTL, 4, ANSWER_NET + rng.randint(1, 254))
    response = DNS_HEADER.pack(query_id, DNS_RESPONSE_FLAGS, 1, 1, 0, 0) + question + answer
    request = udp_frame(ends, True, query, client_ttl(rng), rng.getrandbits(16))
    reply = udp_frame(ends, False, response, SERVER_TTL, rng.getrandbits(16))
    return request, reply, rng.randint(*DNS_DELAY_US)


class ClientPicker:
    """Random client (address, port) pairs from CLIENT_NET, each handed out once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.base = int(CLIENT_NET.network_address)
        self.hosts = CLIENT_NET.num_addresses - 2  # neither the network nor the broadcast address
        self.used: set[int] = set()

    def take(self) -> tuple[int, int]:
        while True:
            address = self.base + 1 + self.rng.randrange(self.hosts)
            port = self.rng.randint(*CLIENT_PORTS)
            key = address << 16 | port
            if key not in self.used:
                self.used.add(key)
                return address, port


def next_exchange(rng: random.Random, picker: ClientPicker) -> tuple[Exchange, bool]:
    """One new flow, TCP or DNS with even odds; returns it and whether it is TCP."""
    client, port = picker.take()
    if rng.getrandbits(1):
        server = rng.randrange(SERVERS)
        ends = Ends(client, port, SERVER_ADDRS[server], rng.randint(1, 65535), SERVER_MACS[server])
        return tcp_exchange(rng, ends), True
    server = rng.randrange(DNS_SERVERS)
    return dns_exchange(rng, Ends(client, port, SERVER_ADDRS[server], 53, SERVER_MACS[server])), False


def record(ts_us: int, frame: bytes) -> bytes:
    seconds, micros = divmod(ts_us, 1_000_000)
    return RECORD.pack(seconds, micros, len(frame), len(frame)) + frame


def due_answers(answers: list[tuple[int, int, bytes]], until: float) -> Iterator[tuple[int, bytes]]:
    """Pop the answers due by until, earliest first."""
    while answers and answers[0][0] <= until:
        due, _flow, frame = heapq.heappop(answers)
        yield due, frame


def timed_frames(flows: int, seed: int, stats: FloodStats) -> Iterator[tuple[int, bytes]]:
    """(timestamp µs, frame) in capture order, counting TCP flows into stats. Flow i starts at a
    random moment of its own 1/FLOWS_PER_SECOND slot, so the rate is steady and time never goes back."""
    rng = random.Random(seed)
    picker = ClientPicker(rng)
    slot = 1_000_000 // FLOWS_PER_SECOND
    answers: list[tuple[int, int, bytes]] = []  # (time, flow, frame), a heap of answers not yet due
    for flow in range(flows):
        start = START_US + flow * slot + rng.randrange(slot)
        yield from due_answers(answers, start)
        (request, answer, delay), is_tcp = next_exchange(rng, picker)
        stats.tcp_flows += is_tcp
        yield start, request
        heapq.heappush(answers, (start + delay, flow, answer))
    yield from due_answers(answers, math.inf)


def write_flood(path: Path, flows: int = DEFAULT_FLOWS, seed: int = SEED) -> FloodStats:
    """Write the flood to path in chunks and return its counts."""
    stats = FloodStats(flows=flows)
    chunk: list[bytes] = [PCAP_HEADER]
    with path.open("wb") as out:
        for ts_us, frame in timed_frames(flows, seed, stats):
            chunk.append(record(ts_us, frame))
            stats.packets += 1
            stats.wire_bytes += len(frame)
            stats.max_caplen = max(stats.max_caplen, len(frame))
            if len(chunk) >= CHUNK_PACKETS:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    return stats
