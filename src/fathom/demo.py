"""``fathom demo``: the Calico DPI lab, live. It builds the lab's pods (:mod:`fathom.lab`), runs a
sensor on them with one inspection (``red-dpi-all`` in namespace ``red``, ``all()``) and the
community rules, sends the lab's four requests and prints each alert as it arrives, with the pod
it was inspected on. Then it takes everything down again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import yaml

from fathom.lab import PODS, REQUESTS, Lab
from fathom.rules.loader import BUNDLED_RULES

# Seconds to wait for the sensor to capture, and for the alerts after the last request.
READY_TIMEOUT = 60.0
SETTLE = 3.0


def lab_config(lab: Lab, eve: Path, inspections: list[dict[str, str]]) -> dict[str, Any]:
    """The host-mode config of the lab: its pods, the given inspections, the community rules."""
    return {
        "endpoints": [asdict(endpoint) for endpoint in lab.endpoints],
        "inspections": inspections,
        "rules": [str(BUNDLED_RULES)],
        "eve": str(eve),
        "node": "lab-node",
    }


RED_DPI_ALL = {"name": "red-dpi-all", "namespace": "red", "selector": "all()"}


def events(path: Path, start: int = 0) -> Iterator[dict[str, Any]]:
    """The EVE events written to ``path`` from byte ``start`` (whole lines only)."""
    try:
        data = path.read_bytes()[start:]
    except FileNotFoundError:
        return
    for line in data.splitlines(keepends=True):
        if line.endswith(b"\n"):
            yield json.loads(line)


def describe(alert: dict[str, Any]) -> str:
    def pod(key: str) -> str:
        found = alert.get(key)
        return f"{found['namespace']}/{found['pod']}" if found else "?"

    return (
        f"[{alert['alert']['severity']}] sid {alert['alert']['signature_id']} "
        f"{alert['alert']['signature']}: {pod('src_endpoint')} -> {pod('dest_endpoint')}, "
        f"inspected on {pod('endpoint')}"
    )


def run_demo(out: TextIO = sys.stdout) -> int:
    if os.geteuid() != 0:
        print("fathom demo: needs root (it builds network namespaces)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="fathom-demo-") as tmp, Lab() as lab:
        eve = Path(tmp) / "eve.json"
        config = Path(tmp) / "sensor.yaml"
        config.write_text(yaml.safe_dump(lab_config(lab, eve, [RED_DPI_ALL])))
        print("pods: " + ", ".join(f"{ns}/{pod} {ip}" for ns, pod, ip in PODS), file=out)
        print("inspection red/red-dpi-all selects all() in namespace red", file=out)
        sensor = subprocess.Popen(
            [sys.executable, "-m", "fathom.cli", "sensor", "--config", str(config), "--metrics", "off"]
        )
        try:
            if not wait_for_capture(eve):
                print("fathom demo: the sensor did not start capturing", file=sys.stderr)
                return 1
            for client, server in REQUESTS:
                print(f"curl {client} -> {server}", file=out)
                lab.request(client, server)
            seen = 0
            deadline = time.monotonic() + SETTLE
            while time.monotonic() < deadline:
                alerts = [e for e in events(eve) if e["event_type"] == "alert"]
                for alert in alerts[seen:]:
                    print("  " + describe(alert), file=out)
                seen = len(alerts)
                time.sleep(0.2)
            print(f"{seen} alerts", file=out)
        finally:
            sensor.send_signal(signal.SIGTERM)
            sensor.wait(30)
    return 0


def wait_for_capture(eve: Path) -> bool:
    """The sensor creates the EVE file once its workers capture."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if eve.exists():
            time.sleep(0.5)  # every worker's rings are open by now
            return True
        time.sleep(0.1)
    return False
