"""Live capture on AF_PACKET rings: real traffic between network namespaces, captured on the
veth ends it crosses in the root namespace (see tests/netns.py), read back exactly, through the
engine, split by fanout, and across interfaces that go down or away."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as Path_
from typing import Any, Self

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from fathom.apps.layer import AppLayer
from fathom.capture.afpacket import AfPacketSource, fanout_id
from fathom.capture.source import Batch, CaptureError, Interface, PacketSource
from fathom.engine import Engine
from tests.netns import ADDR_A, ADDR_B, MAC_A, MAC_B, Path, available
from tests.traffic import ListSink

LIVE_SKIP = available()
live = pytest.mark.skipif(LIVE_SKIP is not None, reason=LIVE_SKIP or "")
pytestmark = pytest.mark.netns

# Small rings and short timeouts: a test's traffic fits, and a block is handed over quickly.
SMALL: dict[str, Any] = {
    "block_size": 1 << 16,
    "block_count": 8,
    "block_timeout_ms": 10,
    "poll_timeout_ms": 100,
}
ECHO_PORT = 9000
IFF_PROMISC = 0x100

# Echoes `count` datagrams upper-cased, then ends.
UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(20)
print("ready", flush=True)
for _ in range(int(sys.argv[3])):
    data, peer = s.recvfrom(65535)
    s.sendto(data.upper(), peer)
"""
# `flows` flows from source ports first, first+1, ...: each sends `per_flow` datagrams, one at a
# time, waiting for its echo.
UDP_CLIENT = """
import socket, sys
host, dst, first, flows, per_flow, size = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
for f in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, first + f))
    s.settimeout(10)
    for i in range(per_flow):
        payload = (b"flow %d datagram %d " % (f, i)).ljust(size, b"x")
        s.sendto(payload, (dst, 9000))
        assert s.recv(65535) == payload.upper()
    s.close()
"""
HTTP_REQUEST = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: afpacket-test\r\n\r\n"
HTTP_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
TCP_SERVER = f"""
import socket, sys
srv = socket.socket()
srv.bind((sys.argv[1], 8080))
srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
data = b""
while not data.endswith(b"\\r\\n\\r\\n"):
    data += conn.recv(4096)
conn.sendall({HTTP_RESPONSE!r})
conn.close()
"""
TCP_CLIENT = f"""
import socket, sys
c = socket.create_connection((sys.argv[1], 8080), timeout=10)
c.sendall({HTTP_REQUEST!r})
data = b""
while chunk := c.recv(4096):
    data += chunk
c.close()
assert data == {HTTP_RESPONSE!r}, data
"""


@dataclass(frozen=True)
class Frame:
    ts: float
    iface: int
    linktype: int
    wirelen: int
    data: bytes

    @property
    def ether(self) -> Any:
        return Ether(self.data)


class Drain:
    """A packet source passing on another's batches while copying every packet, that ends at
    the first empty batch once ``expect`` packets have passed: the traffic, sent before, has then
    all been read (an empty batch means no block came in a whole poll timeout)."""

    def __init__(self, source: AfPacketSource, expect: int = 0, deadline: float = 15.0) -> None:
        self.source = source
        self.expect = expect
        self.deadline = deadline
        self.frames: list[Frame] = []
        self.empty = 0

    @property
    def live(self) -> bool:
        return True

    @property
    def interfaces(self) -> list[Interface]:
        return self.source.interfaces

    @property
    def error(self) -> str | None:
        return self.source.error

    @property
    def position(self) -> int:
        return self.source.position

    @property
    def size(self) -> int:
        return 0

    def batches(self) -> Iterator[Batch]:
        end = time.monotonic() + self.deadline
        for buf, records in self.source.batches():
            kept = list(records)
            for ts, off, caplen, wirelen, iface, linktype in kept:
                self.frames.append(Frame(ts, iface, linktype, wirelen, bytes(buf[off : off + caplen])))
            yield buf, kept
            if not kept:
                self.empty += 1
                if len(self.frames) >= self.expect or time.monotonic() > end:
                    return

    def run(self) -> list[Frame]:
        for _ in self.batches():
            pass
        return self.frames

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def drain(source: AfPacketSource, expect: int = 0) -> list[Frame]:
    return Drain(source, expect).run()


