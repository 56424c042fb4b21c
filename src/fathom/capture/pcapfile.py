"""Read pcap and pcapng captures: files through mmap without copying, pipes in chunks.

:func:`open_capture` returns a :class:`CaptureReader`, a :class:`~fathom.capture.source.PacketSource`.
A regular file is mapped and read as one batch; standard input (``-``) or another pipe is read
one chunk at a time, each batch holding the complete records read so far. Both feed the same
:class:`RecordParser`, which finds the records in a window of bytes and stops at a record the
window cuts, to resume in the next window.

A truncated or garbled capture ends the records at the damage; :attr:`CaptureReader.error` then
holds one line naming the input and the byte offset. Reading never raises.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Generator, Iterator
from itertools import chain
from typing import Self

from fathom.capture.source import Batch, Interface, PacketRecord
from fathom.capture.source import CaptureError as CaptureError  # opening a capture raises it
from fathom.decode.packet import Buffer

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Largest packet a sane capture holds; a bigger caplen means the file is garbled.
MAX_CAPLEN = 262_144 * 4
# Largest pcapng block: such a packet with generous options.
_MAX_BLOCK = MAX_CAPLEN + 4096

# Bytes that tell the format: a pcap file header, a pcapng section header.
_PCAP_HEADER = 24
_PCAPNG_HEADER = 28
_PCAP_RECORD_HEADER = 16
_BLOCK_HEADER = 12  # block type, total length, and a section header's byte-order magic
_PACKET_BLOCK_MIN = 32  # EPB and OPB: block framing plus 20 bytes of fixed fields
_PACKET_BLOCK_DATA = 28  # where their packet data starts

# A mapped file is parsed in windows of this size; between windows, pages further back than
# _KEEP_MAPPED are dropped, since packets just decoded may still be referenced.
_WINDOW = 1 << 20
_KEEP_MAPPED = 4 << 20
# A pipe is read into chunks of this size, bigger when one record is.
_CHUNK = 1 << 20

STDIN_NAME = "<stdin>"

_PCAPNG_IDB = 1
_PCAPNG_OPB = 2
_PCAPNG_SPB = 3
_PCAPNG_EPB = 6
_OPT_IF_NAME = 2
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14

_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_PCAP_MAGICS = (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC)

# Per pcapng interface of the current section: (global index, linktype, ticks to seconds, offset).
_SectionInterface = tuple[int, int, float, float]
# One window's records: closed early when the reader is.
Records = Generator[PacketRecord, None, None]


class _ByteOrder:
    """Precompiled pcapng layouts for one byte order."""

    def __init__(self, endian: str) -> None:
        self.head = struct.Struct(endian + "II")
        # EPB and OPB read alike: interface, timestamp high and low words, caplen, wirelen
        # (an OPB's interface is 16 bits, followed by a drop count that is skipped).
        self.packets = {
            _PCAPNG_EPB: struct.Struct(endian + "IIIII"),
            _PCAPNG_OPB: struct.Struct(endian + "H2xIIII"),
        }
        self.u32 = struct.Struct(endian + "I")
        self.idb = struct.Struct(endian + "HHI")
        self.option = struct.Struct(endian + "HH")
        self.i64 = struct.Struct(endian + "q")


_LITTLE = _ByteOrder("<")
# A section's byte-order magic, read little-endian: how to read that section.
_BY_MAGIC = {PCAPNG_BYTE_ORDER_MAGIC: _LITTLE, 0x4D3C2B1A: _ByteOrder(">")}
_NO_BLOCK = (0, -1)
_STOP: tuple[int, PacketRecord | None] = (-1, None)


class RecordParser(ABC):
    """Finds the packet records in windows of a capture's bytes and remembers where it stopped.

    Record offsets index the window's buffer; :attr:`base` is the absolute offset of that
    buffer's first byte, for error messages and the position.
    """

    format_name = ""

    def __init__(self, name: str, interfaces: list[Interface], first: int) -> None:
        self.name = name
        self.interfaces = interfaces
        self.error: str | None = None
        self.base = 0
        # Offset in the last buffer of the first byte not parsed.
        self.stopped = first
        # Bytes from `stopped` that the record cut there needs; 0 when none is pending.
        self.needed = 0

    @abstractmethod
    def records(self, buf: Buffer, start: int, end: int, final: bool) -> Records:
        """The records wholly inside ``buf[start:end]``. A record the window cuts stops them:
        damage when ``final`` (the input ends at ``end``), otherwise left for the next window."""

    def damage(self, off: int, what: str) -> None:
        self.error = f"{self.name}: {what} at byte offset {self.base + off}"

    def _cut(self, off: int, end: int, final: bool, needed: int, what: str) -> None:
        """The window ends inside the record at ``off``, which spans ``needed`` bytes."""
        if final:
            self.damage(off, what)
        else:
            self.needed = needed


class PcapParser(RecordParser):
    """Classic libpcap format: either byte order, microsecond or nanosecond timestamps."""

    format_name = "pcap"

    def __init__(self, name: str, head: Buffer, interfaces: list[Interface]) -> None:
        if len(head) < _PCAP_HEADER:
            raise CaptureError(f"{name}: pcap file header truncated ({len(head)} of {_PCAP_HEADER} bytes)")
        super().__init__(name, interfaces, _PCAP_HEADER)
        endian = "<" if _U32_LE.unpack_from(head)[0] in _PCAP_MAGICS else ">"
        magic, _, _, _, _, snaplen, linktype = struct.unpack_from(endian + "IHHiIII", head)
        self._scale = 1e-9 if magic == PCAP_MAGIC_NSEC else 1e-6
        # The link type is the low 16 bits; the upper bits carry FCS information (pcap-linktype(7)).
        self._linktype = linktype & 0xFFFF
        self._record = struct.Struct(endian + "IIII")
        interfaces[:] = [Interface(0, self._linktype, snaplen)]

    def records(self, buf: Buffer, start: int, end: int, final: bool) -> Records:
        unpack = self._record.unpack_from
        scale = self._scale
        linktype = self._linktype
        last = end - _PCAP_RECORD_HEADER
        self.needed = 0
        off = start
        try:
            while off <= last:
                sec, frac, caplen, wirelen = unpack(buf, off)
                data = off + _PCAP_RECORD_HEADER
                if caplen > MAX_CAPLEN or data + caplen > end:
                    break
                yield sec + frac * scale, data, caplen, wirelen, 0, linktype
                off = data + caplen
        finally:
            self.stopped = off
        self._stop(buf, off, end, final)

    def _stop(self, buf: Buffer, off: int, end: int, final: bool) -> None:
        """Say why the records stopped at ``off``: the window's end, a cut or a garbled record."""
        if off == end:
            return
        if off + _PCAP_RECORD_HEADER > end:
            what = f"truncated packet record header ({end - off} of {_PCAP_RECORD_HEADER} bytes)"
            self._cut(off, end, final, _PCAP_RECORD_HEADER, what)
            return
        caplen = self._record.unpack_from(buf, off)[2]
        if caplen > MAX_CAPLEN:
            self.damage(off, f"garbled packet record (captured length {caplen})")
            return
        what = f"truncated packet data ({end - off - _PCAP_RECORD_HEADER} of {caplen} bytes)"
        self._cut(off, end, final, _PCAP_RECORD_HEADER + caplen, what)


