"""Capture reader: exact records from crafted pcap/pcapng files and pipes, damage reporting, page
release, the real corpus."""

from __future__ import annotations

import itertools
import math
import os
import random
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from scapy.utils import RawPcapNgReader, RawPcapReader

from fathom.capture import pcapfile
from fathom.capture.pcapfile import (
    MAX_CAPLEN,
    STDIN_NAME,
    CaptureError,
    CaptureReader,
    MappedCapture,
    StreamedCapture,
    open_capture,
    parser_for,
)
from fathom.capture.source import Interface, PacketRecord, PacketSource
from tests.pcapbuild import (
    EPB,
    IDB,
    ISB,
    NRB,
    OPB,
    OPT_COMMENT,
    SPB,
    Pcapng,
    pcap,
    pcap_header,
    pcap_record,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
LE = Pcapng(big_endian=False)
BE = Pcapng(big_endian=True)
EPOCH = 1_700_000_000


def payload(n: int) -> bytes:
    """Distinct packet bytes of a length that is not a multiple of 4."""
    return bytes((n + i) & 0xFF for i in range(41 + 2 * n))


@dataclass
class Capture:
    path: str
    format_name: str
    records: list[PacketRecord]
    data: list[bytes]
    error: str | None
    interfaces: list[Interface]
    position: int
    size: int
    buffers: int


def collect(reader: CaptureReader) -> Capture:
    """Everything a reader gives; packet bytes are copied while their batch is current."""
    records: list[PacketRecord] = []
    data: list[bytes] = []
    buffers = 0
    last: object = None
    for buf, batch in reader.batches():
        if buf is not last:
            buffers += 1
            last = buf
        for record in batch:
            records.append(record)
            data.append(bytes(buf[record[1] : record[1] + record[2]]))
    return Capture(
        reader.name,
        reader.format_name,
        records,
        data,
        reader.error,
        list(reader.interfaces),
        reader.position,
        reader.size,
        buffers,
    )


@contextmanager
def stdin_from(fd: int) -> Iterator[None]:
    """Make ``fd`` this process's standard input for a while."""
    saved = os.dup(0)
    os.dup2(fd, 0)
    try:
        yield
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def write_all(fd: int, content: bytes, pieces: Sequence[int]) -> None:
    sizes = itertools.cycle(pieces)
    view = memoryview(content)
    done = 0
    try:
        while done < len(content):
            done += os.write(fd, view[done : done + next(sizes)])
    except BrokenPipeError:
        pass  # the reader stopped early
    finally:
        os.close(fd)


@contextmanager
def stdin_pipe(content: bytes, pieces: Sequence[int] = (1, 7, 4093, 70_001)) -> Iterator[None]:
    """Standard input is a pipe that a thread writes ``content`` into, in pieces of these sizes
    in turn, so that reads end anywhere in a record."""
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=write_all, args=(write_end, content, pieces))
    writer.start()
    try:
        with stdin_from(read_end):
            os.close(read_end)
            yield
    finally:
        # Restoring standard input closed the pipe's last read end (a reader closes its own),
        # so a writer still blocked fails with EPIPE and ends.
        writer.join()


Read = Callable[[bytes], Capture]


@pytest.fixture(params=["file", "stdin"])
def read(request: pytest.FixtureRequest, tmp_path: Path) -> Read:
    """Read a capture from a file, or from standard input through a pipe."""

    def from_file(content: bytes) -> Capture:
        path = tmp_path / "capture"
        path.write_bytes(content)
        with open_capture(str(path)) as reader:
            return collect(reader)

    def from_stdin(content: bytes) -> Capture:
        with stdin_pipe(content), open_capture("-") as reader:
            return collect(reader)

    return from_file if request.param == "file" else from_stdin


def assert_ts(ts: float, sec: int, frac: int = 0, per_second: int = 1) -> None:
    """ts equals sec + frac/per_second to within 2 ulp: exact to the nanosecond near 0, and
    to well under a microsecond at today's epoch (1 ulp is 0.24 us there)."""
    exact = Fraction(sec) + Fraction(frac, per_second)
    assert abs(Fraction(ts) - exact) <= 2 * Fraction(math.ulp(float(exact))), (ts, float(exact))


def strip_ts(records: list[PacketRecord]) -> list[tuple[int, int, int, int, int]]:
    return [rec[1:] for rec in records]


# --- the builder itself, checked against an independent reader -------------------------------------


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("nanosecond", [False, True], ids=["usec", "nsec"])
def test_pcapbuild_pcap_agrees_with_scapy(tmp_path: Path, big_endian: bool, nanosecond: bool) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(
        pcap(
            [(EPOCH, 5, payload(0)), (7, 999, payload(1))], 113, nanosecond=nanosecond, big_endian=big_endian
        )
    )
    with RawPcapReader(str(path)) as reader:
        got = [(data, meta.sec, meta.usec, meta.caplen, meta.wirelen) for data, meta in reader]
        assert reader.linktype == 113
    assert got == [(payload(0), EPOCH, 5, 41, 41), (payload(1), 7, 999, 43, 43)]


