"""Running a live sensor in end-to-end tests: a `fathom sensor` process on the lab's pods, its
metrics read the way Prometheus reads them, and waits with a deadline."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from bench.loopback import free_port, scrape

from fathom.lab import Lab, interface

needs_lab = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "curl")),
    reason="needs root, iproute2 and curl",
)
# The lab's pods have fixed names: tests that build it (in any test worker) take turns.
LAB_LOCK = Path(tempfile.gettempdir()) / "fathom-lab.lock"


@contextmanager
def lab_turn() -> Iterator[None]:
    with open(LAB_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def metrics(port: int) -> dict[str, float]:
    """The sensor's samples, ``name{labels}`` -> value; empty while it does not answer."""
    try:
        return scrape(port)
    except OSError:
        return {}


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def interfaces_up(port: int) -> dict[str, float]:
    """The interfaces the workers running the current config capture (1) or miss (0)."""
    prefix = 'fathom_interface_up{interface="'
    return {name[len(prefix) : -2]: value for name, value in metrics(port).items() if name.startswith(prefix)}


def captures(port: int, pods: set[str]) -> bool:
    """Whether the sensor captures exactly the interfaces of ``pods``."""
    return interfaces_up(port) == {interface(pod): 1.0 for pod in pods}


class Running:
    """A sensor process and its metrics port; its waits fail at once if it exits."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    def wait(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        def done() -> Any:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AssertionError(f"the sensor exited ({self.process.returncode}) before {what}: {stderr}")
            return condition()

        wait_until(done, timeout, what)


@contextmanager
def sensor(config: Path, settings: dict[str, Any], *args: str) -> Iterator[Running]:
    """A sensor on ``config`` (written from ``settings``). It must exit 0 on SIGTERM."""
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    fathom = [sys.executable, "-m", "fathom.cli"]
    cmd = [*fathom, "sensor", "--config", str(config), "--metrics", f"127.0.0.1:{port}", *args]
    process = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    try:
        yield Running(process, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()


@pytest.fixture
def lab() -> Iterator[Lab]:
    with lab_turn(), Lab() as built:
        yield built
