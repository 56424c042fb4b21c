"""The Calico DPI lab end to end: pods as namespaces on a bridge, a live sensor on their host-side
veths with one inspection (red/red-dpi-all, ``all()``), the lab's four requests, and exactly the
alerts Calico gives: one per inspected endpoint the request passed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fathom.demo import RED_DPI_ALL, events, lab_config
from fathom.lab import LAB_SID, REQUESTS, Lab, interface

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "curl")),
    reason="needs root, iproute2 and curl",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def captured(port: int, pods: set[str]) -> bool:
    """Whether the sensor captures exactly the interfaces of ``pods``."""
    try:
        text = metrics(port)
    except OSError:
        return False
    up = {
        line.split('"')[1]
        for line in text.splitlines()
        if line.startswith("fathom_interface_up{") and line.endswith(" 1.0")
    }
    return up == {interface(pod) for pod in pods}


def lab_alerts(eve: Path) -> list[tuple[str, str, str]]:
    """(source pod, destination pod, inspected pod) of each alert of the lab's rule."""
    return sorted(
        (e["src_endpoint"]["pod"], e["dest_endpoint"]["pod"], e["endpoint"]["pod"])
        for e in events(eve)
        if e["event_type"] == "alert" and e["alert"]["signature_id"] == LAB_SID
    )


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as built:
        yield built


def test_the_lab_alerts_once_per_inspected_endpoint_and_stops_when_the_inspection_goes(
    lab: Lab, tmp_path: Path
) -> None:
    eve = tmp_path / "eve.json"
    config = tmp_path / "sensor.yaml"
    config.write_text(yaml.safe_dump(lab_config(lab, eve, [RED_DPI_ALL])))
    port = free_port()
    sensor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fathom.cli",
            "sensor",
            "--config",
            str(config),
            "--metrics",
            f"127.0.0.1:{port}",
        ],
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: captured(port, {"red1", "red2"}), 60, "the red pods' interfaces")
        for client, server in REQUESTS:
            assert lab.request(client, server) == 0
        expected = [
            ("blue2", "red2", "red2"),
            ("red1", "blue1", "red1"),
            ("red1", "red2", "red1"),
            ("red1", "red2", "red2"),
        ]
        wait_until(lambda: len(lab_alerts(eve)) >= 4, 10, "four alerts")
        time.sleep(1.5)  # and no more
        assert lab_alerts(eve) == expected
        alert = next(e for e in events(eve) if e["event_type"] == "alert" and e["endpoint"]["pod"] == "red2")
        assert alert["endpoint"] == {
            "namespace": "red", "pod": "red2", "labels": {"app": "red2"}, "node": "lab-node",
            "interface": "fth-red2",
        }  # fmt: skip
        assert alert["in_iface"] == "fth-red2"
        assert alert["alert"]["severity"] == 1
        text = metrics(port)
        assert f'fathom_alerts_total{{gid="1",severity="1",sid="{LAB_SID}"}} 4.0' in text

        # The inspection is deleted: within 2 seconds nothing is captured, and no alert comes.
        config.write_text(yaml.safe_dump(lab_config(lab, eve, [])))
        started = time.monotonic()
        wait_until(lambda: captured(port, set()), 5, "no interface captured")
        assert time.monotonic() - started < 2.0
        size = eve.stat().st_size
        for client, server in REQUESTS:
            assert lab.request(client, server) == 0
        time.sleep(1.5)
        assert [e for e in events(eve, size) if e["event_type"] == "alert"] == []
    finally:
        sensor.send_signal(signal.SIGTERM)
        _, stderr = sensor.communicate(timeout=30)
    assert sensor.returncode == 0, stderr.decode()