@pytest.mark.parametrize("ng", [LE, BE], ids=["le", "be"])
def test_pcapbuild_pcapng_agrees_with_scapy(tmp_path: Path, ng: Pcapng) -> None:
    path = tmp_path / "x.pcapng"
    path.write_bytes(
        ng.shb([(OPT_COMMENT, b"section")])
        + ng.idb(1, 65535, name="eth0")
        + ng.idb(101, tsresol=9)
        + ng.epb(0, (5 << 32) | 7, payload(0), options=[(OPT_COMMENT, b"c")])
        + ng.epb(1, 3, payload(1), wirelen=1500)
        + ng.spb(payload(2))
        + ng.opb(1, 11, payload(3))
    )
    with RawPcapNgReader(str(path)) as reader:
        got = [
            (data, meta.linktype, meta.tsresol, meta.tshigh, meta.tslow, meta.wirelen, meta.ifname)
            for data, meta in reader
        ]
    assert got == [
        (payload(0), 1, 10**6, 5, 7, 41, b"eth0"),
        (payload(1), 101, 10**9, 0, 3, 1500, None),
        (payload(2), 1, 10**6, None, None, 45, None),  # scapy leaves ifname out for SPBs
        (payload(3), 101, 10**9, 0, 11, 47, None),
    ]


def test_pcapbuild_block_layout() -> None:
    # Type, total length, body padded to 32 bits, total length again; options end with opt_endofopt.
    assert LE.block(0x0BAD, b"abcde") == bytes.fromhex("ad0b0000 14000000 6162636465000000 14000000")
    assert BE.block(0x0BAD, b"abcd") == bytes.fromhex("00000bad 00000010 61626364 00000010")
    assert LE.options([(2, b"eth0x")]) == bytes.fromhex("02000500 6574683078000000 00000000")
    assert BE.shb() == bytes.fromhex("0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffffffffffff 0000001c")
    assert len(LE.idb(1, 65535)) == 20
    assert pcap_header(1, snaplen=96) == bytes.fromhex(
        "d4c3b2a1 0200 0400 00000000 00000000 60000000 01000000"
    )


# --- classic pcap -------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
def test_pcap_microsecond(read: Read, big_endian: bool) -> None:
    a, b, c = payload(0), payload(1), payload(2)
    content = pcap(
        [(EPOCH, 123_456, a), (EPOCH + 1, 999_999, b), (0, 1, c)], 1, snaplen=1514, big_endian=big_endian
    )
    cap = read(content)
    assert cap.format_name == "pcap"
    assert cap.error is None
    assert cap.interfaces == [Interface(0, 1, 1514)]
    assert strip_ts(cap.records) == [
        (40, 41, 41, 0, 1),
        (40 + 41 + 16, 43, 43, 0, 1),
        (40 + 41 + 16 + 43 + 16, 45, 45, 0, 1),
    ]
    assert cap.data == [a, b, c]
    assert_ts(cap.records[0][0], EPOCH, 123_456, 10**6)
    assert_ts(cap.records[1][0], EPOCH + 1, 999_999, 10**6)
    assert_ts(cap.records[2][0], 0, 1, 10**6)
    assert cap.position == len(content)


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
def test_pcap_nanosecond(read: Read, big_endian: bool) -> None:
    content = pcap(
        [(1000, 123_456_789, payload(0)), (EPOCH, 999_999_999, payload(1)), (5, 1, payload(2))],
        101,
        nanosecond=True,
        big_endian=big_endian,
    )
    cap = read(content)
    assert cap.error is None
    assert [rec[4:] for rec in cap.records] == [(0, 101)] * 3
    assert_ts(cap.records[0][0], 1000, 123_456_789, 10**9)
    assert_ts(cap.records[1][0], EPOCH, 999_999_999, 10**9)
    assert_ts(cap.records[2][0], 5, 1, 10**9)
    assert cap.data == [payload(0), payload(1), payload(2)]


def test_pcap_caplen_and_wirelen_differ(read: Read) -> None:
    content = pcap_header(1, snaplen=64) + pcap_record(1, 2, payload(0)[:40], wirelen=1514)
    cap = read(content)
    assert strip_ts(cap.records) == [(40, 40, 1514, 0, 1)]
    assert_ts(cap.records[0][0], 1, 2, 10**6)
    assert cap.data == [payload(0)[:40]]
    assert cap.interfaces == [Interface(0, 1, 64)]


def test_pcap_empty_capture(read: Read) -> None:
    cap = read(pcap_header(1))
    assert cap.records == []
    assert cap.error is None
    assert cap.position == 24


@pytest.mark.parametrize(
    ("field", "linktype"),
    [(0, 0), (1, 1), (101, 101), (113, 113), (276, 276), (104, 104), (228, 228), (229, 229),
     # Upper 16 bits: FCS-length-present flag (bit 26) and FCS length (bits 28-31), see pcap-linktype(7).
     (0x24000001, 1), (0x44000001, 1), (0xF400007F, 127)],
)  # fmt: skip
def test_pcap_linktype(read: Read, field: int, linktype: int) -> None:
    for big_endian in (False, True):
        cap = read(pcap([(1, 0, payload(0))], field, big_endian=big_endian))
        assert cap.error is None
        assert cap.records[0][5] == linktype
        assert cap.interfaces[0].linktype == linktype


def test_pcap_parser_reads_bytes() -> None:
    content = pcap([(3, 4, b"xyz")], 1)
    parser = parser_for("mem", content, [])
    assert parser.stopped == 24
    assert [rec[1:] for rec in parser.records(content, 24, len(content), True)] == [(40, 3, 3, 0, 1)]
    assert (parser.error, parser.stopped, parser.needed) == (None, len(content), 0)