class PcapngParser(RecordParser):
    """pcapng: several sections and interfaces, EPB/SPB/OPB, per-interface link type and resolution."""

    format_name = "pcapng"

    def __init__(self, name: str, head: Buffer, interfaces: list[Interface]) -> None:
        if len(head) < _PCAPNG_HEADER:
            raise CaptureError(
                f"{name}: pcapng section header truncated ({len(head)} of {_PCAPNG_HEADER} bytes)"
            )
        super().__init__(name, interfaces, 0)
        interfaces.clear()
        # Set by each section header block, the first of which starts the file.
        self._order = _LITTLE
        self._section: list[_SectionInterface] = []
        # Global index of each named interface, by (name, linktype).
        self._named: dict[tuple[str, int], int] = {}
        # Snap length of the section's first interface: bounds simple packet blocks.
        self._spb_snaplen = 0
        # A simple packet block has no timestamp: it takes the previous packet's.
        self._last_ts = 0.0

    def records(self, buf: Buffer, start: int, end: int, final: bool) -> Records:
        self.needed = 0
        off = start
        try:
            while True:
                # Fast path, without a call per packet: enhanced and obsolete packet blocks of
                # the current section. Whatever it does not take goes to _block, one block at a time.
                head = self._order.head.unpack_from
                packets = self._order.packets
                section = self._section
                count = len(section)
                ts = self._last_ts
                last = end - _BLOCK_HEADER
                while off <= last:
                    btype, blen = head(buf, off)
                    layout = packets.get(btype)
                    nxt = off + blen
                    if layout is None or nxt > end or not _PACKET_BLOCK_MIN <= blen <= _MAX_BLOCK or blen & 3:
                        break
                    iface, high, low, caplen, wirelen = layout.unpack_from(buf, off + 8)
                    if iface >= count or off + _PACKET_BLOCK_MIN + caplen > nxt:
                        break
                    gindex, linktype, scale, tsoff = section[iface]
                    ts = ((high << 32) | low) * scale + tsoff
                    yield ts, off + _PACKET_BLOCK_DATA, caplen, wirelen, gindex, linktype
                    off = nxt
                self._last_ts = ts
                nxt, record = self._block(buf, off, end, final)
                if nxt < 0:
                    return
                if record is not None:
                    yield record
                off = nxt
        finally:
            self.stopped = off

    def _block(self, buf: Buffer, off: int, end: int, final: bool) -> tuple[int, PacketRecord | None]:
        """The block at ``off`` that the fast path left: the offset after it and the packet it holds.
        The offset is -1 when the records stop there (the window's end, a cut, damage)."""
        btype, blen = self._frame(buf, off, end, final)
        if blen < 0:
            return _STOP
        if btype in self._order.packets:
            # The fast path takes every sound packet block: this one is garbled.
            self._packet_damage(buf, off, btype, blen)
            return _STOP
        record = None
        if btype == PCAPNG_SHB:
            self._section = []
        elif btype == _PCAPNG_IDB:
            if not self._interface(buf, off, blen):
                return _STOP
        elif btype == _PCAPNG_SPB:
            record = self._simple_packet(buf, off, blen)
            if record is None:
                return _STOP
        return off + blen, record

    def _frame(self, buf: Buffer, off: int, end: int, final: bool) -> tuple[int, int]:
        """Type and total length of the whole, sanely framed block at ``off``; length -1 if there is none."""
        if off + _BLOCK_HEADER > end:
            if off < end:
                what = f"truncated block header ({end - off} of {_BLOCK_HEADER} bytes)"
                self._cut(off, end, final, _BLOCK_HEADER, what)
            return _NO_BLOCK
        # A section header's byte-order magic says how to read its own length and its section.
        if self._order.head.unpack_from(buf, off)[0] == PCAPNG_SHB:
            order = _BY_MAGIC.get(_U32_LE.unpack_from(buf, off + 8)[0])
            if order is None:
                self.damage(off, "garbled section header (bad byte-order magic)")
                return _NO_BLOCK
            self._order = order
        btype, blen = self._order.head.unpack_from(buf, off)
        if blen < _BLOCK_HEADER or blen & 3 or blen > _MAX_BLOCK:
            self.damage(off, f"garbled block (type {btype:#x}, length {blen})")
            return _NO_BLOCK
        if off + blen > end:
            what = f"truncated block (type {btype:#x}, {end - off} of {blen} bytes)"
            self._cut(off, end, final, blen, what)
            return _NO_BLOCK
        return btype, blen

    def _packet_damage(self, buf: Buffer, off: int, btype: int, blen: int) -> None:
        """Report what is wrong with an enhanced or obsolete packet block."""
        kind = "enhanced packet block" if btype == _PCAPNG_EPB else "packet block"
        if blen < _PACKET_BLOCK_MIN:
            self.damage(off, f"garbled {kind} (length {blen})")
            return
        iface, _, _, caplen, _ = self._order.packets[btype].unpack_from(buf, off + 8)
        self.damage(off, f"garbled {kind} (interface {iface}, length {caplen})")

    def _simple_packet(self, buf: Buffer, off: int, blen: int) -> PacketRecord | None:
        """The packet of a simple packet block: the section's first interface, the last timestamp."""
        if not self._section:
            self.damage(off, "simple packet block before any interface description")
            return None
        if blen < 16:
            self.damage(off, f"garbled simple packet block (length {blen})")
            return None
        wirelen = self._order.u32.unpack_from(buf, off + 8)[0]
        gindex, linktype, _, _ = self._section[0]
        # The data is min(original length, snaplen) bytes; the rest of the block is padding.
        caplen = min(wirelen, blen - 16)
        if 0 < self._spb_snaplen < caplen:
            caplen = self._spb_snaplen
        return self._last_ts, off + 12, caplen, wirelen, gindex, linktype

    def _interface(self, buf: Buffer, off: int, blen: int) -> bool:
        """Add the interface an interface description block describes to the section; False if garbled."""
        if blen < 20:
            self.damage(off, f"garbled interface description block (length {blen})")
            return False
        linktype, _, snaplen = self._order.idb.unpack_from(buf, off + 8)
        scale, tsoff, name = self._interface_options(buf, off + 16, off + blen - 4)
        if not self._section:
            self._spb_snaplen = snaplen
        gindex = self._global_index(Interface(len(self.interfaces), linktype, snaplen, name))
        self._section.append((gindex, linktype, scale, tsoff))
        return True

    def _global_index(self, iface: Interface) -> int:
        """Index of an interface across sections. A later section that names an interface again
        (merged or appended captures) means the same device: it keeps its index so its flows stay whole."""
        key = (iface.name, iface.linktype)
        if iface.name and key in self._named:
            return self._named[key]
        self.interfaces.append(iface)
        if iface.name:
            self._named[key] = iface.index
        return iface.index

    def _interface_options(self, buf: Buffer, off: int, end: int) -> tuple[float, float, str]:
        """Parse IDB options: timestamp resolution, timestamp offset and interface name."""
        scale = 1e-6
        tsoff = 0.0
        name = ""
        option = self._order.option
        while off + 4 <= end:
            code, length = option.unpack_from(buf, off)
            value = off + 4
            if code == 0 or value + length > end:
                break
            if code == _OPT_IF_TSRESOL and length >= 1:
                res = buf[value]
                scale = 2.0 ** -(res & 0x7F) if res & 0x80 else 10.0**-res
            elif code == _OPT_IF_TSOFFSET and length >= 8:
                tsoff = float(self._order.i64.unpack_from(buf, value)[0])
            elif code == _OPT_IF_NAME:
                name = bytes(buf[value : value + length]).decode("utf-8", "replace")
            off = value + ((length + 3) & ~3)
        return scale, tsoff, name


