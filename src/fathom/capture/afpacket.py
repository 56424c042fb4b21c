"""Live capture from Linux AF_PACKET sockets through TPACKET_V3 memory-mapped rings.

The kernel side is described in the Linux tree's ``Documentation/networking/packet_mmap.rst``
(the ring, its blocks and packet headers, fanout, ``PACKET_STATISTICS``) and in ``packet(7)``;
the structures are those of ``<linux/if_packet.h>``, and the snap-length socket filter is a
one-instruction program of ``Documentation/networking/filter.rst``.

:class:`AfPacketSource` is a :class:`~fathom.capture.source.PacketSource` over one or more
interfaces, one socket and ring each. The kernel fills a ring block by block; a block is handed
over when it is full or when it has held packets for ``block_timeout_ms``. Each batch is one
such block: its buffer is a memoryview of the whole ring and its records index it, so packets are
read where the kernel wrote them. The block goes back to the kernel when the next batch is
requested, which is why a record is valid only until then. When no block arrives within
``poll_timeout_ms`` the batch is empty, so the engine can expire flows on a quiet interface.

The record's interface index is the interface's position in the list given. Both directions of
a veth (or any interface) are captured, each packet once: on a pod's veth that is the traffic
to and from the pod. Loopback is the exception that needs care: every packet passes it twice
(sent, then received), so outgoing packets are ignored there.

Opening is a separate step, :meth:`AfPacketSource.open` (or entering the ``with`` block), which
raises :class:`~fathom.capture.source.CaptureError` with one line such as ``eth9: no such
interface``. Once capturing, an interface never raises:

* taken down, it is reported ``down`` by :meth:`AfPacketSource.status` and
  :meth:`AfPacketSource.errors`; the kernel resumes delivery when it comes back up;
* deleted, it is reported ``gone``: the packets already in its ring are still read, then its
  socket is closed while the other interfaces go on. :meth:`AfPacketSource.retry` (or
  ``retry_interval``) opens it again once an interface of that name exists.

If every interface is gone and nothing retries them, :meth:`batches` ends and
:attr:`AfPacketSource.error` says why. :meth:`AfPacketSource.set_interfaces` changes the set of
interfaces between batches (pods come and go); each name keeps its index for the source's life.

With ``fanout_group``, several sources (one per worker process) on the same interface with the
same group id share its packets (the kernel's group on each interface is :func:`fanout_id`: a
group belongs to one interface): ``PACKET_FANOUT_HASH`` sends every packet of a flow, both
directions, to the same socket, and ``PACKET_FANOUT_FLAG_DEFRAG`` reassembles IP fragments
first so that a fragmented datagram is not split between workers.

Two things the record cannot say, which the kernel knows: a packet sent by this host through an
interface with checksum offload carries a transport checksum still to be filled in
(``TP_STATUS_CSUMNOTREADY``); such packets are counted per interface
(:attr:`InterfaceStats.checksum_offloaded`) so a sensor can tell why they fail verification.
A VLAN tag that the interface took out of the frame (``TP_STATUS_VLAN_VALID``) is put back in
place, so the frame reads as it was on the wire.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Self

from fathom.capture.source import Batch, CaptureError, Interface, PacketRecord
from fathom.decode.decoder import LINKTYPE_ETHERNET, LINKTYPE_RAW

# <linux/if_packet.h>, <linux/if_ether.h>, <linux/if_arp.h>, <asm-generic/socket.h>: the socket
# module leaves most of these out.
SOL_PACKET: Final = 263
PACKET_ADD_MEMBERSHIP: Final = 1
PACKET_MR_PROMISC: Final = 1
PACKET_RX_RING: Final = 5
PACKET_STATISTICS: Final = 6
PACKET_VERSION: Final = 10
PACKET_FANOUT: Final = 18
PACKET_IGNORE_OUTGOING: Final = 23
TPACKET_V3: Final = 2
PACKET_FANOUT_HASH: Final = 0
PACKET_FANOUT_FLAG_DEFRAG: Final = 0x8000
ETH_P_ALL: Final = 0x0003
SO_ATTACH_FILTER: Final = 26
BPF_RET_K: Final = 0x06

TP_STATUS_KERNEL: Final = 0
TP_STATUS_USER: Final = 1 << 0
TP_STATUS_CSUMNOTREADY: Final = 1 << 3
TP_STATUS_VLAN_VALID: Final = 1 << 4
TP_STATUS_VLAN_TPID_VALID: Final = 1 << 6

ARPHRD_ETHER: Final = 1
ARPHRD_RAWIP: Final = 519
ARPHRD_TUNNEL: Final = 768
ARPHRD_TUNNEL6: Final = 769
ARPHRD_LOOPBACK: Final = 772
ARPHRD_SIT: Final = 776
ARPHRD_NONE: Final = 65534

IFF_UP: Final = 0x1

# What the frames of each device type start with. Loopback frames carry an Ethernet header with
# zeroed addresses. Devices without a link header (tun, WireGuard, IP-in-IP and SIT tunnels,
# raw-IP modems) hand over the IP packet itself.
LINKTYPES: Final = {
    ARPHRD_ETHER: LINKTYPE_ETHERNET,
    ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,
    ARPHRD_NONE: LINKTYPE_RAW,
    ARPHRD_RAWIP: LINKTYPE_RAW,
    ARPHRD_TUNNEL: LINKTYPE_RAW,
    ARPHRD_TUNNEL6: LINKTYPE_RAW,
    ARPHRD_SIT: LINKTYPE_RAW,
}

# struct tpacket_req3: block size, block count, frame size, frame count, block timeout (ms),
# private area size, feature request word.
_REQ3 = struct.Struct("=7I")
# struct tpacket_block_desc: version and offset_to_priv come first, then tpacket_hdr_v1, whose
# block_status, num_pkts, offset_to_first_pkt and blk_len are read here.
_BLOCK_HEADER = struct.Struct("=8xIIII")
_BLOCK_STATUS = struct.Struct("=8xI")
_BLOCK_DESC_SIZE = 48
# struct tpacket3_hdr: tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status, tp_mac.
_PACKET = struct.Struct("=IIIIIIH")
# Its hv1 variant after tp_net: tp_rxhash (skipped), tp_vlan_tci, tp_vlan_tpid.
_PACKET_VLAN = struct.Struct("=28x4xIH")
# TPACKET3_HDRLEN: the header, aligned to 16, then a struct sockaddr_ll (20 bytes).
TPACKET3_HDRLEN: Final = 48 + 20
# Where the kernel puts a frame in its slot: tp_net is aligned to 16 after the header and the
# link header; this bounds the snap length a block can hold.
_FRAME_OFFSET = 96
# The MAC addresses of an Ethernet header, then the same with the VLAN tag after them.
_MACS = struct.Struct("!QI")
_TAGGED_MACS = struct.Struct("!QIHH")
_VLAN_TAG = 4
_ETH_P_8021Q = 0x8100
_STATS = struct.Struct("=III")
_PACKET_MREQ = struct.Struct("=iHH8s")
_SOCK_FILTER = struct.Struct("=HBBI")
_SOCK_FPROG = struct.Struct("HP")
_U32 = struct.Struct("=I")

# Interface names are at most IFNAMSIZ - 1 bytes.
_IFNAMSIZ = 16
MAX_SNAPLEN: Final = 262_144
_EMPTY: Batch = (b"", ())
# Errors that say an interface went away or down under a socket bound to it.
_LINK_ERRNOS = frozenset((errno.ENETDOWN, errno.ENXIO, errno.ENODEV))
_FAULT = select.POLLERR | select.POLLHUP | select.POLLNVAL

UP: Final = "up"
DOWN: Final = "down"
GONE: Final = "gone"
# No longer captured on (set_interfaces): its index stays reserved for its name.
REMOVED: Final = "removed"


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    """One interface's counters since the source was opened (they survive reopening).

    ``packets``, ``drops`` and ``freeze_q`` are the kernel's ``PACKET_STATISTICS``: packets that
    reached the socket, including the ``drops`` it had no room for in the ring, and how often the
    ring was full. ``blocks``, ``read`` and ``bytes`` count what was read from the ring, so
    ``read == packets - drops`` once the ring is drained.
    """

    name: str
    status: str
    packets: int
    drops: int
    freeze_q: int
    blocks: int
    read: int
    bytes: int
    # Packets sent through the interface with the transport checksum left to the NIC.
    checksum_offloaded: int

    @property
    def freezes(self) -> int:
        return self.freeze_q


class _Ring:
    """One interface: its socket, its mapped ring, where reading stands and its counters."""

    __slots__ = (
        "block",
        "block_count",
        "block_size",
        "blocks",
        "bytes",
        "checksum_offloaded",
        "close_at",
        "drops",
        "error",
        "freeze_q",
        "ifindex",
        "index",
        "linktype",
        "map",
        "name",
        "packets",
        "read",
        "sock",
        "status",
        "view",
    )

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.ifindex = 0
        self.linktype = LINKTYPE_ETHERNET
        self.sock: socket.socket | None = None
        self.map: mmap.mmap | None = None
        self.view: memoryview | None = None
        self.block_size = 0
        self.block_count = 0
        # The block to read next: blocks are handed over and back in ring order.
        self.block = 0
        self.status = GONE
        self.error: str | None = f"{name}: not opened"
        # When a gone interface's socket is closed: its last block may still be retired.
        self.close_at = 0.0
        self.packets = self.drops = self.freeze_q = 0
        self.blocks = self.read = self.bytes = self.checksum_offloaded = 0

    def ready(self) -> bool:
        view = self.view
        return view is not None and bool(
            _BLOCK_STATUS.unpack_from(view, self.block * self.block_size)[0] & TP_STATUS_USER
        )

    def release(self) -> None:
        """Hand the current block back to the kernel and move on to the next."""
        view = self.view
        if view is None:
            return
        try:
            _BLOCK_STATUS.pack_into(view, self.block * self.block_size, TP_STATUS_KERNEL)
        except ValueError:  # the ring was closed while its block was out
            return
        self.block = (self.block + 1) % self.block_count

    def kernel_stats(self) -> None:
        """Add the kernel's counters, which reading resets."""
        if self.sock is None:
            return
        try:
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
        except OSError:
            return
        packets, drops, freeze_q = _STATS.unpack(raw)
        self.packets += packets
        self.drops += drops
        self.freeze_q += freeze_q

    def snapshot(self) -> InterfaceStats:
        return InterfaceStats(
            self.name,
            self.status,
            self.packets,
            self.drops,
            self.freeze_q,
            self.blocks,
            self.read,
            self.bytes,
            self.checksum_offloaded,
        )

    def shut(self) -> None:
        """Close the socket and unmap the ring, keeping the counters."""
        self.kernel_stats()
        view, ring_map, sock = self.view, self.map, self.sock
        self.view = self.map = self.sock = None
        # Slices of the ring still referenced keep it mapped: it goes with the last of them.
        if view is not None:
            with contextlib.suppress(BufferError):
                view.release()
        if ring_map is not None:
            with contextlib.suppress(BufferError):
                ring_map.close()
        if sock is not None:
            sock.close()


