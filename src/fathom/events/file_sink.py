"""The EVE file: one JSON object per line, to a file or to standard output.

Writing never raises. The first error (a full disk, an I/O error) stops the writing and is kept
in :attr:`EveFileSink.error` as one line naming the path and the reason; :attr:`written` says how
many events reached the file whole. A line cut short by the error is removed from a regular file,
so readers never meet half an event.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys

from fathom.events.schema import Event

# Events are gathered and written in chunks of about this many bytes.
_CHUNK = 64 * 1024
STDOUT = "-"


def open_eve(path: str) -> int:
    """Create or truncate the EVE file ``path``; return its descriptor. Raises OSError."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)


class EveFileSink:
    __slots__ = ("_fd", "_pending", "_pending_bytes", "_regular", "accepted", "error", "path", "written")

    def __init__(self, path: str, fd: int | None = None) -> None:
        """Open (create or truncate) ``path``, or write to ``fd`` already opened for it; ``-`` is
        standard output. Raises OSError."""
        self.path = path
        if fd is not None:
            self._fd = fd
        elif path == STDOUT:
            sys.stdout.flush()
            self._fd = sys.stdout.fileno()
        else:
            self._fd = open_eve(path)
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        # Events handed to the sink, and events written whole.
        self.accepted = 0
        self.written = 0
        self.error: str | None = None

    @property
    def lost(self) -> int:
        """Events accepted but not written because of :attr:`error`."""
        return self.accepted - self.written - len(self._pending)

    def emit(self, event: Event) -> None:
        self.write(event.json())

    def write(self, data: bytes) -> None:
        """Write one event's line."""
        self.accepted += 1
        if self.error is not None:
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        count = len(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        if self.error is not None:
            return
        done = 0
        view = memoryview(data)
        try:
            while done < len(data):
                done += os.write(self._fd, view[done:])
        except OSError as exc:
            self._failed(exc, data, done)
            return
        self.written += count

    def _failed(self, exc: OSError, data: bytes, done: int) -> None:
        self.written += data.count(b"\n", 0, done)
        partial = done - (data.rfind(b"\n", 0, done) + 1)
        if partial and self._regular:
            # If even this fails, the error being reported already says the file is incomplete.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_CUR) - partial)
        if exc.errno == errno.EPIPE and self.path == STDOUT:
            # The reader went away (`| head`): not an error, there is just no one left to write to.
            self.error = ""
            return
        self.error = f"{self.path}: {exc.strerror or exc}"

    def close(self) -> None:
        self.flush()
        if self.path != STDOUT:
            try:
                os.close(self._fd)
            except OSError as exc:
                if self.error is None:
                    self.error = f"{self.path}: {exc.strerror or exc}"
