"""`fathom demo` runs the Calico lab here and shows each alert with the pod it was inspected on."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.sensing import lab_turn, needs_lab

pytestmark = needs_lab


def test_the_demo_shows_the_labs_four_alerts() -> None:
    with lab_turn():
        done = subprocess.run(
            [sys.executable, "-m", "fathom.cli", "demo"], capture_output=True, text=True, timeout=180
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    alerts = sorted(line.split(": ", 1)[1] for line in lines if line.startswith("  [1] sid 21562 "))
    assert alerts == [
        "blue/blue2 -> red/red2, inspected on red/red2",
        "red/red1 -> blue/blue1, inspected on red/red1",
        "red/red1 -> red/red2, inspected on red/red1",
        "red/red1 -> red/red2, inspected on red/red2",
    ]
    assert lines[-1] == "4 alerts"
