"""Time one child process and read its own peak RSS from wait4()."""

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
    peak_rss_kib: int  # ru_maxrss: KiB on Linux
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
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(
    argv: Sequence[str], timeout: float | None = None, env: Mapping[str, str] | None = None
) -> Sample:
    """Run argv with stdout discarded; wall time covers start-up, the whole run and exit.

    wait4() on the child's pid gives that child's rusage alone, so ru_maxrss is its own peak,
    not the largest of every child this process ever had (which RUSAGE_CHILDREN would give).
    It is never below the runner's own RSS at spawn time, returned as rss_floor_kib.
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
        try:
            _pid, status, rusage = os.wait4(proc.pid, 0)
        finally:
            if killer:
                killer.cancel()
        seconds = time.perf_counter() - start
        # Reaped here, so tell Popen it is done or it would try to wait on a recycled pid.
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace").strip()
    return Sample(seconds, rusage.ru_maxrss, floor, proc.returncode, tail)
