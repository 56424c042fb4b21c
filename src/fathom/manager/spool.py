"""The delivery spool: batches of events that have not reached the manager yet, kept on disk.

A spool directory holds numbered slots (``0``, ``1``, ...), one per sending process and locked
with ``flock`` while that process lives, so that the workers of a sensor, or two runs of
``analyze``, can share one directory. A slot holds segment files, read oldest first, named by
the sequence number of the first batch they hold. A segment is append-only: a header, then one
record per batch (its length, its count of events, its CRC-32, then the batch: the JSON array
the manager is sent). A segment is fsynced when it is sealed: when it is full, when delivery
starts reading it, and when the spool is closed. Reading stops at a record cut short by a crash
or damaged on disk; the events past it are counted as dropped.

The spool is bounded in bytes. Past the bound the oldest segments are dropped whole, their events
counted, and one line names the spool.

Opening a spool takes over the segments an earlier run left in the slot, and those of any slot
that no living process holds (a sender that died), so that they are delivered now.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

from fathom.notes import note as stderr_note
from fathom.paths import data_dir

Note = Callable[[str], None]

DEFAULT_MAX_BYTES = 256 << 20
_MAGIC = b"FSPOOL1\n"
# Each record: the batch's length, its count of events, the CRC-32 of the batch.
_RECORD = struct.Struct("<III")
_SUFFIX = ".seg"
_LOCK = "lock"
# More senders than this on one host would be a mistake, not a deployment.
_MAX_SLOTS = 1024


def default_spool_dir() -> Path:
    """``spool`` in the data directory (:func:`fathom.paths.data_dir`), beside the manager's data."""
    return data_dir() / "spool"


def _segment_name(seq: int) -> str:
    return f"{seq:020d}{_SUFFIX}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Segment:
    __slots__ = ("dropped", "events", "fd", "path", "read_at", "seq", "size")

    def __init__(self, seq: int, path: Path, size: int, events: int, fd: int = -1) -> None:
        self.seq = seq
        self.path = path
        # Bytes of whole records (a torn tail past them is never read), and events not yet delivered.
        self.size = size
        self.events = events
        self.read_at = len(_MAGIC)
        # Open for appending while it is the newest segment; -1 once sealed.
        self.fd = fd
        self.dropped = False


class Lease:
    """Spooled batches handed out for one request, joined into one JSON array: from one segment,
    the oldest not yet delivered."""

    __slots__ = ("body", "end", "events", "segment")

    def __init__(self, segment: _Segment, end: int, events: int, body: bytes) -> None:
        self.segment = segment
        self.end = end
        self.events = events
        self.body = body


def _read_records(
    data: bytes, start: int, max_events: int, max_bytes: int
) -> tuple[list[bytes], int, int, bool]:
    """The whole, intact records of ``data`` from ``start``, within ``max_events`` and ``max_bytes``
    (at least one, if any): (batches, where they end, their events, whether a damaged or cut
    record stopped the reading)."""
    batches: list[bytes] = []
    at, events, taken = start, 0, 0
    while at < len(data):
        if at + _RECORD.size > len(data):
            return batches, at, events, True
        length, count, crc = _RECORD.unpack_from(data, at)
        end = at + _RECORD.size + length
        body = data[at + _RECORD.size : end]
        if end > len(data) or count == 0 or zlib.crc32(body) != crc:
            return batches, at, events, True
        if batches and (events + count > max_events or taken + length > max_bytes):
            break
        batches.append(body)
        at, events, taken = end, events + count, taken + length
    return batches, at, events, False


def join_batches(batches: list[bytes]) -> bytes:
    """One JSON array of the events of several arrays (none empty)."""
    if len(batches) == 1:
        return batches[0]
    return b"[" + b",".join(batch[1:-1] for batch in batches) + b"]"