# --- pcapng -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ng", [LE, BE], ids=["le", "be"])
def test_pcapng_single_interface(read: Read, ng: Pcapng) -> None:
    head = ng.shb() + ng.idb(1, 65535, name="eth0")
    first = ng.epb(0, EPOCH * 10**6 + 123_456, payload(0))
    second = ng.epb(0, EPOCH * 10**6 + 999_999, payload(1)[:30], wirelen=1514)
    content = head + first + second
    assert len(head) == 28 + 32
    cap = read(content)
    assert cap.format_name == "pcapng"
    assert cap.error is None
    assert cap.interfaces == [Interface(0, 1, 65535, "eth0")]
    assert strip_ts(cap.records) == [(60 + 28, 41, 41, 0, 1), (60 + len(first) + 28, 30, 1514, 0, 1)]
    assert cap.data == [payload(0), payload(1)[:30]]
    assert_ts(cap.records[0][0], EPOCH, 123_456, 10**6)
    assert_ts(cap.records[1][0], EPOCH, 999_999, 10**6)
    assert cap.position == len(content)


@pytest.mark.parametrize("ng", [LE, BE], ids=["le", "be"])
def test_pcapng_interfaces_with_own_linktype_and_resolution(read: Read, ng: Pcapng) -> None:
    content = (
        ng.shb()
        + ng.idb(1, 1514, name="eth0")  # default resolution: microseconds
        + ng.idb(101, 0, tsresol=9)  # nanoseconds
        + ng.idb(113, 262144, tsresol=0x80 | 10)  # 1/1024 s
        + ng.idb(276, 0, tsresol=3, tsoffset=1_000_000)  # milliseconds, offset by 10^6 s
        + ng.idb(0, 0, tsresol=0x80 | 20, tsoffset=-5)  # 2^-20 s, negative offset
    )
    blocks = [
        ng.epb(2, (EPOCH * 1024) + 512, payload(0)),
        ng.epb(0, EPOCH * 10**6 + 1, payload(1)),
        ng.epb(3, 5_250, payload(2)),
        ng.epb(1, EPOCH * 10**9 + 123_456_789, payload(3)),
        ng.epb(1, 1_000 * 10**9 + 1, payload(4)),
        ng.epb(4, (7 << 20) + 1, payload(5)),
    ]
    offsets = []
    for block in blocks:
        offsets.append(len(content) + 28)
        content += block
    cap = read(content)
    assert cap.error is None
    assert cap.interfaces == [
        Interface(0, 1, 1514, "eth0"),
        Interface(1, 101, 0, ""),
        Interface(2, 113, 262144, ""),
        Interface(3, 276, 0, ""),
        Interface(4, 0, 0, ""),
    ]
    assert strip_ts(cap.records) == [
        (offsets[0], 41, 41, 2, 113),
        (offsets[1], 43, 43, 0, 1),
        (offsets[2], 45, 45, 3, 276),
        (offsets[3], 47, 47, 1, 101),
        (offsets[4], 49, 49, 1, 101),
        (offsets[5], 51, 51, 4, 0),
    ]
    assert cap.data == [payload(n) for n in range(6)]
    ts = [rec[0] for rec in cap.records]
    assert_ts(ts[0], EPOCH, 1, 2)
    assert_ts(ts[1], EPOCH, 1, 10**6)
    assert_ts(ts[2], 1_000_005, 1, 4)
    assert_ts(ts[3], EPOCH, 123_456_789, 10**9)
    assert_ts(ts[4], 1_000, 1, 10**9)
    assert_ts(ts[5], 7 - 5, 1, 2**20)


def test_pcapng_epb_spb_opb(read: Read) -> None:
    head = LE.shb() + LE.idb(1, 62) + LE.idb(101, 0, tsresol=9)
    blocks = [
        LE.epb(0, 3_000_001, payload(0)),
        LE.spb(payload(1)[:5], wirelen=5),  # padded to 8 bytes in the block
        LE.opb(1, 4_000_000_002, payload(2), drops=7),
        LE.spb(payload(11)[:62], wirelen=1000),  # cut at snaplen 62, padded to 64
        LE.epb(1, 9, payload(4), options=[(OPT_COMMENT, b"note")]),
        LE.opb(0, 12, payload(5)[:20], wirelen=70),
    ]
    content = head
    starts = []
    for block in blocks:
        starts.append(len(content))
        content += block
    cap = read(content)
    assert cap.error is None
    assert strip_ts(cap.records) == [
        (starts[0] + 28, 41, 41, 0, 1),
        (starts[1] + 12, 5, 5, 0, 1),  # SPB: always the section's first interface
        (starts[2] + 28, 45, 45, 1, 101),
        (starts[3] + 12, 62, 1000, 0, 1),
        (starts[4] + 28, 49, 49, 1, 101),
        (starts[5] + 28, 20, 70, 0, 1),
    ]
    assert cap.data == [payload(0), payload(1)[:5], payload(2), payload(11)[:62], payload(4), payload(5)[:20]]
    ts = [rec[0] for rec in cap.records]
    assert_ts(ts[0], 3, 1, 10**6)
    # An SPB has no timestamp: it takes the previous packet's.
    assert ts[1] == ts[0]
    assert_ts(ts[2], 4, 2, 10**9)
    assert ts[3] == ts[2]
    assert_ts(ts[4], 0, 9, 10**9)
    assert_ts(ts[5], 0, 12, 10**6)


