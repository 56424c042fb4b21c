"""Read pcap and pcapng capture files through mmap without copying packet data.

Iterating a reader yields one tuple per packet::

    (timestamp_seconds, data_offset, caplen, wirelen, interface_index, linktype)

``data_offset`` indexes :attr:`CaptureReader.buffer`, so the decoder reads the packet in place.
A truncated or garbled file ends the iteration at the damage; :attr:`CaptureReader.error`
then holds one line naming the file and the byte offset. Iteration never raises.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

PacketRecord = tuple[float, int, int, int, int, int]

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Largest packet a sane capture holds; a bigger caplen means the file is garbled.
MAX_CAPLEN = 262_144 * 4

# Keep this much already-read data mapped: packets just decoded may still be referenced.
_RELEASE_CHUNK = 4 * 1024 * 1024

_PCAPNG_IDB = 1
_PCAPNG_OPB = 2
_PCAPNG_SPB = 3
_PCAPNG_EPB = 6
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14


class CaptureError(Exception):
    """The file cannot be read as a capture at all."""


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface: pcap files have exactly one, pcapng files one per IDB."""

    index: int
    linktype: int
    snaplen: int
    name: str = ""


class CaptureReader:
    """Base class: owns the mmap and reports the first damage found."""

    format_name = ""

    def __init__(self, path: str, buffer: mmap.mmap | bytes) -> None:
        self.path = path
        self.buffer = buffer
        self.size = len(buffer)
        self.error: str | None = None
        self.interfaces: list[Interface] = []
        # Offset of the next unread byte: drives progress display.
        self.position = 0
        self._released = 0

    def __iter__(self) -> Iterator[PacketRecord]:
        raise NotImplementedError

    def _damage(self, offset: int, what: str) -> None:
        self.error = f"{self.path}: {what} at byte offset {offset}"

    def release_consumed(self) -> None:
        """Drop the pages already read from this process's memory (they stay in the page cache),
        so reading a large file does not grow the resident set."""
        if isinstance(self.buffer, mmap.mmap) and self.position > _RELEASE_CHUNK:
            end = (self.position - _RELEASE_CHUNK) & ~(mmap.PAGESIZE - 1)
            if end > self._released:
                self.buffer.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
                self._released = end

    def close(self) -> None:
        if isinstance(self.buffer, mmap.mmap):
            self.buffer.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapReader(CaptureReader):
    """Classic libpcap format: either byte order, microsecond or nanosecond timestamps."""

    format_name = "pcap"

    def __init__(self, path: str, buffer: mmap.mmap | bytes) -> None:
        super().__init__(path, buffer)
        if self.size < 24:
            raise CaptureError(f"{path}: pcap file header truncated ({self.size} of 24 bytes)")
        magic_le = struct.unpack_from("<I", buffer, 0)[0]
        if magic_le in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
            endian = "<"
            magic = magic_le
        else:
            endian = ">"
            magic = struct.unpack_from(">I", buffer, 0)[0]
        self.nanosecond = magic == PCAP_MAGIC_NSEC
        _, _, _, _, snaplen, linktype = struct.unpack_from(endian + "HHiIII", buffer, 4)
        # The link type is the low 16 bits; the upper bits carry FCS information (pcap-linktype(7)).
        self.linktype = linktype & 0xFFFF
        self.interfaces = [Interface(0, self.linktype, snaplen)]
        self._record = struct.Struct(endian + "IIII")
        self.position = 24

    def __iter__(self) -> Iterator[PacketRecord]:
        buf = self.buffer
        size = self.size
        unpack = self._record.unpack_from
        linktype = self.linktype
        scale = 1e-9 if self.nanosecond else 1e-6
        off = 24
        try:
            while off < size:
                if off + 16 > size:
                    self._damage(off, f"truncated packet record header ({size - off} of 16 bytes)")
                    return
                sec, frac, caplen, wirelen = unpack(buf, off)
                if caplen > MAX_CAPLEN:
                    self._damage(off, f"garbled packet record (captured length {caplen})")
                    return
                data = off + 16
                off = data + caplen
                if off > size:
                    self._damage(data - 16, f"truncated packet data ({size - data} of {caplen} bytes)")
                    return
                self.position = off
                yield sec + frac * scale, data, caplen, wirelen, 0, linktype
        finally:
            self.position = off