def udp_exchange(
    path: Path, flows: int = 1, per_flow: int = 3, first_port: int = 40000, size: int = 0
) -> None:
    """``flows`` UDP flows from A to B's echo server, each ``per_flow`` datagrams and their echoes."""
    server = path.serve(path.ns_b, UDP_ECHO, ADDR_B, str(ECHO_PORT), str(flows * per_flow))
    path.python(path.ns_a, UDP_CLIENT, ADDR_A, ADDR_B, str(first_port), str(flows), str(per_flow), str(size))
    path.finish(server)


def five_tuple(frame: Frame) -> tuple[str, int, str, int]:
    """The flow a UDP frame belongs to, the same both ways."""
    ip = frame.ether[IP]
    ends = sorted([(ip.src, ip[UDP].sport), (ip.dst, ip[UDP].dport)])
    return ends[0][0], ends[0][1], ends[1][0], ends[1][1]


def fanout_group() -> int:
    """A group id of this test process's own (groups are shared by the whole namespace)."""
    return (os.getpid() * 7 + next(_groups)) & 0xFFFF


_groups = iter(range(1, 1000))


@pytest.fixture
def path() -> Iterator[Path]:
    with Path() as built:
        yield built


# -- the exact packets


@live
def test_udp_datagrams_come_out_exactly_both_ways(path: Path) -> None:
    with AfPacketSource([path.root_a], **SMALL) as source:
        assert source.interfaces == [Interface(0, 1, (1 << 16) - 144, path.root_a)]
        before = time.time()
        udp_exchange(path, per_flow=4, first_port=41000)
        frames = drain(source, expect=8)
        stats = source.stats()[path.root_a]

    assert len(frames) == 8
    for i, frame in enumerate(frames):
        request = i % 2 == 0
        payload = b"flow 0 datagram %d " % (i // 2)
        eth = frame.ether
        assert (eth.src, eth.dst) == ((MAC_A, MAC_B) if request else (MAC_B, MAC_A))
        ip = eth[IP]
        assert (ip.src, ip.dst) == ((ADDR_A, ADDR_B) if request else (ADDR_B, ADDR_A))
        ports = (41000, ECHO_PORT) if request else (ECHO_PORT, 41000)
        assert (ip[UDP].sport, ip[UDP].dport) == ports
        assert bytes(ip[UDP].payload) == (payload if request else payload.upper())
        assert (frame.iface, frame.linktype, frame.wirelen) == (0, 1, len(frame.data))
        assert before - 1 < frame.ts < time.time() + 1
    assert [f.ts for f in frames] == sorted(f.ts for f in frames)
    assert (stats.packets, stats.drops, stats.read, stats.freeze_q) == (8, 0, 8, 0)
    assert stats.blocks >= 1 and stats.checksum_offloaded == 0


@live
def test_tcp_exchange_and_engine_flow_events(path: Path) -> None:
    engine = Engine(layers=[AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with AfPacketSource([path.root_a], **SMALL) as source:
        server = path.serve(path.ns_b, TCP_SERVER, ADDR_B)
        path.python(path.ns_a, TCP_CLIENT, ADDR_B)
        path.finish(server)
        recorder = Drain(source, expect=8)
        engine.run(recorder)
        engine.finish()

    frames = recorder.frames
    segments = [f.ether[TCP] for f in frames]
    to_server = [f.ether[IP].src == ADDR_A for f in frames]
    assert [str(s.flags) for s in segments[:3]] == ["S", "SA", "A"]
    sent = b"".join(bytes(s.payload) for s, up in zip(segments, to_server, strict=True) if up)
    received = b"".join(bytes(s.payload) for s, up in zip(segments, to_server, strict=True) if not up)
    assert (sent, received) == (HTTP_REQUEST, HTTP_RESPONSE)
    assert sum("F" in str(s.flags) for s in segments) == 2

    (flow,) = (e for e in sink.events if e["event_type"] == "flow")
    assert (flow["src_ip"], flow["dest_ip"], flow["dest_port"], flow["proto"]) == (
        ADDR_A,
        ADDR_B,
        8080,
        "TCP",
    )
    assert flow["in_iface"] == path.root_a
    assert flow["app_proto"] == "http"
    assert flow["flow"]["pkts_toserver"] == sum(to_server)
    assert flow["flow"]["pkts_toclient"] == len(frames) - sum(to_server)
    assert flow["flow"]["bytes_toserver"] + flow["flow"]["bytes_toclient"] == sum(len(f.data) for f in frames)
    assert engine.packets == len(frames) and engine.failures == 0


@live
def test_engine_in_a_thread_stops_when_the_source_is_stopped(path: Path) -> None:
    engine = Engine()
    sink = ListSink()
    engine.add_sink(sink)
    source = AfPacketSource([path.root_a], **{**SMALL, "poll_timeout_ms": 10_000})
    with source:
        reader = threading.Thread(target=engine.run, args=(source,))
        reader.start()
        udp_exchange(path, flows=3, per_flow=2, first_port=42000)
        deadline = time.monotonic() + 10
        while engine.packets < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped = time.monotonic()
        source.stop()
        reader.join(5)
        assert not reader.is_alive()
        # The poll waits 10 s; stop() wakes it.
        assert time.monotonic() - stopped < 2
    engine.finish()
    flows = sorted(
        (e["src_port"], e["flow"]["pkts_toserver"], e["flow"]["pkts_toclient"]) for e in sink.events
    )
    assert flows == [(42000, 2, 2), (42001, 2, 2), (42002, 2, 2)]


@live
def test_close_from_another_thread_ends_the_reader(path: Path) -> None:
    source = AfPacketSource([path.root_a], **SMALL).open()
    seen: list[int] = []

    def read() -> None:
        for _, records in source.batches():
            seen.append(len(list(records)))

    reader = threading.Thread(target=read)
    reader.start()
    udp_exchange(path, per_flow=2, first_port=42500)
    time.sleep(0.3)
    source.close()
    reader.join(5)
    assert not reader.is_alive()
    assert sum(seen) == 4
    assert source.status() == {path.root_a: "gone"}


@live
def test_quiet_interface_yields_empty_batches_at_the_poll_timeout(path: Path) -> None:
    with AfPacketSource([path.root_a], **{**SMALL, "poll_timeout_ms": 50}) as source:
        batches = source.batches()
        started = time.monotonic()
        for _ in range(3):
            buf, records = next(batches)
            assert len(buf) == 0 and list(records) == []
        elapsed = time.monotonic() - started
    assert 0.14 < elapsed < 1.0
    assert source.position == 0


@live
def test_snaplen_truncates_in_the_kernel(path: Path) -> None:
    with AfPacketSource([path.root_a], **{**SMALL, "snaplen": 64}) as source:
        assert source.interfaces[0].snaplen == 64
        udp_exchange(path, per_flow=1, first_port=43000, size=1000)
        frames = drain(source, expect=2)
    assert [(len(f.data), f.wirelen) for f in frames] == [(64, 14 + 20 + 8 + 1000)] * 2


# Sends the frames given in hex out of a0 as they are.
RAW_SEND = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("a0", 0))
for frame in sys.argv[1:]:
    s.send(bytes.fromhex(frame))
"""


@live
def test_vlan_tag_taken_out_by_the_kernel_is_put_back(path: Path) -> None:
    # The receive path moves an inline 802.1Q tag into the packet's metadata before the capture
    # sees it, as a NIC with VLAN offload does: the frames must still come out as sent.
    sent = [
        bytes(
            Ether(src=MAC_A, dst=MAC_B)
            / Dot1Q(vlan=100, prio=3)
            / IP(src="10.232.0.1", dst="10.232.0.2")
            / UDP(sport=43500, dport=ECHO_PORT)
            / (b"tagged %d" % i)
        )
        for i in range(2)
    ]
    engine = Engine()
    sink = ListSink()
    engine.add_sink(sink)
    with AfPacketSource([path.root_a], **SMALL) as source:
        path.python(path.ns_a, RAW_SEND, *(frame.hex() for frame in sent))
        recorder = Drain(source, expect=2)
        engine.run(recorder)
        engine.finish()
    assert [f.data for f in recorder.frames] == sent
    assert [f.wirelen for f in recorder.frames] == [len(frame) for frame in sent]
    (flow,) = sink.events
    assert flow["vlan"] == [100] and flow["flow"]["pkts_toserver"] == 2


@live
def test_packets_with_offloaded_checksums_are_counted() -> None:
    with Path(offloads=True) as path, AfPacketSource([path.root_a], **SMALL) as source:
        udp_exchange(path, per_flow=2, first_port=44000)
        frames = drain(source, expect=4)
        stats = source.stats()[path.root_a]
    assert len(frames) == 4
    # The kernel fills in no checksum for a packet sent through an interface that offloads it.
    assert stats.checksum_offloaded == 4


@live
def test_promiscuous_mode_lasts_as_long_as_the_socket(path: Path) -> None:
    flags = f"/sys/class/net/{path.root_a}/flags"

    def promiscuous() -> bool:
        with open(flags) as f:
            return bool(int(f.read(), 16) & IFF_PROMISC)

    with AfPacketSource([path.root_a], **SMALL):
        assert promiscuous()
    assert not promiscuous()
    with AfPacketSource([path.root_a], promiscuous=False, **SMALL):
        assert not promiscuous()


# Inside a namespace of its own, loopback carries only what this script sends.
LOOPBACK_CAPTURE = """
import json, socket
from fathom.capture.afpacket import AfPacketSource
ring = {"block_size": 1 << 16, "block_count": 4, "block_timeout_ms": 10, "poll_timeout_ms": 100}
with AfPacketSource(["lo"], **ring) as src:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 9100))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(3):
        tx.sendto(b"loop %d" % i, ("127.0.0.1", 9100))
    frames = []
    for buf, records in src.batches():
        records = list(records)
        if not records:
            break
        frames += [[r[3], r[4], r[5], bytes(buf[r[1] : r[1] + r[2]]).hex()] for r in records]
    print(json.dumps({"linktype": src.interfaces[0].linktype, "frames": frames}))