def test_pcapng_sections_keep_global_interface_indexes(read: Read) -> None:
    content = LE.shb() + LE.idb(1, name="a") + LE.idb(101, tsresol=9, name="b")
    starts = [len(content)]
    content += LE.epb(1, 10**9 + 5, payload(0))
    starts.append(len(content))
    content += LE.epb(0, 2 * 10**6 + 5, payload(1))
    # Second section, other byte order: its interface 0 is the third interface overall.
    content += BE.shb() + BE.idb(113, tsresol=0x80 | 1, name="c")
    starts.append(len(content))
    content += BE.epb(0, 7, payload(2))
    # Third section: nothing is inherited (resolution back to the microsecond default).
    content += LE.shb() + LE.idb(0, name="d") + LE.idb(1, name="e")
    starts.append(len(content))
    content += LE.epb(1, 8, payload(3))
    starts.append(len(content))
    content += LE.spb(payload(4))
    cap = read(content)
    assert cap.error is None
    assert cap.interfaces == [
        Interface(0, 1, 0, "a"),
        Interface(1, 101, 0, "b"),
        Interface(2, 113, 0, "c"),
        Interface(3, 0, 0, "d"),
        Interface(4, 1, 0, "e"),
    ]
    assert strip_ts(cap.records) == [
        (starts[0] + 28, 41, 41, 1, 101),
        (starts[1] + 28, 43, 43, 0, 1),
        (starts[2] + 28, 45, 45, 2, 113),
        (starts[3] + 28, 47, 47, 4, 1),
        (starts[4] + 12, 49, 49, 3, 0),
    ]
    ts = [rec[0] for rec in cap.records]
    assert_ts(ts[0], 1, 5, 10**9)
    assert_ts(ts[1], 2, 5, 10**6)
    assert_ts(ts[2], 3, 1, 2)
    assert_ts(ts[3], 0, 8, 10**6)


def test_pcapng_section_naming_an_interface_again_keeps_its_index(read: Read) -> None:
    content = LE.shb() + LE.idb(1, 0, name="eth0") + LE.idb(1) + LE.epb(0, 1, payload(0))
    # Appended capture: eth0 again (own snaplen and resolution), an unnamed interface, eth0 as raw IP.
    content += BE.shb() + BE.idb(1, 62, name="eth0", tsresol=9) + BE.idb(1) + BE.idb(101, name="eth0")
    second = len(content)
    content += BE.epb(0, 5, payload(1)) + BE.epb(1, 6, payload(2)) + BE.epb(2, 7, payload(3))
    spb = len(content)
    content += BE.spb(payload(11)[:62], wirelen=63)
    cap = read(content)
    assert cap.error is None
    assert cap.interfaces == [
        Interface(0, 1, 0, "eth0"),
        Interface(1, 1, 0, ""),
        Interface(2, 1, 0, ""),
        Interface(3, 101, 0, "eth0"),
    ]
    assert [rec[3:] for rec in cap.records] == [(41, 0, 1), (43, 0, 1), (45, 2, 1), (47, 3, 101), (63, 0, 1)]
    assert cap.records[1][1] == second + 28
    # The section's own snap length (62) bounds the simple packet block, not the first section's.
    assert cap.records[4][1:3] == (spb + 12, 62)
    assert_ts(cap.records[1][0], 0, 5, 10**9)
    assert_ts(cap.records[2][0], 0, 6, 10**6)


def test_reading_a_file_twice_gives_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "twice.pcapng"
    path.write_bytes(LE.shb() + LE.idb(1) + LE.epb(0, 1, payload(0)) + BE.shb() + BE.idb(113) + BE.spb(b"x"))
    with open_capture(str(path)) as reader:
        first = collect(reader)
        second = collect(reader)
        assert second == first
        assert first.interfaces == [Interface(0, 1, 0, ""), Interface(1, 113, 0, "")]
        assert first.error is None
        assert len(first.records) == 2


def test_pcapng_unknown_blocks_are_skipped(read: Read) -> None:
    skipped = [
        LE.block(NRB, struct.pack("<HH", 0, 0)),
        LE.block(ISB, struct.pack("<III", 0, 0, 0)),
        LE.block(0x0000000A, b"secrets"),  # decryption secrets
        LE.block(0x40000BAD, b"\x00\x00\x7e\x87custom"),  # custom block
        LE.block(0x0BAD, b""),
        LE.block(0x0BAD, bytes(4000)),
    ]
    content = LE.shb() + skipped[0] + LE.idb(1) + skipped[1] + skipped[2]
    first = len(content)
    content += LE.epb(0, 1, payload(0)) + skipped[3] + skipped[4] + skipped[5]
    second = len(content)
    content += LE.epb(0, 2, payload(1)) + skipped[0]
    cap = read(content)
    assert cap.error is None
    assert strip_ts(cap.records) == [(first + 28, 41, 41, 0, 1), (second + 28, 43, 43, 0, 1)]
    assert cap.position == len(content)


def test_pcapng_empty_section(read: Read) -> None:
    cap = read(LE.shb() + LE.idb(1))
    assert cap.records == []
    assert cap.error is None
    assert cap.interfaces == [Interface(0, 1, 0, "")]


def test_pcapng_parser_reads_bytes() -> None:
    content = BE.shb() + BE.idb(228) + BE.epb(0, 1, b"abc")
    interfaces: list[Interface] = []
    parser = parser_for("mem", content, interfaces)
    assert parser.stopped == 0
    assert [rec[1:] for rec in parser.records(content, 0, len(content), True)] == [
        (28 + 20 + 28, 3, 3, 0, 228)
    ]
    assert (parser.error, parser.stopped, parser.needed) == (None, len(content), 0)
    assert interfaces == [Interface(0, 228, 0, "")]