def _records(ring: _Ring, view: memoryview, off: int, count: int) -> Generator[PacketRecord, None, None]:
    """The packets of the block whose first packet is at ``off``: the hot loop."""
    unpack = _PACKET.unpack_from
    iface = ring.index
    linktype = ring.linktype
    offloaded = 0
    # Only an Ethernet frame has a place for a VLAN tag.
    slow = TP_STATUS_CSUMNOTREADY | (TP_STATUS_VLAN_VALID if linktype == LINKTYPE_ETHERNET else 0)
    try:
        for _ in range(count):
            step, sec, nsec, caplen, wirelen, status, mac = unpack(view, off)
            frame = off + mac
            if status & slow:
                if status & TP_STATUS_CSUMNOTREADY:
                    offloaded += 1
                if status & TP_STATUS_VLAN_VALID and _restore_vlan(view, off, frame, caplen, status):
                    frame -= _VLAN_TAG
                    caplen += _VLAN_TAG
                    wirelen += _VLAN_TAG
            yield sec + nsec / 1e9, frame, caplen, wirelen, iface, linktype
            off += step
    finally:
        ring.checksum_offloaded += offloaded


def _restore_vlan(view: memoryview, hdr: int, frame: int, caplen: int, status: int) -> bool:
    """Put the VLAN tag the device stripped back after the MAC addresses, in the slack the kernel
    leaves before the frame, so the decoder sees the tagged frame. False when there is no room."""
    if caplen < 12 or frame - _VLAN_TAG < hdr + TPACKET3_HDRLEN:
        return False
    tci, tpid = _PACKET_VLAN.unpack_from(view, hdr)
    if not status & TP_STATUS_VLAN_TPID_VALID:
        tpid = _ETH_P_8021Q
    high, low = _MACS.unpack_from(view, frame)
    _TAGGED_MACS.pack_into(view, frame - _VLAN_TAG, high, low, tpid, tci & 0xFFFF)
    return True


