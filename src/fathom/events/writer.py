"""The EVE file written by a process of its own.

Rendering JSON is the largest per-flow cost on a busy link: a flow event costs more than both of
the packets of a short flow. So, as Zeek runs its log writers beside its packet path, the EVE
file has a writer process. The engine hands it each event as plain values
(:meth:`fathom.events.schema.Event.record`), batched and marshalled down a pipe; the writer
renders them and writes the file through an :class:`EveFileSink`, in order.

The parent opens the file, so a path that cannot be written is reported before any packet is
read. When the parent is done, the writer reports how many events reached the file and the first
write error, if any. A writer that cannot keep up fills the pipe and the engine waits: no event
is dropped. Ctrl-C does not reach the writer: it still writes everything it was given.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import marshal
import os
import struct
import subprocess
import sys
from typing import IO

from fathom.events.file_sink import STDOUT, EveFileSink, open_eve
from fathom.events.schema import Event, EventRecord, render_record

# Events per batch: large enough that marshalling and the pipe cost little per event.
_BATCH = 512
_PIPE_BYTES = 1 << 20  # the most an unprivileged process may ask for, by default
# Version 4 refers back to repeated objects (the state and reason names): 40% cheaper both ways than
# version 2, measured on flow records.
_MARSHAL_VERSION = 4
_FRAME = struct.Struct("<I")  # each batch is its marshalled length, then the marshal


class EveWriter:
    """An event sink: the EVE file at ``path`` (``-``: standard output), written by a child
    process. Construction raises OSError when the file cannot be opened."""

    __slots__ = ("_batch", "_pipe", "_proc", "_results", "accepted", "error", "path", "written")

    def __init__(self, path: str) -> None:
        self.path = path
        fd = sys.stdout.fileno() if path == STDOUT else open_eve(path)
        results, results_w = os.pipe()
        if path == STDOUT:
            sys.stdout.flush()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "fathom.events.writer", str(fd), str(results_w), path],
                stdin=subprocess.PIPE,
                pass_fds=(fd, results_w),
                # Out of the terminal's process group: Ctrl-C stops the engine, which then hands
                # over what it has; the writer finishes and reports.
                process_group=0,
            )
        except BaseException:
            os.close(results)
            raise
        finally:
            os.close(results_w)
            if path != STDOUT:
                os.close(fd)
        assert self._proc.stdin is not None
        self._pipe: IO[bytes] = self._proc.stdin
        # Flows end in bursts (an eviction pass ends thousands): a deep pipe lets the writer
        # catch up between them instead of stalling the engine.
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        self._results = results
        self._batch: list[EventRecord] = []
        self.accepted = 0
        self.written = 0
        self.error: str | None = None

    @property
    def lost(self) -> int:
        """Events accepted but not written because of :attr:`error`."""
        return self.accepted - self.written

    def emit(self, event: Event) -> None:
        batch = self._batch
        batch.append(event.record())
        if len(batch) >= _BATCH:
            self._send()

    def _send(self) -> None:
        self.accepted += len(self._batch)
        payload = marshal.dumps(self._batch, _MARSHAL_VERSION)
        self._batch.clear()
        if self.error is not None:
            return
        try:
            self._pipe.write(_FRAME.pack(len(payload)))
            self._pipe.write(payload)
        except OSError:
            self.error = f"{self.path}: the EVE writer process stopped"

    def close(self) -> None:
        """Hand over the last events, wait for the writer and take its report."""
        if self._batch:
            self._send()
        with contextlib.suppress(OSError):
            self._pipe.close()
        status = self._proc.wait()
        with os.fdopen(self._results, "rb") as results:
            report = results.read()
        if status != 0 or not report:
            self.error = self.error or f"{self.path}: the EVE writer process exited with status {status}"
            return
        written, error = json.loads(report)
        self.written = written
        if error is not None and self.error is None:
            self.error = error


def _serve(eve_fd: int, results_fd: int, path: str) -> None:
    """The writer process: render and write every batch until the engine closes the pipe."""
    sink = EveFileSink(path, eve_fd)
    write = sink.write
    with os.fdopen(sys.stdin.fileno(), "rb", buffering=1 << 20, closefd=False) as pipe:
        # A short read means the engine died mid-batch: what came whole is written.
        while len(header := pipe.read(_FRAME.size)) == _FRAME.size:
            (size,) = _FRAME.unpack(header)
            payload = pipe.read(size)
            if len(payload) < size:
                break
            for record in marshal.loads(payload):
                write(render_record(record))
    sink.close()
    # The engine may be gone; then there is no one to tell.
    with contextlib.suppress(OSError):
        os.write(results_fd, json.dumps([sink.written, sink.error]).encode())


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