# --- damage -------------------------------------------------------------------------------------


def assert_damage(cap: Capture, packets: int, offset: int, words: str) -> None:
    assert cap.error is not None, "damage not reported"
    assert "\n" not in cap.error
    assert cap.error.startswith(cap.path + ": ")
    assert cap.error.endswith(f" at byte offset {offset}"), cap.error
    assert words in cap.error, cap.error
    assert len(cap.records) == packets
    assert cap.data == [payload(n) for n in range(packets)]


PCAP3 = pcap([(1, 0, payload(0)), (2, 0, payload(1)), (3, 0, payload(2))])
RECORD4 = pcap_record(4, 0, payload(3))


@pytest.mark.parametrize(
    ("tail", "words"),
    [
        (RECORD4[:10], "truncated packet record header (10 of 16 bytes)"),
        (RECORD4[:1], "truncated packet record header (1 of 16 bytes)"),
        (RECORD4[:16], "truncated packet data (0 of 47 bytes)"),
        (RECORD4[:16 + 20], "truncated packet data (20 of 47 bytes)"),
        (RECORD4[:-1], "truncated packet data (46 of 47 bytes)"),
        (struct.pack("<IIII", 4, 0, MAX_CAPLEN + 1, 60) + payload(3) + RECORD4, "garbled packet record"),
        (struct.pack("<IIII", 4, 0, 0xFFFFFFF0, 60) + RECORD4, "garbled packet record"),
    ],
    ids=["header", "header-1-byte", "data-empty", "data", "data-1-short", "caplen-over-max", "caplen-huge"],
)  # fmt: skip
def test_pcap_damage(read: Read, tail: bytes, words: str) -> None:
    cap = read(PCAP3 + tail)
    assert_damage(cap, 3, len(PCAP3), words)


def test_pcap_damage_in_first_record(read: Read) -> None:
    cap = read(pcap_header(1, big_endian=True) + pcap_record(1, 2, payload(0), big_endian=True)[:30])
    assert_damage(cap, 0, 24, "truncated packet data (14 of 41 bytes)")


NG_HEAD = LE.shb() + LE.idb(1)
NG3 = NG_HEAD + LE.epb(0, 1, payload(0)) + LE.epb(0, 2, payload(1)) + LE.epb(0, 3, payload(2))
EPB4 = LE.epb(0, 4, payload(3))


def patch(block: bytes, at: int, value: int) -> bytes:
    return block[:at] + struct.pack("<I", value) + block[at + 4 :]


OPB4 = LE.opb(0, 4, payload(3))
BAD_BOM = patch(LE.shb(), 8, 0x01020304)


@pytest.mark.parametrize(
    ("tail", "skip", "words"),
    [
        # Truncated: the damaged block ends the file.
        (EPB4[:8], 0, "truncated block header (8 of 12 bytes)"),
        (EPB4[:12], 0, f"truncated block (type 0x6, 12 of {len(EPB4)} bytes)"),
        (EPB4[:-1], 0, f"truncated block (type 0x6, {len(EPB4) - 1} of {len(EPB4)} bytes)"),
        (LE.shb()[:20], 0, "truncated block (type 0xa0d0d0a, 20 of 28 bytes)"),
        (LE.idb(1)[:16], 0, "truncated block (type 0x1, 16 of 20 bytes)"),
        # Garbled: valid blocks follow the damage and are not read.
        (patch(EPB4, 20, 5000) + EPB4, 0, "garbled enhanced packet block (interface 0, length 5000)"),
        (patch(EPB4, 20, 49) + EPB4, 0, "garbled enhanced packet block (interface 0, length 49)"),
        (patch(EPB4, 8, 1) + EPB4, 0, "garbled enhanced packet block (interface 1, length 47)"),
        (patch(EPB4, 4, len(EPB4) - 1) + EPB4, 0, f"garbled block (type 0x6, length {len(EPB4) - 1})"),
        (patch(EPB4, 4, 8) + EPB4, 0, "garbled block (type 0x6, length 8)"),
        (patch(EPB4, 4, 0xFFFFFFF0) + EPB4, 0, "garbled block (type 0x6, length 4294967280)"),
        (LE.block(EPB, bytes(16)) + EPB4, 0, "garbled enhanced packet block (length 28)"),
        (patch(OPB4, 20, 1000) + EPB4, 0, "garbled packet block (interface 0, length 1000)"),
        (patch(OPB4, 8, 1) + EPB4, 0, "garbled packet block (interface 1, length 47)"),
        (LE.block(OPB, bytes(16)) + EPB4, 0, "garbled packet block (length 28)"),
        (LE.block(SPB, b"") + EPB4, 0, "garbled simple packet block (length 12)"),
        (LE.block(IDB, b"") + EPB4, 0, "garbled interface description block (length 12)"),
        (LE.block(IDB, bytes(4)) + EPB4, 0, "garbled interface description block (length 16)"),
        (BAD_BOM + LE.idb(1) + EPB4, 0, "garbled section header (bad byte-order magic)"),
        # A new section starts without interfaces.
        (LE.shb() + EPB4, 28, "garbled enhanced packet block (interface 0, length 47)"),
    ],
    ids=[
        "block-header", "block-head-only", "block-1-short", "shb", "idb",
        "epb-caplen-huge", "epb-caplen-past-data", "epb-interface", "blen-unaligned", "blen-small",
        "blen-huge", "epb-short", "opb-caplen", "opb-interface", "opb-short", "spb-short", "idb-12",
        "idb-16", "bom", "new-section-forgets-interfaces",
    ],
)  # fmt: skip
def test_pcapng_damage(read: Read, tail: bytes, skip: int, words: str) -> None:
    cap = read(NG3 + tail)
    assert_damage(cap, 3, len(NG3) + skip, words)


