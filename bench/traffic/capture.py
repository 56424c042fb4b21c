"""Run tcpdump on one veth end for the length of a with-block."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import IO

from bench.traffic.topology import in_ns

# Kernel ring for tcpdump, in KiB: bulk transfers over veth outrun the default 2 MiB buffer.
BUFFER_KIB = 262_144


class CaptureFailed(RuntimeError):
    pass


class Tcpdump:
    def __init__(self, ns: str, ifname: str, path: Path) -> None:
        self.ns = ns
        self.ifname = ifname
        self.path = path
        self.proc: subprocess.Popen[str] | None = None
        self.stderr: list[str] = []
        self._drain: threading.Thread | None = None
        self.captured = 0
        self.dropped = 0

    def __enter__(self) -> Tcpdump:
        # -Z root: the default drop to the tcpdump user cannot write into a root-owned cache.
        # --immediate-mode: otherwise packets sitting in a not yet full TPACKET_V3 block when SIGINT
        # arrives are counted as received but never written.
        argv = in_ns(self.ns, "tcpdump", "-i", self.ifname, "-w", str(self.path), "-s", "0", "-n",
                     "-B", str(BUFFER_KIB), "-Z", "root", "--immediate-mode")  # fmt: skip
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert self.proc.stderr is not None
        # tcpdump says "listening on ..." once the socket is open; traffic sent before would be lost.
        first = self.proc.stderr.readline()
        if "listening on" not in first:
            self.proc.wait()
            raise CaptureFailed(f"tcpdump did not start: {first.strip()}")
        self._drain = threading.Thread(target=self._read_stderr, args=(self.proc.stderr,), daemon=True)
        self._drain.start()
        return self

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr.append(line)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)
        text = "".join(self.stderr)
        if m := re.search(r"(\d+) packets? captured", text):
            self.captured = int(m.group(1))
        if m := re.search(r"(\d+) packets? dropped by kernel", text):
            self.dropped = int(m.group(1))