class PcapngReader(CaptureReader):
    """pcapng: several sections and interfaces, EPB/SPB/OPB, per-interface link type and resolution."""

    format_name = "pcapng"

    def __init__(self, path: str, buffer: mmap.mmap | bytes) -> None:
        super().__init__(path, buffer)
        if self.size < 28:
            raise CaptureError(f"{path}: pcapng section header truncated ({self.size} of 28 bytes)")

    def __iter__(self) -> Iterator[PacketRecord]:
        buf = self.buffer
        size = self.size
        off = 0
        endian = "<"
        head = struct.Struct("<II")
        # Per interface of the current section: (global index, linktype, ticks to seconds, offset).
        section_ifaces: list[tuple[int, int, float, float]] = []
        named: dict[tuple[str, int], int] = {}
        # Snap length of the current section's first interface: bounds simple packet blocks.
        spb_snaplen = 0
        # Interfaces are learnt while reading: start afresh if the file is read again.
        self.interfaces = []
        last_ts = 0.0
        try:
            while off < size:
                if off + 12 > size:
                    self._damage(off, f"truncated block header ({size - off} of 12 bytes)")
                    return
                btype = struct.unpack_from("<I", buf, off)[0]
                if btype == PCAPNG_SHB:
                    bom = struct.unpack_from("<I", buf, off + 8)[0]
                    if bom == PCAPNG_BYTE_ORDER_MAGIC:
                        endian = "<"
                    elif bom == 0x4D3C2B1A:
                        endian = ">"
                    else:
                        self._damage(off, "garbled section header (bad byte-order magic)")
                        return
                    head = struct.Struct(endian + "II")
                    section_ifaces = []
                btype, blen = head.unpack_from(buf, off)
                if blen < 12 or blen % 4 or blen > MAX_CAPLEN + 4096:
                    self._damage(off, f"garbled block (type {btype:#x}, length {blen})")
                    return
                end = off + blen
                if end > size:
                    self._damage(off, f"truncated block (type {btype:#x}, {size - off} of {blen} bytes)")
                    return
                body = off + 8
                if btype == _PCAPNG_EPB:
                    if blen < 32:
                        self._damage(off, f"garbled enhanced packet block (length {blen})")
                        return
                    iface, ts_high, ts_low, caplen, wirelen = struct.unpack_from(endian + "IIIII", buf, body)
                    data = body + 20
                    if iface >= len(section_ifaces) or data + caplen > end - 4:
                        self._damage(
                            off, f"garbled enhanced packet block (interface {iface}, length {caplen})"
                        )
                        return
                    gindex, linktype, scale, tsoff = section_ifaces[iface]
                    last_ts = ((ts_high << 32) | ts_low) * scale + tsoff
                    self.position = end
                    off = end
                    yield last_ts, data, caplen, wirelen, gindex, linktype
                    continue
                if btype == _PCAPNG_SPB:
                    if not section_ifaces:
                        self._damage(off, "simple packet block before any interface description")
                        return
                    if blen < 16:
                        self._damage(off, f"garbled simple packet block (length {blen})")
                        return
                    wirelen = struct.unpack_from(endian + "I", buf, body)[0]
                    gindex, linktype, _, _ = section_ifaces[0]
                    # The data is min(original length, snaplen) bytes; the rest of the block is padding.
                    caplen = min(wirelen, blen - 16)
                    if 0 < spb_snaplen < caplen:
                        caplen = spb_snaplen
                    self.position = end
                    off = end
                    yield last_ts, body + 4, caplen, wirelen, gindex, linktype
                    continue
                if btype == _PCAPNG_OPB:
                    if blen < 32:
                        self._damage(off, f"garbled packet block (length {blen})")
                        return
                    iface, _drops, ts_high, ts_low, caplen, wirelen = struct.unpack_from(
                        endian + "HHIIII", buf, body
                    )
                    data = body + 20
                    if iface >= len(section_ifaces) or data + caplen > end - 4:
                        self._damage(off, f"garbled packet block (interface {iface}, length {caplen})")
                        return
                    gindex, linktype, scale, tsoff = section_ifaces[iface]
                    last_ts = ((ts_high << 32) | ts_low) * scale + tsoff
                    self.position = end
                    off = end
                    yield last_ts, data, caplen, wirelen, gindex, linktype
                    continue
                if btype == _PCAPNG_IDB:
                    if blen < 20:
                        self._damage(off, f"garbled interface description block (length {blen})")
                        return
                    linktype, _, snaplen = struct.unpack_from(endian + "HHI", buf, body)
                    scale, tsoff, name = self._interface_options(buf, body + 8, end - 4, endian)
                    # A later section that names an interface again (merged or appended captures)
                    # means the same device: keep its index so its flows stay whole.
                    gindex = named.get((name, linktype), -1) if name else -1
                    if gindex < 0:
                        gindex = len(self.interfaces)
                        self.interfaces.append(Interface(gindex, linktype, snaplen, name))
                        if name:
                            named[(name, linktype)] = gindex
                    if not section_ifaces:
                        spb_snaplen = snaplen
                    section_ifaces.append((gindex, linktype, scale, tsoff))
                off = end
                self.position = off
        finally:
            self.position = off

    @staticmethod
    def _interface_options(
        buf: mmap.mmap | bytes, off: int, end: int, endian: str
    ) -> tuple[float, float, str]:
        """Parse IDB options: timestamp resolution, timestamp offset and interface name."""
        scale = 1e-6
        tsoff = 0.0
        name = ""
        opt = struct.Struct(endian + "HH")
        while off + 4 <= end:
            code, length = opt.unpack_from(buf, off)
            value = off + 4
            if code == 0:
                break
            if value + length > end:
                break
            if code == _OPT_IF_TSRESOL and length >= 1:
                res = buf[value]
                scale = 2.0 ** -(res & 0x7F) if res & 0x80 else 10.0**-res
            elif code == _OPT_IF_TSOFFSET and length >= 8:
                tsoff = float(struct.unpack_from(endian + "q", buf, value)[0])
            elif code == 2:
                name = bytes(buf[value : value + length]).decode("utf-8", "replace")
            off = value + ((length + 3) & ~3)
        return scale, tsoff, name


def open_capture(path: str) -> CaptureReader:
    """Open a pcap or pcapng file. Raises :class:`CaptureError` with a one-line reason."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        if size < 4:
            raise CaptureError(f"{path}: not a capture file ({size} bytes)")
        buffer = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    magic = struct.unpack_from("<I", buffer, 0)[0]
    try:
        if magic == PCAPNG_SHB:
            return PcapngReader(path, buffer)
        if magic in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC) or struct.unpack_from(">I", buffer, 0)[0] in (
            PCAP_MAGIC_USEC,
            PCAP_MAGIC_NSEC,
        ):
            return PcapReader(path, buffer)
    except CaptureError:
        buffer.close()
        raise
    buffer.close()
    raise CaptureError(f"{path}: not a pcap or pcapng file (magic {magic:#010x})")