@pytest.mark.parametrize(
    "tail",
    [
        LE.block(OPB, b""),
        LE.block(OPB, bytes(12)),
        LE.block(IDB, b""),
        LE.block(IDB, bytes(4)),
        LE.block(SPB, b""),
    ],
    ids=["opb-12", "opb-24", "idb-12", "idb-16", "spb-12"],
)
def test_pcapng_short_block_at_end_of_file(read: Read, tail: bytes) -> None:
    # A block too short for its fixed fields, ending the file: reported, never raised.
    cap = read(NG3 + tail)
    assert_damage(cap, 3, len(NG3), "garbled")


def test_pcapng_spb_before_interface(read: Read) -> None:
    cap = read(LE.shb() + LE.spb(payload(0)))
    assert_damage(cap, 0, 28, "simple packet block before any interface description")


def test_pcapng_damage_in_second_section(read: Read) -> None:
    content = NG3 + BE.shb() + BE.idb(1)
    cap = read(content + BE.epb(0, 9, payload(3)) + BE.epb(0, 9, payload(4))[:-4])
    assert_damage(cap, 4, len(content) + len(BE.epb(0, 9, payload(3))), "truncated block (type 0x6")


# --- files that are not captures ----------------------------------------------------------------


def capture_error(path: str) -> str:
    with pytest.raises(CaptureError) as info:
        open_capture(path)
    return str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.pcap"
    assert capture_error(str(path)) == f"{path}: No such file or directory"


def test_directory(tmp_path: Path) -> None:
    assert capture_error(str(tmp_path)) == f"{tmp_path}: is a directory"
    fd = os.open(tmp_path, os.O_RDONLY)
    with stdin_from(fd):
        os.close(fd)
        assert capture_error("-") == "<stdin>: is a directory"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a capture file (0 bytes)"),
        (b"\xd4\xc3\xb2", "not a capture file (3 bytes)"),
        (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "not a pcap or pcapng file (magic 0x20544547)"),
        (bytes(100), "not a pcap or pcapng file (magic 0x00000000)"),
        (pcap_header(1)[:20], "pcap file header truncated (20 of 24 bytes)"),
        (pcap_header(1, nanosecond=True, big_endian=True)[:4], "pcap file header truncated (4 of 24 bytes)"),
        (LE.shb()[:27], "pcapng section header truncated (27 of 28 bytes)"),
    ],
    ids=["empty", "3-bytes", "text", "zeros", "pcap-header", "pcap-magic-only", "pcapng-header"],
)
def test_not_a_capture(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    assert capture_error(str(path)) == f"{path}: {words}"
    with stdin_pipe(content):
        assert capture_error("-") == f"{STDIN_NAME}: {words}"


# --- windows, streams, page release --------------------------------------------------------------


def layout(head: bytes, units: list[bytes]) -> tuple[bytes, list[tuple[int, int]]]:
    """The capture and the (offset, length) of each record or block after the head."""
    content = head
    spans = []
    for unit in units:
        spans.append((len(content), len(unit)))
        content += unit
    return content, spans


PCAP_HEAD = pcap_header(1, nanosecond=True, big_endian=True)
PCAP_UNITS = [
    pcap_record(1, 2, payload(0), big_endian=True),
    pcap_record(3, 4, b"", big_endian=True),
    pcap_record(5, 6, payload(5), wirelen=999, big_endian=True),
]
NG_UNITS = [
    LE.shb(),
    LE.idb(1, 62, name="eth0"),
    LE.idb(101, tsresol=9),
    LE.epb(1, 5, payload(0)),
    LE.block(NRB, bytes(4)),
    LE.spb(payload(1)[:40]),
    LE.opb(0, 7, payload(2)),
    BE.shb(),
    BE.idb(113, name="eth1"),
    BE.epb(0, 9, payload(3)),
    BE.spb(payload(4)),
]


@pytest.mark.parametrize(
    ("head", "units", "header", "packets"),
    [(PCAP_HEAD, PCAP_UNITS, 16, 3), (b"", NG_UNITS, 12, 5)],
    ids=["pcap", "pcapng"],
)
def test_parser_resumes_where_a_window_cuts(
    head: bytes, units: list[bytes], header: int, packets: int
) -> None:
    content, spans = layout(head, units)
    interfaces: list[Interface] = []
    whole = list(parser_for("mem", content, interfaces).records(content, len(head), len(content), True))
    expected_interfaces = list(interfaces)
    assert len(whole) == packets
    for cut in range(len(head), len(content) + 1):
        parser = parser_for("mem", content, interfaces)
        before = list(parser.records(content, len(head), cut, False))
        # The record or block the cut falls in: the records stop at its start, needing all of it
        # (or its header, while that is cut).
        start, length = next(((s, n) for s, n in spans if s + n > cut), (cut, 0))
        needed = 0 if start == cut else header if cut - start < header else length
        assert (parser.error, parser.stopped, parser.needed) == (None, start, needed), cut
        assert before == whole[: len(before)], cut
        after = list(parser.records(content, start, len(content), True))
        assert before + after == whole, cut
        assert (parser.error, parser.stopped, parser.needed) == (None, len(content), 0), cut
        assert interfaces == expected_interfaces


def big_capture(kind: str) -> tuple[bytes, int]:
    """A capture of over three pipe chunks: packets of many sizes, one as large as a capture
    allows (bigger than a chunk with its header). Returns it and the offset of its last record."""
    rng = random.Random(7)
    sizes = [rng.randint(0, 1600) for _ in range(2500)]
    sizes[1000] = MAX_CAPLEN
    if kind == "pcap":
        units = [pcap_record(EPOCH + n, n, rng.randbytes(size)) for n, size in enumerate(sizes)]
        content, spans = layout(pcap_header(1, nanosecond=True), units)
        return content, spans[-1][0]
    half = len(sizes) // 2
    units = [LE.shb(), LE.idb(1, name="eth0"), LE.idb(101, tsresol=9)]
    units += [LE.epb(n & 1, n, rng.randbytes(size)) for n, size in enumerate(sizes[:half])]
    units += [BE.shb(), BE.idb(113), BE.spb(payload(1)), BE.opb(0, 5, payload(2))]
    units += [BE.epb(0, n, rng.randbytes(size)) for n, size in enumerate(sizes[half:])]
    content, spans = layout(b"", units)
    return content, spans[-1][0]


def without_offsets(records: list[PacketRecord]) -> list[tuple[float, int, int, int, int]]:
    return [(ts, caplen, wirelen, iface, linktype) for ts, _, caplen, wirelen, iface, linktype in records]


def read_file(tmp_path: Path, content: bytes) -> Capture:
    path = tmp_path / "capture"
    path.write_bytes(content)
    with open_capture(str(path)) as reader:
        return collect(reader)


@pytest.mark.parametrize("chunk", [pcapfile._CHUNK, 4099], ids=["1MiB", "4099"])
@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_stdin_pipe_gives_what_the_file_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, chunk: int
) -> None:
    content, _ = big_capture(kind)
    mapped = read_file(tmp_path, content)
    monkeypatch.setattr(pcapfile, "_CHUNK", chunk)
    with stdin_pipe(content), open_capture("-") as reader:
        assert isinstance(reader, StreamedCapture)
        streamed = collect(reader)
    assert (mapped.error, streamed.error) == (None, None)
    assert len(streamed.records) == 2500 + (kind == "pcapng") * 2
    assert without_offsets(streamed.records) == without_offsets(mapped.records)
    assert streamed.data == mapped.data
    assert streamed.interfaces == mapped.interfaces
    assert streamed.format_name == kind
    assert (streamed.position, streamed.size) == (len(content), 0)
    # Records straddled chunk ends and were carried into new chunks.
    assert streamed.buffers > len(content) // max(chunk, MAX_CAPLEN + 44)
    assert mapped.buffers == 1


