"""Real HTTP servers for the manager's tests: the app under uvicorn in a thread, or ``fathom serve``
as a process of its own."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

_LISTENING = re.compile(r"fathom serve: listening on (http://\S+)")


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app on 127.0.0.1, on a free port; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # see serve._bind
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class ServeProcess:
    """``fathom serve ARGS`` started, with the URL it printed once listening."""

    def __init__(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 30
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fathom.cli", "serve", *args],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        self.url = ""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                self.url = match[1]
                # Keep reading what it writes, so that a full pipe never stops it.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise AssertionError(f"fathom serve did not start: {''.join(lines)}")

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for _line in self.process.stderr:
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_serve(args: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``fathom serve ARGS`` for one that should not start: its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "fathom.cli", "serve", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