class Spool:
    """The slot of this process in the spool ``directory``. Thread-safe. Raises OSError when the
    directory cannot be made or locked."""

    __slots__ = (
        "_dropping", "_last_seq", "_lock", "_lock_fd", "_note", "_segment_bytes", "_segments",
        "_tail", "_write_failing", "bytes", "directory", "dropped", "events", "max_bytes", "next_seq", "path",
        "resumed", "spooled",
    )  # fmt: skip

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES, note: Note = stderr_note) -> None:
        if max_bytes < 4096:
            raise ValueError("a spool needs at least 4096 bytes")
        self.directory = directory
        self.max_bytes = max_bytes
        # Small enough that dropping one segment loses little, large enough that a long outage
        # does not fill the directory with files.
        self._segment_bytes = min(8 << 20, max(64 << 10, max_bytes // 16))
        self._note = note
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._tail: _Segment | None = None
        self.bytes = 0
        # Events waiting here, events ever put here, events found here on opening, events dropped.
        self.events = 0
        self.spooled = 0
        self.resumed = 0
        self.dropped = 0
        self._dropping = False
        self._write_failing = False
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Batches numbered from here on come after all those found on disk.
        self.next_seq = 0
        self.path, self._lock_fd = self._take_slot()
        try:
            for path in sorted(self.path.glob("*" + _SUFFIX)):
                self._load(path)
            self._adopt_orphans()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._last_seq = self.next_seq - 1
        self.resumed = self.events

    def _take_slot(self) -> tuple[Path, int]:
        for number in range(_MAX_SLOTS):
            slot = self.directory / str(number)
            fd = self._try_lock(slot)
            if fd >= 0:
                return slot, fd
        raise OSError(errno.EBUSY, f"all {_MAX_SLOTS} slots are in use", str(self.directory))

    @staticmethod
    def _try_lock(slot: Path) -> int:
        """A descriptor holding the slot's lock, or -1 when another process holds it."""
        slot.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(slot / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return -1
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _adopt_orphans(self) -> None:
        """Move in the segments of every slot no process holds, oldest first, after our own."""
        for slot in sorted(self.directory.iterdir()):
            if slot == self.path or not slot.name.isdigit() or not slot.is_dir():
                continue
            fd = self._try_lock(slot)
            if fd < 0:
                continue
            try:
                for path in sorted(slot.glob("*" + _SUFFIX)):
                    target = self.path / _segment_name(self.next_seq)
                    os.rename(path, target)
                    self.next_seq += 1
                    self._load(target)
            finally:
                os.close(fd)
        _fsync_dir(self.path)

    def _load(self, path: Path) -> None:
        """Take in a segment left on disk: its whole records, up to the first damaged one."""
        name = path.name.removesuffix(_SUFFIX)
        data = path.read_bytes()
        if not name.isdigit() or not data.startswith(_MAGIC):
            # Set aside, not deleted: it is not ours to judge.
            path.rename(path.with_name(path.name + ".bad"))
            self._note(f"{path}: not a spool segment; renamed to {path.name}.bad")
            return
        seq = int(name)
        self.next_seq = max(self.next_seq, seq + 1)
        _, end, events, damaged = _read_records(data, len(_MAGIC), 1 << 62, 1 << 62)
        if damaged:
            self._note(
                f"{path}: damaged after {events:,} events; the {len(data) - end:,} bytes after are dropped"
            )
            os.truncate(path, end)
        if events == 0:
            path.unlink()
            return
        segment = _Segment(seq, path, end, events)
        bisect.insort(self._segments, segment, key=lambda s: s.seq)
        self.bytes += end
        self.events += events

    def append(self, seq: int, body: bytes, events: int) -> None:
        """Spool one batch (``events`` events as the JSON array ``body``), numbered ``seq`` (from
        :attr:`next_seq` on, each once): after the newest if it is newer, else in a segment of its
        own, in order. Never raises: what cannot be written is counted as dropped."""
        need = _RECORD.size + len(body)
        with self._lock:
            self.spooled += events
            if len(_MAGIC) + need > self.max_bytes:
                self._drop_events(events, f"a batch of {len(body):,} bytes is larger than the spool")
                return
            while self.bytes + len(_MAGIC) + need > self.max_bytes and self._segments:
                self._drop_oldest()
            record = _RECORD.pack(len(body), events, zlib.crc32(body)) + body
            try:
                if seq > self._last_seq:
                    self._last_seq = seq
                    self._append_newest(seq, record, events)
                else:
                    # Older than what is spooled (a batch whose delivery failed while newer ones
                    # were spooled): a segment of its own keeps the order.
                    self._add_segment(seq, record, events, seal=True)
            except OSError as exc:
                self._drop_events(events, f"cannot write: {exc.strerror or exc}")
                return
            if self._write_failing:
                self._note(f"{self.path}: writing again")
                self._write_failing = False

    def _append_newest(self, seq: int, record: bytes, events: int) -> None:
        tail = self._tail
        if tail is not None and tail.size + len(record) > self._segment_bytes:
            self._seal(tail)
            tail = None
        if tail is None:
            self._add_segment(seq, record, events, seal=False)
            return
        try:
            _write_all(tail.fd, record)
        except OSError:
            # What part of the record reached the file lies past tail.size: never read, cut on
            # the next opening. Later batches go to a new segment.
            self._seal(tail)
            raise
        tail.size += len(record)
        tail.events += events
        self.bytes += len(record)
        self.events += events

    def _add_segment(self, seq: int, record: bytes, events: int, seal: bool) -> None:
        path = self.path / _segment_name(seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, _MAGIC + record)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        segment = _Segment(seq, path, len(_MAGIC) + len(record), events, fd)
        bisect.insort(self._segments, segment, key=lambda s: s.seq)
        self.bytes += segment.size
        self.events += events
        if seal:
            self._seal(segment)
        else:
            self._tail = segment

    def _seal(self, segment: _Segment) -> None:
        """Make the segment durable and close it to appends."""
        if segment.fd < 0:
            return
        if segment is self._tail:
            self._tail = None
        fd, segment.fd = segment.fd, -1
        try:
            os.fsync(fd)
            _fsync_dir(self.path)
        except OSError as exc:
            # The data is still in the page cache: it is lost only if the host goes down first.
            self._note(f"{segment.path}: fsync failed: {exc.strerror or exc}")
        finally:
            os.close(fd)

    def _drop_oldest(self) -> None:
        segment = self._segments.pop(0)
        if not self._dropping:
            self._note(
                f"{self.path}: the spool is full ({self.max_bytes:,} bytes); dropping its oldest events"
            )
            self._dropping = True
        self._remove(segment)
        self.dropped += segment.events

    def _drop_events(self, events: int, reason: str) -> None:
        self.dropped += events
        if not self._write_failing:
            self._note(f"{self.path}: {reason}; {events:,} events dropped")
            self._write_failing = True

    def _remove(self, segment: _Segment) -> None:
        """Forget a segment and delete its file; its events leave the count of those waiting."""
        if segment.fd >= 0:
            if segment is self._tail:
                self._tail = None
            os.close(segment.fd)
            segment.fd = -1
        segment.dropped = True
        self.bytes -= segment.size
        self.events -= segment.events
        with contextlib.suppress(OSError):  # a file that cannot go is cut short on the next opening
            segment.path.unlink()

    def lease(self, max_events: int, max_bytes: int) -> Lease | None:
        """The oldest batches not yet delivered, as many as fit in ``max_events`` and ``max_bytes``
        (at least one), or None when there are none. They stay spooled until :meth:`ack`."""
        with self._lock:
            while self._segments:
                segment = self._segments[0]
                self._seal(segment)
                try:
                    with open(segment.path, "rb") as file:
                        file.seek(segment.read_at)
                        data = file.read(segment.size - segment.read_at)
                except OSError as exc:
                    data, reason = b"", exc.strerror or str(exc)
                else:
                    reason = "damaged"
                batches, end, events, _ = _read_records(data, 0, max_events, max_bytes)
                if batches:
                    return Lease(segment, segment.read_at + end, events, join_batches(batches))
                self._note(f"{segment.path}: {reason}; its {segment.events:,} events left are dropped")
                self._segments.pop(0)
                self._remove(segment)
                self.dropped += segment.events
            return None

    def ack(self, lease: Lease) -> None:
        """The leased batches were delivered (or refused for good): they leave the spool."""
        with self._lock:
            segment = lease.segment
            if segment.dropped:
                # Dropped while it was being sent: it arrived after all.
                self.dropped -= lease.events
                return
            segment.read_at = lease.end
            segment.events -= lease.events
            self.events -= lease.events
            if segment.read_at >= segment.size:
                self._segments.remove(segment)
                self._remove(segment)
            if not self._segments:
                self._dropping = False

    def close(self) -> None:
        """Seal the newest segment and let go of the slot. What is left is delivered by the next
        sender to open the directory."""
        with self._lock:
            if self._lock_fd < 0:
                return
            if self._tail is not None:
                self._seal(self._tail)
            os.close(self._lock_fd)
            self._lock_fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