def parser_for(name: str, head: Buffer, interfaces: list[Interface]) -> RecordParser:
    """The parser for a capture that starts with ``head``: its first 28 bytes, or all of a shorter
    capture. Raises :class:`CaptureError` when it is no capture. Fills ``interfaces`` in place."""
    if len(head) < 4:
        raise CaptureError(f"{name}: not a capture file ({len(head)} bytes)")
    magic = _U32_LE.unpack_from(head)[0]
    if magic == PCAPNG_SHB:
        return PcapngParser(name, head, interfaces)
    if magic in _PCAP_MAGICS or _U32_BE.unpack_from(head)[0] in _PCAP_MAGICS:
        return PcapParser(name, head, interfaces)
    raise CaptureError(f"{name}: not a pcap or pcapng file (magic {magic:#010x})")


class CaptureReader(ABC):
    """A pcap or pcapng capture as a packet source."""

    live = False

    def __init__(self, name: str, parser: RecordParser, size: int) -> None:
        self.name = name
        self.size = size
        self.interfaces = parser.interfaces
        self._parser = parser
        self._closed = False

    @property
    def format_name(self) -> str:
        return self._parser.format_name

    @property
    def error(self) -> str | None:
        return self._parser.error

    @property
    def position(self) -> int:
        return self._parser.base + self._parser.stopped

    @abstractmethod
    def batches(self) -> Iterator[Batch]: ...

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MappedCapture(CaptureReader):
    """A regular file, mapped and read as one batch. The pages read are dropped from this
    process's memory as reading moves on (they stay in the page cache), so the resident set
    stays flat however large the file."""

    def __init__(self, name: str, fd: int) -> None:
        parser = parser_for(name, os.pread(fd, _PCAPNG_HEADER, 0), [])
        self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        super().__init__(name, parser, len(self._map))
        self._window: Records | None = None
        self._released = 0

    def batches(self) -> Iterator[Batch]:
        """The mapping with all its records. Each call reads the file again from the start."""
        self._parser = parser = parser_for(self.name, self._map, self.interfaces)
        self._released = 0
        yield self._map, chain.from_iterable(self._windows(parser))

    def _windows(self, parser: RecordParser) -> Iterator[Records]:
        """The records, window by window, dropping the pages left behind between windows."""
        size = self.size
        start = end = parser.stopped
        while end < size and parser.error is None and not self._closed:
            self._release(start)
            end = min(size, start + max(_WINDOW, parser.needed))
            self._window = parser.records(self._map, start, end, end == size)
            yield self._window
            start = parser.stopped

    def _release(self, upto: int) -> None:
        end = (upto - _KEEP_MAPPED) & -mmap.PAGESIZE
        if end > self._released:
            self._map.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
            self._released = end

    def close(self) -> None:
        super().close()
        # A batch still held ends here instead of reading the closed mapping.
        if self._window is not None:
            self._window.close()
        self._map.close()


