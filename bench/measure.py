"""Time one child process and read its peak RSS: its own from wait4(), plus that of every process
it starts (fathom's EVE writer, for one)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_kib: int  # ru_maxrss plus the helpers' peaks: KiB on Linux
    rss_floor_kib: int  # the runner's RSS at spawn: peak_rss_kib cannot read lower than this
    returncode: int
    stderr_tail: str

    @property
    def failure(self) -> str | None:
        """Why the run failed, from its exit status and last line of error output; None if it did not."""
        if self.returncode == 0:
            return None
        last = self.stderr_tail.splitlines()[-1] if self.stderr_tail else ""
        return f"exit {self.returncode}: {last}"


def _reset_peak_rss() -> int:
    """Lower this process's high-water RSS mark to its current RSS and return it in KiB.

    A child starts life with the parent's memory high-water mark (Linux carries it through
    fork/vfork and exec into ru_maxrss), so after mmap-reading a 300 MB capture every child would
    report at least 300 MB. Writing 5 to clear_refs (Linux 4.0+) resets the mark; what remains is
    this process's current RSS, the floor of any child's reading.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return 0
    return _peak_rss_kib("self")


def measure(
    argv: Sequence[str], timeout: float | None = None, env: Mapping[str, str] | None = None
) -> Sample:
    """Run argv with stdout discarded; wall time covers start-up, the whole run and exit.

    wait4() on the child's pid gives that child's rusage alone, so ru_maxrss is its own peak,
    not the largest of every child this process ever had (which RUSAGE_CHILDREN would give).
    It is never below the runner's own RSS at spawn time, returned as rss_floor_kib.

    Processes the child starts run beside it, so their memory counts too: their peaks (VmHWM),
    read every few milliseconds while they live, are added. When a helper outgrows the child,
    ru_maxrss already holds the helper's peak and the sum counts it twice: the figure errs high.
    """
    floor = _reset_peak_rss()
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=env
        )
        # A blocking wait4 returns the moment the child exits; a timer thread enforces the timeout.
        killer = threading.Timer(timeout, proc.kill) if timeout else None
        if killer:
            killer.start()
        helpers = _HelperPeaks(proc.pid)
        helpers.start()
        try:
            _pid, status, rusage = os.wait4(proc.pid, 0)
        finally:
            helpers.done.set()
            if killer:
                killer.cancel()
        helpers.join()
        seconds = time.perf_counter() - start
        # Reaped here, so tell Popen it is done or it would try to wait on a recycled pid.
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace").strip()
    return Sample(seconds, rusage.ru_maxrss + helpers.total_kib(), floor, proc.returncode, tail)


class _HelperPeaks(threading.Thread):
    """Polls the peak RSS of every descendant of ``pid`` until :attr:`done` is set."""

    # VmHWM keeps a process's peak, so a slow poll loses at most the growth of its last interval;
    # polling more often takes CPU from the processes being measured.
    INTERVAL = 0.05

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.done = threading.Event()
        self.peaks: dict[int, int] = {}

    def run(self) -> None:
        while not self.done.wait(self.INTERVAL):
            for pid in _descendants(self.pid):
                peak = _peak_rss_kib(pid)
                if peak > self.peaks.get(pid, 0):
                    self.peaks[pid] = peak

    def total_kib(self) -> int:
        return sum(self.peaks.values())


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                children = [int(child) for child in f.read().split()]
        except (OSError, ValueError):
            continue
        found.extend(children)
        todo.extend(children)
    return found


def _peak_rss_kib(pid: int | str) -> int:
    """VmHWM of process ``pid`` (or ``self``); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