def _sysfs(name: str, attr: str) -> int | None:
    """An integer attribute of /sys/class/net/NAME, None when there is no such interface."""
    if not name or len(name) >= _IFNAMSIZ or "/" in name or name in (".", ".."):
        return None
    try:
        with open(f"/sys/class/net/{name}/{attr}", "rb") as f:
            return int(f.read().strip(), 0)
    except (OSError, ValueError):
        return None


class AfPacketSource:
    """Live packets from AF_PACKET rings on ``interfaces``; see the module documentation.

    Ring geometry: ``block_count`` blocks of ``block_size`` bytes (a multiple of the page size)
    per interface; ``frame_size`` only sizes the kernel's frame accounting in TPACKET_V3, where
    packets are packed in a block. A block is handed over when full or ``block_timeout_ms``
    after its first packet (0: the kernel's choice). ``snaplen`` truncates packets in the kernel
    (a socket filter), and a packet never exceeds what a block holds. ``promiscuous`` puts the
    interfaces in promiscuous mode for as long as the sockets are open.
    """

    __slots__ = (
        "_block_count",
        "_block_size",
        "_block_timeout_ms",
        "_by_fd",
        "_closed",
        "_done",
        "_error",
        "_fanout_group",
        "_frame_size",
        "_interfaces",
        "_lock",
        "_maintain_at",
        "_next",
        "_opened",
        "_poll_timeout_ms",
        "_poller",
        "_position",
        "_promiscuous",
        "_reader",
        "_retry_at",
        "_retry_interval",
        "_rings",
        "_snaplen",
        "_stopped",
        "_wake",
    )

    live = True
    size = 0

    def __init__(
        self,
        interfaces: Sequence[str],
        *,
        fanout_group: int | None = None,
        block_size: int = 1 << 20,
        block_count: int = 64,
        frame_size: int = 2048,
        block_timeout_ms: int = 50,
        poll_timeout_ms: int = 250,
        snaplen: int = MAX_SNAPLEN,
        promiscuous: bool = True,
        retry_interval: float | None = None,
    ) -> None:
        names = _distinct(interfaces)
        if block_size <= 0 or block_size % mmap.PAGESIZE:
            raise ValueError(f"block_size {block_size} is not a positive multiple of {mmap.PAGESIZE}")
        if block_count <= 0:
            raise ValueError(f"block_count {block_count} is not positive")
        if frame_size < TPACKET3_HDRLEN or frame_size % 16 or frame_size > block_size:
            raise ValueError(f"frame_size {frame_size}: a multiple of 16 from 80 to block_size")
        if fanout_group is not None and not 0 <= fanout_group <= 0xFFFF:
            raise ValueError(f"fanout_group {fanout_group} is not a 16-bit id")
        if poll_timeout_ms <= 0 or block_timeout_ms < 0:
            raise ValueError("poll_timeout_ms must be positive and block_timeout_ms not negative")
        if not 0 < snaplen <= MAX_SNAPLEN:
            raise ValueError(f"snaplen {snaplen} is not between 1 and {MAX_SNAPLEN}")
        if retry_interval is not None and retry_interval <= 0:
            raise ValueError(f"retry_interval {retry_interval} is not positive")
        self._block_size = block_size
        self._block_count = block_count
        self._frame_size = frame_size
        self._block_timeout_ms = block_timeout_ms
        self._poll_timeout_ms = poll_timeout_ms
        self._fanout_group = fanout_group
        self._promiscuous = promiscuous
        self._retry_interval = retry_interval
        # The largest packet a block holds after its descriptor and the packet's header.
        self._snaplen = min(snaplen, block_size - _BLOCK_DESC_SIZE - _FRAME_OFFSET)
        self._rings = [_Ring(i, name) for i, name in enumerate(names)]
        # Filled in as each interface opens; the list itself stays the same object.
        self._interfaces = [Interface(i, LINKTYPE_ETHERNET, self._snaplen, n) for i, n in enumerate(names)]
        self._poller = select.poll()
        self._by_fd: dict[int, _Ring] = {}
        # A pipe that stop() writes to, to wake the poll; made by open().
        self._wake: tuple[int, int] | None = None
        # Serialises opening and closing sockets with reading their statistics.
        self._lock = threading.Lock()
        self._opened = False
        self._closed = False
        self._stopped = False
        self._error: str | None = None
        self._position = 0
        self._next = 0
        self._maintain_at = 0.0
        self._retry_at = 0.0
        # The thread running batches(), and the event it sets when it returns.
        self._reader: int | None = None
        self._done = threading.Event()
        self._done.set()

    # -- the packet-source interface

    @property
    def interfaces(self) -> list[Interface]:
        return self._interfaces

    @property
    def error(self) -> str | None:
        """Set when :meth:`batches` ended because every interface was gone."""
        return self._error

    @property
    def position(self) -> int:
        """Bytes of ring blocks read so far."""
        return self._position

    # -- opening, status and statistics

    def open(self, *, missing_ok: bool = False) -> Self:
        """Open a socket and ring on every interface. Raises :class:`CaptureError` with one line
        (``eth9: no such interface``), having closed what it opened. With ``missing_ok`` an
        interface that cannot be opened is reported ``gone`` instead, for :meth:`retry`."""
        if self._closed:
            raise ValueError("the capture is closed")
        if self._opened:
            return self
        self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poller.register(self._wake[0], select.POLLIN)
        try:
            for ring in self._rings:
                if ring.status == REMOVED:
                    continue
                try:
                    self._open_ring(ring)
                except CaptureError as exc:
                    if not missing_ok:
                        raise
                    ring.error = str(exc)
        except BaseException:
            with self._lock:
                for ring in self._rings:
                    self._shut(ring)
            self._close_wake()
            raise
        self._opened = True
        return self

    def set_interfaces(self, interfaces: Sequence[str]) -> None:
        """Capture on ``interfaces`` from now on, between two batches and from the reading thread.
        Interfaces no longer listed are closed; new ones are opened, or reported ``gone`` when
        they cannot be, for :meth:`retry`. An interface keeps its index for the source's life,
        even when removed and listed again, so its flows stay whole; no index is reused for
        another name, and :attr:`interfaces` only grows."""
        wanted = _distinct(interfaces)
        by_name = {ring.name: ring for ring in self._rings}
        for ring in self._rings:
            if ring.name not in wanted and ring.status != REMOVED:
                with self._lock:
                    self._shut(ring)
                    ring.status, ring.error = REMOVED, None
        for name in wanted:
            known = by_name.get(name)
            if known is not None and known.status != REMOVED:
                continue
            ring = known or _Ring(len(self._rings), name)
            if known is None:
                self._interfaces.append(Interface(ring.index, LINKTYPE_ETHERNET, self._snaplen, name))
                with self._lock:
                    self._rings.append(ring)
            ring.status = GONE
            if not self._opened:
                continue
            try:
                self._open_ring(ring)
            except CaptureError as exc:
                ring.error = str(exc)

    def retry(self, name: str | None = None) -> list[str]:
        """Open again the gone interfaces (or the one named) that exist now; the names opened.
        Call it from the thread reading batches, or between batches; failures stay in
        :meth:`errors`. A gone interface's ring not yet closed is closed first, with whatever
        it still holds."""
        return self._retry(name, drained=False)

    def _retry(self, name: str | None, drained: bool) -> list[str]:
        """Reopen gone interfaces; with ``drained``, only those whose old ring is closed."""
        opened = []
        for ring in self._rings:
            if ring.status != GONE or name not in (None, ring.name):
                continue
            if ring.sock is not None:
                if drained or _sysfs(ring.name, "ifindex") is None:
                    continue
                with self._lock:
                    self._shut(ring)
            try:
                self._open_ring(ring)
            except CaptureError as exc:
                ring.error = str(exc)
            else:
                opened.append(ring.name)
        return opened

    def status(self) -> dict[str, str]:
        """Each interface's state: ``up``, ``down`` (link down, the socket kept) or ``gone``."""
        return {ring.name: ring.status for ring in self._rings if ring.status != REMOVED}

    def errors(self) -> dict[str, str]:
        """One line for each interface that is not up, saying why."""
        return {ring.name: ring.error for ring in self._rings if ring.error is not None}

    def stats(self) -> dict[str, InterfaceStats]:
        """Each interface's counters; safe to call from another thread."""
        with self._lock:
            rings = [ring for ring in self._rings if ring.status != REMOVED]
            for ring in rings:
                ring.kernel_stats()
            return {ring.name: ring.snapshot() for ring in rings}

    # -- reading

    def batches(self) -> Iterator[Batch]:
        """One ring block per batch, or an empty batch when the poll times out; ends on
        :meth:`stop`, :meth:`close`, or when every interface is gone and nothing retries them.
        A source not yet opened opens here without raising, as reading never does: an
        interface that cannot be opened is ``gone`` and :meth:`errors` says why."""
        if not self._opened:
            self.open(missing_ok=True)
        return self._read()

    def stop(self) -> None:
        """Make :meth:`batches` return at its next step, waking it from its poll, and end every
        later call at once. Safe from any thread and from a signal handler."""
        self._stopped = True
        wake = self._wake
        if wake is None:
            return
        # A full pipe means a wake-up is already pending.
        with contextlib.suppress(OSError):
            os.write(wake[1], b"\0")

    def _read(self) -> Iterator[Batch]:
        self._reader = threading.get_ident()
        self._done.clear()
        rings = self._rings
        try:
            while not self._stopped:
                ring = self._ready()
                if ring is None:
                    if self._wait():
                        continue
                    if self._maintain(time.monotonic()):
                        return
                    yield _EMPTY
                    continue
                view = ring.view
                assert view is not None
                base = ring.block * ring.block_size
                _, count, first, length = _BLOCK_HEADER.unpack_from(view, base)
                records = _records(ring, view, base + first, count)
                ring.blocks += 1
                ring.read += count
                ring.bytes += length
                self._position += length
                try:
                    yield view, records
                finally:
                    records.close()
                    ring.release()
                if len(rings) > 1 or ring.status != UP:
                    now = time.monotonic()
                    if now >= self._maintain_at and self._maintain(now):
                        return
        finally:
            self._reader = None
            self._done.set()

    def _ready(self) -> _Ring | None:
        """The next interface, in turn, whose current block the kernel has handed over."""
        rings = self._rings
        count = len(rings)
        start = self._next
        for i in range(count):
            ring = rings[(start + i) % count]
            if ring.ready():
                self._next = (start + i + 1) % count
                return ring
        return None

    def _wait(self) -> bool:
        """Poll every open socket; False when the poll timed out."""
        events = self._poller.poll(self._poll_timeout_ms)
        wake = self._wake[0] if self._wake is not None else -1
        for fd, mask in events:
            if fd == wake:
                try:
                    while os.read(fd, 64):
                        pass
                except BlockingIOError:
                    pass
            elif mask & _FAULT:
                ring = self._by_fd.get(fd)
                if ring is not None:
                    self._fault(ring)
        return bool(events)

    def _fault(self, ring: _Ring) -> None:
        """The socket reports an error: its interface went down or away."""
        sock = ring.sock
        if sock is None:
            return
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            return
        reason = os.strerror(code)
        if _sysfs(ring.name, "ifindex") != ring.ifindex:
            self._gone(ring, f"{ring.name}: interface went away ({reason})")
        elif code in _LINK_ERRNOS:
            # The socket stays bound: the kernel delivers again once the link is up.
            ring.status, ring.error = DOWN, f"{ring.name}: link down ({reason})"
        # Any other error (reading it cleared it) leaves the socket working.

    def _gone(self, ring: _Ring, error: str) -> None:
        ring.status, ring.error = GONE, error
        sock = ring.sock
        if sock is not None and self._by_fd.pop(sock.fileno(), None) is not None:
            self._poller.unregister(sock.fileno())
        # The kernel still retires the block it was filling: read it before closing.
        ring.close_at = time.monotonic() + 2 * self._block_timeout_ms / 1000 + 0.05

    def _maintain(self, now: float) -> bool:
        """Housekeeping between blocks and on poll timeouts: notice interfaces that came back up
        or went away while down, close gone ones once drained, retry them. True when reading must
        end because no interface is left."""
        self._maintain_at = now + self._poll_timeout_ms / 1000
        alive = False
        wanted = False
        for ring in self._rings:
            if ring.status == REMOVED:
                continue
            wanted = True
            if ring.status == DOWN:
                if _sysfs(ring.name, "ifindex") != ring.ifindex:
                    self._gone(ring, f"{ring.name}: interface went away (No such device)")
                elif (_sysfs(ring.name, "flags") or 0) & IFF_UP:
                    ring.status, ring.error = UP, None
            if ring.status == GONE and ring.sock is not None and now >= ring.close_at and not ring.ready():
                with self._lock:
                    self._shut(ring)
            alive = alive or ring.sock is not None
        if self._retry_interval is not None:
            if now >= self._retry_at:
                self._retry_at = now + self._retry_interval
                self._retry(None, drained=True)
            return False
        if wanted and not alive:
            self._error = "; ".join(ring.error for ring in self._rings if ring.error is not None)
            return True
        return False

    # -- sockets and rings

    def _open_ring(self, ring: _Ring) -> None:
        name = ring.name
        ifindex = _sysfs(name, "ifindex")
        arphrd = _sysfs(name, "type")
        if ifindex is None or arphrd is None:
            raise CaptureError(f"{name}: no such interface")
        linktype = LINKTYPES.get(arphrd)
        if linktype is None:
            raise CaptureError(f"{name}: unsupported link type (ARPHRD {arphrd})")
        what = "cannot open a packet socket"
        try:
            # Protocol 0: the socket receives nothing until it is bound to the interface, so no
            # packet of another interface enters the ring before that.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError as exc:
            raise CaptureError(f"{name}: {what} ({exc.strerror}; capturing needs CAP_NET_RAW)") from None
        except OSError as exc:
            raise CaptureError(f"{name}: {what} ({exc.strerror})") from None
        size = self._block_size * self._block_count
        ring_map = None
        try:
            what = "cannot set the snap length"
            if self._snaplen < MAX_SNAPLEN:
                _attach_snaplen(sock, self._snaplen)
            what = "cannot set up the capture ring"
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            if arphrd == ARPHRD_LOOPBACK:
                # Loopback shows every packet as sent and again as received: keep one.
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            frames = self._block_size // self._frame_size * self._block_count
            req = _REQ3.pack(
                self._block_size, self._block_count, self._frame_size, frames, self._block_timeout_ms, 0, 0
            )
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            what = f"cannot map the {size >> 10} KiB capture ring"
            ring_map = mmap.mmap(sock.fileno(), size)
            what = "cannot bind to the interface"
            sock.bind((name, ETH_P_ALL))
            if self._promiscuous:
                what = "cannot enter promiscuous mode"
                mreq = _PACKET_MREQ.pack(ifindex, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            if self._fanout_group is not None:
                # The kernel needs the socket bound before it joins a group. A group belongs to
                # one interface, so each interface has its own id: the group given, offset by
                # the interface's index (the same in every worker).
                group = fanout_id(self._fanout_group, ifindex)
                what = f"cannot join fanout group {group}"
                flags = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG
                # Id in the low half, type and flags in the high: above INT_MAX, so as bytes.
                arg = _U32.pack(group | flags << 16)
                sock.setsockopt(SOL_PACKET, PACKET_FANOUT, arg)
        except OSError as exc:
            if ring_map is not None:
                ring_map.close()
            sock.close()
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise CaptureError(f"{name}: no such interface") from None
            raise CaptureError(f"{name}: {what} ({exc.strerror})") from None
        with self._lock:
            ring.sock, ring.map, ring.view = sock, ring_map, memoryview(ring_map)
            ring.ifindex, ring.linktype = ifindex, linktype
            ring.block_size, ring.block_count, ring.block = self._block_size, self._block_count, 0
            ring.status, ring.error = UP, None
            self._by_fd[sock.fileno()] = ring
            self._poller.register(sock.fileno(), select.POLLIN)
        self._interfaces[ring.index] = Interface(ring.index, linktype, self._snaplen, name)

    def _shut(self, ring: _Ring) -> None:
        """Close one interface's socket and ring; the caller holds the lock."""
        sock = ring.sock
        if sock is not None and self._by_fd.pop(sock.fileno(), None) is not None:
            self._poller.unregister(sock.fileno())
        ring.shut()

    def close(self) -> None:
        """Stop reading, close the sockets and unmap the rings. Called from another thread while
        batches are read there, it waits (a little) for the reader to let go of its block."""
        if self._closed:
            return
        self.stop()
        reader = self._reader
        if reader is not None and reader != threading.get_ident():
            self._done.wait(self._poll_timeout_ms / 1000 + 5.0)
        with self._lock:
            self._closed = True
            for ring in self._rings:
                self._shut(ring)
                if ring.status in (UP, DOWN):
                    ring.status, ring.error = GONE, f"{ring.name}: closed"
        self._close_wake()

    def _close_wake(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None:
            self._poller.unregister(wake[0])
            for fd in wake:
                os.close(fd)

    def __enter__(self) -> Self:
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


def _distinct(names: Sequence[str]) -> list[str]:
    listed = list(names)
    if len(set(listed)) != len(listed):
        raise ValueError(f"an interface is listed twice: {', '.join(listed)}")
    return listed


def fanout_id(group: int, ifindex: int) -> int:
    """The fanout group id used on the interface ``ifindex`` for the sources' ``group``."""
    return (group + ifindex) & 0xFFFF


def _attach_snaplen(sock: socket.socket, snaplen: int) -> None:
    """Attach the classic BPF program ``ret #snaplen``: the kernel then keeps at most ``snaplen``
    bytes of each packet, as libpcap does on Linux."""
    program = ctypes.create_string_buffer(_SOCK_FILTER.pack(BPF_RET_K, 0, 0, snaplen))
    # struct sock_fprog holds a pointer to the instructions; the kernel copies them.
    fprog = _SOCK_FPROG.pack(1, ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