class StreamedCapture(CaptureReader):
    """A pipe (or any input that cannot be mapped), read one chunk at a time: each read gives a
    batch of the records it completes, and a record cut at a chunk's end moves to the next chunk.
    Memory stays bounded by the chunk size, however long the stream."""

    def __init__(self, name: str, fd: int) -> None:
        head = _read_head(fd)
        super().__init__(name, parser_for(name, head, []), 0)
        self._fd = os.dup(fd)
        self._batches = self._read(head)

    def batches(self) -> Iterator[Batch]:
        """Batches from where the stream stands: a stream is read once."""
        return self._batches

    def _read(self, head: bytes) -> Iterator[Batch]:
        parser = self._parser
        buf = bytearray(_CHUNK)
        buf[: len(head)] = head
        filled = len(head)
        start = parser.stopped
        final = False
        while not final and parser.error is None and not self._closed:
            if start + parser.needed > len(buf) or filled == len(buf):
                buf = self._carry(buf, start, filled)
                filled -= start
                start = 0
            got = self._fill(buf, filled)
            if got < 0:
                return
            final = got == 0
            filled += got
            records = parser.records(buf, start, filled, final)
            yield buf, records
            # Records the consumer left when it asked for the next batch are skipped.
            deque(records, maxlen=0)
            start = parser.stopped

    def _carry(self, buf: bytearray, start: int, filled: int) -> bytearray:
        """A new chunk starting with the cut record at the end of ``buf``; ``buf`` itself stays
        intact for records still referenced."""
        chunk = bytearray(max(_CHUNK, self._parser.needed))
        chunk[: filled - start] = memoryview(buf)[start:filled]
        self._parser.base += start
        return chunk

    def _fill(self, buf: bytearray, filled: int) -> int:
        """Read what the stream has into ``buf[filled:]``: the byte count, 0 at its end, -1 on error."""
        try:
            return os.readv(self._fd, [memoryview(buf)[filled:]])
        except OSError as exc:
            self._parser.damage(filled, f"read error ({exc.strerror})")
            return -1

    def close(self) -> None:
        if not self._closed:
            os.close(self._fd)
        super().close()


def _read_head(fd: int) -> bytes:
    """A stream's first bytes: enough to tell its format, fewer only if it ends sooner."""
    head = b""
    while len(head) < _PCAPNG_HEADER:
        more = os.read(fd, _PCAPNG_HEADER - len(head))
        if not more:
            break
        head += more
    return head


def _reader_for(name: str, fd: int) -> CaptureReader:
    """Map a regular file; stream anything else (a pipe, a terminal, a socket)."""
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise CaptureError(f"{name}: is a directory")
        if stat.S_ISREG(mode):
            return MappedCapture(name, fd)
        return StreamedCapture(name, fd)
    except OSError as exc:
        raise CaptureError(f"{name}: {exc.strerror}") from None


def open_capture(path: str) -> CaptureReader:
    """Open a pcap or pcapng capture; ``-`` reads standard input, as ``tcpdump -r -`` does.
    Raises :class:`CaptureError` with a one-line reason."""
    if path == "-":
        return _reader_for(STDIN_NAME, 0)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror}") from None
    try:
        return _reader_for(path, fd)
    finally:
        # A mapping or a stream reader holds its own reference to the file.
        os.close(fd)