@pytest.mark.parametrize("chunk", [pcapfile._CHUNK, 4099], ids=["1MiB", "4099"])
@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("pcap", "truncated packet data (4 of {} bytes)"),
        ("pcapng", "truncated block (type 0x6, 20 of {} bytes)"),
    ],
)
def test_stdin_ending_inside_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, words: str, chunk: int
) -> None:
    content, last = big_capture(kind)
    whole = read_file(tmp_path, content)
    cut = content[: last + 20]
    damaged = read_file(tmp_path, cut)
    monkeypatch.setattr(pcapfile, "_CHUNK", chunk)
    with stdin_pipe(cut), open_capture("-") as reader:
        streamed = collect(reader)
    length = whole.records[-1][2] if kind == "pcap" else len(content) - last
    assert streamed.error == f"<stdin>: {words.format(length)} at byte offset {last}"
    assert damaged.error == streamed.error.replace("<stdin>", str(tmp_path / "capture"))
    assert streamed.data == whole.data[:-1] == damaged.data
    assert without_offsets(streamed.records) == without_offsets(whole.records[:-1])
    assert streamed.position == last


def test_stdin_read_error(monkeypatch: pytest.MonkeyPatch) -> None:
    content = NG3 + EPB4[:20]
    read_end, write_end = os.pipe()
    os.write(write_end, content)
    os.close(write_end)
    reads = 0
    real_readv = os.readv

    def readv(fd: int, buffers: Sequence[memoryview]) -> int:
        nonlocal reads
        reads += 1
        if reads > 1:
            raise OSError(5, "Input/output error")
        return real_readv(fd, buffers)

    monkeypatch.setattr(os, "readv", readv)
    with stdin_from(read_end):
        os.close(read_end)
        with open_capture("-") as reader:
            cap = collect(reader)
    assert cap.error == f"<stdin>: read error (Input/output error) at byte offset {len(content)}"
    assert cap.data == [payload(0), payload(1), payload(2)]
    assert cap.position == len(NG3)


def test_stdin_redirected_from_a_file(tmp_path: Path) -> None:
    content, _ = big_capture("pcapng")
    mapped = read_file(tmp_path, content)
    fd = os.open(tmp_path / "capture", os.O_RDONLY)
    with stdin_from(fd):
        os.close(fd)
        with open_capture("-") as reader:
            assert isinstance(reader, MappedCapture)
            redirected = collect(reader)
    assert redirected.path == "<stdin>"
    assert redirected.records == mapped.records
    assert redirected.data == mapped.data
    assert (redirected.position, redirected.size, redirected.buffers) == (len(content), len(content), 1)