"""


@live
def test_loopback_packets_are_captured_once(path: Path) -> None:
    out = json.loads(path.python(path.ns_a, LOOPBACK_CAPTURE))
    assert out["linktype"] == 1
    frames = [Ether(bytes.fromhex(data)) for _, _, _, data in out["frames"]]
    assert [bytes(f[UDP].payload) for f in frames] == [b"loop 0", b"loop 1", b"loop 2"]
    assert all(f.src == f.dst == "00:00:00:00:00:00" for f in frames)
    assert all((iface, linktype) == (0, 1) for _, iface, linktype, _ in out["frames"])


# -- fanout


@live
def test_fanout_splits_flows_whole_between_sources(path: Path) -> None:
    group = fanout_group()
    first = AfPacketSource([path.root_a], fanout_group=group, **SMALL).open()
    second = AfPacketSource([path.root_a], fanout_group=group, **SMALL).open()
    with first, second:
        udp_exchange(path, flows=24, per_flow=2, first_port=45000)
        # The traffic is over: each ring holds its share until drained.
        shares = [drain(first), drain(second)]
    flows = [{five_tuple(f) for f in share} for share in shares]
    assert sum(len(share) for share in shares) == 24 * 4
    assert flows[0] and flows[1], "hashing 24 flows should give both sockets some"
    assert not flows[0] & flows[1]
    assert len(flows[0] | flows[1]) == 24
    for share in shares:
        # Every flow a socket has, it has whole: both datagrams and both echoes.
        for flow in {five_tuple(f) for f in share}:
            assert sum(five_tuple(f) == flow for f in share) == 4


@live
def test_one_fanout_group_spans_several_interfaces_each_with_its_own_kernel_group(path: Path) -> None:
    # The kernel binds a fanout group to one interface: a source's group is offset by each
    # interface's index, so workers capturing several interfaces join one group per interface.
    group = fanout_group()
    with AfPacketSource([path.root_a, path.root_b], fanout_group=group, **SMALL) as first:
        assert first.status() == {path.root_a: "up", path.root_b: "up"}
        with AfPacketSource([path.root_b, path.root_a], fanout_group=group, **SMALL) as second:
            assert second.status() == {path.root_b: "up", path.root_a: "up"}
    ids = {
        fanout_id(group, int(Path_(f"/sys/class/net/{name}/ifindex").read_text()))
        for name in (path.root_a, path.root_b)
    }
    assert len(ids) == 2


# -- interfaces missing, down or gone


@live
def test_missing_interface_is_one_line_from_open() -> None:
    source = AfPacketSource(["fxnosuch0"])
    with pytest.raises(CaptureError) as caught:
        source.open()
    assert str(caught.value) == "fxnosuch0: no such interface"
    with pytest.raises(CaptureError, match=r"^fxnosuch0: no such interface$"), AfPacketSource(["fxnosuch0"]):
        pass


@live
def test_missing_interface_can_wait_for_retry(path: Path) -> None:
    with AfPacketSource([path.root_a, "fxnosuch1"], **SMALL).open(missing_ok=True) as source:
        assert source.status() == {path.root_a: "up", "fxnosuch1": "gone"}
        assert source.errors() == {"fxnosuch1": "fxnosuch1: no such interface"}
        assert source.retry() == []
        udp_exchange(path, per_flow=1, first_port=46000)
        assert len(drain(source, expect=2)) == 2


@live
def test_reading_an_unopened_source_reports_a_missing_interface_without_raising() -> None:
    source = AfPacketSource(["fxnosuch2"], **SMALL)
    assert list(source.batches()) == []
    assert source.error == "fxnosuch2: no such interface"
    assert source.status() == {"fxnosuch2": "gone"}
    source.close()


@live
def test_no_interfaces_yet_yields_empty_batches() -> None:
    with AfPacketSource([], **{**SMALL, "poll_timeout_ms": 20}) as source:
        batches = source.batches()
        assert [list(next(batches)[1]) for _ in range(2)] == [[], []]
        assert source.interfaces == [] and source.status() == {}


@live
def test_set_interfaces_keeps_each_name_at_its_index() -> None:
    with Path() as one, Path() as two, AfPacketSource([one.root_a], **SMALL) as source:
        source.set_interfaces([two.root_a, one.root_a])
        assert [i.name for i in source.interfaces] == [one.root_a, two.root_a]
        udp_exchange(one, per_flow=1, first_port=46500)
        udp_exchange(two, per_flow=1, first_port=46600)
        assert sorted(f.iface for f in drain(source, expect=4)) == [0, 0, 1, 1]

        source.set_interfaces([two.root_a])
        assert source.status() == {two.root_a: "up"} and list(source.stats()) == [two.root_a]
        udp_exchange(one, per_flow=1, first_port=46700)
        udp_exchange(two, per_flow=1, first_port=46800)
        assert [f.iface for f in drain(source, expect=2)] == [1, 1]

        # Listed again, it comes back at its old index; a name never seen before gets a new one.
        source.set_interfaces([one.root_a, two.root_a, "fxnosuch3"])
        assert [i.name for i in source.interfaces] == [one.root_a, two.root_a, "fxnosuch3"]
        assert source.status() == {one.root_a: "up", two.root_a: "up", "fxnosuch3": "gone"}
        assert source.errors() == {"fxnosuch3": "fxnosuch3: no such interface"}
        udp_exchange(one, per_flow=1, first_port=46900)
        assert [f.iface for f in drain(source, expect=2)] == [0, 0]


@live
def test_interface_deleted_mid_capture_goes_while_the_others_go_on() -> None:
    with Path() as one, Path() as two, AfPacketSource([one.root_a, two.root_a], **SMALL) as source:
        udp_exchange(one, per_flow=2, first_port=47000)
        udp_exchange(two, per_flow=2, first_port=47100)
        frames = drain(source, expect=8)
        assert sorted(f.iface for f in frames) == [0] * 4 + [1] * 4

        one.delete_root_a()
        udp_exchange(two, per_flow=3, first_port=47200)
        frames = drain(source, expect=6)
        assert [f.iface for f in frames] == [1] * 6
        assert source.status() == {one.root_a: "gone", two.root_a: "up"}
        assert source.errors()[one.root_a].startswith(f"{one.root_a}: interface went away (")
        stats = source.stats()
        assert (stats[one.root_a].packets, stats[one.root_a].read, stats[one.root_a].status) == (4, 4, "gone")
        assert (stats[two.root_a].packets, stats[two.root_a].read) == (10, 10)

        # Back under the same name (a new device): opened again at the same index.
        assert source.retry() == []
        one.recreate_root_a()
        assert source.retry() == [one.root_a]
        assert source.status() == {one.root_a: "up", two.root_a: "up"}
        udp_exchange(one, per_flow=1, first_port=47300)
        frames = drain(source, expect=2)
        assert [f.iface for f in frames] == [0, 0]
        assert source.stats()[one.root_a].packets == 6


@live
def test_every_interface_gone_ends_batches_with_the_reason(path: Path) -> None:
    with AfPacketSource([path.root_a], **SMALL) as source:
        udp_exchange(path, per_flow=1, first_port=48000)
        batches = source.batches()
        got = 0
        while got < 2:
            got += len(list(next(batches)[1]))
        path.delete_root_a()
        started = time.monotonic()
        rest = list(batches)
        assert time.monotonic() - started < 3
        assert all(not list(records) for _, records in rest)
        assert source.error is not None
        assert source.error.startswith(f"{path.root_a}: interface went away (")


@live
def test_retry_interval_reopens_an_interface_that_comes_back(path: Path) -> None:
    with AfPacketSource([path.root_a], retry_interval=0.1, **SMALL) as source:
        batches = source.batches()
        path.delete_root_a()
        deadline = time.monotonic() + 5
        while source.status()[path.root_a] != "gone" and time.monotonic() < deadline:
            next(batches)
        assert source.status()[path.root_a] == "gone"
        path.recreate_root_a()
        while source.status()[path.root_a] != "up" and time.monotonic() < deadline:
            next(batches)
        assert source.status()[path.root_a] == "up"
        udp_exchange(path, per_flow=1, first_port=48500)
        frames: list[tuple[int, bytes]] = []
        while len(frames) < 2 and time.monotonic() < deadline:
            buf, records = next(batches)
            frames += [(r[4], bytes(buf[r[1] : r[1] + r[2]])) for r in records]
        assert [Ether(data)[UDP].sport for _, data in frames] == [48500, ECHO_PORT]


@live
def test_link_down_is_reported_and_capture_resumes_when_up(path: Path) -> None:
    with AfPacketSource([path.root_a], **SMALL) as source:
        path.set_root_a(False)
        drain(source)
        assert source.status() == {path.root_a: "down"}
        assert source.errors() == {path.root_a: f"{path.root_a}: link down (Network is down)"}
        path.set_root_a(True)
        drain(source)
        assert source.status() == {path.root_a: "up"} and source.errors() == {}
        udp_exchange(path, per_flow=2, first_port=49000)
        frames = drain(source, expect=4)
    assert len(frames) == 4
    assert not any(f.ether.haslayer(ICMP) for f in frames)


# -- arguments


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"block_size": 5000}, "block_size 5000 is not a positive multiple"),
        ({"block_count": 0}, "block_count 0 is not positive"),
        ({"frame_size": 100}, "frame_size 100: a multiple of 16"),
        ({"fanout_group": 70000}, "fanout_group 70000 is not a 16-bit id"),
        ({"poll_timeout_ms": 0}, "poll_timeout_ms must be positive"),
        ({"snaplen": 0}, "snaplen 0 is not between 1 and 262144"),
        ({"retry_interval": 0.0}, "retry_interval 0.0 is not positive"),
    ],
)
def test_bad_ring_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AfPacketSource(["eth0"], **options)


def test_interfaces_must_be_given_once() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        AfPacketSource(["eth0", "eth0"])
    with pytest.raises(ValueError, match="listed twice"):
        AfPacketSource([]).set_interfaces(["eth0", "eth0"])


def test_a_source_is_a_packet_source() -> None:
    afpacket = AfPacketSource(["eth0"])
    source: PacketSource = afpacket
    assert source.live and source.size == 0 and source.error is None
    assert source.interfaces == [Interface(0, 1, 262_144, "eth0")]
    assert afpacket.errors() == {"eth0": "eth0: not opened"}
    source.close()
