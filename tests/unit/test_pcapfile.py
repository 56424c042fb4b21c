"""Capture reader: exact records from crafted pcap/pcapng files, damage reporting, the real corpus."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from scapy.utils import RawPcapNgReader, RawPcapReader

from fathom.capture.pcapfile import (
    MAX_CAPLEN,
    CaptureError,
    Interface,
    PacketRecord,
    PcapngReader,
    PcapReader,
    open_capture,
)
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


def read(tmp_path: Path, content: bytes, name: str = "capture") -> Capture:
    path = tmp_path / name
    path.write_bytes(content)
    with open_capture(str(path)) as reader:
        records = list(reader)
        data = [bytes(reader.buffer[off : off + caplen]) for _, off, caplen, _, _, _ in records]
        return Capture(
            str(path),
            reader.format_name,
            records,
            data,
            reader.error,
            list(reader.interfaces),
            reader.position,
            reader.size,
        )


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
def test_pcap_microsecond(tmp_path: Path, big_endian: bool) -> None:
    a, b, c = payload(0), payload(1), payload(2)
    content = pcap(
        [(EPOCH, 123_456, a), (EPOCH + 1, 999_999, b), (0, 1, c)], 1, snaplen=1514, big_endian=big_endian
    )
    cap = read(tmp_path, content)
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
    assert cap.position == cap.size == len(content)


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
def test_pcap_nanosecond(tmp_path: Path, big_endian: bool) -> None:
    content = pcap(
        [(1000, 123_456_789, payload(0)), (EPOCH, 999_999_999, payload(1)), (5, 1, payload(2))],
        101,
        nanosecond=True,
        big_endian=big_endian,
    )
    cap = read(tmp_path, content)
    assert cap.error is None
    assert [rec[4:] for rec in cap.records] == [(0, 101)] * 3
    assert_ts(cap.records[0][0], 1000, 123_456_789, 10**9)
    assert_ts(cap.records[1][0], EPOCH, 999_999_999, 10**9)
    assert_ts(cap.records[2][0], 5, 1, 10**9)
    assert cap.data == [payload(0), payload(1), payload(2)]


def test_pcap_caplen_and_wirelen_differ(tmp_path: Path) -> None:
    content = pcap_header(1, snaplen=64) + pcap_record(1, 2, payload(0)[:40], wirelen=1514)
    cap = read(tmp_path, content)
    assert strip_ts(cap.records) == [(40, 40, 1514, 0, 1)]
    assert_ts(cap.records[0][0], 1, 2, 10**6)
    assert cap.data == [payload(0)[:40]]
    assert cap.interfaces == [Interface(0, 1, 64)]


def test_pcap_empty_capture(tmp_path: Path) -> None:
    cap = read(tmp_path, pcap_header(1))
    assert cap.records == []
    assert cap.error is None
    assert cap.position == 24


@pytest.mark.parametrize(
    ("field", "linktype"),
    [(0, 0), (1, 1), (101, 101), (113, 113), (276, 276), (104, 104), (228, 228), (229, 229),
     # Upper 16 bits: FCS-length-present flag (bit 26) and FCS length (bits 28-31), see pcap-linktype(7).
     (0x24000001, 1), (0x44000001, 1), (0xF400007F, 127)],
)  # fmt: skip
def test_pcap_linktype(tmp_path: Path, field: int, linktype: int) -> None:
    for big_endian in (False, True):
        cap = read(tmp_path, pcap([(1, 0, payload(0))], field, big_endian=big_endian))
        assert cap.error is None
        assert cap.records[0][5] == linktype
        assert cap.interfaces[0].linktype == linktype


def test_pcap_reader_accepts_bytes() -> None:
    reader = PcapReader("mem", pcap([(3, 4, b"xyz")], 1))
    assert [rec[1:] for rec in reader] == [(40, 3, 3, 0, 1)]
    assert reader.error is None


# --- pcapng -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ng", [LE, BE], ids=["le", "be"])
def test_pcapng_single_interface(tmp_path: Path, ng: Pcapng) -> None:
    head = ng.shb() + ng.idb(1, 65535, name="eth0")
    first = ng.epb(0, EPOCH * 10**6 + 123_456, payload(0))
    second = ng.epb(0, EPOCH * 10**6 + 999_999, payload(1)[:30], wirelen=1514)
    content = head + first + second
    assert len(head) == 28 + 32
    cap = read(tmp_path, content)
    assert cap.format_name == "pcapng"
    assert cap.error is None
    assert cap.interfaces == [Interface(0, 1, 65535, "eth0")]
    assert strip_ts(cap.records) == [(60 + 28, 41, 41, 0, 1), (60 + len(first) + 28, 30, 1514, 0, 1)]
    assert cap.data == [payload(0), payload(1)[:30]]
    assert_ts(cap.records[0][0], EPOCH, 123_456, 10**6)
    assert_ts(cap.records[1][0], EPOCH, 999_999, 10**6)
    assert cap.position == cap.size == len(content)


@pytest.mark.parametrize("ng", [LE, BE], ids=["le", "be"])
def test_pcapng_interfaces_with_own_linktype_and_resolution(tmp_path: Path, ng: Pcapng) -> None:
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
    cap = read(tmp_path, content)
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


def test_pcapng_epb_spb_opb(tmp_path: Path) -> None:
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
    cap = read(tmp_path, content)
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


def test_pcapng_sections_keep_global_interface_indexes(tmp_path: Path) -> None:
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
    cap = read(tmp_path, content)
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


def test_pcapng_section_naming_an_interface_again_keeps_its_index(tmp_path: Path) -> None:
    content = LE.shb() + LE.idb(1, 0, name="eth0") + LE.idb(1) + LE.epb(0, 1, payload(0))
    # Appended capture: eth0 again (own snaplen and resolution), an unnamed interface, eth0 as raw IP.
    content += BE.shb() + BE.idb(1, 62, name="eth0", tsresol=9) + BE.idb(1) + BE.idb(101, name="eth0")
    second = len(content)
    content += BE.epb(0, 5, payload(1)) + BE.epb(1, 6, payload(2)) + BE.epb(2, 7, payload(3))
    spb = len(content)
    content += BE.spb(payload(11)[:62], wirelen=63)
    cap = read(tmp_path, content)
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


def test_reading_twice_gives_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "twice.pcapng"
    path.write_bytes(LE.shb() + LE.idb(1) + LE.epb(0, 1, payload(0)) + BE.shb() + BE.idb(113) + BE.spb(b"x"))
    with open_capture(str(path)) as reader:
        first = list(reader)
        interfaces = list(reader.interfaces)
        assert list(reader) == first
        assert reader.interfaces == interfaces == [Interface(0, 1, 0, ""), Interface(1, 113, 0, "")]
        assert reader.error is None


def test_pcapng_unknown_blocks_are_skipped(tmp_path: Path) -> None:
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
    cap = read(tmp_path, content)
    assert cap.error is None
    assert strip_ts(cap.records) == [(first + 28, 41, 41, 0, 1), (second + 28, 43, 43, 0, 1)]
    assert cap.position == len(content)


def test_pcapng_empty_section(tmp_path: Path) -> None:
    cap = read(tmp_path, LE.shb() + LE.idb(1))
    assert cap.records == []
    assert cap.error is None
    assert cap.interfaces == [Interface(0, 1, 0, "")]


def test_pcapng_reader_accepts_bytes() -> None:
    reader = PcapngReader("mem", BE.shb() + BE.idb(228) + BE.epb(0, 1, b"abc"))
    assert [rec[1:] for rec in reader] == [(28 + 20 + 28, 3, 3, 0, 228)]
    assert reader.error is None


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
def test_pcap_damage(tmp_path: Path, tail: bytes, words: str) -> None:
    cap = read(tmp_path, PCAP3 + tail)
    assert_damage(cap, 3, len(PCAP3), words)


def test_pcap_damage_in_first_record(tmp_path: Path) -> None:
    cap = read(
        tmp_path, pcap_header(1, big_endian=True) + pcap_record(1, 2, payload(0), big_endian=True)[:30]
    )
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
def test_pcapng_damage(tmp_path: Path, tail: bytes, skip: int, words: str) -> None:
    cap = read(tmp_path, NG3 + tail)
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
def test_pcapng_short_block_at_end_of_file(tmp_path: Path, tail: bytes) -> None:
    # A block too short for its fixed fields, ending the file: reported, never raised.
    cap = read(tmp_path, NG3 + tail)
    assert_damage(cap, 3, len(NG3), "garbled")


def test_pcapng_spb_before_interface(tmp_path: Path) -> None:
    cap = read(tmp_path, LE.shb() + LE.spb(payload(0)))
    assert_damage(cap, 0, 28, "simple packet block before any interface description")


def test_pcapng_damage_in_second_section(tmp_path: Path) -> None:
    content = NG3 + BE.shb() + BE.idb(1)
    cap = read(tmp_path, content + BE.epb(0, 9, payload(3)) + BE.epb(0, 9, payload(4))[:-4])
    assert_damage(cap, 4, len(content) + len(BE.epb(0, 9, payload(3))), "truncated block (type 0x6")


# --- files that are not captures ----------------------------------------------------------------


def assert_capture_error(path: Path, words: str) -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert words in message, message


def test_missing_file(tmp_path: Path) -> None:
    assert_capture_error(tmp_path / "missing.pcap", "No such file or directory")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(str(tmp_path))
    assert str(info.value).startswith(f"{tmp_path}: ")
    assert "\n" not in str(info.value)


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
    assert_capture_error(path, words)


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
        for _ts, off, caplen, wirelen, iface, linktype in reader:
            count += 1
            assert last_end < off and off + caplen <= reader.size
            assert 0 <= iface < len(reader.interfaces)
            assert reader.interfaces[iface].linktype == linktype
            assert caplen <= wirelen or reader.format_name == "pcapng"
            last_end = off + caplen
        assert reader.error is None
        assert count > 0
        assert reader.position == reader.size
        assert reader.format_name == path.suffix[1:]