def test_readers_are_packet_sources(tmp_path: Path) -> None:
    content = pcap([(1, 0, payload(0))])
    path = tmp_path / "source.pcap"
    path.write_bytes(content)
    with open_capture(str(path)) as reader:
        source: PacketSource = reader
        assert (source.live, source.size, source.position, source.error) == (False, len(content), 24, None)
    # A pipe's size is unknown.
    with stdin_pipe(content), open_capture("-") as reader:
        source = reader
        assert (source.live, source.size, source.position, source.error) == (False, 0, 24, None)


INTERFACES_OVER_TIME = (
    LE.shb()
    + LE.idb(1, name="a")
    + LE.epb(0, 1, payload(0))
    + BE.shb()
    + BE.idb(101, name="b")
    + BE.idb(1, name="a")
    + BE.epb(0, 2, payload(1))
    + BE.epb(1, 3, payload(2))
)


def interfaces_seen(reader: CaptureReader) -> list[int]:
    """How many interfaces the reader knew at each record; the list object never changes."""
    interfaces = reader.interfaces
    seen = []
    for _, records in reader.batches():
        for _record in records:
            seen.append(len(interfaces))
            assert reader.interfaces is interfaces
    assert reader.interfaces is interfaces
    return seen


def test_interfaces_list_is_one_object_filled_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(INTERFACES_OVER_TIME)
    expected = [Interface(0, 1, 0, "a"), Interface(1, 101, 0, "b")]
    with open_capture(str(path)) as reader:
        interfaces = reader.interfaces
        assert interfaces_seen(reader) == [1, 2, 2]
        # Reading again learns the interfaces afresh, in the same list.
        assert interfaces_seen(reader) == [1, 2, 2]
        assert interfaces is reader.interfaces
        assert interfaces == expected
    with stdin_pipe(INTERFACES_OVER_TIME), open_capture("-") as reader:
        assert interfaces_seen(reader) == [1, 2, 2]
        assert reader.interfaces == expected


def mapped_rss(path: Path) -> int:
    """Resident bytes of this process's mappings of ``path``."""
    total = 0
    mapping = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):
            mapping = fields[-1] == str(path)
        elif mapping and fields[0] == "Rss:":
            total += int(fields[1]) * 1024
    return total


def test_pages_read_are_released(tmp_path: Path) -> None:
    path = tmp_path / "large.pcap"
    path.write_bytes(pcap((n, 0, bytes(1500)) for n in range(11_000)))
    size = path.stat().st_size
    positions = []
    with open_capture(str(path)) as reader:
        for _, records in reader.batches():
            for _record in records:
                positions.append(reader.position)
            resident = mapped_rss(path.resolve())
        assert reader.position == size
    # Reading left at most the kept trailing data, the last window and read-around mapped.
    assert 0 < resident <= pcapfile._KEEP_MAPPED + 2 * pcapfile._WINDOW < size // 2
    # The position moved on window by window, always to the end of a record.
    assert positions == sorted(positions)
    assert len(set(positions)) >= size // pcapfile._WINDOW
    assert {(p - 24) % 1516 for p in positions} == {0}


def test_closing_a_mapped_file_mid_read_ends_its_records(tmp_path: Path) -> None:
    path = tmp_path / "large.pcap"
    path.write_bytes(pcap((n, 0, bytes(1500)) for n in range(2_000)))
    reader = open_capture(str(path))
    _, records = next(reader.batches())
    it = iter(records)
    first = [next(it) for _ in range(10)]
    reader.close()
    assert list(it) == []
    assert [rec[1] for rec in first] == [40 + 1516 * n for n in range(10)]
    assert reader.error is None


def test_closing_a_stream_mid_read_keeps_its_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcapfile, "_CHUNK", 4096)
    content = pcap((n, 0, payload(n % 50)) for n in range(500))
    with stdin_pipe(content, pieces=[len(content)]), open_capture("-") as reader:
        batches = reader.batches()
        buf, records = next(batches)
        first = list(records)
        reader.close()
        assert list(batches) == []
    assert len(first) >= 1
    assert [bytes(buf[off : off + caplen]) for _, off, caplen, _, _, _ in first] == [
        payload(n % 50) for n in range(len(first))
    ]
    assert reader.error is None


# --- the real corpus ----------------------------------------------------------------------------

CORPUS_FILES = sorted(
    [*CORPUS.glob("sigs/*/input.pcap"), *CORPUS.glob("appid/*.pcap"), *CORPUS.glob("appid/*.pcapng")]
)


def test_corpus_is_present() -> None:
    assert len(CORPUS_FILES) >= 80
    assert {p.suffix for p in CORPUS_FILES} == {".pcap", ".pcapng"}


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES])
def test_corpus_reads_cleanly(path: Path) -> None:
    with open_capture(str(path)) as reader:
        count = 0
        last_end = 0
        for buf, records in reader.batches():
            for _ts, off, caplen, wirelen, iface, linktype in records:
                count += 1
                assert last_end < off and off + caplen <= len(buf)
                assert 0 <= iface < len(reader.interfaces)
                assert reader.interfaces[iface].linktype == linktype
                assert caplen <= wirelen or reader.format_name == "pcapng"
                last_end = off + caplen
        assert reader.error is None
        assert count > 0
        assert reader.position == reader.size == path.stat().st_size
        assert reader.format_name == path.suffix[1:]
