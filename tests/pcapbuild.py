"""Build classic pcap and pcapng capture files in memory, for reader tests.

pcap layout: libpcap's savefile format (24-byte file header, 16-byte record headers).
pcapng layout: draft-ietf-opsawg-pcapng (every block is type, total length, body padded to 32 bits,
total length again; options are code, length, value padded to 32 bits, ended by opt_endofopt).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAP_HEADER_LEN = 24
PCAP_RECORD_HEADER_LEN = 16

SHB = 0x0A0D0D0A
IDB = 1
OPB = 2
SPB = 3
NRB = 4
ISB = 5
EPB = 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
IF_NAME = 2
IF_TSRESOL = 9
IF_TSOFFSET = 14

Option = tuple[int, bytes]


def pcap_header(
    linktype: int = 1, *, snaplen: int = 65535, nanosecond: bool = False, big_endian: bool = False
) -> bytes:
    endian = ">" if big_endian else "<"
    magic = PCAP_MAGIC_NSEC if nanosecond else PCAP_MAGIC_USEC
    return struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(
    sec: int, frac: int, data: bytes, *, wirelen: int | None = None, big_endian: bool = False
) -> bytes:
    """One record: ``frac`` is microseconds or nanoseconds, as the file header says."""
    wire = len(data) if wirelen is None else wirelen
    return struct.pack((">" if big_endian else "<") + "IIII", sec, frac, len(data), wire) + data


def pcap(
    packets: Iterable[tuple[int, int, bytes]],
    linktype: int = 1,
    *,
    snaplen: int = 65535,
    nanosecond: bool = False,
    big_endian: bool = False,
) -> bytes:
    """A whole classic pcap file from (seconds, fraction, data) triples."""
    out = [pcap_header(linktype, snaplen=snaplen, nanosecond=nanosecond, big_endian=big_endian)]
    out.extend(pcap_record(sec, frac, data, big_endian=big_endian) for sec, frac, data in packets)
    return b"".join(out)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


@dataclass(frozen=True)
class Pcapng:
    """Block builder for one byte order: concatenate its blocks, starting with :meth:`shb`."""

    big_endian: bool = False

    @property
    def endian(self) -> str:
        return ">" if self.big_endian else "<"

    def pack(self, fmt: str, *values: int) -> bytes:
        return struct.pack(self.endian + fmt, *values)

    def options(self, options: Sequence[Option]) -> bytes:
        if not options:
            return b""
        body = b"".join(self.pack("HH", code, len(value)) + _pad(value) for code, value in options)
        return body + self.pack("HH", OPT_ENDOFOPT, 0)

    def block(self, btype: int, body: bytes) -> bytes:
        body = _pad(body)
        total = 12 + len(body)
        return self.pack("II", btype, total) + body + self.pack("I", total)

    def shb(self, options: Sequence[Option] = ()) -> bytes:
        # Byte-order magic, version 1.0, section length -1 (not specified).
        body = self.pack("IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + self.options(options)
        return self.block(SHB, body)

    def idb(
        self,
        linktype: int = 1,
        snaplen: int = 0,
        *,
        tsresol: int | None = None,
        tsoffset: int | None = None,
        name: str | None = None,
    ) -> bytes:
        """``tsresol`` is the raw if_tsresol byte: n for 10^-n seconds, 0x80 | n for 2^-n seconds."""
        opts: list[Option] = []
        if name is not None:
            opts.append((IF_NAME, name.encode()))
        if tsresol is not None:
            opts.append((IF_TSRESOL, bytes([tsresol])))
        if tsoffset is not None:
            opts.append((IF_TSOFFSET, self.pack("q", tsoffset)))
        return self.block(IDB, self.pack("HHI", linktype, 0, snaplen) + self.options(opts))

    def epb(
        self,
        iface: int,
        ticks: int,
        data: bytes,
        *,
        wirelen: int | None = None,
        options: Sequence[Option] = (),
    ) -> bytes:
        """Enhanced packet block; ``ticks`` counts the interface's timestamp units."""
        wire = len(data) if wirelen is None else wirelen
        head = self.pack("IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wire)
        return self.block(EPB, head + _pad(data) + self.options(options))

    def spb(self, data: bytes, *, wirelen: int | None = None) -> bytes:
        """Simple packet block: ``data`` is what was captured (at most the interface snaplen)."""
        wire = len(data) if wirelen is None else wirelen
        return self.block(SPB, self.pack("I", wire) + data)

    def opb(
        self, iface: int, ticks: int, data: bytes, *, wirelen: int | None = None, drops: int = 0
    ) -> bytes:
        """Obsolete packet block (pcapng 1.0): 16-bit interface id and drop count."""
        wire = len(data) if wirelen is None else wirelen
        head = self.pack("HHIIII", iface, drops, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wire)
        return self.block(OPB, head + data)


def as_pcapng(pcap: bytes, ifname: str) -> bytes:
    """The same packets in pcapng, on one interface called ``ifname``."""
    ng = Pcapng()
    blocks = [ng.shb(), ng.idb(1, 65535, name=ifname)]
    off = 24
    while off < len(pcap):
        sec, usec, caplen, wirelen = struct.unpack_from("<IIII", pcap, off)
        data = pcap[off + 16 : off + 16 + caplen]
        blocks.append(ng.epb(0, sec * 1_000_000 + usec, data, wirelen=wirelen))
        off += 16 + caplen
    return b"".join(blocks)
